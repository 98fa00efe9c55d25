/* Upstream packr's pack calling convention from a C host written only from packr.h, against
 * build/guest/pack.wasm (guest/pack.c, built with wasi-libc's malloc): bytes in and out,
 * guest errors, guests that lie, large and empty payloads, host functions that take and
 * give bytes, and every guest buffer freed.
 * Usage: test_pack [cases-dir] (the guests are found in $PACKR_GUESTS or build/guest). */
#include "harness.h"
#include "case_host.h"

#include <stdlib.h>
#include <unistd.h>

static int finalized = 0;

static void count_finalizer(void *env) {
    CHECK(env == (void *)&finalized);
    finalized++;
}

/* host::transform: the case host's (tests/c/case_host.h), and for "twice" a callback that
 * tries to return its bytes twice. */
static packr_status transform(void *env, packr_caller *caller, const uint8_t *input, size_t len) {
    packr_status status = case_transform(env, caller, input, len);
    if (status == PACKR_OK && len == 5 && memcmp(input, "twice", 5) == 0) {
        status = packr_caller_return_bytes(caller, input, len); /* refused: the message says why */
    }
    return status;
}

static int32_t alloc_count(packr_instance *instance) {
    packr_val result = harness_i32(-1);
    CHECK_OK(packr_instance_call(instance, "alloc_count", NULL, 0, &result, 1));
    return result.of.i32;
}

/* Calls `name` with `input` and checks the output is `want` (want_len bytes). */
static void check_echo(packr_instance *instance, const char *name, const uint8_t *input, size_t len, const uint8_t *want,
                       size_t want_len) {
    packr_bytes out = {NULL, 0};
    CHECK_OK(packr_instance_call_bytes(instance, name, input, len, &out));
    CHECK(out.len == want_len && (want_len == 0 ? out.data == NULL : memcmp(out.data, want, want_len) == 0));
    packr_bytes_free(&out);
    CHECK(out.data == NULL && out.len == 0);
}

static void test_round_trips(packr_instance *instance) {
    int32_t start = alloc_count(instance);
    check_echo(instance, "echo", (const uint8_t *)"hello", 5, (const uint8_t *)"hello", 5);
    check_echo(instance, "upper", (const uint8_t *)"hello", 5, (const uint8_t *)"HELLO", 5);
    check_echo(instance, "echo", NULL, 0, NULL, 0);
    size_t big = 5u << 20;
    uint8_t *payload = malloc(big);
    for (size_t i = 0; i < big; i++) payload[i] = (uint8_t)(i * 7);
    check_echo(instance, "echo", payload, big, payload, big);
    check_echo(instance, "size", payload, 3u << 20, (const uint8_t *)"3145728", 7);
    free(payload);
    CHECK(alloc_count(instance) == start);
}

static void test_guest_errors_and_lies(const packr_runtime *runtime, packr_instance *instance) {
    int32_t start = alloc_count(instance);
    packr_bytes out = {(uint8_t *)&finalized, 77}; /* written only on success */
    CHECK_STATUS(packr_instance_call_bytes(instance, "fail", (const uint8_t *)"x", 1, &out), PACKR_ERR_GUEST);
    CHECK_MESSAGE("the guest's `fail` failed: refused: x");
    CHECK_STATUS(packr_instance_call_bytes(instance, "bad_ptr", NULL, 0, &out), PACKR_ERR_OUT_OF_BOUNDS);
    CHECK_MESSAGE("512 bytes at 0xffffff00, outside its memory");
    CHECK_STATUS(packr_instance_call_bytes(instance, "bad_len", NULL, 0, &out), PACKR_ERR_OUT_OF_BOUNDS);
    CHECK_MESSAGE("returned 2147483647 bytes");
    CHECK_STATUS(packr_instance_call_bytes(instance, "bad_status", NULL, 0, &out), PACKR_ERR_GUEST);
    CHECK_MESSAGE("returned 7; the pack convention allows 0 (success) or -1 (error)");
    CHECK_STATUS(packr_instance_call_bytes(instance, "wrong_shape", NULL, 0, &out), PACKR_ERR_TYPE_MISMATCH);
    CHECK_MESSAGE("export `wrong_shape` is func(i32) -> (i32); the pack convention needs func(i32, i32, i32, i32) -> (i32)");
    CHECK_STATUS(packr_instance_call_bytes(instance, "nope", NULL, 0, &out), PACKR_ERR_NOT_FOUND);

    packr_val on = harness_i32(1), off = harness_i32(0);
    CHECK_OK(packr_instance_call(instance, "set_alloc_fail", &on, 1, NULL, 0));
    CHECK_STATUS(packr_instance_call_bytes(instance, "echo", (const uint8_t *)"x", 1, &out), PACKR_ERR_GUEST);
    CHECK_MESSAGE("__pack_alloc(9) returned 0");
    CHECK_OK(packr_instance_call(instance, "set_alloc_fail", &off, 1, NULL, 0));
    CHECK(out.data == (uint8_t *)&finalized && out.len == 77);
    CHECK(alloc_count(instance) == start);

    /* NULL checks. */
    CHECK_STATUS(packr_instance_call_bytes(NULL, "echo", NULL, 0, &out), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_call_bytes(instance, NULL, NULL, 0, &out), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_call_bytes(instance, "echo", NULL, 4, &out), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_call_bytes(instance, "echo", NULL, 0, NULL), PACKR_ERR_NULL_POINTER);
    packr_bytes_free(NULL);

    /* A module without the convention's exports says what it lacks. */
    packr_module *plain = harness_load(runtime, "(module (memory (export \"memory\") 1)"
                                                                     " (func (export \"f\") (param i32 i32 i32 i32) (result i32) i32.const 0))");
    packr_instance *other = NULL;
    CHECK_OK(packr_module_instantiate(plain, &other));
    CHECK_STATUS(packr_instance_call_bytes(other, "f", NULL, 0, &out), PACKR_ERR_NOT_FOUND);
    CHECK_MESSAGE("does not export `__pack_alloc`, which pack calls need");
    packr_instance_free(other);
    packr_module_free(plain);
}

