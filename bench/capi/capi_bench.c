/*
 * wasmtime's own C API, at its fastest: packr's engine settings (multi-memory, epoch
 * interruption, copy-on-write images), one wasmtime_instance_pre_t, and per spawn a fresh
 * store, wasmtime_instance_pre_instantiate, a call to demo_version_number, and the store's
 * deletion. Modes: default (on-demand allocation) and pooling. One JSON line on stdout.
 */
#include "../c/bench_common.h"

#include <wasmtime.h>

typedef struct capi_ctx {
    wasm_engine_t *engine;
    wasmtime_instance_pre_t *pre;
} capi_ctx;

/* packr's store deadline: never trips, and adding the current epoch cannot overflow. */
#define NEVER (UINT64_MAX / 2)

static void check(wasmtime_error_t *error, wasm_trap_t *trap, const char *what) {
    if (!error && !trap) {
        return;
    }
    wasm_byte_vec_t message;
    if (error) {
        wasmtime_error_message(error, &message);
        wasmtime_error_delete(error);
    } else {
        wasm_trap_message(trap, &message);
        wasm_trap_delete(trap);
    }
    bench_die("capi_bench: %s: %.*s", what, (int)message.size, message.data);
}

static void *live_new(void *p) {
    capi_ctx *ctx = p;
    wasmtime_store_t *store = wasmtime_store_new(ctx->engine, NULL, NULL);
    wasmtime_context_t *context = wasmtime_store_context(store);
    wasmtime_context_set_epoch_deadline(context, NEVER);
    wasmtime_instance_t instance;
    wasm_trap_t *trap = NULL;
    check(wasmtime_instance_pre_instantiate(ctx->pre, context, &instance, &trap), trap, "instantiate");
    wasmtime_extern_t export;
    static const char name[] = "demo_version_number";
    if (!wasmtime_instance_export_get(context, &instance, name, sizeof name - 1, &export) ||
        export.kind != WASMTIME_EXTERN_FUNC) {
        bench_die("capi_bench: no function %s", name);
    }
    wasmtime_val_t result;
    check(wasmtime_func_call(context, &export.of.func, NULL, 0, &result, 1, &trap), trap, "call");
    if (result.kind != WASMTIME_I32 || result.of.i32 != BENCH_EXPECTED_VERSION) {
        bench_die("capi_bench: demo_version_number returned %d, not %d", (int)result.of.i32, BENCH_EXPECTED_VERSION);
    }
    return store;
}

static void live_free(void *ctx, void *store) {
    (void)ctx;
    wasmtime_store_delete(store);
}

static void spawn(void *ctx) {
    live_free(ctx, live_new(ctx));
}

int main(int argc, char **argv) {
    static const char *const modes[] = {"default", "pooling", NULL};
    bench_args a = bench_parse(argc, argv, modes);
    size_t len = 0;
    uint8_t *wasm = bench_read_file(a.wasm, &len);

    wasm_config_t *config = wasm_config_new();
    wasmtime_config_wasm_multi_memory_set(config, true);
    wasmtime_config_epoch_interruption_set(config, true);
    wasmtime_config_memory_init_cow_set(config, true);
    wasmtime_config_parallel_compilation_set(config, true);
    wasmtime_config_cranelift_opt_level_set(config, WASMTIME_OPT_LEVEL_SPEED);
    if (strcmp(a.mode, "pooling") == 0) {
        /* The pool packr builds for the same two settings (src/config.rs). */
        uint32_t instances = (uint32_t)bench_pool_instances(&a);
        wasmtime_pooling_allocation_config_t *pool = wasmtime_pooling_allocation_config_new();
        wasmtime_pooling_allocation_config_total_core_instances_set(pool, instances);
        wasmtime_pooling_allocation_config_total_memories_set(pool, instances * 2);
        wasmtime_pooling_allocation_config_total_tables_set(pool, instances);
        wasmtime_pooling_allocation_config_total_stacks_set(pool, instances);
        wasmtime_pooling_allocation_config_total_gc_heaps_set(pool, instances);
        wasmtime_pooling_allocation_config_max_memories_per_module_set(pool, 2);
        wasmtime_pooling_allocation_config_max_tables_per_module_set(pool, 1);
        wasmtime_pooling_allocation_config_max_memory_size_set(pool, (size_t)BENCH_POOL_MEMORY_BYTES);
        wasmtime_pooling_allocation_config_table_elements_set(pool, 20000);
        wasmtime_config_memory_reservation_set(config, BENCH_POOL_MEMORY_BYTES);
        wasmtime_pooling_allocation_strategy_set(config, pool);
        wasmtime_pooling_allocation_config_delete(pool);
    }
    capi_ctx ctx = {wasm_engine_new_with_config(config), NULL};
    if (!ctx.engine) {
        bench_die("capi_bench: cannot create the engine");
    }

    double t = bench_now_s();
    wasmtime_module_t *module = NULL;
    check(wasmtime_module_new(ctx.engine, wasm, len, &module), NULL, "compile");
    double compile_ms = (bench_now_s() - t) * 1e3;
    free(wasm);

    wasmtime_linker_t *linker = wasmtime_linker_new(ctx.engine);
    check(wasmtime_linker_instantiate_pre(linker, module, &ctx.pre), NULL, "instantiate_pre");

    bench_driver d = {&ctx, spawn, live_new, live_free};
    bench_measure("wasmtime C API", &a, compile_ms, &d);

    wasmtime_instance_pre_delete(ctx.pre);
    wasmtime_linker_delete(linker);
    wasmtime_module_delete(module);
    wasm_engine_delete(ctx.engine);
    return 0;
}
