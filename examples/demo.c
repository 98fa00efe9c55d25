/*
 * examples/demo.c - compile a wasm module once, then spawn it many times.
 *
 * What it shows:
 *   1. One runtime compiles build/guest/sqlite.wasm (SQLite built for wasm32
 *      by guest/build.sh) once, and we time that compile.
 *   2. The compiled module is kept in a tiny cache (as a packr_module_clone).
 *   3. Each "request" takes the cached module, wraps it into the runtime,
 *      instantiates it and calls demo_run(50), which builds an in-memory
 *      SQLite database, fills it and runs an aggregate query. We time every
 *      spawn-and-call and compare it with the compile time.
 *   4. A second, independent runtime is not allowed to use that module:
 *      packr reports PACKR_ERR_ENGINE_MISMATCH.
 *   5. Host functions: build/guest/sqlite_host.wasm (the same SQLite, its VFS
 *      and a kv() SQL function served by imports) runs with the host's clock,
 *      randomness and a per-request key-value store, through C callbacks;
 *      and build/guest/calls.wasm shows what one import costs on its own.
 *   6. WASI: build/guest/quickjs.wasm (the QuickJS interpreter from the
 *      rquickjs-sys crate's sources, a wasm32-wasi command) is compiled once;
 *      each request spawns it from the cache with its own JavaScript program on
 *      stdin and its stdout captured, runs it and checks what it printed.
 *   7. The compile cache on disk: the SQLite module goes through a packr_cache
 *      in build/demo-cache (or $PACKR_DEMO_CACHE); the first run compiles and
 *      stores it, and a second process (this program started again) loads the
 *      verified artifact instead of compiling, printing both times and the ratio.
 *
 * Build and run (from the repository root, after `cargo build --release` and
 * `guest/build.sh`):
 *
 *   gcc -std=c99 -Wall -Wextra -Wpedantic -Werror -Iinclude examples/demo.c \
 *       -Ltarget/release -lpackr -Wl,-rpath,"$PWD/target/release" -o build/demo
 *   build/demo [path/to/sqlite.wasm] [spawns]
 *
 * Defaults: build/guest/sqlite.wasm, 2000 spawns (at most 500 QuickJS requests). Exit
 * status 0 on success. PACKR_DEMO_NO_WASI=1 skips section 6 (make test does so under
 * valgrind, where compiling QuickJS takes minutes; tests/c/test_wasi.c runs it there).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, CLOCK_MONOTONIC */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spawn.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#include "packr.h"

#define DEFAULT_WASM "build/guest/sqlite.wasm"
#define DEFAULT_SPAWNS 2000
#define DEMO_ROWS 50
#define SQLITE_VERSION_NUMBER 3046000 /* what demo_version_number returns */

/* ------------------------------------------------------------------ */
/* small helpers                                                        */
/* ------------------------------------------------------------------ */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Formats a duration with a readable unit into buf. */
static const char *fmt_duration(uint64_t ns, char *buf, size_t len) {
    if (ns >= 1000000000u)
        snprintf(buf, len, "%.3f s", (double)ns / 1e9);
    else if (ns >= 1000000u)
        snprintf(buf, len, "%.3f ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.1f us", (double)ns / 1e3);
    return buf;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Returns 1 if st is PACKR_OK; otherwise prints what failed and returns 0. */
static int check(packr_status st, const char *what) {
    if (st == PACKR_OK)
        return 1;
    const char *msg = packr_last_error();
    fprintf(stderr, "error: %s failed: %s: %s\n", what, packr_status_name(st),
            msg ? msg : "(no message)");
    return 0;
}

/* Reads a whole file into a malloc'd buffer. Returns NULL on failure. */
static uint8_t *read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    uint8_t *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len > 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)len);
        if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    if (!buf)
        fprintf(stderr, "%s: cannot read file\n", path);
    *len_out = buf ? (size_t)len : 0;
    return buf;
}

/* The checksum demo_run(rows) must return (see guest/glue.c):
 * m = number of odd v in 1..rows; result = sum of 2v+1 over them = 2m^2 + m. */
static int32_t expected_checksum(int32_t rows) {
    int64_t m = ((int64_t)rows + 1) / 2;
    return (int32_t)((2 * m * m + m) % ((int64_t)1 << 31));
}

