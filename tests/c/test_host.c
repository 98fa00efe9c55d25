/* Host functions from C, written from packr.h alone: definitions, callbacks that read guest
 * memory and call back into the guest, per-instance data, failures with their messages,
 * func handles, finalizers, and many threads sharing one host. */
#include "harness.h"

#include <pthread.h>

static const char *GUEST =
    "(module\n"
    "  (import \"env\" \"log\" (func $log (param i32 i32)))\n"
    "  (import \"env\" \"get\" (func $get (param i32) (result i64)))\n"
    "  (import \"env\" \"alloc_twice\" (func $alloc_twice (param i32) (result i32)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (global $next (mut i32) (i32.const 1024))\n"
    "  (data (i32.const 16) \"hello, host\")\n"
    "  (func (export \"greet\") (call $log (i32.const 16) (i32.const 11)))\n"
    "  (func (export \"lookup\") (param i32) (result i64) (call $get (local.get 0)))\n"
    "  (func (export \"alloc\") (param i32) (result i32)\n"
    "    (global.get $next) (global.set $next (i32.add (global.get $next) (local.get 0))))\n"
    "  (func (export \"two_allocs\") (param i32) (result i32) (call $alloc_twice (local.get 0)))\n"
    "  (func (export \"add\") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))\n";

/* Per-instance host state, reached through packr_caller_data. */
struct session {
    char logged[64];
    int64_t base;
};

static int finalized = 0;
static pthread_mutex_t finalized_lock = PTHREAD_MUTEX_INITIALIZER;

static void count_finalize(void *env) {
    (void)env;
    pthread_mutex_lock(&finalized_lock);
    finalized++;
    pthread_mutex_unlock(&finalized_lock);
}

/* env::log(ptr, len): copies the guest's bytes into the session, zero-copy. */
static packr_status host_log(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                             packr_val *results, size_t nresults) {
    (void)env, (void)nargs, (void)results, (void)nresults;
    struct session *s = packr_caller_data(caller);
    uint8_t *base = NULL;
    uint64_t size = 0;
    packr_status status = packr_caller_memory_data(caller, NULL, &base, &size);
    if (status != PACKR_OK) return status;
    uint32_t ptr = (uint32_t)args[0].of.i32, len = (uint32_t)args[1].of.i32;
    if ((uint64_t)ptr + len > size || len >= sizeof s->logged) {
        packr_caller_set_error(caller, "log range outside memory");
        return PACKR_ERR_OUT_OF_BOUNDS;
    }
    memcpy(s->logged, base + ptr, len);
    s->logged[len] = '\0';
    return PACKR_OK;
}

/* env::get(key): base + key for keys below 100; otherwise fails with a message. */
static packr_status host_get(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                             packr_val *results, size_t nresults) {
    (void)env, (void)nargs, (void)nresults;
    struct session *s = packr_caller_data(caller);
    if (args[0].of.i32 >= 100) {
        char message[64];
        snprintf(message, sizeof message, "no such key \"%d\"", (int)args[0].of.i32);
        packr_caller_set_error(caller, message);
        return PACKR_ERR_NOT_FOUND;
    }
    results[0].of.i64 = s->base + args[0].of.i32;
    return PACKR_OK;
}

/* env::alloc_twice(n): calls the guest's allocator twice; returns the distance. */
static packr_status host_alloc_twice(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                                     packr_val *results, size_t nresults) {
    (void)env, (void)nargs, (void)nresults;
    packr_val first, second;
    packr_func_signature sig;
    packr_status status = packr_caller_func_signature(caller, "alloc", &sig);
    if (status != PACKR_OK) return status;
    if (sig.nparams != 1 || sig.nresults != 1 || sig.results[0] != PACKR_I32) {
        packr_caller_set_error(caller, "alloc has an unexpected signature");
        return PACKR_ERR_TYPE_MISMATCH;
    }
    if (packr_caller_func_signature(caller, "memory", &sig) != PACKR_ERR_TYPE_MISMATCH) {
        packr_caller_set_error(caller, "memory described as a function");
        return PACKR_ERR_PANIC;
    }
    status = packr_caller_call(caller, "alloc", args, 1, &first, 1);
    if (status == PACKR_OK) status = packr_caller_call(caller, "alloc", args, 1, &second, 1);
    if (status != PACKR_OK) return status;
    uint8_t mark = 0x5a;
    status = packr_caller_memory_write(caller, "memory", (uint32_t)second.of.i32, &mark, 1);
    if (status != PACKR_OK) return status;
    results[0].of.i32 = second.of.i32 - first.of.i32;
    return PACKR_OK;
}

