/*
 * tests/c/test_artifact.c - the compile cache against real artifacts, natively (the SQLite
 * guest is too large for valgrind's pace):
 *
 *   1. 10,000+ mutations of the SQLite guest's artifact (every trailer byte flipped three
 *      ways, payload bytes flipped at 9,000 spread positions, 1,500 truncation lengths),
 *      each rejected with PACKR_ERR_ARTIFACT; the count is printed.
 *   2. A race: 4 processes x 8 threads load the same 4 modules (the SQLite guest and three
 *      small ones) through caches on one fresh directory; every load succeeds, every module
 *      is the right one, and each module is compiled once in all (flock waits).
 *
 * Usage: test_artifact [path/to/sqlite.wasm]   (default build/guest/sqlite.wasm)
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define SQLITE_VERSION_NUMBER 3046000
#define PROCESSES 4
#define THREADS 8
#define ROUNDS 3
#define SMALL 3

static unsigned char *sqlite_wasm;
static size_t sqlite_len;
static char small_wat[SMALL][128];

static packr_bytes serialize(const packr_module *module) {
    packr_bytes bytes = {NULL, 0};
    CHECK_OK(packr_module_serialize(module, &bytes));
    return bytes;
}

/* 1. Every mutation is PACKR_ERR_ARTIFACT and never a module. */
static void mutations(const packr_runtime *runtime) {
    packr_module *module = NULL;
    CHECK_OK(packr_module_load(runtime, sqlite_wasm, sqlite_len, &module));
    packr_bytes art = serialize(module);
    size_t len = art.len, count = 0, accepted = 0;
    unsigned char *copy = malloc(len);
    memcpy(copy, art.data, len);

    packr_module *back = NULL;
    CHECK_OK(packr_module_deserialize(runtime, copy, len, &back));
    packr_module_free(back);

    static const unsigned char flips[3] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < 128 + 9000 + 1500; i++) {
        size_t at, cut = len;
        if (i < 128) {
            at = len - 128 + i; /* the whole trailer */
        } else if (i < 128 + 9000) {
            at = (size_t)(((uint64_t)(i - 128) * 2654435761u) % (len - 128)); /* spread over the code */
        } else {
            size_t k = i - 128 - 9000;
            cut = k < 500 ? len - 1 - k : (size_t)(((uint64_t)k * 40503u) % len); /* near the end, then anywhere */
            at = len;
        }
        for (int f = 0; f < (at < len ? 3 : 1); f++) {
            if (at < len) copy[at] ^= flips[f];
            packr_module *m = NULL;
            packr_status st = packr_module_deserialize(runtime, copy, cut, &m);
            if (st != PACKR_ERR_ARTIFACT || m != NULL) {
                accepted++;
                fprintf(stderr, "mutation at %zu (cut %zu) gave %s\n", at, cut, packr_status_name(st));
                packr_module_free(m);
            }
            if (at < len) copy[at] ^= flips[f];
            count++;
        }
    }
    printf("%zu mutations of the %zu-byte SQLite artifact: %zu accepted, 0 crashes\n", count, len, accepted);
    CHECK(count >= 10000);
    CHECK(accepted == 0);
    free(copy);
    packr_bytes_free(&art);
    packr_module_free(module);
}

struct worker {
    packr_cache *cache;
    const packr_runtime *runtime;
    int failures;
};

static int32_t call0(const packr_module *module, const char *name) {
    packr_instance *instance = NULL;
    packr_val out = harness_i32(-1);
    if (packr_module_instantiate(module, &instance) != PACKR_OK) return -1;
    packr_status st = packr_instance_call(instance, name, NULL, 0, &out, 1);
    packr_instance_free(instance);
    return st == PACKR_OK ? out.of.i32 : -1;
}

