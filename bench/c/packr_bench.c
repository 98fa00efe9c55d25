/*
 * packr through its C ABI: compile once, then every spawn takes the cache-hit path
 * (packr_runtime_wrap_module), instantiates, calls demo_version_number and frees.
 * Modes: default (packr_runtime_new) and pooling (packr_config_*), and calls (per-call costs
 * on one live instance of build/guest/calls.wasm). One JSON line on stdout.
 */
#include "bench_common.h"

#include "packr.h"

typedef struct packr_ctx {
    packr_runtime *runtime;
    packr_module *cached;
} packr_ctx;

static void check(packr_status st, const char *what) {
    if (st != PACKR_OK) {
        bench_die("packr_bench: %s: %s: %s", what, packr_status_name(st), packr_last_error());
    }
}

static void *live_new(void *p) {
    packr_ctx *ctx = p;
    packr_module *module = NULL;
    packr_instance *instance = NULL;
    check(packr_runtime_wrap_module(ctx->runtime, ctx->cached, &module), "wrap");
    check(packr_module_instantiate(module, &instance), "instantiate");
    packr_module_free(module);
    packr_val result;
    check(packr_instance_call(instance, "demo_version_number", NULL, 0, &result, 1), "call");
    if (result.kind != PACKR_I32 || result.of.i32 != BENCH_EXPECTED_VERSION) {
        bench_die("packr_bench: demo_version_number returned %d, not %d", (int)result.of.i32,
                  BENCH_EXPECTED_VERSION);
    }
    return instance;
}

static void live_free(void *ctx, void *instance) {
    (void)ctx;
    packr_instance_free(instance);
}

static void spawn(void *ctx) {
    live_free(ctx, live_new(ctx));
}

/* The calls mode: bench.inc served by a C callback; add called by name and by func handle. */
typedef struct calls_ctx {
    packr_instance *instance;
    packr_func *add, *host_loop;
} calls_ctx;

static packr_status inc(void *env, packr_caller *caller, const packr_val *args, size_t nargs, packr_val *results,
                        size_t nresults) {
    (void)env, (void)caller, (void)nargs, (void)nresults;
    results[0].of.i32 = args[0].of.i32 + 1;
    return PACKR_OK;
}

static int32_t call_by_name(void *p) {
    calls_ctx *c = p;
    packr_val args[2] = {{PACKR_I32, {.i32 = 1}}, {PACKR_I32, {.i32 = 2}}}, result;
    check(packr_instance_call(c->instance, "add", args, 2, &result, 1), "call add");
    return result.of.i32;
}

static int32_t call_func(void *p) {
    calls_ctx *c = p;
    packr_val args[2] = {{PACKR_I32, {.i32 = 1}}, {PACKR_I32, {.i32 = 2}}}, result;
    check(packr_instance_call_func(c->instance, c->add, args, 2, &result, 1), "call_func add");
    return result.of.i32;
}

static int32_t host_loop(void *p, int32_t n) {
    calls_ctx *c = p;
    packr_val arg = {PACKR_I32, {.i32 = n}}, result;
    check(packr_instance_call_func(c->instance, c->host_loop, &arg, 1, &result, 1), "call_func host_loop");
    return result.of.i32;
}

static void run_calls(const bench_args *a, const uint8_t *wasm, size_t len) {
    static const packr_valkind i32[] = {PACKR_I32};
    packr_runtime *base = NULL, *runtime = NULL;
    packr_host *host = NULL;
    packr_module *module = NULL;
    calls_ctx c = {NULL, NULL, NULL};
    check(packr_runtime_new(&base), "runtime");
    check(packr_host_new(&host), "host");
    check(packr_host_define_func(host, "bench", "inc", i32, 1, i32, 1, inc, NULL, NULL), "define inc");
    check(packr_runtime_new_with_host(base, host, &runtime), "runtime with host");
    check(packr_module_load(runtime, wasm, len, &module), "compile");
    check(packr_module_instantiate(module, &c.instance), "instantiate");
    check(packr_module_func(module, "add", &c.add), "func add");
    check(packr_module_func(module, "host_loop", &c.host_loop), "func host_loop");
    bench_calls calls = {&c, call_by_name, call_func, host_loop, NULL};
    bench_measure_calls("packr (C ABI)", a, &calls,
                        "call: packr_instance_call by name; fast: packr_instance_call_func; host: a packr_host_define_func callback");
    packr_func_free(c.add);
    packr_func_free(c.host_loop);
    packr_instance_free(c.instance);
    packr_module_free(module);
    packr_runtime_free(runtime);
    packr_runtime_free(base);
    packr_host_free(host);
}

int main(int argc, char **argv) {
    static const char *const modes[] = {"default", "pooling", "calls", NULL};
    bench_args a = bench_parse(argc, argv, modes);
    size_t len = 0;
    uint8_t *wasm = bench_read_file(a.wasm, &len);
    if (strcmp(a.mode, "calls") == 0) {
        run_calls(&a, wasm, len);
        free(wasm);
        return 0;
    }

    packr_ctx ctx = {NULL, NULL};
    if (strcmp(a.mode, "pooling") == 0) {
        packr_config *config = NULL;
        check(packr_config_new(&config), "config");
        check(packr_config_set_pooling(config, true), "set_pooling");
        check(packr_config_set_pool_instances(config, (uint32_t)bench_pool_instances(&a)), "set_pool_instances");
        check(packr_config_set_pool_memory_bytes(config, BENCH_POOL_MEMORY_BYTES), "set_pool_memory_bytes");
        check(packr_config_set_memory_images(config, true), "set_memory_images");
        check(packr_runtime_new_with_config(config, &ctx.runtime), "runtime");
        packr_config_free(config);
    } else {
        check(packr_runtime_new(&ctx.runtime), "runtime");
    }

    double t = bench_now_s();
    check(packr_module_load(ctx.runtime, wasm, len, &ctx.cached), "compile");
    double compile_ms = (bench_now_s() - t) * 1e3;
    free(wasm);

    bench_driver d = {&ctx, spawn, live_new, live_free};
    bench_measure("packr (C ABI)", &a, compile_ms, &d);

    packr_module_free(ctx.cached);
    packr_runtime_free(ctx.runtime);
    return 0;
}
