/*
 * packr through its C ABI: compile once, then every spawn takes the cache-hit path
 * (packr_runtime_wrap_module), instantiates, calls demo_version_number and frees.
 * Modes: default (packr_runtime_new) and pooling (packr_config_*), calls (per-call costs
 * on one live instance of build/guest/calls.wasm), wasi (pooled spawns of the WASI reactor
 * build/guest/wasi_reactor.wasm, each with a fresh WASI context) and pack (pack calls of
 * build/guest/pack.wasm's echo, beside two memcpys and a plain call), guard (what the
 * guardrails cost and how fast they stop a guest) and cache (the sqlite guest through a
 * packr_cache directory: compile, miss, warm hits, and with --cache-phase hit one load in a
 * fresh process; bench/README.md). One JSON line on stdout.
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

/* The wasi mode: the same spawn of the reactor with WASI options; instantiation runs its
 * _initialize, which sets what reactor_get returns. */
#define WASI_REACTOR_EXPECTED 41

typedef struct wasi_ctx {
    packr_runtime *runtime;
    packr_module *cached;
    packr_instance_config *config;
} wasi_ctx;

static void *wasi_live_new(void *p) {
    wasi_ctx *ctx = p;
    packr_module *module = NULL;
    packr_instance *instance = NULL;
    check(packr_runtime_wrap_module(ctx->runtime, ctx->cached, &module), "wrap");
    check(packr_module_instantiate_with(module, ctx->config, NULL, &instance), "instantiate_with");
    packr_module_free(module);
    packr_val result;
    check(packr_instance_call(instance, "reactor_get", NULL, 0, &result, 1), "call reactor_get");
    if (result.kind != PACKR_I32 || result.of.i32 != WASI_REACTOR_EXPECTED) {
        bench_die("packr_bench: reactor_get returned %d, not %d", (int)result.of.i32, WASI_REACTOR_EXPECTED);
    }
    return instance;
}

