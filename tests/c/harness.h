/* A tiny test harness for the C tests: checks that report file:line and keep going. */
#ifndef PACKR_TEST_HARNESS_H
#define PACKR_TEST_HARNESS_H

#include "packr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failures = 0;
static int harness_checks = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        harness_checks++;                                                             \
        if (!(cond)) {                                                                \
            harness_failures++;                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

/* Checks that `call` returned `expected`, printing both names and the message if not. */
#define CHECK_STATUS(call, expected)                                                  \
    do {                                                                              \
        packr_status got_ = (call);                                                   \
        harness_checks++;                                                             \
        if (got_ != (expected)) {                                                     \
            harness_failures++;                                                       \
            fprintf(stderr, "%s:%d: %s gave %s, expected %s (%s)\n", __FILE__,        \
                    __LINE__, #call, packr_status_name(got_),                         \
                    packr_status_name(expected), packr_last_error());                 \
        }                                                                             \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, PACKR_OK)

/* Checks that the last error message contains `needle`. */
#define CHECK_MESSAGE(needle)                                                         \
    do {                                                                              \
        harness_checks++;                                                             \
        if (strstr(packr_last_error(), (needle)) == NULL) {                           \
            harness_failures++;                                                       \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__,         \
                    __LINE__, packr_last_error(), (needle));                          \
        }                                                                             \
    } while (0)

/* Prints the closing line and gives main's exit code. */
static inline int harness_finish(const char *name) {
    printf("%s: %d checks, %d failed\n", name, harness_checks, harness_failures);
    return harness_failures == 0 ? 0 : 1;
}

/* Reads a whole file; the caller frees the result. Exits on failure. */
static inline unsigned char *harness_read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            unsigned char *bigger = realloc(buf, cap);
            if (bigger == NULL) free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "out of memory reading %s\n", path);
        exit(2);
    }
    *len_out = len;
    return buf;
}

/* Compiles WebAssembly text, failing the whole test program if it does not. */
static inline packr_module *harness_load(const packr_runtime *runtime, const char *wat) {
    packr_module *module = NULL;
    packr_status status = packr_module_load(runtime, (const uint8_t *)wat, strlen(wat), &module);
    if (status != PACKR_OK) {
        fprintf(stderr, "load failed: %s: %s\n", packr_status_name(status), packr_last_error());
        exit(2);
    }
    return module;
}

/* Compiles build/guest/NAME (or $PACKR_GUESTS/NAME), a guest guest/build.sh builds, failing
 * the whole test program if it is missing or does not compile. */
static inline packr_module *harness_load_guest(const packr_runtime *runtime, const char *name) {
    const char *dir = getenv("PACKR_GUESTS");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : "build/guest", name);
    FILE *probe = fopen(path, "rb");
    if (probe == NULL) {
        fprintf(stderr, "%s is missing: run `make guest`\n", path);
        exit(2);
    }
    fclose(probe);
    size_t len = 0;
    unsigned char *code = harness_read_file(path, &len);
    packr_module *module = NULL;
    packr_status status = packr_module_load(runtime, code, len, &module);
    free(code);
    if (status != PACKR_OK) {
        fprintf(stderr, "load of %s failed: %s: %s\n", path, packr_status_name(status), packr_last_error());
        exit(2);
    }
    return module;
}

static inline packr_val harness_i32(int32_t v) {
    packr_val val;
    val.kind = PACKR_I32;
    val.of.i32 = v;
    return val;
}

#endif