/* ------------------------------------------------------------------ */
/* a tiny module cache: name -> compiled module                         */
/* ------------------------------------------------------------------ */

#define CACHE_SLOTS 4

struct cache_entry {
    const char *name;
    packr_module *module; /* owned by the cache */
};

static struct cache_entry cache[CACHE_SLOTS];

/* Takes ownership of module. Returns 0 if the cache is full. */
static int cache_put(const char *name, packr_module *module) {
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (!cache[i].module) {
            cache[i].name = name;
            cache[i].module = module;
            return 1;
        }
    }
    return 0;
}

static const packr_module *cache_get(const char *name) {
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].module && strcmp(cache[i].name, name) == 0)
            return cache[i].module;
    return NULL;
}

static void cache_clear(void) {
    for (int i = 0; i < CACHE_SLOTS; i++) {
        packr_module_free(cache[i].module);
        cache[i].module = NULL;
    }
}

/* ------------------------------------------------------------------ */
/* one spawn: wrap the cached module, instantiate, call, free           */
/* ------------------------------------------------------------------ */

/* Calls an export taking (optional) one i32 and returning one i32. */
static int call_i32(packr_instance *inst, const char *name, const int32_t *arg,
                    int32_t *result) {
    packr_val args[1], results[1];
    memset(args, 0, sizeof args);
    memset(results, 0, sizeof results);
    if (arg) {
        args[0].kind = PACKR_I32;
        args[0].of.i32 = *arg;
    }
    if (!check(packr_instance_call(inst, name, args, arg ? 1 : 0, results, 1), name))
        return 0;
    if (results[0].kind != PACKR_I32) {
        fprintf(stderr, "error: %s returned a non-i32 value\n", name);
        return 0;
    }
    *result = results[0].of.i32;
    return 1;
}

/* Spawns a fresh instance of the cached module in runtime rt and calls
 * export name(arg). Returns 1 on success. */
static int spawn_and_call(const packr_runtime *rt, const packr_module *cached,
                          const char *name, const int32_t *arg, int32_t *result) {
    packr_module *module = NULL;
    packr_instance *inst = NULL;
    int ok = check(packr_runtime_wrap_module(rt, cached, &module), "packr_runtime_wrap_module") &&
             check(packr_module_instantiate(module, &inst), "packr_module_instantiate") &&
             call_i32(inst, name, arg, result);
    packr_instance_free(inst);
    packr_module_free(module);
    return ok;
}

/* ------------------------------------------------------------------ */
/* one path: compile once, then spawn from the cache                    */
/* ------------------------------------------------------------------ */

struct figures {
    uint64_t compile_ns;
    uint64_t work_median_ns, work_p99_ns; /* spawn + demo_run(DEMO_ROWS) */
    uint64_t bare_median_ns;              /* spawn + demo_version_number: the spawn alone */
};

/* Times `spawns` spawn-and-calls of `name` from the cached module; sorts `times`. */
static int time_spawns(const packr_runtime *rt, const char *name, const int32_t *arg,
                       int32_t want, long spawns, uint64_t *times) {
    for (long i = 0; i < spawns; i++) {
        const packr_module *cached = cache_get("sqlite"); /* cache hit */
        int32_t got = 0;
        uint64_t start = now_ns();
        if (!spawn_and_call(rt, cached, name, arg, &got))
            return 0;
        times[i] = now_ns() - start;
        if (got != want) {
            fprintf(stderr, "error: spawn %ld: %s = %d, expected %d\n", i, name, (int)got,
                    (int)want);
            return 0;
        }
    }
    qsort(times, (size_t)spawns, sizeof *times, cmp_u64);
    return 1;
}

