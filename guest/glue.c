/*
 * guest/glue.c - glue that turns the SQLite amalgamation into a
 * self-contained wasm32 module with NO imports.
 *
 * SQLite is built with SQLITE_OS_OTHER=1, so it has no OS layer of its own;
 * this file supplies sqlite3_os_init()/sqlite3_os_end() and registers a
 * minimal, fully deterministic VFS:
 *   - xOpen always fails with SQLITE_CANTOPEN (only ":memory:" databases and
 *     in-memory temp storage, SQLITE_TEMP_STORE=3, can be used);
 *   - xRandomness is a fixed-seed xorshift generator;
 *   - xCurrentTime(Int64) returns a fixed instant (2024-01-01 00:00:00 UTC);
 *   - xSleep is a no-op.
 *
 * Exports (all arguments/results are i32, so any C-ABI host can call them):
 *
 *   int32_t demo_version_number(void)
 *       returns SQLITE_VERSION_NUMBER (3046000 for SQLite 3.46.0).
 *
 *   int32_t demo_run(int32_t rows)
 *       Opens ":memory:", creates
 *           t(id INTEGER PRIMARY KEY, v INTEGER, grp INTEGER, label TEXT)
 *       plus an index on grp, inserts v = 1..rows inside one transaction
 *       through a prepared statement (grp = v % 10, label = 'row-<v>'), runs
 *           SELECT grp, SUM(v*2+1), COUNT(*), MAX(length(label))
 *           FROM t WHERE v % 2 = 1 GROUP BY grp ORDER BY grp
 *       checks that the groups come back in ascending order and that the
 *       counts add up, closes the database and returns the checksum
 *
 *           m        = (rows + 1) / 2          (integer division: number of
 *                                              odd v in 1..rows)
 *           checksum = (2*m*m + m) mod 2^31    (= sum of 2v+1 over odd v)
 *
 *       e.g. rows=0 -> 0, rows=1 -> 3, rows=50 -> 1275, rows=1000 -> 500500.
 *       On failure it returns a negative number: -(SQLite result code), or
 *       -1000 - k for a failed self-check k; rows < 0 returns -SQLITE_MISUSE.
 *
 * Built with -DPACKR_HOST_IMPORTS (build/guest/sqlite_host.wasm), the VFS asks
 * the host instead of using stubs, through three imports of module "host":
 *   void    random(int32_t ptr, int32_t len)   fill guest memory with randomness
 *   int64_t now_ms(void)                       the Unix time in milliseconds
 *   int32_t kv_get(int32_t key, int32_t key_len, int32_t out, int32_t cap)
 *           copy the host's value for the key into guest memory; returns its
 *           length (which may exceed cap: nothing is copied then), or -1
 * and the module exports three more functions:
 *   int64_t demo_unix_time(void)   SELECT strftime('%s','now'): the host's clock
 *   int64_t demo_random(void)      SELECT random(): the host's randomness
 *   int32_t demo_kv(int32_t rows)  SELECT SUM(length(kv('key-' || (x % 10))))
 *           over x = 1..rows, where kv() is an SQL function served by kv_get:
 *           one host call per row; returns the sum, or a negative error
 *
 * Nothing here needs static constructors, but should the libc ever bring
 * some, each export runs __wasm_call_ctors exactly once before doing
 * anything else (the module is linked with --no-entry, so no crt1 does it).
 */
#include <stdint.h>
#include <string.h>

#include "sqlite3.h"

#define EXPORT(name) __attribute__((export_name(name), visibility("default")))

/* ------------------------------------------------------------------ */
/* static constructors                                                  */
/* ------------------------------------------------------------------ */

extern void __wasm_call_ctors(void);
static int ctors_done;

static void ensure_ctors(void) {
    if (!ctors_done) {
        ctors_done = 1;
        __wasm_call_ctors();
    }
}

/* ------------------------------------------------------------------ */
/* the minimal VFS                                                      */
/* ------------------------------------------------------------------ */

static int nofs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *file,
                     int flags, int *out_flags) {
    (void)vfs; (void)name; (void)flags; (void)out_flags;
    file->pMethods = 0; /* tells SQLite there is nothing to close */
    return SQLITE_CANTOPEN;
}

static int nofs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    (void)vfs; (void)name; (void)sync_dir;
    return SQLITE_IOERR_DELETE;
}

