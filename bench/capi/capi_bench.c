/*
 * wasmtime's own C API, at its fastest: packr's engine settings (multi-memory, epoch
 * interruption, copy-on-write images), one wasmtime_instance_pre_t, and per spawn a fresh
 * store, wasmtime_instance_pre_instantiate, a call to demo_version_number, and the store's
 * deletion. Modes: default (on-demand allocation) and pooling; and calls (per-call costs on
 * one live instance of build/guest/calls.wasm). One JSON line on stdout.
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

/* The calls mode: two instances of calls.wasm, one whose bench.inc is a checked
 * wasmtime_linker_define_func callback and one whose is an unchecked one. */
typedef struct calls_ctx {
    wasmtime_context_t *checked, *unchecked;
    wasmtime_func_t add, loop_checked, loop_unchecked;
} calls_ctx;

static wasm_trap_t *inc_checked(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args, size_t nargs,
                                wasmtime_val_t *results, size_t nresults) {
    (void)env, (void)caller, (void)nargs, (void)nresults;
    results[0].kind = WASMTIME_I32;
    results[0].of.i32 = args[0].of.i32 + 1;
    return NULL;
}

static wasm_trap_t *inc_unchecked(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *args_and_results,
                                  size_t n) {
    (void)env, (void)caller, (void)n;
    args_and_results[0].i32 = args_and_results[0].i32 + 1;
    return NULL;
}

static int32_t call_checked(void *p) {
    calls_ctx *c = p;
    wasmtime_val_t args[2] = {{.kind = WASMTIME_I32, .of.i32 = 1}, {.kind = WASMTIME_I32, .of.i32 = 2}}, result;
    wasm_trap_t *trap = NULL;
    check(wasmtime_func_call(c->checked, &c->add, args, 2, &result, 1, &trap), trap, "call add");
    return result.of.i32;
}

static int32_t call_unchecked(void *p) {
    calls_ctx *c = p;
    wasmtime_val_raw_t raw[2] = {{.i32 = 1}, {.i32 = 2}};
    wasm_trap_t *trap = NULL;
    check(wasmtime_func_call_unchecked(c->checked, &c->add, raw, 2, &trap), trap, "call add unchecked");
    return raw[0].i32;
}

static int32_t run_loop(wasmtime_context_t *context, wasmtime_func_t *loop, int32_t n) {
    wasmtime_val_raw_t raw[1] = {{.i32 = n}};
    wasm_trap_t *trap = NULL;
    check(wasmtime_func_call_unchecked(context, loop, raw, 1, &trap), trap, "call host_loop");
    return raw[0].i32;
}

static int32_t loop_checked(void *p, int32_t n) {
    calls_ctx *c = p;
    return run_loop(c->checked, &c->loop_checked, n);
}

static int32_t loop_unchecked(void *p, int32_t n) {
    calls_ctx *c = p;
    return run_loop(c->unchecked, &c->loop_unchecked, n);
}

static wasmtime_context_t *calls_instance(wasm_engine_t *engine, wasmtime_module_t *module, bool unchecked,
                                          wasmtime_store_t **store_out, wasmtime_instance_t *instance) {
    wasmtime_linker_t *linker = wasmtime_linker_new(engine);
    wasm_valtype_vec_t params, results;
    wasm_valtype_t *i32_param = wasm_valtype_new_i32(), *i32_result = wasm_valtype_new_i32();
    wasm_valtype_vec_new(&params, 1, &i32_param);
    wasm_valtype_vec_new(&results, 1, &i32_result);
    wasm_functype_t *ty = wasm_functype_new(&params, &results);
    if (unchecked) {
        check(wasmtime_linker_define_func_unchecked(linker, "bench", 5, "inc", 3, ty, inc_unchecked, NULL, NULL), NULL,
              "define inc");
    } else {
        check(wasmtime_linker_define_func(linker, "bench", 5, "inc", 3, ty, inc_checked, NULL, NULL), NULL, "define inc");
    }
    wasm_functype_delete(ty);
    *store_out = wasmtime_store_new(engine, NULL, NULL);
    wasmtime_context_t *context = wasmtime_store_context(*store_out);
    wasmtime_context_set_epoch_deadline(context, NEVER);
    wasm_trap_t *trap = NULL;
    check(wasmtime_linker_instantiate(linker, context, module, instance, &trap), trap, "instantiate");
    wasmtime_linker_delete(linker);
    return context;
}

static wasmtime_func_t export_func(wasmtime_context_t *context, wasmtime_instance_t *instance, const char *name) {
    wasmtime_extern_t export;
    if (!wasmtime_instance_export_get(context, instance, name, strlen(name), &export) ||
        export.kind != WASMTIME_EXTERN_FUNC) {
        bench_die("capi_bench: no function %s", name);
    }
    return export.of.func;
}

static void run_calls(const bench_args *a, wasm_engine_t *engine, const uint8_t *wasm, size_t len) {
    wasmtime_module_t *module = NULL;
    check(wasmtime_module_new(engine, wasm, len, &module), NULL, "compile");
    wasmtime_store_t *checked_store = NULL, *unchecked_store = NULL;
    wasmtime_instance_t checked, unchecked;
    calls_ctx c;
    c.checked = calls_instance(engine, module, false, &checked_store, &checked);
    c.unchecked = calls_instance(engine, module, true, &unchecked_store, &unchecked);
    c.add = export_func(c.checked, &checked, "add");
    c.loop_checked = export_func(c.checked, &checked, "host_loop");
    c.loop_unchecked = export_func(c.unchecked, &unchecked, "host_loop");
    bench_calls calls = {&c, call_checked, call_unchecked, loop_checked, loop_unchecked};
    bench_measure_calls("wasmtime C API", a, &calls,
                        "call: wasmtime_func_call; fast: wasmtime_func_call_unchecked; host: "
                        "wasmtime_linker_define_func; host fast: wasmtime_linker_define_func_unchecked");
    wasmtime_store_delete(checked_store);
    wasmtime_store_delete(unchecked_store);
    wasmtime_module_delete(module);
}

int main(int argc, char **argv) {
    static const char *const modes[] = {"default", "pooling", "calls", NULL};
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
    if (strcmp(a.mode, "calls") == 0) {
        run_calls(&a, ctx.engine, wasm, len);
        free(wasm);
        wasm_engine_delete(ctx.engine);
        return 0;
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