/* Compiles the module with `rt`, keeps it in the cache, and measures spawns from it. */
static int run_path(const packr_runtime *rt, const uint8_t *wasm, size_t wasm_len, long spawns,
                    uint64_t *times, struct figures *fig) {
    packr_module *module = NULL;
    uint64_t t0 = now_ns();
    if (!check(packr_module_load(rt, wasm, wasm_len, &module), "packr_module_load"))
        return 0;
    fig->compile_ns = now_ns() - t0;

    /* Keep a clone in the cache; the original handle is no longer needed. */
    cache_clear();
    packr_module *clone = packr_module_clone(module);
    packr_module_free(module);
    if (!clone || !cache_put("sqlite", clone)) {
        packr_module_free(clone);
        fprintf(stderr, "error: cannot cache the module\n");
        return 0;
    }

    const int32_t rows = DEMO_ROWS;
    if (!time_spawns(rt, "demo_run", &rows, expected_checksum(rows), spawns, times))
        return 0;
    fig->work_median_ns = times[spawns / 2];
    fig->work_p99_ns = times[(spawns * 99 + 99) / 100 - 1]; /* nearest rank */
    if (!time_spawns(rt, "demo_version_number", NULL, SQLITE_VERSION_NUMBER, spawns, times))
        return 0;
    fig->bare_median_ns = times[spawns / 2];
    return 1;
}

static void print_row(const char *label, uint64_t plain, uint64_t fast) {
    char a[32], b[32];
    printf("  %-34s %14s %14s\n", label, fmt_duration(plain, a, sizeof a),
           fmt_duration(fast, b, sizeof b));
}

/* ------------------------------------------------------------------ */
/* host functions: the guest's clock, randomness and key-value store   */
/* ------------------------------------------------------------------ */

#define KV_KEYS 10
#define KV_ROWS 100

/* One request's host state, reached from callbacks through packr_caller_data. */
struct session {
    const char *values[KV_KEYS]; /* the value of "key-<i>" */
    long kv_calls;
};

/* host.random(ptr, len): fills guest memory with the OS's randomness, zero-copy. */
static packr_status host_random(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                                packr_val *results, size_t nresults) {
    (void)env, (void)nargs, (void)results, (void)nresults;
    uint8_t *memory = NULL;
    uint64_t size = 0;
    packr_status st = packr_caller_memory_data(caller, NULL, &memory, &size);
    if (st != PACKR_OK) return st;
    uint32_t ptr = (uint32_t)args[0].of.i32, len = (uint32_t)args[1].of.i32;
    if ((uint64_t)ptr + len > size) {
        packr_caller_set_error(caller, "random: range outside memory");
        return PACKR_ERR_OUT_OF_BOUNDS;
    }
    if (getrandom(memory + ptr, len, 0) != (ssize_t)len) {
        packr_caller_set_error(caller, "random: getrandom failed");
        return PACKR_ERR_RESOURCE;
    }
    return PACKR_OK;
}

/* host.now_ms() -> i64: the Unix time in milliseconds. */
static packr_status host_now_ms(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                                packr_val *results, size_t nresults) {
    (void)env, (void)caller, (void)args, (void)nargs, (void)nresults;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    results[0].of.i64 = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return PACKR_OK;
}

/* host.kv_get(key, key_len, out, cap) -> i32: the session's value, copied into the guest. */
static packr_status host_kv_get(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                                packr_val *results, size_t nresults) {
    (void)env, (void)nargs, (void)nresults;
    struct session *session = packr_caller_data(caller);
    char key[32];
    uint32_t key_len = (uint32_t)args[1].of.i32;
    if (key_len >= sizeof key) {
        results[0].of.i32 = -1;
        return PACKR_OK;
    }
    packr_status st = packr_caller_memory_read(caller, NULL, (uint32_t)args[0].of.i32, (uint8_t *)key, key_len);
    if (st != PACKR_OK) return st;
    key[key_len] = '\0';
    session->kv_calls++;
    int index = strncmp(key, "key-", 4) == 0 ? atoi(key + 4) : -1;
    if (index < 0 || index >= KV_KEYS || session->values[index] == NULL) {
        results[0].of.i32 = -1;
        return PACKR_OK;
    }
    size_t len = strlen(session->values[index]);
    if (len <= (size_t)(uint32_t)args[3].of.i32) {
        st = packr_caller_memory_write(caller, NULL, (uint32_t)args[2].of.i32, (const uint8_t *)session->values[index], len);
        if (st != PACKR_OK) return st;
    }
    results[0].of.i32 = (int32_t)len;
    return PACKR_OK;
}

/* bench.inc(x) -> x + 1: the calls guest's import, to time an import alone. */
static packr_status host_inc(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                             packr_val *results, size_t nresults) {
    (void)env, (void)caller, (void)nargs, (void)nresults;
    results[0].of.i32 = args[0].of.i32 + 1;
    return PACKR_OK;
}

