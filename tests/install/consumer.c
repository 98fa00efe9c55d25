/* A program outside the tree, built only with `pkg-config --cflags --libs packr`. */
#include <packr.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    const char *wat = "(module (func (export \"answer\") (result i32) i32.const 42))";
    packr_runtime *runtime = NULL;
    packr_module *module = NULL;
    packr_instance *instance = NULL;
    packr_val result;
    if (packr_runtime_new(&runtime) != PACKR_OK ||
        packr_module_load(runtime, (const uint8_t *)wat, strlen(wat), &module) != PACKR_OK ||
        packr_module_instantiate(module, &instance) != PACKR_OK ||
        packr_instance_call(instance, "answer", NULL, 0, &result, 1) != PACKR_OK) {
        fprintf(stderr, "consumer: %s\n", packr_last_error());
        return 1;
    }
    printf("consumer: packr %s answered %d\n", packr_version(), result.of.i32);
    packr_instance_free(instance);
    packr_module_free(module);
    packr_runtime_free(runtime);
    return result.of.i32 == 42 ? 0 : 1;
}