static void test_host_bytes(packr_module *module, packr_instance *instance) {
    int32_t start = alloc_count(instance);
    check_echo(instance, "via_host", (const uint8_t *)"shout", 5, (const uint8_t *)"SHOUT", 5);
    check_echo(instance, "via_host", NULL, 0, NULL, 0);
    size_t big = 2u << 20;
    uint8_t *lower = malloc(big), *upper = malloc(big);
    memset(lower, 'q', big);
    memset(upper, 'Q', big);
    check_echo(instance, "via_host", lower, big, upper, big);
    free(lower);
    free(upper);
    packr_bytes out = {NULL, 0};
    CHECK_STATUS(packr_instance_call_bytes(instance, "via_host", (const uint8_t *)"guest-error", 11, &out), PACKR_ERR_GUEST);
    CHECK_MESSAGE("host transform failed: -1");
    CHECK_STATUS(packr_instance_call_bytes(instance, "via_host", (const uint8_t *)"host-error", 10, &out), PACKR_ERR_HOST);
    CHECK_MESSAGE("host function host::transform failed: transform refused");
    CHECK_STATUS(packr_instance_call_bytes(instance, "via_host", (const uint8_t *)"twice", 5, &out), PACKR_ERR_HOST);
    CHECK_MESSAGE("already returned its bytes");
    CHECK(alloc_count(instance) == start);

    /* Through a func handle: the same, without the name lookup. */
    packr_func *func = NULL;
    CHECK_OK(packr_module_func(module, "upper", &func));
    CHECK_OK(packr_instance_call_func_bytes(instance, func, (const uint8_t *)"abc", 3, &out));
    CHECK(out.len == 3 && memcmp(out.data, "ABC", 3) == 0);
    packr_bytes_free(&out);
    CHECK_STATUS(packr_instance_call_func_bytes(instance, NULL, NULL, 0, &out), PACKR_ERR_NULL_POINTER);
    packr_func_free(func);
}

/* packr_caller_return_bytes belongs to bytes callbacks; a value callback is refused. */
static packr_status returns_bytes(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                                  packr_val *results, size_t nresults) {
    (void)env, (void)args, (void)nargs, (void)results, (void)nresults;
    return packr_caller_return_bytes(caller, (const uint8_t *)"x", 1);
}

static void test_definitions(packr_runtime *plain) {
    packr_host *host = NULL;
    CHECK_OK(packr_host_new(&host));
    CHECK_STATUS(packr_host_define_bytes(host, "host", "t", NULL, NULL, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_OK(packr_host_define_bytes(host, "host", "t", transform, &finalized, count_finalizer));
    CHECK_STATUS(packr_host_define_bytes(host, "host", "t", transform, &finalized, count_finalizer), PACKR_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE("host::t is already defined");
    CHECK(finalized == 1); /* the refused definition's */
    CHECK_OK(packr_host_define_func(host, "host", "v", NULL, 0, NULL, 0, returns_bytes, NULL, NULL));
    packr_runtime *runtime = NULL;
    CHECK_OK(packr_runtime_new_with_host(plain, host, &runtime));
    packr_host_free(host);
    packr_module *module = harness_load(runtime, "(module (import \"host\" \"v\" (func $v)) (func (export \"f\") call $v))");
    packr_instance *instance = NULL;
    CHECK_OK(packr_module_instantiate(module, &instance));
    CHECK_STATUS(packr_instance_call(instance, "f", NULL, 0, NULL, 0), PACKR_ERR_HOST);
    CHECK_MESSAGE("packr_caller_return_bytes is for callbacks of packr_host_define_bytes");
    packr_instance_free(instance);
    packr_module_free(module);
    CHECK(finalized == 1);
    packr_runtime_free(runtime);
    CHECK(finalized == 2);
}

int main(void) {
    packr_host *host = NULL;
    packr_runtime *plain = NULL, *runtime = NULL;
    CHECK_OK(packr_host_new(&host));
    CHECK_OK(packr_host_define_bytes(host, "host", "transform", transform, NULL, NULL));
    CHECK_OK(packr_runtime_new(&plain));
    CHECK_OK(packr_runtime_new_with_host(plain, host, &runtime));
    packr_host_free(host);
    packr_module *module = harness_load_guest(runtime, "pack.wasm");
    packr_instance *instance = NULL;
    CHECK_OK(packr_module_instantiate(module, &instance));
    test_round_trips(instance);
    test_guest_errors_and_lies(runtime, instance);
    test_host_bytes(module, instance);
    test_round_trips(instance); /* still usable after every failure */
    test_definitions(plain);
    packr_instance_free(instance);
    packr_module_free(module);
    packr_runtime_free(runtime);
    packr_runtime_free(plain);
    return harness_finish("test_pack");
}