static void *racer(void *arg) {
    struct worker *w = arg;
    for (int round = 0; round < ROUNDS; round++) {
        for (int m = 0; m <= SMALL; m++) {
            const uint8_t *wasm = m == SMALL ? sqlite_wasm : (const uint8_t *)small_wat[m];
            size_t len = m == SMALL ? sqlite_len : strlen(small_wat[m]);
            packr_module *module = NULL;
            if (packr_cache_load(w->cache, w->runtime, wasm, len, &module) != PACKR_OK) {
                fprintf(stderr, "load failed: %s\n", packr_last_error());
                w->failures++;
                continue;
            }
            int32_t want = m == SMALL ? SQLITE_VERSION_NUMBER : 100 + m;
            int32_t got = call0(module, m == SMALL ? "demo_version_number" : "id");
            if (got != want) {
                fprintf(stderr, "module %d answered %d, not %d\n", m, got, want);
                w->failures++;
            }
            packr_module_free(module);
        }
    }
    return NULL;
}

/* One racing process: THREADS threads on one cache and runtime. Exits with its failures
 * (0 on success) and writes its compile count to `report`. */
static void race_process(const char *dir, int report) {
    packr_runtime *runtime = NULL;
    packr_cache *cache = NULL;
    if (packr_runtime_new(&runtime) != PACKR_OK || packr_cache_open(dir, &cache) != PACKR_OK) _exit(100);
    struct worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (struct worker){cache, runtime, 0};
        if (pthread_create(&threads[t], NULL, racer, &workers[t]) != 0) _exit(101);
    }
    int failures = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        failures += workers[t].failures;
    }
    packr_cache_stats stats;
    if (packr_cache_get_stats(cache, &stats) != PACKR_OK) _exit(102);
    if (stats.hits + stats.misses != (uint64_t)THREADS * ROUNDS * (SMALL + 1) || stats.rejected != 0 || stats.errors != 0) {
        fprintf(stderr, "stats: %llu hits %llu misses %llu rejected %llu errors\n", (unsigned long long)stats.hits,
                (unsigned long long)stats.misses, (unsigned long long)stats.rejected, (unsigned long long)stats.errors);
        failures++;
    }
    uint64_t misses = stats.misses;
    if (write(report, &misses, sizeof misses) != sizeof misses) failures++;
    packr_cache_free(cache);
    packr_runtime_free(runtime);
    _exit(failures > 99 ? 99 : failures);
}

/* 2. The race. */
static void race(void) {
    char dir[] = "/tmp/packr-race-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int pipes[2];
    CHECK(pipe(pipes) == 0);
    pid_t pids[PROCESSES];
    for (int p = 0; p < PROCESSES; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            close(pipes[0]);
            race_process(dir, pipes[1]);
        }
        CHECK(pids[p] > 0);
    }
    close(pipes[1]);
    uint64_t compiles = 0, misses;
    for (int p = 0; p < PROCESSES; p++) {
        int status = 0;
        CHECK(waitpid(pids[p], &status, 0) == pids[p]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    while (read(pipes[0], &misses, sizeof misses) == sizeof misses) compiles += misses;
    close(pipes[0]);
    printf("race: %d processes x %d threads x %d loads of %d modules, %llu compiles in all\n", PROCESSES, THREADS,
           ROUNDS * (SMALL + 1), SMALL + 1, (unsigned long long)compiles);
    CHECK(compiles == SMALL + 1);

    packr_cache *cache = NULL;
    packr_cache_stats stats;
    CHECK_OK(packr_cache_open(dir, &cache));
    CHECK_OK(packr_cache_get_stats(cache, &stats));
    CHECK(stats.files == SMALL + 1);
    CHECK(strcmp(packr_cache_dir(cache), dir) == 0);
    packr_cache_free(cache);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    CHECK(system(command) == 0);
}

int main(int argc, char **argv) {
    sqlite_wasm = harness_read_file(argc > 1 ? argv[1] : "build/guest/sqlite.wasm", &sqlite_len);
    for (int m = 0; m < SMALL; m++)
        snprintf(small_wat[m], sizeof small_wat[m], "(module (func (export \"id\") (result i32) i32.const %d))", 100 + m);
    race(); /* first: it forks, and must do so before this process starts packr's threads */
    packr_runtime *runtime = NULL;
    CHECK_OK(packr_runtime_new(&runtime));
    mutations(runtime);
    packr_runtime_free(runtime);
    free(sqlite_wasm);
    return harness_finish("test_artifact");
}
