/* Every NULL, every failure status, traps, and what the messages say. */
#include "harness.h"

static const char *MODULE =
    "(module"
    "  (memory (export \"memory\") 1)"
    "  (global $calls (mut i32) (i32.const 0))"
    "  (func (export \"div\") (param i32 i32) (result i32)"
    "    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))"
    "    (i32.div_s (local.get 0) (local.get 1)))"
    "  (func (export \"calls\") (result i32) (global.get $calls)))";

static void nulls(packr_runtime *runtime, packr_module *module, packr_instance *instance) {
    packr_runtime *rt_out = NULL;
    packr_module *mod_out = NULL;
    packr_instance *inst_out = NULL;
    packr_val val = harness_i32(1), res;
    uint8_t byte = 0;
    uint64_t size = 0;
    size_t count = 0;
    packr_export_desc export_desc;
    packr_import_desc import_desc;
    packr_func_signature sig;

    CHECK_STATUS(packr_runtime_new(NULL), PACKR_ERR_NULL_POINTER);
    CHECK_MESSAGE("`runtime_out` is NULL");
    CHECK_STATUS(packr_runtime_new_sharing_engine(NULL, &rt_out), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_runtime_new_sharing_engine(runtime, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_load(NULL, (const uint8_t *)"x", 1, &mod_out), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_load(runtime, NULL, 1, &mod_out), PACKR_ERR_NULL_POINTER);
    CHECK_MESSAGE("`wasm` is NULL");
    CHECK_STATUS(packr_module_load(runtime, (const uint8_t *)"x", 1, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_runtime_wrap_module(NULL, module, &mod_out), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_runtime_wrap_module(runtime, NULL, &mod_out), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_runtime_wrap_module(runtime, module, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_instantiate(NULL, &inst_out), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_instantiate(module, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_call(NULL, "div", &val, 1, &res, 1), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_call(instance, NULL, &val, 1, &res, 1), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_call(instance, "div", NULL, 2, &res, 1), PACKR_ERR_NULL_POINTER);
    CHECK_MESSAGE("`args` is NULL");
    CHECK_STATUS(packr_instance_call(instance, "calls", NULL, 0, NULL, 1), PACKR_ERR_NULL_POINTER);
    CHECK_MESSAGE("`results` is NULL");
    CHECK_STATUS(packr_instance_memory_size(NULL, NULL, &size), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_memory_size(instance, NULL, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_memory_read(NULL, NULL, 0, &byte, 1), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_memory_read(instance, NULL, 0, NULL, 1), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_memory_write(NULL, NULL, 0, &byte, 1), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_memory_write(instance, NULL, 0, NULL, 1), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_export_count(NULL, &count), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_export_count(module, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_export_get(NULL, 0, &export_desc), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_export_get(module, 0, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_import_count(NULL, &count), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_import_get(module, 0, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_import_get(NULL, 0, &import_desc), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_func_signature(NULL, "div", &sig), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_func_signature(module, NULL, &sig), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_module_func_signature(module, "div", NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_func_signature(NULL, "div", &sig), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_func_signature(instance, NULL, &sig), PACKR_ERR_NULL_POINTER);
    CHECK(rt_out == NULL && mod_out == NULL && inst_out == NULL);

    /* Zero lengths need no buffer. */
    CHECK_OK(packr_instance_memory_read(instance, NULL, 0, NULL, 0));
    CHECK_OK(packr_instance_memory_write(instance, NULL, 65536, NULL, 0));

    /* Freeing NULL is a no-op; cloning NULL gives NULL. */
    packr_runtime_free(NULL);
    packr_module_free(NULL);
    packr_instance_free(NULL);
    CHECK(packr_module_clone(NULL) == NULL);
}

static void traps(packr_instance *instance) {
    packr_val args[2] = {harness_i32(7), harness_i32(0)};
    packr_val result;
    result.kind = 77;
    CHECK_STATUS(packr_instance_call(instance, "div", args, 2, &result, 1), PACKR_ERR_TRAP);
    CHECK(result.kind == 77); /* results are written only on success */
    /* The cause comes first, on a line of its own; a backtrace may follow. */
    const char *message = packr_last_error();
    CHECK(strncmp(message, "wasm trap: integer divide by zero", 33) == 0);
    CHECK(message[33] == '\0' || message[33] == '\n');

    /* The instance stays usable, with the state the trap left. */
    args[1] = harness_i32(2);
    CHECK_OK(packr_instance_call(instance, "div", args, 2, &result, 1));
    CHECK(result.kind == PACKR_I32 && result.of.i32 == 3);
    CHECK_OK(packr_instance_call(instance, "calls", NULL, 0, &result, 1));
    CHECK(result.of.i32 == 2);
}

static void bad_input(packr_runtime *runtime, packr_instance *instance) {
    packr_module *module = NULL;
    static const uint8_t junk[] = {0x00, 0x61, 0x73, 0x6d, 0x09, 0x00, 0x00, 0x00};
    CHECK_STATUS(packr_module_load(runtime, junk, sizeof junk, &module), PACKR_ERR_COMPILE);
    CHECK_MESSAGE("cannot compile module");
    CHECK(module == NULL);
    CHECK_STATUS(packr_module_load(runtime, junk, 0, &module), PACKR_ERR_COMPILE);

    packr_val result;
    CHECK_STATUS(packr_instance_call(instance, "\xff\xfe", NULL, 0, &result, 1), PACKR_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE("not valid UTF-8");
    CHECK_STATUS(packr_instance_call(instance, "missing", NULL, 0, NULL, 0), PACKR_ERR_NOT_FOUND);
    CHECK_MESSAGE("`missing`");
    packr_val weird[2] = {harness_i32(1), harness_i32(1)};
    weird[0].kind = 0xFFFFFFFFu; /* any number C writes is defined behaviour */
    CHECK_STATUS(packr_instance_call(instance, "div", weird, 2, &result, 1), PACKR_ERR_TYPE_MISMATCH);
    CHECK_MESSAGE("unknown kind 4294967295");

    uint8_t buf[8] = {0};
    CHECK_STATUS(packr_instance_memory_read(instance, NULL, 65530, buf, 8), PACKR_ERR_OUT_OF_BOUNDS);
    CHECK_MESSAGE("memory `memory` is 65536 bytes");
    CHECK_STATUS(packr_instance_memory_write(instance, NULL, UINT64_MAX, buf, 1), PACKR_ERR_OUT_OF_BOUNDS);
    CHECK_STATUS(packr_instance_memory_read(instance, "nope", 0, buf, 1), PACKR_ERR_NOT_FOUND);
    CHECK_STATUS(packr_instance_memory_read(instance, "div", 0, buf, 1), PACKR_ERR_TYPE_MISMATCH);
}

static void names(void) {
    CHECK(strcmp(packr_status_name(PACKR_OK), "PACKR_OK") == 0);
    CHECK(strcmp(packr_status_name(PACKR_ERR_ENGINE_MISMATCH), "PACKR_ERR_ENGINE_MISMATCH") == 0);
    CHECK(strcmp(packr_status_name(PACKR_ERR_INSTANTIATE), "PACKR_ERR_INSTANTIATE") == 0);
    CHECK(strcmp(packr_status_name(-1), "UNKNOWN") == 0);
    CHECK(strcmp(packr_status_name(1000), "UNKNOWN") == 0);
    CHECK(strlen(packr_version()) > 0);
}

int main(void) {
    names();
    CHECK(strcmp(packr_last_error(), "") == 0); /* nothing failed yet on this thread */
    packr_runtime *runtime = NULL;
    CHECK_OK(packr_runtime_new(&runtime));
    packr_module *module = harness_load(runtime, MODULE);
    packr_instance *instance = NULL;
    CHECK_OK(packr_module_instantiate(module, &instance));
    nulls(runtime, module, instance);
    traps(instance);
    bad_input(runtime, instance);
    packr_instance_free(instance);
    packr_module_free(module);
    packr_runtime_free(runtime);
    return harness_finish("test_errors");
}
