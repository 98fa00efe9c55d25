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
 *
 * Build and run (from the repository root, after `cargo build --release` and
 * `guest/build.sh`):
 *
 *   gcc -std=c99 -Wall -Wextra -Wpedantic -Werror -Iinclude examples/demo.c \
 *       -Ltarget/release -lpackr -Wl,-rpath,"$PWD/target/release" -o build/demo
 *   build/demo [path/to/sqlite.wasm] [spawns]
 *
 * Defaults: build/guest/sqlite.wasm, 2000 spawns. Exit status 0 on success.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, CLOCK_MONOTONIC */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(int argc, char **argv) {
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