static int call_func(packr_instance *inst, const packr_func *func, const packr_val *args, size_t nargs,
                     packr_val *result, const char *what) {
    return check(packr_instance_call_func(inst, func, args, nargs, result, 1), what);
}

/* Part 5: a real guest's imports served by C callbacks, spawned from the cache. */
static int run_host_section(const packr_runtime *base, const char *dir, long spawns, uint64_t *times) {
    static const packr_valkind two_i32[] = {PACKR_I32, PACKR_I32}, four_i32[] = {PACKR_I32, PACKR_I32, PACKR_I32, PACKR_I32},
                               i64[] = {PACKR_I64};
    int ok = 0;
    char path[1100], calls_path[1100];
    snprintf(path, sizeof path, "%s/sqlite_host.wasm", dir);
    snprintf(calls_path, sizeof calls_path, "%s/calls.wasm", dir);
    size_t len = 0, calls_len = 0;
    uint8_t *wasm = read_file(path, &len), *calls_wasm = read_file(calls_path, &calls_len);
    packr_host *host = NULL;
    packr_runtime *rt = NULL;
    packr_module *module = NULL, *calls = NULL;
    packr_func *kv = NULL, *unix_time = NULL, *random = NULL, *host_loop = NULL;
    packr_instance *inst = NULL;
    if (!wasm || !calls_wasm || !check(packr_host_new(&host), "packr_host_new") ||
        !check(packr_host_define_func(host, "host", "random", two_i32, 2, NULL, 0, host_random, NULL, NULL), "define random") ||
        !check(packr_host_define_func(host, "host", "now_ms", NULL, 0, i64, 1, host_now_ms, NULL, NULL), "define now_ms") ||
        !check(packr_host_define_func(host, "host", "kv_get", four_i32, 4, two_i32, 1, host_kv_get, NULL, NULL), "define kv_get") ||
        !check(packr_host_define_func(host, "bench", "inc", two_i32, 1, two_i32, 1, host_inc, NULL, NULL), "define inc") ||
        !check(packr_runtime_new_with_host(base, host, &rt), "packr_runtime_new_with_host"))
        goto out;

    uint64_t t0 = now_ns();
    if (!check(packr_module_load(rt, wasm, len, &module), "packr_module_load (sqlite_host.wasm)"))
        goto out;
    uint64_t compile_ns = now_ns() - t0;
    if (!check(packr_module_func(module, "demo_kv", &kv), "packr_module_func demo_kv") ||
        !check(packr_module_func(module, "demo_unix_time", &unix_time), "packr_module_func demo_unix_time") ||
        !check(packr_module_func(module, "demo_random", &random), "packr_module_func demo_random"))
        goto out;

    /* The guest's clock and randomness are the host's now. */
    packr_val result, rows = {PACKR_I32, {.i32 = KV_ROWS}};
    struct session first = {{"alpha", "b", "gamma", "d", "epsilon", "f", "eta", "h", "iota", "j"}, 0};
    int64_t randoms[2], guest_now = 0;
    for (int i = 0; i < 2; i++) {
        if (!check(packr_module_instantiate_with(module, NULL, &first, &inst), "instantiate sqlite_host") ||
            !call_func(inst, random, NULL, 0, &result, "demo_random"))
            goto out;
        randoms[i] = result.of.i64;
        if (i == 0 && !call_func(inst, unix_time, NULL, 0, &result, "demo_unix_time"))
            goto out;
        if (i == 0) guest_now = result.of.i64;
        packr_instance_free(inst);
        inst = NULL;
    }
    time_t host_now = time(NULL);
    printf("\nhost functions: sqlite_host.wasm (compiled once in %.1f ms) imports its VFS's clock and\n"
           "randomness and a kv() SQL function from the host, served by C callbacks:\n",
           (double)compile_ns / 1e6);
    printf("  guest strftime('%%s','now') = %lld, host time() = %lld\n", (long long)guest_now, (long long)host_now);
    printf("  guest random() in two fresh instances: %lld, %lld\n", (long long)randoms[0], (long long)randoms[1]);
    if (guest_now < (int64_t)host_now - 2 || guest_now > (int64_t)host_now + 2 || randoms[0] == randoms[1]) {
        fprintf(stderr, "error: the guest did not see the host's clock or randomness\n");
        goto out;
    }

    /* Per request: a fresh instance with its own key-value store, one host call per row. */
    int32_t expected = 0;
    for (int x = 1; x <= KV_ROWS; x++) expected += (int32_t)strlen(first.values[x % KV_KEYS]);
    long kv_calls = 0;
    for (long i = 0; i < spawns; i++) {
        struct session session = first;
        session.kv_calls = 0;
        uint64_t t = now_ns();
        if (!check(packr_module_instantiate_with(module, NULL, &session, &inst), "instantiate sqlite_host") ||
            !call_func(inst, kv, &rows, 1, &result, "demo_kv"))
            goto out;
        packr_instance_free(inst);
        inst = NULL;
        times[i] = now_ns() - t;
        kv_calls += session.kv_calls;
        if (result.of.i32 != expected || session.kv_calls != KV_ROWS) {
            fprintf(stderr, "error: demo_kv(%d) = %d with %ld host calls, expected %d with %d\n", KV_ROWS,
                    (int)result.of.i32, session.kv_calls, (int)expected, KV_ROWS);
            goto out;
        }
    }
    qsort(times, (size_t)spawns, sizeof *times, cmp_u64);
    char a[32], b[32];
    printf("  %ld requests, each a fresh instance with its own store: spawn + demo_kv(%d) (%d kv_get\n"
           "  calls reading the key from guest memory and writing the value back) median %s, p99 %s;\n"
           "  %ld host calls in all, every sum = %d\n",
           spawns, KV_ROWS, KV_ROWS, fmt_duration(times[spawns / 2], a, sizeof a),
           fmt_duration(times[(size_t)spawns * 99 / 100], b, sizeof b), kv_calls, (int)expected);

    /* What one import costs on its own: calls.wasm's loop over bench.inc. */
    if (!check(packr_module_load(rt, calls_wasm, calls_len, &calls), "packr_module_load (calls.wasm)") ||
        !check(packr_module_func(calls, "host_loop", &host_loop), "packr_module_func host_loop") ||
        !check(packr_module_instantiate(calls, &inst), "instantiate calls"))
        goto out;
    packr_val n = {PACKR_I32, {.i32 = 1000000}};
    t0 = now_ns();
    if (!call_func(inst, host_loop, &n, 1, &result, "host_loop") || result.of.i32 != n.of.i32)
        goto out;
    printf("  one import on its own (calls.wasm, a C callback returning x + 1): %.1f ns per call\n",
           (double)(now_ns() - t0) / n.of.i32);
    ok = 1;
out:
    packr_instance_free(inst);
    packr_func_free(kv);
    packr_func_free(unix_time);
    packr_func_free(random);
    packr_func_free(host_loop);
    packr_module_free(module);
    packr_module_free(calls);
    packr_runtime_free(rt);
    packr_host_free(host);
    free(wasm);
    free(calls_wasm);
    return ok;
}

