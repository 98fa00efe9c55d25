/* The case host of tests/cases/cases.tsv, written against packr.h alone: module "host" with
 * add, fail, peek, twice and swap, the bytes function transform, and WASI. */
#ifndef PACKR_TEST_CASE_HOST_H
#define PACKR_TEST_CASE_HOST_H

#include "packr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static packr_status case_add(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                             packr_val *results, size_t nresults) {
    (void)env, (void)caller, (void)nargs, (void)nresults;
    results[0].of.i32 = (int32_t)((uint32_t)args[0].of.i32 + (uint32_t)args[1].of.i32);
    return PACKR_OK;
}

static packr_status case_fail(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                              packr_val *results, size_t nresults) {
    (void)env, (void)nargs, (void)results, (void)nresults;
    char message[64];
    snprintf(message, sizeof message, "refused %d", (int)args[0].of.i32);
    packr_caller_set_error(caller, message);
    return PACKR_ERR_INVALID_ARGUMENT;
}

static packr_status case_peek(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                              packr_val *results, size_t nresults) {
    (void)env, (void)nargs, (void)nresults;
    uint8_t byte = 0;
    packr_status status = packr_caller_memory_read(caller, "memory", (uint32_t)args[0].of.i32, &byte, 1);
    if (status != PACKR_OK) return status; /* the read's message becomes the callback's */
    results[0].of.i32 = byte;
    return PACKR_OK;
}

static packr_status case_twice(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                               packr_val *results, size_t nresults) {
    (void)env, (void)nargs, (void)nresults;
    packr_status status = packr_caller_call(caller, "double", args, 1, results, 1);
    if (status != PACKR_OK) return status;
    results[0].of.i32 += 1;
    return PACKR_OK;
}

static packr_status case_swap(void *env, packr_caller *caller, const packr_val *args, size_t nargs,
                              packr_val *results, size_t nresults) {
    (void)env, (void)caller, (void)nargs, (void)nresults;
    memcpy(results[0].of.v128, args[0].of.v128 + 8, 8);
    memcpy(results[0].of.v128 + 8, args[0].of.v128, 8);
    return PACKR_OK;
}

/* host::transform in the pack convention: the input upper-cased, or a refusal. */
static packr_status case_transform(void *env, packr_caller *caller, const uint8_t *input, size_t len) {
    (void)env;
    if (len == 11 && memcmp(input, "guest-error", 11) == 0) return PACKR_ERR_GUEST;
    if (len == 10 && memcmp(input, "host-error", 10) == 0) {
        packr_caller_set_error(caller, "transform refused");
        return PACKR_ERR_INVALID_ARGUMENT;
    }
    uint8_t *upper = malloc(len + 1);
    if (upper == NULL) return PACKR_ERR_RESOURCE;
    for (size_t i = 0; i < len; i++) upper[i] = (uint8_t)(input[i] >= 'a' && input[i] <= 'z' ? input[i] - 32 : input[i]);
    packr_status status = packr_caller_return_bytes(caller, upper, len);
    free(upper);
    return status;
}

/* A new host with the case host's functions, or NULL (with the status printed). */
static inline packr_host *case_host_new(void) {
    static const packr_valkind i32[] = {PACKR_I32, PACKR_I32}, v128[] = {PACKR_V128};
    static const struct {
        const char *name;
        const packr_valkind *params;
        size_t nparams;
        const packr_valkind *results;
        size_t nresults;
        packr_host_callback callback;
    } defs[] = {
        {"add", i32, 2, i32, 1, case_add},   {"fail", i32, 1, i32, 1, case_fail},
        {"peek", i32, 1, i32, 1, case_peek}, {"twice", i32, 1, i32, 1, case_twice},
        {"swap", v128, 1, v128, 1, case_swap},
    };
    packr_host *host = NULL;
    if (packr_host_new(&host) != PACKR_OK) return NULL;
    packr_status defined = packr_host_define_wasi(host);
    if (defined == PACKR_OK) defined = packr_host_define_bytes(host, "host", "transform", case_transform, NULL, NULL);
    if (defined != PACKR_OK) {
        fprintf(stderr, "case host: %s: %s\n", packr_status_name(defined), packr_last_error());
        packr_host_free(host);
        return NULL;
    }
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        packr_status status = packr_host_define_func(host, "host", defs[i].name, defs[i].params, defs[i].nparams,
                                                     defs[i].results, defs[i].nresults, defs[i].callback, NULL, NULL);
        if (status != PACKR_OK) {
            fprintf(stderr, "case host: %s: %s\n", packr_status_name(status), packr_last_error());
            packr_host_free(host);
            return NULL;
        }
    }
    return host;
}

#endif
