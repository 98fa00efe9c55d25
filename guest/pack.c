/* guest/pack.c - build/guest/pack.wasm: a guest speaking the "pack" calling convention, with no
 * imports but host.transform (for via_host).
 *
 * The convention: the module exports `memory`, `__pack_alloc(size) -> ptr` and
 * `__pack_free(ptr, len)`; a pack export has the wasm type
 * (in_ptr, in_len, out_ptr_ptr, out_len_ptr: i32) -> i32, reads in_len bytes at in_ptr, stores
 * the pointer and length of a fresh output at *out_ptr_ptr and *out_len_ptr, and returns 0, or
 * -1 with a UTF-8 error message as the output. The host frees the output with __pack_free.
 * An empty output is (0, 0), never an allocated block, since __pack_free(ptr, 0) is a no-op.
 *
 * alloc_count() counts the blocks the host holds (from __pack_alloc or handed out as outputs),
 * so a test can assert the host freed each one. Outputs that are not heap blocks (the static
 * out-of-memory message, bad_ptr's and bad_len's) are not counted and __pack_free ignores
 * them, so the counter stays right whatever a host does with them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

__attribute__((import_module("host"), import_name("transform")))
extern int32_t host_transform(const uint8_t *in, int32_t in_len, uint32_t *out_ptr,
                              int32_t *out_len);

extern unsigned char __heap_base; /* set by wasm-ld: static data lies below, the heap above */

static int32_t live_blocks;
static int32_t alloc_fail;
static char oom_message[] = "out of memory";
static char bad_len_buffer[16];

static uint64_t memory_bytes(void) { return (uint64_t)__builtin_wasm_memory_size(0) * 65536; }

/* Whether [ptr, ptr+len) lies inside linear memory. */
static int in_memory(uint32_t ptr, int32_t len) {
    return len >= 0 && (uint64_t)ptr + (uint64_t)len <= memory_bytes();
}

/* (size: i32) -> i32: a new block of size bytes, or 0 (size <= 0, out of memory, or
 * set_alloc_fail). */
__attribute__((export_name("__pack_alloc")))
uint8_t *pack_alloc(int32_t size) {
    if (size <= 0 || alloc_fail) return NULL;
    uint8_t *p = malloc((size_t)size);
    if (p) live_blocks++;
    return p;
}

/* (ptr: i32, len: i32) -> (): frees a block from __pack_alloc or an output. No-op for a 0
 * pointer, a 0 length, and pointers that are not heap blocks (static data, outside memory). */
__attribute__((export_name("__pack_free")))
void pack_free(uint8_t *ptr, int32_t len) {
    uintptr_t p = (uintptr_t)ptr;
    if (!ptr || len <= 0 || p < (uintptr_t)&__heap_base || p >= memory_bytes()) return;
    free(ptr);
    live_blocks--;
}

/* (fail: i32) -> (): while fail is nonzero, __pack_alloc returns 0. */
__attribute__((export_name("set_alloc_fail")))
void set_alloc_fail(int32_t fail) { alloc_fail = fail; }

/* () -> i32: blocks allocated by __pack_alloc or handed out as outputs, minus those freed. */
__attribute__((export_name("alloc_count")))
int32_t alloc_count(void) { return live_blocks; }

/* --- outputs ------------------------------------------------------------------------- */

/* Hands the host a copy of a ++ b as the output; returns status. An error output that cannot
 * be allocated becomes the static out-of-memory message; a success output, status -1 with it. */
static int32_t output2(int32_t status, const void *a, int32_t a_len, const void *b, int32_t b_len,
                       uint32_t *out_ptr, int32_t *out_len) {
    int32_t len = a_len + b_len;
    if (len == 0) {
        *out_ptr = 0;
        *out_len = 0;
        return status;
    }
    uint8_t *buf = malloc((size_t)len);
    if (!buf) {
        *out_ptr = (uint32_t)(uintptr_t)oom_message;
        *out_len = (int32_t)strlen(oom_message);
        return -1;
    }
    if (a_len) memcpy(buf, a, (size_t)a_len);
    if (b_len) memcpy(buf + a_len, b, (size_t)b_len);
    live_blocks++;
    *out_ptr = (uint32_t)(uintptr_t)buf;
    *out_len = len;
    return status;
}

static int32_t output(int32_t status, const void *data, int32_t len, uint32_t *out_ptr,
                      int32_t *out_len) {
    return output2(status, data, len, "", 0, out_ptr, out_len);
}