/* ------------------------------------------------------------------ */
/* WASI: a real interpreter per request                                  */
/* ------------------------------------------------------------------ */

/* The program request `i` sends, and what it must print. */
static void js_request(long i, char *script, size_t script_len, char *want, size_t want_len) {
    snprintf(script, script_len,
             "const n = %ld; let sum = 0;\n"
             "for (let k = 1; k <= 100; k++) sum += k * n;\n"
             "print(JSON.stringify({ request: n, sum, words: 'packr runs quickjs'.split(' ').map(w => w.length) }));\n",
             i);
    snprintf(want, want_len, "{\"request\":%ld,\"sum\":%ld,\"words\":[5,4,7]}\n", i, 5050 * i);
}

static int run_js_section(const char *dir, long requests, uint64_t *times) {
    int ok = 0;
    char path[1100];
    snprintf(path, sizeof path, "%s/quickjs.wasm", dir);
    size_t len = 0;
    uint8_t *wasm = read_file(path, &len);
    packr_host *host = NULL;
    packr_config *config = NULL;
    packr_runtime *base = NULL, *rt = NULL;
    packr_module *module = NULL;
    packr_instance_config *request = NULL;
    packr_instance *inst = NULL;
    packr_bytes out = {NULL, 0};
    const char *argv[] = {"qjs"};
    if (!wasm || !check(packr_host_new(&host), "packr_host_new") || !check(packr_host_define_wasi(host), "packr_host_define_wasi") ||
        !check(packr_config_new(&config), "packr_config_new") || !check(packr_config_set_pooling(config, true), "pooling") ||
        !check(packr_config_set_pool_instances(config, 16), "pool instances") ||
        !check(packr_config_set_pool_memory_bytes(config, 64 << 20), "pool memory bytes") ||
        !check(packr_runtime_new_with_config(config, &base), "packr_runtime_new_with_config") ||
        !check(packr_runtime_new_with_host(base, host, &rt), "packr_runtime_new_with_host") ||
        !check(packr_instance_config_new(&request), "packr_instance_config_new") ||
        !check(packr_instance_config_set_wasi_args(request, argv, 1), "set_wasi_args") ||
        !check(packr_instance_config_set_wasi_stdout(request, PACKR_WASI_CAPTURE), "set_wasi_stdout"))
        goto out;

    uint64_t t0 = now_ns();
    if (!check(packr_module_load(rt, wasm, len, &module), "packr_module_load (quickjs.wasm)"))
        goto out;
    uint64_t compile_ns = now_ns() - t0;

    char script[512], want[128], first[128] = "";
    for (long i = 0; i < requests; i++) {
        js_request(i, script, sizeof script, want, sizeof want);
        if (!check(packr_instance_config_set_wasi_stdin(request, (const uint8_t *)script, strlen(script)), "set_wasi_stdin"))
            goto out;
        int32_t exit_code = -1;
        uint64_t t = now_ns();
        if (!check(packr_module_instantiate_with(module, request, NULL, &inst), "instantiate quickjs") ||
            !check(packr_instance_run(inst, &exit_code), "packr_instance_run") ||
            !check(packr_instance_wasi_output(inst, 1, &out), "packr_instance_wasi_output"))
            goto out;
        packr_instance_free(inst);
        inst = NULL;
        times[i] = now_ns() - t;
        if (exit_code != 0 || out.len != strlen(want) || memcmp(out.data, want, out.len) != 0) {
            fprintf(stderr, "error: request %ld exited %d and printed %.*s, expected %s", i, (int)exit_code, (int)out.len,
                    out.len ? (const char *)out.data : "", want);
            goto out;
        }
        if (i == 0) snprintf(first, sizeof first, "%.*s", (int)out.len - 1, (const char *)out.data);
        packr_bytes_free(&out);
    }
    qsort(times, (size_t)requests, sizeof *times, cmp_u64);
    uint64_t median = times[requests / 2];
    char a[32], b[32], c[32], d[32];
    printf("\nWASI: quickjs.wasm (QuickJS, %zu bytes, a wasm32-wasi command) compiled once in %s;\n"
           "%ld requests, each a fresh instance from the cache with its own program on stdin and its\n"
           "stdout captured; request 0 printed %s\n",
           len, fmt_duration(compile_ns, a, sizeof a), requests, first);
    printf("  spawn + run + output, median %s, p99 %s\n", fmt_duration(median, b, sizeof b),
           fmt_duration(times[(size_t)requests * 99 / 100], c, sizeof c));
    printf("  without the cache every request would compile first: %s each, %.0f x the cached request\n",
           fmt_duration(compile_ns + median, d, sizeof d), (double)(compile_ns + median) / (double)(median + 1));
    ok = 1;
out:
    packr_bytes_free(&out);
    packr_instance_free(inst);
    packr_instance_config_free(request);
    packr_module_free(module);
    packr_runtime_free(rt);
    packr_runtime_free(base);
    packr_config_free(config);
    packr_host_free(host);
    free(wasm);
    return ok;
}