static int nofs_access(sqlite3_vfs *vfs, const char *name, int flags, int *res) {
    (void)vfs; (void)name; (void)flags;
    *res = 0; /* no file exists */
    return SQLITE_OK;
}

static int nofs_full_pathname(sqlite3_vfs *vfs, const char *name, int n_out, char *out) {
    (void)vfs;
    sqlite3_snprintf(n_out, out, "%s", name);
    return SQLITE_OK;
}

#ifdef PACKR_HOST_IMPORTS
#define HOST_IMPORT(name) __attribute__((import_module("host"), import_name(name)))
HOST_IMPORT("random") extern void host_random(int32_t ptr, int32_t len);
HOST_IMPORT("now_ms") extern int64_t host_now_ms(void);
HOST_IMPORT("kv_get") extern int32_t host_kv_get(int32_t key, int32_t key_len, int32_t out, int32_t cap);

static int nofs_randomness(sqlite3_vfs *vfs, int n, char *out) {
    (void)vfs;
    host_random((int32_t)(uintptr_t)out, n);
    return n;
}

/* The Unix epoch as a Julian day number, times 86400000 (ms). */
#define UNIX_EPOCH_JULIAN_MS ((sqlite3_int64)24405875 * 8640000)

static int nofs_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    *out = UNIX_EPOCH_JULIAN_MS + host_now_ms();
    return SQLITE_OK;
}
#else
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static int nofs_randomness(sqlite3_vfs *vfs, int n, char *out) {
    (void)vfs;
    for (int i = 0; i < n; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        out[i] = (char)(rng_state >> 56);
    }
    return n;
}

/* 2024-01-01 00:00:00 UTC as a Julian day number, times 86400000 (ms). */
#define FIXED_JULIAN_MS ((sqlite3_int64)2460310 * 86400000 + 43200000)

static int nofs_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    *out = FIXED_JULIAN_MS;
    return SQLITE_OK;
}
#endif

static int nofs_sleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    return microseconds; /* pretend we slept */
}

static int nofs_current_time(sqlite3_vfs *vfs, double *out) {
    sqlite3_int64 ms = 0;
    nofs_current_time_int64(vfs, &ms);
    *out = (double)ms / 86400000.0;
    return SQLITE_OK;
}

static int nofs_get_last_error(sqlite3_vfs *vfs, int n, char *buf) {
    (void)vfs;
    if (n > 0) buf[0] = 0;
    return 0;
}

static sqlite3_vfs nofs_vfs = {
    2,                    /* iVersion (2: has xCurrentTimeInt64) */
    (int)sizeof(sqlite3_file), /* szOsFile */
    512,                  /* mxPathname */
    0,                    /* pNext */
    "packr-nofs",         /* zName */
    0,                    /* pAppData */
    nofs_open,
    nofs_delete,
    nofs_access,
    nofs_full_pathname,
    0, 0, 0, 0,           /* xDlOpen, xDlError, xDlSym, xDlClose */
    nofs_randomness,
    nofs_sleep,
    nofs_current_time,
    nofs_get_last_error,
    nofs_current_time_int64,
    0, 0, 0               /* xSetSystemCall, xGetSystemCall, xNextSystemCall */
};

int sqlite3_os_init(void) {
    return sqlite3_vfs_register(&nofs_vfs, 1);
}

int sqlite3_os_end(void) {
    return SQLITE_OK;
}

/* ------------------------------------------------------------------ */
/* exports                                                              */
/* ------------------------------------------------------------------ */

EXPORT("demo_version_number")
int32_t demo_version_number(void) {
    ensure_ctors();
    return SQLITE_VERSION_NUMBER;
}

static int exec(sqlite3 *db, const char *sql) {
    return sqlite3_exec(db, sql, 0, 0, 0);
}