static int32_t error(const char *msg, uint32_t *out_ptr, int32_t *out_len) {
    return output(-1, msg, (int32_t)strlen(msg), out_ptr, out_len);
}

/* Writes the decimal form of v into buf (at least 12 bytes); returns its length. */
static int32_t format_i32(int32_t v, char *buf) {
    char tmp[12];
    int32_t n = 0, len = 0;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) buf[len++] = '-';
    while (n) buf[len++] = tmp[--n];
    return len;
}

static int32_t error_num(const char *prefix, int32_t v, uint32_t *out_ptr, int32_t *out_len) {
    char num[12];
    int32_t n = format_i32(v, num);
    return output2(-1, prefix, (int32_t)strlen(prefix), num, n, out_ptr, out_len);
}

#define PACK_EXPORT(name)                                                                   \
    __attribute__((export_name(#name))) int32_t name(const uint8_t *in, int32_t in_len,    \
                                                     uint32_t *out_ptr, int32_t *out_len)

#define CHECK_INPUT()                                                                       \
    do {                                                                                    \
        if (in_len < 0) return error("negative input length", out_ptr, out_len);            \
    } while (0)

/* --- the pack exports ------------------------------------------------------------------ */

/* Output: a copy of the input. */
PACK_EXPORT(echo) {
    CHECK_INPUT();
    return output(0, in, in_len, out_ptr, out_len);
}

/* Output: the input with ASCII a-z uppercased. */
PACK_EXPORT(upper) {
    CHECK_INPUT();
    int32_t status = output(0, in, in_len, out_ptr, out_len);
    if (status != 0) return status;
    uint8_t *p = (uint8_t *)(uintptr_t)*out_ptr;
    for (int32_t i = 0; i < in_len; i++)
        if (p[i] >= 'a' && p[i] <= 'z') p[i] = (uint8_t)(p[i] - 'a' + 'A');
    return 0;
}

/* Status -1, output "refused: " ++ input. */
PACK_EXPORT(fail) {
    CHECK_INPUT();
    output2(-1, "refused: ", 9, in, in_len, out_ptr, out_len);
    return -1;
}

/* Output: the input's length in decimal ASCII. */
PACK_EXPORT(size) {
    (void)in;
    CHECK_INPUT();
    char num[12];
    int32_t n = format_i32(in_len, num);
    return output(0, num, n, out_ptr, out_len);
}

/* Status 0 with an output outside memory: (0xFFFFFF00, 512). */
PACK_EXPORT(bad_ptr) {
    (void)in;
    (void)in_len;
    *out_ptr = 0xFFFFFF00u;
    *out_len = 512;
    return 0;
}

/* Status 0 with a valid (static) pointer and the length 0x7FFFFFFF. */
PACK_EXPORT(bad_len) {
    (void)in;
    (void)in_len;
    *out_ptr = (uint32_t)(uintptr_t)bad_len_buffer;
    *out_len = 0x7FFFFFFF;
    return 0;
}

/* Status 7 (neither 0 nor -1) with an empty output (0, 0). */
PACK_EXPORT(bad_status) {
    (void)in;
    (void)in_len;
    *out_ptr = 0;
    *out_len = 0;
    return 7;
}

/* Calls host.transform on the input and returns its result as the output. Host status 0: the
 * result is the host's, so it is copied and left alone; 1: the host allocated it with
 * __pack_alloc, so it is copied and freed. */
PACK_EXPORT(via_host) {
    CHECK_INPUT();
    uint32_t r_ptr = 0;
    int32_t r_len = 0;
    int32_t host_status = host_transform(in, in_len, &r_ptr, &r_len);
    if (host_status < 0) return error_num("host transform failed: ", host_status, out_ptr, out_len);
    if (host_status != 0 && host_status != 1)
        return error_num("host transform returned ", host_status, out_ptr, out_len);
    if (!in_memory(r_ptr, r_len))
        return error("host transform result is outside memory", out_ptr, out_len);
    int32_t status = output(0, (const uint8_t *)(uintptr_t)r_ptr, r_len, out_ptr, out_len);
    if (host_status == 1) pack_free((uint8_t *)(uintptr_t)r_ptr, r_len); /* even if the copy failed */
    return status;
}

/* A plain (i32) -> i32 export, for hosts to refuse as a pack call. */
__attribute__((export_name("wrong_shape")))
int32_t wrong_shape(int32_t x) { return x; }