/* ------------------------------------------------------------------ */
/* the compile cache on disk: a second process start                    */
/* ------------------------------------------------------------------ */

#define SECOND_PROCESS "--second-process"

/* Loads the module through the cache in `dir`, checks it runs, and returns the time the
 * load took, or 0 on failure. `*hit` says whether it came from disk. */
static uint64_t cache_load_timed(const packr_runtime *rt, const char *dir, const uint8_t *wasm, size_t len,
                                 int *hit) {
    packr_cache *cache = NULL;
    packr_module *module = NULL;
    packr_instance *inst = NULL;
    packr_cache_stats stats;
    packr_val out;
    uint64_t took = 0;
    if (!check(packr_cache_open(dir, &cache), "packr_cache_open"))
        return 0;
    uint64_t t0 = now_ns();
    if (check(packr_cache_load(cache, rt, wasm, len, &module), "packr_cache_load")) {
        took = now_ns() - t0;
        if (!check(packr_cache_get_stats(cache, &stats), "packr_cache_get_stats") ||
            !check(packr_module_instantiate(module, &inst), "packr_module_instantiate") ||
            !check(packr_instance_call(inst, "demo_version_number", NULL, 0, &out, 1), "demo_version_number") ||
            out.of.i32 != SQLITE_VERSION_NUMBER)
            took = 0;
        else
            *hit = stats.hits == 1;
        packr_bytes why = {NULL, 0};
        if (took != 0 && stats.rejected != 0 && packr_cache_last_problem(cache, &why) == PACKR_OK && why.data != NULL)
            printf("  (an artifact was rejected and replaced: %.*s)\n", (int)why.len, (const char *)why.data);
        packr_bytes_free(&why);
    }
    packr_instance_free(inst);
    packr_module_free(module);
    packr_cache_free(cache);
    return took;
}

