/*
 * packr through its C ABI: compile once, then every spawn takes the cache-hit path
 * (packr_runtime_wrap_module), instantiates, calls demo_version_number and frees.
 * Modes: default (packr_runtime_new) and pooling (packr_config_*). One JSON line on stdout.
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

int main(int argc, char **argv) {
    static const char *const modes[] = {"default", "pooling", NULL};
    bench_args a = bench_parse(argc, argv, modes);
    size_t len = 0;
    uint8_t *wasm = bench_read_file(a.wasm, &len);

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