EXPORT("demo_run")
int32_t demo_run(int32_t rows) {
    sqlite3 *db = 0;
    sqlite3_stmt *stmt = 0;
    int rc;
    int32_t result;
    uint32_t checksum = 0;
    int64_t counted = 0;
    int last_grp = -1;

    ensure_ctors();
    if (rows < 0) return -SQLITE_MISUSE;

    rc = sqlite3_open(":memory:", &db);
    if (rc != SQLITE_OK) goto fail;

    rc = exec(db,
              "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER NOT NULL,"
              "               grp INTEGER NOT NULL, label TEXT NOT NULL);"
              "CREATE INDEX t_grp ON t(grp);"
              "BEGIN;");
    if (rc != SQLITE_OK) goto fail;

    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO t(v, grp, label)"
                            " VALUES(?1, ?1 % 10, printf('row-%d', ?1))",
                            -1, &stmt, 0);
    if (rc != SQLITE_OK) goto fail;
    for (int32_t v = 1; v <= rows; v++) {
        sqlite3_bind_int(stmt, 1, v);
        rc = sqlite3_step(stmt);
        if (rc != SQLITE_DONE) goto fail;
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    stmt = 0;

    rc = exec(db, "COMMIT;");
    if (rc != SQLITE_OK) goto fail;

    rc = sqlite3_prepare_v2(db,
                            "SELECT grp, SUM(v*2+1), COUNT(*), MAX(length(label))"
                            " FROM t WHERE v % 2 = 1 GROUP BY grp ORDER BY grp",
                            -1, &stmt, 0);
    if (rc != SQLITE_OK) goto fail;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int grp = sqlite3_column_int(stmt, 0);
        sqlite3_int64 sum = sqlite3_column_int64(stmt, 1);
        counted += sqlite3_column_int64(stmt, 2);
        if (grp <= last_grp) { result = -1001; goto done; } /* ORDER BY broken */
        if (sqlite3_column_int(stmt, 3) < 5) { result = -1002; goto done; }
        last_grp = grp;
        checksum += (uint32_t)sum;
    }
    if (rc != SQLITE_DONE) goto fail;
    if (counted != ((int64_t)rows + 1) / 2) { result = -1003; goto done; }

    result = (int32_t)(checksum & 0x7fffffffu);
    goto done;

fail:
    result = -(rc & 0xff ? rc & 0xff : SQLITE_ERROR);
done:
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return result;
}

#ifdef PACKR_HOST_IMPORTS
/* One SELECT returning one integer, or a negative error. */
static int64_t select_int64(const char *sql) {
    sqlite3 *db = 0;
    sqlite3_stmt *stmt = 0;
    int64_t result;
    int rc = sqlite3_open(":memory:", &db);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, sql, -1, &stmt, 0);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    result = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -(int64_t)(rc & 0xff ? rc & 0xff : SQLITE_ERROR);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return result;
}

EXPORT("demo_unix_time")
int64_t demo_unix_time(void) {
    ensure_ctors();
    return select_int64("SELECT CAST(strftime('%s', 'now') AS INTEGER)");
}

EXPORT("demo_random")
int64_t demo_random(void) {
    ensure_ctors();
    return select_int64("SELECT random()");
}

/* kv(key): the host's value for key as TEXT, or NULL when it has none. */
static void kv_function(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    char buf[256];
    const unsigned char *key = sqlite3_value_text(argv[0]);
    int key_len = sqlite3_value_bytes(argv[0]);
    (void)argc;
    if (key == 0) {
        sqlite3_result_null(ctx);
        return;
    }
    int32_t n = host_kv_get((int32_t)(uintptr_t)key, key_len, (int32_t)(uintptr_t)buf, (int32_t)sizeof buf);
    if (n < 0) {
        sqlite3_result_null(ctx);
    } else if (n > (int32_t)sizeof buf) {
        sqlite3_result_error(ctx, "kv value too long", -1);
    } else {
        sqlite3_result_text(ctx, buf, n, SQLITE_TRANSIENT);
    }
}

EXPORT("demo_kv")
int32_t demo_kv(int32_t rows) {
    sqlite3 *db = 0;
    sqlite3_stmt *stmt = 0;
    int32_t result;
    int rc;
    ensure_ctors();
    if (rows < 0) return -SQLITE_MISUSE;
    rc = sqlite3_open(":memory:", &db);
    if (rc == SQLITE_OK) rc = sqlite3_create_function(db, "kv", 1, SQLITE_UTF8, 0, kv_function, 0, 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?1)"
                                " SELECT COALESCE(SUM(length(kv('key-' || (x % 10)))), 0) FROM c",
                                -1, &stmt, 0);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int(stmt, 1, rows);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    result = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -(rc & 0xff ? rc & 0xff : SQLITE_ERROR);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return result;
}
#endif
