/* The compile-cache pattern as a host uses it: load once, keep a clone, wrap on a hit,
 * instantiate many, call; isolation, engine sharing and mismatch, freeing in every order. */
#include "harness.h"

static const char *COUNTER =
    "(module"
    "  (memory (export \"memory\") 1)"
    "  (global $n (mut i32) (i32.const 0))"
    "  (func (export \"bump\") (param i32) (result i32)"
    "    (global.set $n (i32.add (global.get $n) (local.get 0)))"
    "    (i32.store (i32.const 0) (global.get $n))"
    "    (global.get $n)))";

/* A one-entry cache, as a host would keep one per module name. */
struct cache {
    const char *name;
    packr_module *module;
};

static int32_t bump(packr_instance *instance, int32_t by) {
    packr_val arg = harness_i32(by), result;
    result.kind = 99;
    CHECK_OK(packr_instance_call(instance, "bump", &arg, 1, &result, 1));
    CHECK(result.kind == PACKR_I32);
    return result.of.i32;
}

static void cache_pattern(void) {
    packr_runtime *runtime = NULL;
    CHECK_OK(packr_runtime_new(&runtime));
    packr_module *loaded = harness_load(runtime, COUNTER);

    struct cache cache = {"counter", packr_module_clone(loaded)};
    CHECK(cache.module != NULL);
    packr_module_free(loaded); /* the cache's clone keeps the compiled code */

    enum { SPAWNS = 50 };
    for (int i = 0; i < SPAWNS; i++) {
        packr_module *hit = NULL;
        CHECK_OK(packr_runtime_wrap_module(runtime, cache.module, &hit));
        packr_instance *instance = NULL;
        CHECK_OK(packr_module_instantiate(hit, &instance));
        /* Every spawn starts from a fresh state. */
        CHECK(bump(instance, i + 1) == i + 1);
        uint32_t word = 0;
        CHECK_OK(packr_instance_memory_read(instance, NULL, 0, (uint8_t *)&word, sizeof word));
        CHECK(word == (uint32_t)(i + 1));
        packr_instance_free(instance);
        packr_module_free(hit);
    }
    packr_module_free(cache.module);
    packr_runtime_free(runtime);
}

static void isolation(void) {
    packr_runtime *runtime = NULL;
    CHECK_OK(packr_runtime_new(&runtime));
    packr_module *module = harness_load(runtime, COUNTER);
    packr_instance *a = NULL, *b = NULL;
    CHECK_OK(packr_module_instantiate(module, &a));
    CHECK_OK(packr_module_instantiate(module, &b));
    CHECK(bump(a, 5) == 5);
    CHECK(bump(a, 5) == 10);
    CHECK(bump(b, 1) == 1);
    uint32_t word = 0;
    CHECK_OK(packr_instance_memory_read(b, "memory", 0, (uint8_t *)&word, sizeof word));
    CHECK(word == 1);
    packr_instance_free(a);
    packr_instance_free(b);
    packr_module_free(module);
    packr_runtime_free(runtime);
}

static void engines(void) {
    packr_runtime *first = NULL, *stranger = NULL, *sibling = NULL;
    CHECK_OK(packr_runtime_new(&first));
    CHECK_OK(packr_runtime_new(&stranger));
    CHECK_OK(packr_runtime_new_sharing_engine(first, &sibling));
    packr_module *module = harness_load(first, COUNTER);

    /* Two independent runtimes: the module never reaches the stranger's instantiate. */
    packr_module *out = (packr_module *)&out; /* a sentinel that must survive */
    CHECK_STATUS(packr_runtime_wrap_module(stranger, module, &out), PACKR_ERR_ENGINE_MISMATCH);
    CHECK(out == (packr_module *)&out);
    CHECK_MESSAGE("engine mismatch");

    /* A runtime sharing the engine takes it without recompiling, both ways. */
    packr_module *on_sibling = NULL, *back = NULL;
    CHECK_OK(packr_runtime_wrap_module(sibling, module, &on_sibling));
    CHECK_OK(packr_runtime_wrap_module(first, on_sibling, &back));
    packr_instance *instance = NULL;
    CHECK_OK(packr_module_instantiate(on_sibling, &instance));
    CHECK(bump(instance, 3) == 3);

    /* A module the stranger compiled is refused by the first runtime too. */
    packr_module *foreign = harness_load(stranger, COUNTER);
    CHECK_STATUS(packr_runtime_wrap_module(sibling, foreign, &out), PACKR_ERR_ENGINE_MISMATCH);

    packr_instance_free(instance);
    packr_module_free(foreign);
    packr_module_free(back);
    packr_module_free(on_sibling);
    packr_module_free(module);
    packr_runtime_free(sibling);
    packr_runtime_free(stranger);
    packr_runtime_free(first);
}

/* Frees runtime, module, clone and instance in each of the orders a host might choose. */
static void free_orders(void) {
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int o = 0; o < 6; o++) {
        packr_runtime *runtime = NULL;
        CHECK_OK(packr_runtime_new(&runtime));
        packr_module *module = harness_load(runtime, COUNTER);
        packr_instance *instance = NULL;
        CHECK_OK(packr_module_instantiate(module, &instance));
        for (int step = 0; step < 3; step++) {
            switch (orders[o][step]) {
            case 0: packr_runtime_free(runtime); runtime = NULL; break;
            case 1: packr_module_free(module); module = NULL; break;
            case 2: packr_instance_free(instance); instance = NULL; break;
            }
            /* Whatever is left still works. */
            if (instance != NULL) CHECK(bump(instance, 1) == step + 1);
            if (module != NULL) {
                packr_instance *fresh = NULL;
                CHECK_OK(packr_module_instantiate(module, &fresh));
                CHECK(bump(fresh, 7) == 7);
                packr_instance_free(fresh);
            }
        }
    }
}

int main(void) {
    cache_pattern();
    isolation();
    engines();
    free_orders();
    return harness_finish("test_cache");
}
