/* guest/calls.c - the call benchmarks' guest (build/guest/calls.wasm): the per-call cost of
 * entering wasm and of wasm calling its host, with as little guest work as a real call has.
 * Built twice by guest/build.sh: importing `inc` from module "bench", and from Extism's
 * "extism:host/user" (the only module Extism serves host functions from). */
#include <stdint.h>

#ifndef HOST_MODULE
#define HOST_MODULE "bench"
#endif

__attribute__((import_module(HOST_MODULE), import_name("inc")))
extern int32_t host_inc(int32_t value);

/* (i32, i32) -> i32: the shape of the live-instance call rows. */
__attribute__((export_name("add")))
int32_t add(int32_t a, int32_t b) { return a + b; }

/* Calls the host's `inc` n times, threading the value through, so the host call cannot be
 * hoisted; returns n when `inc` adds one. */
__attribute__((export_name("host_loop")))
int32_t host_loop(int32_t n) {
    int32_t value = 0;
    for (int32_t i = 0; i < n; i++) value = host_inc(value);
    return value;
}

/* The same without parameters, for hosts whose only call takes none (Extism's
 * extism_plugin_call): add(1, 2), and 1,000 host calls. */
__attribute__((export_name("three")))
int32_t three(void) { return add(1, 2); }

__attribute__((export_name("host_loop_1000")))
int32_t host_loop_1000(void) { return host_loop(1000); }