static void wasi_spawn(void *ctx) {
    live_free(ctx, wasi_live_new(ctx));
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

/* The pack mode (bench/README.md): round trips of bytes through pack.wasm's echo on one live
 * instance, at three payload sizes, beside the floors a pack call is held to. */
#define PACK_SIZES 3
static const size_t pack_sizes[PACK_SIZES] = {16, 4096, 1u << 20};
static const char *const pack_labels[PACK_SIZES] = {"16", "4k", "1m"};
/* Calls per timed batch for each size (a tenth with --quick). */
static const size_t pack_batches[PACK_SIZES] = {100000, 20000, 200};

typedef struct pack_ctx {
    packr_instance *instance;
    packr_func *echo, *alloc_count;
    uint8_t *guest_side, *out; /* the memcpy baseline's preallocated buffers */
    const uint8_t *last;       /* the output of the last call, checked once per size */
} pack_ctx;

/* Each returns the output's length; the caller checks it. */
typedef size_t (*pack_op)(pack_ctx *c, const uint8_t *in, size_t len, bool keep);

static packr_status transform(void *env, packr_caller *caller, const uint8_t *input, size_t len) {
    (void)env, (void)caller, (void)input, (void)len;
    return PACKR_ERR_GUEST; /* echo never calls it; via_host would see -1 */
}

static size_t finish(pack_ctx *c, packr_bytes *out, bool keep) {
    size_t len = out->len;
    if (keep) {
        memcpy(c->out, out->data, len);
        c->last = c->out;
    }
    packr_bytes_free(out);
    return len;
}

static size_t pack_by_name(pack_ctx *c, const uint8_t *in, size_t len, bool keep) {
    packr_bytes out = {NULL, 0};
    check(packr_instance_call_bytes(c->instance, "echo", in, len, &out), "call_bytes echo");
    return finish(c, &out, keep);
}

static size_t pack_func(pack_ctx *c, const uint8_t *in, size_t len, bool keep) {
    packr_bytes out = {NULL, 0};
    check(packr_instance_call_func_bytes(c->instance, c->echo, in, len, &out), "call_func_bytes echo");
    return finish(c, &out, keep);
}

/* Through a volatile pointer, so the compiler can neither inline nor drop the copies. */
static void *(*volatile copy_bytes)(void *, const void *, size_t) = memcpy;

static size_t two_memcpys(pack_ctx *c, const uint8_t *in, size_t len, bool keep) {
    (void)keep;
    copy_bytes(c->guest_side, in, len);
    copy_bytes(c->out, c->guest_side, len);
    c->last = c->out;
    return len;
}

static size_t plain_by_name(pack_ctx *c, const uint8_t *in, size_t len, bool keep) {
    (void)in, (void)len, (void)keep;
    packr_val result;
    check(packr_instance_call(c->instance, "alloc_count", NULL, 0, &result, 1), "call alloc_count");
    return (size_t)result.of.i32; /* 0: every block a pack call took was freed */
}

static size_t plain_func(pack_ctx *c, const uint8_t *in, size_t len, bool keep) {
    (void)in, (void)len, (void)keep;
    packr_val result;
    check(packr_instance_call_func(c->instance, c->alloc_count, NULL, 0, &result, 1), "call_func alloc_count");
    return (size_t)result.of.i32;
}

/* Median over batches of op's time per call (ns); `want` is the length every call must return.
 * A warm-up of a tenth of a batch first; with `payload`, the output is checked byte for byte
 * once, outside the timed loops. */
static double time_pack(pack_ctx *c, pack_op op, const uint8_t *payload, size_t len, size_t want, size_t batch) {
    if (payload) {
        c->last = NULL;
        if (op(c, payload, len, true) != want || !c->last || memcmp(c->last, payload, len) != 0) {
            bench_die("packr_bench: a pack call of %zu bytes did not echo its input", len);
        }
    }
    for (size_t i = 0; i < batch / 10 + 1; i++) {
        if (op(c, payload, len, false) != want) bench_die("packr_bench: wrong output length");
    }
    double per_call[BENCH_CALL_BATCHES];
    for (int b = 0; b < BENCH_CALL_BATCHES; b++) {
        double t = bench_now_s();
        for (size_t i = 0; i < batch; i++) {
            if (op(c, payload, len, false) != want) bench_die("packr_bench: wrong output length");
        }
        per_call[b] = (bench_now_s() - t) * 1e9 / (double)batch;
    }
    qsort(per_call, BENCH_CALL_BATCHES, sizeof per_call[0], bench_cmp_double);
    return per_call[BENCH_CALL_BATCHES / 2];
}

static void run_pack(const bench_args *a, const uint8_t *wasm, size_t len) {
    packr_runtime *base = NULL, *runtime = NULL;
    packr_host *host = NULL;
    packr_module *module = NULL;
    pack_ctx c = {NULL, NULL, NULL, malloc(pack_sizes[PACK_SIZES - 1]), malloc(pack_sizes[PACK_SIZES - 1]), NULL};
    uint8_t *payload = malloc(pack_sizes[PACK_SIZES - 1]);
    if (!c.guest_side || !c.out || !payload) bench_die("out of memory");
    for (size_t i = 0; i < pack_sizes[PACK_SIZES - 1]; i++) payload[i] = (uint8_t)(i * 131 + 7);
    check(packr_runtime_new(&base), "runtime");
    check(packr_host_new(&host), "host");
    check(packr_host_define_bytes(host, "host", "transform", transform, NULL, NULL), "define transform");
    check(packr_runtime_new_with_host(base, host, &runtime), "runtime with host");
    check(packr_module_load(runtime, wasm, len, &module), "compile");
    check(packr_module_instantiate(module, &c.instance), "instantiate");
    check(packr_module_func(module, "echo", &c.echo), "func echo");
    check(packr_module_func(module, "alloc_count", &c.alloc_count), "func alloc_count");

    double by_name[PACK_SIZES], fast[PACK_SIZES], memcpys[PACK_SIZES];
    for (int s = 0; s < PACK_SIZES; s++) {
        size_t n = pack_sizes[s], batch = a->quick ? pack_batches[s] / 10 : pack_batches[s];
        by_name[s] = time_pack(&c, pack_by_name, payload, n, n, batch);
        fast[s] = time_pack(&c, pack_func, payload, n, n, batch);
        memcpys[s] = time_pack(&c, two_memcpys, payload, n, n, batch);
    }
    size_t plain_batch = a->quick ? 20000 : 200000;
    double plain = time_pack(&c, plain_by_name, NULL, 0, 0, plain_batch);
    double plain_fast = time_pack(&c, plain_func, NULL, 0, 0, plain_batch);

    printf("{\"system\": \"packr (C ABI)\", \"mode\": \"pack\"");
    for (int s = 0; s < PACK_SIZES; s++) {
        printf(", \"pack_%s_ns\": %.3f, \"pack_fast_%s_ns\": %.3f, \"memcpy2_%s_ns\": %.3f", pack_labels[s], by_name[s],
               pack_labels[s], fast[s], pack_labels[s], memcpys[s]);
    }
    printf(", \"plain_call_ns\": %.3f, \"plain_call_fast_ns\": %.3f, \"notes\": \"%s\"}\n", plain, plain_fast,
           "pack: packr_instance_call_bytes by name; fast: packr_instance_call_func_bytes; memcpy2: two memcpys "
           "(payload to a buffer, that buffer to another), both preallocated; plain call: alloc_count() by "
           "packr_instance_call / packr_instance_call_func; host.transform: a packr_host_define_bytes callback");
    fflush(stdout);
    packr_func_free(c.echo);
    packr_func_free(c.alloc_count);
    packr_instance_free(c.instance);
    packr_module_free(module);
    packr_runtime_free(runtime);
    packr_runtime_free(base);
    packr_host_free(host);
    free(payload);
    free(c.guest_side);
    free(c.out);
}

/* The pooled runtime of the pooling and wasi modes. */
static packr_runtime *pooled_runtime(const bench_args *a) {
    packr_config *config = NULL;
    packr_runtime *runtime = NULL;
    check(packr_config_new(&config), "config");
    check(packr_config_set_pooling(config, true), "set_pooling");
    check(packr_config_set_pool_instances(config, (uint32_t)bench_pool_instances(a)), "set_pool_instances");
    check(packr_config_set_pool_memory_bytes(config, BENCH_POOL_MEMORY_BYTES), "set_pool_memory_bytes");
    check(packr_config_set_memory_images(config, true), "set_memory_images");
    check(packr_runtime_new_with_config(config, &runtime), "runtime");
    packr_config_free(config);
    return runtime;
}

/* Pooled spawns of a WASI reactor: a host serving WASI, one instance config (stdout and
 * stderr discarded) from which each instantiation builds a fresh WASI context. */
static void run_wasi(const bench_args *a, const uint8_t *wasm, size_t len) {
    packr_runtime *base = pooled_runtime(a);
    packr_host *host = NULL;
    wasi_ctx ctx = {NULL, NULL, NULL};
    check(packr_host_new(&host), "host");
    check(packr_host_define_wasi(host), "define_wasi");
    check(packr_runtime_new_with_host(base, host, &ctx.runtime), "runtime with host");
    check(packr_instance_config_new(&ctx.config), "instance config");
    check(packr_instance_config_set_wasi_stdout(ctx.config, PACKR_WASI_DISCARD), "set_wasi_stdout");
    check(packr_instance_config_set_wasi_stderr(ctx.config, PACKR_WASI_DISCARD), "set_wasi_stderr");

    double t = bench_now_s();
    check(packr_module_load(ctx.runtime, wasm, len, &ctx.cached), "compile");
    double compile_ms = (bench_now_s() - t) * 1e3;
    bench_driver d = {&ctx, wasi_spawn, wasi_live_new, live_free};
    bench_measure("packr (C ABI)", a, compile_ms, &d);

    packr_module_free(ctx.cached);
    packr_instance_config_free(ctx.config);
    packr_runtime_free(ctx.runtime);
    packr_runtime_free(base);
    packr_host_free(host);
}


/* --- the guard mode ------------------------------------------------------------------- */

typedef struct guard_ctx {
    packr_runtime *runtime;
    packr_module *module;
    packr_instance_config *plain, *deadline;
} guard_ctx;

static double guard_spawn_us(guard_ctx *g, packr_instance_config *config) {
    double t = bench_now_s();
    packr_instance *instance = NULL;
    packr_val result;
    check(packr_module_instantiate_with(g->module, config, NULL, &instance), "instantiate");
    check(packr_instance_call(instance, "demo_version_number", NULL, 0, &result, 1), "call");
    packr_instance_free(instance);
    return (bench_now_s() - t) * 1e6;
}

static double median_of(double *xs, size_t n) {
    qsort(xs, n, sizeof xs[0], bench_cmp_double);
    return bench_percentile(xs, n, 50);
}

/* Pooled spawn+call with and without a deadline armed, interleaved in blocks so that the
 * machine's drift hits both alike. */
static void guard_spawns(guard_ctx *g, size_t n, double *plain_us, double *deadline_us) {
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    if (a == NULL || b == NULL) bench_die("packr_bench: out of memory");
    for (size_t i = 0; i < 200; i++) guard_spawn_us(g, i % 2 ? g->plain : g->deadline);
    for (size_t i = 0; i < n; i += 50) {
        for (size_t j = i; j < i + 50 && j < n; j++) a[j] = guard_spawn_us(g, g->plain);
        for (size_t j = i; j < i + 50 && j < n; j++) b[j] = guard_spawn_us(g, g->deadline);
    }
    *plain_us = median_of(a, n);
    *deadline_us = median_of(b, n);
    free(a);
    free(b);
}

/* ns per call through a func handle on one live instance, with and without a timeout. */
static double guard_call_ns(packr_instance *instance, const packr_func *func, size_t calls) {
    packr_val result;
    double t = bench_now_s();
    for (size_t i = 0; i < calls; i++) check(packr_instance_call_func(instance, func, NULL, 0, &result, 1), "call");
    return (bench_now_s() - t) * 1e9 / (double)calls;
}

typedef struct stopper {
    packr_interrupter *interrupter;
    volatile int armed;
    double sent;
} stopper;

static void *stop_after(void *p) {
    stopper *s = p;
    while (!s->armed) sched_yield();
    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
    s->sent = bench_now_s();
    check(packr_interrupter_interrupt(s->interrupter), "interrupt");
    return NULL;
}

/* A live instance of a runtime made with `fuel` and `signals` (its runtime and module stay
 * alive with it). */
static packr_instance *guard_engine(const uint8_t *wasm, size_t len, bool fuel, bool signals) {
    packr_config *config = NULL;
    packr_runtime *runtime = NULL;
    packr_module *module = NULL;
    packr_instance *instance = NULL;
    check(packr_config_new(&config), "config");
    check(packr_config_set_fuel(config, fuel), "set_fuel");
    check(packr_config_set_signals_based_traps(config, signals), "set_signals_based_traps");
    check(packr_runtime_new_with_config(config, &runtime), "runtime");
    packr_config_free(config);
    check(packr_module_load(runtime, wasm, len, &module), "compile");
    check(packr_module_instantiate(module, &instance), "instantiate");
    packr_module_free(module);
    packr_runtime_free(runtime);
    return instance;
}

/* demo_run(2000) on the default engine, one with fuel and one without signal-based traps,
 * interleaved `runs` times: the fastest of each, in ms (the fastest is what the code
 * costs; on a busy machine the rest is the neighbours). */
static void guard_queries(const uint8_t *wasm, size_t len, int runs, double best[3]) {
    packr_instance *engines[3] = {guard_engine(wasm, len, false, true), guard_engine(wasm, len, true, true),
                                  guard_engine(wasm, len, false, false)};
    packr_val rows = {.kind = PACKR_I32, .of.i32 = 2000}, result;
    for (int k = 0; k < 3; k++) best[k] = 1e300;
    for (int i = 0; i < runs + 1; i++) {
        for (int k = 0; k < 3; k++) {
            double t = bench_now_s();
            check(packr_instance_call(engines[k], "demo_run", &rows, 1, &result, 1), "demo_run");
            if (result.of.i32 < 0) bench_die("packr_bench: demo_run failed: %d", (int)result.of.i32);
            double ms = (bench_now_s() - t) * 1e3;
            if (i > 0 && ms < best[k]) best[k] = ms;
        }
    }
    for (int k = 0; k < 3; k++) packr_instance_free(engines[k]);
}

static void run_guard(const bench_args *a, const uint8_t *wasm, size_t len) {
    guard_ctx g = {pooled_runtime(a), NULL, NULL, NULL};
    check(packr_module_load(g.runtime, wasm, len, &g.module), "compile");
    check(packr_instance_config_new(&g.plain), "instance config");
    check(packr_instance_config_new(&g.deadline), "instance config");
    check(packr_instance_config_set_timeout_ms(g.deadline, 1000), "set_timeout_ms");
    double spawn_plain, spawn_deadline;
    guard_spawns(&g, a->spawns, &spawn_plain, &spawn_deadline);

    packr_func *version = NULL;
    packr_instance *instance = NULL;
    check(packr_module_func(g.module, "demo_version_number", &version), "func");
    check(packr_module_instantiate(g.module, &instance), "instantiate");
    size_t calls = a->quick ? 20000 : 1000000;
    double call_plain = 0, call_deadline = 0;
    for (int round = 0; round < 5; round++) {
        check(packr_instance_set_timeout_ms(instance, 0), "set_timeout_ms");
        call_plain += guard_call_ns(instance, version, calls / 5);
        check(packr_instance_set_timeout_ms(instance, 1000), "set_timeout_ms");
        call_deadline += guard_call_ns(instance, version, calls / 5);
    }
    call_plain /= 5;
    call_deadline /= 5;

    /* A 10 ms timeout on a long query (demo_run of 100 million rows takes minutes). */
    enum { TRIES = 100 };
    int tries = a->quick ? 20 : TRIES;
    double took[TRIES], interrupted[TRIES];
    packr_val forever = {.kind = PACKR_I32, .of.i32 = 100000000}, result;
    for (int i = 0; i < tries; i++) {
        check(packr_instance_set_timeout_ms(instance, 10), "set_timeout_ms");
        double t = bench_now_s();
        packr_status st = packr_instance_call(instance, "demo_run", &forever, 1, &result, 1);
        took[i] = (bench_now_s() - t) * 1e3;
        if (st != PACKR_ERR_TIMEOUT) bench_die("packr_bench: demo_run under a timeout gave %s", packr_status_name(st));
    }
    check(packr_instance_set_timeout_ms(instance, 0), "set_timeout_ms");
    stopper s = {NULL, 0, 0};
    check(packr_instance_interrupter(instance, &s.interrupter), "interrupter");
    for (int i = 0; i < tries; i++) {
        pthread_t thread;
        s.armed = 0;
        pthread_create(&thread, NULL, stop_after, &s);
        s.armed = 1;
        packr_status st = packr_instance_call(instance, "demo_run", &forever, 1, &result, 1);
        double back = bench_now_s();
        pthread_join(thread, NULL);
        if (st != PACKR_ERR_INTERRUPTED) bench_die("packr_bench: an interrupted demo_run gave %s", packr_status_name(st));
        interrupted[i] = (back - s.sent) * 1e6;
    }
    packr_interrupter_free(s.interrupter);
    packr_instance_free(instance);
    packr_func_free(version);
    qsort(took, (size_t)tries, sizeof took[0], bench_cmp_double);
    qsort(interrupted, (size_t)tries, sizeof interrupted[0], bench_cmp_double);

    double best[3];
    guard_queries(wasm, len, a->quick ? 5 : 40, best);
    double query = best[0], query_fuel = best[1], query_nosignals = best[2];

    printf("{\"system\": \"packr (C ABI)\", \"mode\": \"guard\", \"spawns\": %zu", a->spawns);
    printf(", \"spawn_plain_us\": %.3f, \"spawn_deadline_us\": %.3f", spawn_plain, spawn_deadline);
    printf(", \"call_plain_ns\": %.2f, \"call_deadline_ns\": %.2f", call_plain, call_deadline);
    printf(", \"timeout_10ms_median_ms\": %.3f, \"timeout_10ms_p99_ms\": %.3f", bench_percentile(took, (size_t)tries, 50),
           bench_percentile(took, (size_t)tries, 99));
    printf(", \"interrupt_median_us\": %.1f, \"interrupt_p99_us\": %.1f", bench_percentile(interrupted, (size_t)tries, 50),
           bench_percentile(interrupted, (size_t)tries, 99));
    printf(", \"query_ms\": %.3f, \"query_fuel_ms\": %.3f, \"query_nosignals_ms\": %.3f", query, query_fuel, query_nosignals);
    printf(", \"tries\": %d, \"notes\": \"pooled spawn+call of demo_version_number with no timeout and with a 1 s timeout "
           "armed on every instance; calls through a func handle; a 10 ms timeout and an interrupt (sent 5 ms in, from "
           "another thread) stopping demo_run(100000000); demo_run(2000) on engines with fuel and without signal-based traps\"}\n",
           tries);
    packr_instance_config_free(g.plain);
    packr_instance_config_free(g.deadline);
    packr_module_free(g.module);
    packr_runtime_free(g.runtime);
}

/* --- the cache mode ------------------------------------------------------------------- */

/* Loads per warm figure (their median; odd, so the median is one load). */
static size_t cache_loads(const bench_args *a) {
    return a->quick ? 5 : 21;
}

/* Dies unless the cache's counters are these, saying what it last had trouble with. */
static void expect_stats(const packr_cache *cache, uint64_t hits, uint64_t misses, uint64_t stored, const char *when) {
    packr_cache_stats s;
    check(packr_cache_get_stats(cache, &s), "cache_get_stats");
    if (s.hits == hits && s.misses == misses && s.stored == stored && s.rejected == 0 && s.errors == 0) return;
    packr_bytes problem = {NULL, 0};
    check(packr_cache_last_problem(cache, &problem), "cache_last_problem");
    bench_die("packr_bench: %s: hits %llu, misses %llu, stored %llu, rejected %llu, errors %llu (wanted %llu, %llu, "
              "%llu, 0, 0); last problem: %.*s", when, (unsigned long long)s.hits, (unsigned long long)s.misses,
              (unsigned long long)s.stored, (unsigned long long)s.rejected, (unsigned long long)s.errors,
              (unsigned long long)hits, (unsigned long long)misses, (unsigned long long)stored,
              problem.data ? (int)problem.len : 4, problem.data ? (const char *)problem.data : "none");
}

/* What a loaded module must do, outside every timing: a spawn whose call returns the version. */
static void check_module(const packr_module *module) {
    packr_instance *instance = NULL;
    packr_val result;
    check(packr_module_instantiate(module, &instance), "instantiate");
    check(packr_instance_call(instance, "demo_version_number", NULL, 0, &result, 1), "call");
    if (result.kind != PACKR_I32 || result.of.i32 != BENCH_EXPECTED_VERSION) {
        bench_die("packr_bench: demo_version_number returned %d, not %d", (int)result.of.i32, BENCH_EXPECTED_VERSION);
    }
    packr_instance_free(instance);
}

/* The median of `n` timed loads, in ms: from the cache (bytes NULL) or from bytes. Each
 * module is freed after its clock stops. */
static double median_load_ms(size_t n, packr_cache *cache, const packr_runtime *runtime, const uint8_t *wasm,
                             size_t len, const packr_bytes *bytes) {
    double *ms = malloc(n * sizeof *ms);
    if (!ms) bench_die("packr_bench: out of memory");
    for (size_t i = 0; i < n; i++) {
        packr_module *module = NULL;
        double t = bench_now_s();
        if (bytes) {
            check(packr_module_deserialize(runtime, bytes->data, bytes->len, &module), "module_deserialize");
        } else {
            check(packr_cache_load(cache, runtime, wasm, len, &module), "cache_load");
        }
        ms[i] = (bench_now_s() - t) * 1e3;
        packr_module_free(module);
    }
    double median = median_of(ms, n);
    free(ms);
    return median;
}

/* The cache mode (bench/README.md) on the sqlite guest, runtimes of packr_runtime_new's
 * settings. Phase first: a compile on a fresh runtime; on another fresh runtime, the miss
 * (packr_cache_load into the empty directory: compile and store), warm hits in this process,
 * and packr_module_deserialize of the serialized module. Phase hit: one packr_cache_load in
 * this fresh process, checked to be a hit. */
static void run_cache(const bench_args *a, const uint8_t *wasm, size_t len) {
    if (!a->cache_dir) bench_die("packr_bench: --mode cache needs --cache-dir");
    packr_runtime *runtime = NULL;
    packr_cache *cache = NULL;
    packr_module *module = NULL;
    if (strcmp(a->cache_phase, "hit") == 0) {
        check(packr_runtime_new(&runtime), "runtime");
        check(packr_cache_open(a->cache_dir, &cache), "cache_open");
        double t = bench_now_s();
        check(packr_cache_load(cache, runtime, wasm, len, &module), "cache_load");
        double hit_ms = (bench_now_s() - t) * 1e3;
        expect_stats(cache, 1, 0, 0, "a load in a fresh process was not a hit");
        check_module(module);
        printf("{\"system\": \"packr (C ABI)\", \"mode\": \"cache\", \"hit_ms\": %.3f}\n", hit_ms);
        packr_module_free(module);
        packr_cache_free(cache);
        packr_runtime_free(runtime);
        return;
    }

    check(packr_runtime_new(&runtime), "runtime");
    double t = bench_now_s();
    check(packr_module_load(runtime, wasm, len, &module), "compile");
    double compile_ms = (bench_now_s() - t) * 1e3;
    check_module(module);
    packr_module_free(module);
    packr_runtime_free(runtime);

    check(packr_runtime_new(&runtime), "runtime");
    check(packr_cache_open(a->cache_dir, &cache), "cache_open");
    t = bench_now_s();
    check(packr_cache_load(cache, runtime, wasm, len, &module), "cache_load");
    double miss_ms = (bench_now_s() - t) * 1e3;
    expect_stats(cache, 0, 1, 1, "the first load into an empty directory");
    check_module(module);
    size_t n = cache_loads(a);
    double warm_hit_ms = median_load_ms(n, cache, runtime, wasm, len, NULL);
    expect_stats(cache, n, 1, 1, "warm loads");

    packr_bytes artifact = {NULL, 0};
    check(packr_module_serialize(module, &artifact), "module_serialize");
    double deserialize_ms = median_load_ms(n, NULL, runtime, NULL, 0, &artifact);
    packr_module *copy = NULL;
    check(packr_module_deserialize(runtime, artifact.data, artifact.len, &copy), "module_deserialize");
    check_module(copy);
    packr_module_free(copy);
    packr_cache_stats stats;
    check(packr_cache_get_stats(cache, &stats), "cache_get_stats");

    printf("{\"system\": \"packr (C ABI)\", \"mode\": \"cache\", \"compile_ms\": %.3f, \"miss_ms\": %.3f, "
           "\"warm_hit_ms\": %.3f, \"deserialize_ms\": %.3f, \"artifact_bytes\": %llu, \"artifacts\": %llu, "
           "\"serialized_bytes\": %zu, \"loads\": %zu, \"notes\": \"compile: packr_module_load on a fresh runtime; "
           "miss: packr_cache_load into the empty directory on another (compile + store); hit: packr_cache_load "
           "(the artifact's trailer, checksum and wasm hash verified, then wasmtime's deserialize); from bytes: "
           "packr_module_deserialize of packr_module_serialize's bytes (verified the same way)\"}\n",
           compile_ms, miss_ms, warm_hit_ms, deserialize_ms, (unsigned long long)stats.bytes_on_disk,
           (unsigned long long)stats.files, artifact.len, n);
    packr_bytes_free(&artifact);
    packr_module_free(module);
    packr_cache_free(cache);
    packr_runtime_free(runtime);
}

int main(int argc, char **argv) {
    static const char *const modes[] = {"default", "pooling", "calls", "wasi", "pack", "guard", "cache", NULL};
    bench_args a = bench_parse(argc, argv, modes);
    size_t len = 0;
    uint8_t *wasm = bench_read_file(a.wasm, &len);
    if (strcmp(a.mode, "calls") == 0) {
        run_calls(&a, wasm, len);
        free(wasm);
        return 0;
    }
    if (strcmp(a.mode, "cache") == 0) {
        run_cache(&a, wasm, len);
        free(wasm);
        return 0;
    }
    if (strcmp(a.mode, "pack") == 0 || strcmp(a.mode, "wasi") == 0 || strcmp(a.mode, "guard") == 0) {
        (strcmp(a.mode, "pack") == 0 ? run_pack : strcmp(a.mode, "wasi") == 0 ? run_wasi : run_guard)(&a, wasm, len);
        free(wasm);
        return 0;
    }

    packr_ctx ctx = {NULL, NULL};
    if (strcmp(a.mode, "pooling") == 0) {
        ctx.runtime = pooled_runtime(&a);
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