/* The second process: loads through the cache and compares with `compile_ns`. Exit status
 * 0 only for a verified hit. */
static int second_process(const char *dir, const char *wasm_path, uint64_t compile_ns) {
    size_t len = 0;
    uint8_t *wasm = read_file(wasm_path, &len);
    packr_runtime *rt = NULL;
    int hit = 0;
    uint64_t took = 0;
    char a[32], b[32];
    if (wasm != NULL && check(packr_runtime_new(&rt), "packr_runtime_new"))
        took = cache_load_timed(rt, dir, wasm, len, &hit);
    if (took != 0)
        printf("  second process (pid %ld): %s in %s; compiling took %s: %.0f x faster\n", (long)getpid(),
               hit ? "loaded the verified artifact" : "cache MISS, compiled", fmt_duration(took, a, sizeof a),
               fmt_duration(compile_ns, b, sizeof b), (double)compile_ns / (double)took);
    packr_runtime_free(rt);
    free(wasm);
    return took != 0 && hit ? 0 : 1;
}

static int run_disk_cache_section(const packr_runtime *rt, const char *self, const char *wasm_path,
                                  const uint8_t *wasm, size_t len, uint64_t compile_ns) {
    const char *dir = getenv("PACKR_DEMO_CACHE");
    if (dir == NULL || dir[0] == '\0')
        dir = "build/demo-cache";
    char a[32];
    int hit = 0;
    printf("\nthe compile cache on disk (%s):\n", dir);
    uint64_t took = cache_load_timed(rt, dir, wasm, len, &hit);
    if (took == 0)
        return 0;
    printf("  this process: %s in %s\n",
           hit ? "loaded the verified artifact an earlier run stored" : "no artifact yet: compiled and stored it",
           fmt_duration(took, a, sizeof a));
    /* The program started again, as the next worker process or a restart would be. */
    char compile_arg[32];
    snprintf(compile_arg, sizeof compile_arg, "%llu", (unsigned long long)compile_ns);
    char *const child_argv[] = {(char *)self, SECOND_PROCESS, (char *)dir, (char *)wasm_path, compile_arg, NULL};
    pid_t pid;
    int status = 0;
    fflush(stdout);
    if (posix_spawn(&pid, self, NULL, NULL, child_argv, environ) != 0 || waitpid(pid, &status, 0) != pid) {
        perror("posix_spawn");
        return 0;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], SECOND_PROCESS) == 0)
        return second_process(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    const char *wasm_path = argc > 1 ? argv[1] : DEFAULT_WASM;
    long spawns = argc > 2 ? strtol(argv[2], NULL, 10) : DEFAULT_SPAWNS;
    if (spawns < 1) {
        fprintf(stderr, "usage: %s [module.wasm] [spawns >= 1]\n", argv[0]);
        return 2;
    }

    int exit_code = 1;
    packr_runtime *plain = NULL, *fast = NULL, *other_rt = NULL;
    packr_config *config = NULL;
    packr_module *foreign = NULL;
    uint64_t *times = NULL;
    size_t wasm_len = 0;
    uint8_t *wasm = read_file(wasm_path, &wasm_len);
    times = malloc((size_t)spawns * sizeof *times);
    if (!wasm || !times)
        goto out;

    printf("packr %s, module %s (%zu bytes, SQLite)\n", packr_version(), wasm_path, wasm_len);

    /* The plain path: packr's defaults (on-demand allocation). */
    struct figures plain_fig, fast_fig;
    if (!check(packr_runtime_new(&plain), "packr_runtime_new") ||
        !run_path(plain, wasm, wasm_len, spawns, times, &plain_fig))
        goto out;

    /* The fast path: a pooled runtime with copy-on-write memory images. */
    if (!check(packr_config_new(&config), "packr_config_new") ||
        !check(packr_config_set_pooling(config, true), "packr_config_set_pooling") ||
        !check(packr_config_set_pool_instances(config, 64), "packr_config_set_pool_instances") ||
        !check(packr_config_set_pool_memory_bytes(config, 64 << 20),
               "packr_config_set_pool_memory_bytes") ||
        !check(packr_runtime_new_with_config(config, &fast), "packr_runtime_new_with_config") ||
        !run_path(fast, wasm, wasm_len, spawns, times, &fast_fig))
        goto out;

    printf("\n%ld spawns from the cache, each a fresh instance; demo_run(%d) builds and\n"
           "queries an in-memory SQLite database (every checksum = %d)\n\n",
           spawns, DEMO_ROWS, (int)expected_checksum(DEMO_ROWS));
    printf("  %-34s %14s %14s\n", "", "plain", "pooled");
    print_row("compile (once)", plain_fig.compile_ns, fast_fig.compile_ns);
    print_row("spawn + demo_run, median", plain_fig.work_median_ns, fast_fig.work_median_ns);
    print_row("spawn + demo_run, p99", plain_fig.work_p99_ns, fast_fig.work_p99_ns);
    print_row("spawn + trivial call, median", plain_fig.bare_median_ns, fast_fig.bare_median_ns);
    printf("  %-34s %12.0f x %12.0f x\n\n", "compile / (spawn + trivial call)",
           (double)plain_fig.compile_ns / (double)(plain_fig.bare_median_ns + 1),
           (double)fast_fig.compile_ns / (double)(fast_fig.bare_median_ns + 1));

    /* A module belongs to the engine that compiled it: an independent runtime
     * must refuse it, with a status instead of an abort. */
    if (!check(packr_runtime_new(&other_rt), "packr_runtime_new (second runtime)"))
        goto out;
    packr_status st = packr_runtime_wrap_module(other_rt, cache_get("sqlite"), &foreign);
    const char *msg = packr_last_error();
    printf("an independent runtime wraps the cached module: %s\n  %s\n", packr_status_name(st),
           st == PACKR_OK ? "(no error)" : msg);
    if (st != PACKR_ERR_ENGINE_MISMATCH) {
        fprintf(stderr, "error: expected PACKR_ERR_ENGINE_MISMATCH\n");
        goto out;
    }

    /* The guests built beside the module: sqlite_host.wasm and calls.wasm. */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", wasm_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0'; else snprintf(dir, sizeof dir, ".");
    if (!run_host_section(plain, dir, spawns, times))
        goto out;
    const char *no_wasi = getenv("PACKR_DEMO_NO_WASI");
    if ((no_wasi == NULL || strcmp(no_wasi, "1") != 0) && !run_js_section(dir, spawns < 500 ? spawns : 500, times))
        goto out;
    if (!run_disk_cache_section(plain, argv[0], wasm_path, wasm, wasm_len, plain_fig.compile_ns))
        goto out;

    exit_code = 0;
out:
    packr_module_free(foreign);
    cache_clear();
    packr_config_free(config);
    packr_runtime_free(other_rt);
    packr_runtime_free(fast);
    packr_runtime_free(plain);
    free(times);
    free(wasm);
    return exit_code;
}