static packr_host *make_host(int *finalizers) {
    static const packr_valkind two_i32[] = {PACKR_I32, PACKR_I32}, i64[] = {PACKR_I64};
    packr_host *host = NULL;
    CHECK_OK(packr_host_new(&host));
    CHECK_OK(packr_host_define_func(host, "env", "log", two_i32, 2, NULL, 0, host_log, NULL, count_finalize));
    CHECK_OK(packr_host_define_func(host, "env", "get", two_i32, 1, i64, 1, host_get, NULL, count_finalize));
    CHECK_OK(packr_host_define_func(host, "env", "alloc_twice", two_i32, 1, two_i32, 1, host_alloc_twice, NULL,
                                    count_finalize));
    *finalizers = 3;
    return host;
}

static void test_callbacks_and_data(void) {
    int defined = 0;
    int before = finalized;
    packr_host *host = make_host(&defined);
    /* A second definition of a name is refused, and its finalizer runs at once. */
    CHECK_STATUS(packr_host_define_func(host, "env", "log", NULL, 0, NULL, 0, host_log, NULL, count_finalize),
                 PACKR_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE("env::log is already defined in this host");
    CHECK(finalized == before + 1);

    packr_runtime *base = NULL, *runtime = NULL;
    CHECK_OK(packr_runtime_new(&base));
    CHECK_OK(packr_runtime_new_with_host(base, host, &runtime));
    packr_host_free(host); /* the runtime keeps its copy */
    packr_module *module = harness_load(runtime, GUEST);

    /* Without the host, every unmet import is named. */
    packr_module *plain = harness_load(base, GUEST);
    packr_instance *instance = NULL;
    CHECK_STATUS(packr_module_instantiate(plain, &instance), PACKR_ERR_LINK);
    CHECK_MESSAGE("3 imports unmet: env::log (not defined; the module expects func(i32, i32) -> ())");
    CHECK_MESSAGE("env::alloc_twice");
    CHECK(instance == NULL);
    packr_module_free(plain);

    struct session alice = {"", 1000}, bob = {"", 2000};
    packr_instance_config *config = NULL;
    CHECK_OK(packr_instance_config_new(&config));
    packr_instance *a = NULL, *b = NULL;
    CHECK_OK(packr_module_instantiate_with(module, config, &alice, &a));
    CHECK_OK(packr_module_instantiate_with(module, NULL, &bob, &b));
    packr_instance_config_free(config);
    CHECK(packr_instance_data(a) == &alice);
    CHECK(packr_instance_data(NULL) == NULL);

    CHECK_OK(packr_instance_call(a, "greet", NULL, 0, NULL, 0));
    CHECK(strcmp(alice.logged, "hello, host") == 0);
    CHECK(bob.logged[0] == '\0');

    packr_val key = harness_i32(5), got;
    CHECK_OK(packr_instance_call(b, "lookup", &key, 1, &got, 1));
    CHECK(got.kind == PACKR_I64 && got.of.i64 == 2005);
    CHECK_OK(packr_instance_call(a, "lookup", &key, 1, &got, 1));
    CHECK(got.of.i64 == 1005);

    /* A failing callback: PACKR_ERR_HOST naming the function and the callback's message. */
    key = harness_i32(100);
    got.kind = 99;
    CHECK_STATUS(packr_instance_call(a, "lookup", &key, 1, &got, 1), PACKR_ERR_HOST);
    const char *first_line = "host function env::get failed: no such key \"100\"\n";
    CHECK(strncmp(packr_last_error(), first_line, strlen(first_line)) == 0);
    CHECK_MESSAGE("wasm backtrace");
    CHECK(got.kind == 99);
    key = harness_i32(6);
    CHECK_OK(packr_instance_call(a, "lookup", &key, 1, &got, 1));
    CHECK(got.of.i64 == 1006);

    /* Calling back into the guest, and writing its memory, from a callback. */
    packr_val size = harness_i32(64), distance;
    CHECK_OK(packr_instance_call(a, "two_allocs", &size, 1, &distance, 1));
    CHECK(distance.of.i32 == 64);
    uint8_t mark = 0;
    CHECK_OK(packr_instance_memory_read(a, NULL, 1024 + 64, &mark, 1));
    CHECK(mark == 0x5a);

    /* Nothing is finalized while an instance can still call the functions. */
    packr_module_free(module);
    packr_runtime_free(runtime);
    packr_runtime_free(base);
    packr_instance_free(a);
    CHECK(finalized == before + 1);
    packr_instance_free(b);
    CHECK(finalized == before + 1 + defined);
}

static void test_func_handles(void) {
    packr_runtime *runtime = NULL, *shared = NULL;
    CHECK_OK(packr_runtime_new(&runtime));
    CHECK_OK(packr_runtime_new_sharing_engine(runtime, &shared));
    packr_module *module = harness_load(runtime, "(module (func (export \"add\") (param i32 i32) (result i32)"
                                                 " (i32.add (local.get 0) (local.get 1))) (memory (export \"m\") 1))");
    packr_func *add = NULL;
    CHECK_OK(packr_module_func(module, "add", &add));
    packr_func_signature sig;
    CHECK_OK(packr_func_get_signature(add, &sig));
    CHECK(sig.nparams == 2 && sig.nresults == 1 && sig.params[0] == PACKR_I32);
    packr_func *nope = NULL;
    CHECK_STATUS(packr_module_func(module, "m", &nope), PACKR_ERR_TYPE_MISMATCH);
    CHECK_STATUS(packr_module_func(module, "absent", &nope), PACKR_ERR_NOT_FOUND);
    CHECK(nope == NULL);

    /* The cache pattern: resolve at insert, call on every spawn through wraps. */
    packr_module *wrapped = NULL;
    CHECK_OK(packr_runtime_wrap_module(shared, module, &wrapped));
    for (int i = 0; i < 50; i++) {
        packr_instance *instance = NULL;
        CHECK_OK(packr_module_instantiate(i % 2 ? wrapped : module, &instance));
        packr_val args[2] = {harness_i32(i), harness_i32(1000)}, sum;
        CHECK_OK(packr_instance_call_func(instance, add, args, 2, &sum, 1));
        CHECK(sum.of.i32 == 1000 + i);
        packr_instance_free(instance);
    }
    /* Other code, even of the same text, is refused. */
    packr_module *other = harness_load(runtime, "(module (func (export \"add\") (param i32 i32) (result i32)"
                                                " (i32.add (local.get 0) (local.get 1))) (memory (export \"m\") 1))");
    packr_instance *instance = NULL;
    CHECK_OK(packr_module_instantiate(other, &instance));
    packr_val args[2] = {harness_i32(1), harness_i32(2)}, sum;
    CHECK_STATUS(packr_instance_call_func(instance, add, args, 2, &sum, 1), PACKR_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE("func `add` was resolved on other compiled code");
    packr_instance_free(instance);
    packr_module_free(other);
    packr_module_free(wrapped);
    packr_module_free(module);
    /* A func keeps the code alive after every module handle is gone. */
    packr_runtime_free(shared);
    packr_runtime_free(runtime);
    packr_func_free(add);
    packr_func_free(NULL);
}

struct worker {
    packr_module *module;
    int ok;
};

static void *spawn_and_call(void *arg) {
    struct worker *w = arg;
    w->ok = 1;
    for (int i = 0; i < 100; i++) {
        struct session s = {"", i};
        packr_instance *instance = NULL;
        packr_val key = harness_i32(7), got;
        if (packr_module_instantiate_with(w->module, NULL, &s, &instance) != PACKR_OK ||
            packr_instance_call(instance, "lookup", &key, 1, &got, 1) != PACKR_OK || got.of.i64 != i + 7 ||
            packr_instance_call(instance, "greet", NULL, 0, NULL, 0) != PACKR_OK || strcmp(s.logged, "hello, host") != 0) {
            w->ok = 0;
        }
        packr_instance_free(instance);
    }
    return NULL;
}

static void test_threads_share_a_host(void) {
    int defined = 0;
    int before = finalized;
    packr_host *host = make_host(&defined);
    packr_runtime *base = NULL, *runtime = NULL;
    CHECK_OK(packr_runtime_new(&base));
    CHECK_OK(packr_runtime_new_with_host(base, host, &runtime));
    packr_module *module = harness_load(runtime, GUEST);
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t].module = module;
        CHECK(pthread_create(&threads[t], NULL, spawn_and_call, &workers[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        CHECK(workers[t].ok);
    }
    packr_module_free(module);
    packr_runtime_free(runtime);
    packr_runtime_free(base);
    CHECK(finalized == before); /* the host itself still holds them */
    packr_host_free(host);
    CHECK(finalized == before + defined);
}

static void test_unknown_imports_and_nulls(void) {
    packr_host *host = NULL;
    CHECK_OK(packr_host_new(&host));
    CHECK_OK(packr_host_set_unknown_imports_trap(host, true));
    packr_runtime *base = NULL, *runtime = NULL;
    CHECK_OK(packr_runtime_new(&base));
    CHECK_OK(packr_runtime_new_with_host(base, host, &runtime));
    packr_module *module = harness_load(runtime, GUEST);
    packr_instance *instance = NULL;
    CHECK_OK(packr_module_instantiate(module, &instance));
    packr_val sum, args[2] = {harness_i32(2), harness_i32(3)};
    CHECK_OK(packr_instance_call(instance, "add", args, 2, &sum, 1));
    CHECK(sum.of.i32 == 5);
    CHECK_STATUS(packr_instance_call(instance, "greet", NULL, 0, NULL, 0), PACKR_ERR_TRAP);
    CHECK_MESSAGE("env::log");

    CHECK_STATUS(packr_host_new(NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_host_define_func(host, "env", "x", NULL, 0, NULL, 0, NULL, NULL, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_MESSAGE("`callback` is NULL");
    CHECK_STATUS(packr_host_define_func(host, NULL, "x", NULL, 0, NULL, 0, host_log, NULL, NULL), PACKR_ERR_NULL_POINTER);
    static const packr_valkind ref[] = {PACKR_EXTERNREF};
    CHECK_STATUS(packr_host_define_func(host, "env", "x", ref, 1, NULL, 0, host_log, NULL, NULL), PACKR_ERR_TYPE_MISMATCH);
    CHECK_MESSAGE("parameter 0 of env::x is externref");
    CHECK_STATUS(packr_runtime_new_with_host(NULL, host, &runtime), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_runtime_new_with_host(base, NULL, &runtime), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_caller_call(NULL, "f", NULL, 0, NULL, 0), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_caller_set_error(NULL, "x"), PACKR_ERR_NULL_POINTER);
    CHECK(packr_caller_data(NULL) == NULL);
    CHECK_STATUS(packr_instance_config_new(NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_instantiate_with(NULL, NULL, NULL, &instance), PACKR_ERR_NULL_POINTER);
    packr_instance_config_free(NULL);
    packr_instance_free(instance);
    packr_module_free(module);
    packr_runtime_free(runtime);
    packr_runtime_free(base);
    packr_host_free(host);
}

int main(void) {
    test_callbacks_and_data();
    test_func_handles();
    test_threads_share_a_host();
    test_unknown_imports_and_nulls();
    return harness_finish("test_host");
}
