/* Run under `ulimit -v` (see the Makefile): where address space is scarce, every failure
 * is a clear PACKR_ERR_RESOURCE, and a small memory reservation makes instances fit. */
#include "harness.h"

static const char *MODULE = "(module (memory (export \"memory\") 1) (func (export \"f\") (result i32) i32.const 7))";

static void spawn(packr_runtime *runtime, packr_status expected) {
    packr_module *module = harness_load(runtime, MODULE);
    packr_instance *instance = NULL;
    CHECK_STATUS(packr_module_instantiate(module, &instance), expected);
    if (expected == PACKR_OK) {
        packr_val result;
        CHECK_OK(packr_instance_call(instance, "f", NULL, 0, &result, 1));
        CHECK(result.of.i32 == 7);
    } else {
        CHECK(instance == NULL);
        CHECK_MESSAGE("packr_config_set_memory_reservation");
    }
    packr_instance_free(instance);
    packr_module_free(module);
}

int main(void) {
    packr_runtime *runtime = NULL;
    /* Default: a 4 GiB reservation per memory does not fit. */
    CHECK_OK(packr_runtime_new(&runtime));
    spawn(runtime, PACKR_ERR_RESOURCE);
    packr_runtime_free(runtime);

    packr_config *config = NULL;
    CHECK_OK(packr_config_new(&config));
    /* A pool reserves its whole capacity up front: refused at creation. */
    CHECK_OK(packr_config_set_pooling(config, true));
    runtime = NULL;
    CHECK_STATUS(packr_runtime_new_with_config(config, &runtime), PACKR_ERR_RESOURCE);
    CHECK_MESSAGE("mmap failed");
    CHECK(runtime == NULL);
    /* A pool sized for the limit fits. */
    CHECK_OK(packr_config_set_pool_instances(config, 4));
    CHECK_OK(packr_config_set_pool_memory_bytes(config, 16 << 20));
    CHECK_OK(packr_runtime_new_with_config(config, &runtime));
    spawn(runtime, PACKR_OK);
    packr_runtime_free(runtime);
    /* So does a small reservation without pooling. */
    CHECK_OK(packr_config_set_pooling(config, false));
    CHECK_OK(packr_config_set_memory_reservation(config, 64 << 20));
    CHECK_OK(packr_runtime_new_with_config(config, &runtime));
    spawn(runtime, PACKR_OK);
    packr_runtime_free(runtime);
    packr_config_free(config);
    return harness_finish("test_vm_limit");
}
