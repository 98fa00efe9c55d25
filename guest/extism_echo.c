/* guest/extism_echo.c - build/guest/extism_echo.wasm: the pack benchmark's `echo` (bench/README.md)
 * in Extism's convention, for Extism's Plugin.call; pack.wasm's echo is the same in packr's.
 *
 * Extism keeps a call's input and output in its kernel's memory, not the plugin's: the plugin
 * reaches them through imports from extism:host/env. echo() does what Extism's PDKs do for
 * `output(load_input())`: loads the input into its own memory (8 bytes per kernel call, then
 * single bytes), allocates the output in the kernel and stores the copy there the same way.
 * No imports but the kernel's; wasi-libc's malloc and memcpy, nothing of WASI. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KERNEL(name) __attribute__((import_module("extism:host/env"), import_name(#name)))

/* The kernel's signatures: offsets and lengths are i64, bytes travel as i32. */
KERNEL(input_length) extern uint64_t extism_input_length(void);
KERNEL(input_load_u8) extern uint8_t extism_input_load_u8(uint64_t offset);
KERNEL(input_load_u64) extern uint64_t extism_input_load_u64(uint64_t offset);
KERNEL(alloc) extern uint64_t extism_alloc(uint64_t len);
KERNEL(store_u8) extern void extism_store_u8(uint64_t offset, uint8_t byte);
KERNEL(store_u64) extern void extism_store_u64(uint64_t offset, uint64_t word);
KERNEL(output_set) extern void extism_output_set(uint64_t offset, uint64_t len);

/* () -> i32: output = a copy of the input; 0, or 1 when this module cannot allocate (Extism
 * reports a non-zero return as the call's error). */
__attribute__((export_name("echo")))
int32_t echo(void) {
    uint64_t len = extism_input_length(), i;
    uint8_t *buf = malloc(len ? (size_t)len : 1);
    if (!buf) return 1;
    for (i = 0; i + 8 <= len; i += 8) {
        uint64_t word = extism_input_load_u64(i);
        memcpy(buf + i, &word, 8);
    }
    for (; i < len; i++) buf[i] = extism_input_load_u8(i);

    uint64_t out = extism_alloc(len);
    for (i = 0; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, buf + i, 8);
        extism_store_u64(out + i, word);
    }
    for (; i < len; i++) extism_store_u8(out + i, buf[i]);
    extism_output_set(out, len);
    free(buf);
    return 0;
}
