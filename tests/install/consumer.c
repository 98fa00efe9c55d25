/* tests/install/consumer.c - a program outside the tree that knows packr only as installed:
 * built with `pkg-config --cflags --libs packr` (shared) or `packr-static` (static), and run
 * with no LD_LIBRARY_PATH. It runs the cache pattern: compile once, keep a clone, wrap it into
 * a runtime sharing the engine, instantiate and call; then the compile cache on disk, in the
 * directory given as argv[1]: the second load is a verified hit. */
#include <packr.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "consumer: %s: %s\n", what, packr_last_error());
    return 1;
}

static int answer(const packr_module *module, int32_t *out) {
    packr_instance *instance = NULL;
    packr_val result;
    int ok = packr_module_instantiate(module, &instance) == PACKR_OK &&
             packr_instance_call(instance, "answer", NULL, 0, &result, 1) == PACKR_OK;
    packr_instance_free(instance);
    if (ok) *out = result.of.i32;
    return ok;
}

int main(int argc, char **argv) {
    const char *wat = "(module (func (export \"answer\") (result i32) i32.const 42))";
    packr_runtime *base = NULL, *request = NULL;
    packr_module *compiled = NULL, *cached = NULL, *bound = NULL, *from_disk = NULL;
    packr_cache *cache = NULL;
    packr_cache_stats stats;
    int32_t a = 0, b = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: consumer CACHE_DIR\n");
        return 2;
    }
    if (packr_runtime_new(&base) != PACKR_OK) return fail("packr_runtime_new");
    if (packr_module_load(base, (const uint8_t *)wat, strlen(wat), &compiled) != PACKR_OK) return fail("load");
    cached = packr_module_clone(compiled);
    if (packr_runtime_new_sharing_engine(base, &request) != PACKR_OK) return fail("sharing engine");
    if (packr_runtime_wrap_module(request, cached, &bound) != PACKR_OK) return fail("wrap");
    if (!answer(bound, &a)) return fail("call");

    if (packr_cache_open(argv[1], &cache) != PACKR_OK) return fail("packr_cache_open");
    for (int i = 0; i < 2; i++) {
        packr_module_free(from_disk);
        from_disk = NULL;
        if (packr_cache_load(cache, request, (const uint8_t *)wat, strlen(wat), &from_disk) != PACKR_OK)
            return fail("packr_cache_load");
    }
    if (!answer(from_disk, &b)) return fail("call from the disk cache");
    if (packr_cache_get_stats(cache, &stats) != PACKR_OK) return fail("stats");

    printf("consumer: packr %s answered %d, and %d from its disk cache (%llu hit, %llu miss)\n", packr_version(), a, b,
           (unsigned long long)stats.hits, (unsigned long long)stats.misses);
    int ok = a == 42 && b == 42 && stats.hits == 1 && stats.misses == 1;
    packr_cache_free(cache);
    packr_module_free(from_disk);
    packr_module_free(bound);
    packr_module_free(cached);
    packr_module_free(compiled);
    packr_runtime_free(request);
    packr_runtime_free(base);
    return ok ? 0 : 1;
}
