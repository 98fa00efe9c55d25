/* tests/wasi/reactor.c - build/guest/wasi_reactor.wasm: a WASI reactor (exports _initialize, no
 * _start). The counter is set by a constructor, which only _initialize runs, so reactor_get()
 * returning 41 proves the host called _initialize before the first export. */
#include <stdint.h>
#include <stdio.h>

/* volatile: otherwise clang runs the constructor at compile time and 41 is in the data. */
static volatile int32_t counter;

__attribute__((constructor))
static void set_counter(void) { counter = 41; }

/* () -> i32: 41 once _initialize has run, 0 before. */
__attribute__((export_name("reactor_get")))
int32_t reactor_get(void) { return counter; }

/* () -> i32: "hello from reactor\n" to stdout (flushed, since a reactor has no exit to flush
 * at); returns 0. */
__attribute__((export_name("reactor_hello")))
int32_t reactor_hello(void) {
    printf("hello from reactor\n");
    fflush(stdout);
    return 0;
}
