/* Guardrails from a C host: timeouts, interrupts from other threads, interrupters that
 * outlive their instance, fuel, memory limits, guest recursion and compiling on small
 * thread stacks, and traps that do not depend on signals while the host owns SIGSEGV. */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *GUARD =
    "(module"
    "  (memory (export \"memory\") 1)"
    "  (func (export \"spin\") (loop $l (br $l)))"
    "  (func $deep (export \"deep\") (param i32) (result i32)"
    "    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))"
    "      (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))))"
    "  (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0)))"
    "  (func (export \"load\") (param i32) (result i32) (i32.load (local.get 0)))"
    "  (func (export \"one\") (result i32) (i32.const 1)))";

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static packr_instance *instance_with(const packr_module *module, uint64_t timeout_ms) {
    packr_instance_config *config = NULL;
    packr_instance *instance = NULL;
    CHECK_OK(packr_instance_config_new(&config));
    CHECK_OK(packr_instance_config_set_timeout_ms(config, timeout_ms));
    CHECK_OK(packr_module_instantiate_with(module, config, NULL, &instance));
    packr_instance_config_free(config);
    return instance;
}

/* A 10 ms timeout on an endless loop, 100 times: each returns PACKR_ERR_TIMEOUT and the
 * instance keeps working. Prints the median and p99 (the benchmark suite owns the figures;
 * here only a generous bound is checked). */
static void timeouts(const packr_module *module) {
    enum { TRIES = 100 };
    packr_instance *instance = instance_with(module, 10);
    double took[TRIES];
    packr_val one;
    for (int i = 0; i < TRIES; i++) {
        double start = now_ms();
        CHECK_STATUS(packr_instance_call(instance, "spin", NULL, 0, NULL, 0), PACKR_ERR_TIMEOUT);
        took[i] = now_ms() - start;
        CHECK(took[i] >= 10.0);
        CHECK_OK(packr_instance_call(instance, "one", NULL, 0, &one, 1));
    }
    CHECK_STATUS(packr_instance_call(instance, "spin", NULL, 0, NULL, 0), PACKR_ERR_TIMEOUT);
    CHECK_MESSAGE("the call was stopped by its timeout of 10 ms");
    qsort(took, TRIES, sizeof took[0], by_value);
    CHECK(took[TRIES / 2] < 5000.0);
    printf("timeout 10 ms: returned after median %.2f ms, p99 %.2f ms\n", took[TRIES / 2], took[TRIES * 99 / 100]);
    packr_instance_free(instance);
}

struct stopper {
    packr_interrupter *interrupter;
    atomic_int go;
    double sent_ms;
};

static void *stop_later(void *arg) {
    struct stopper *s = arg;
    while (atomic_load(&s->go) == 0) sched_yield();
    usleep(20 * 1000);
    s->sent_ms = now_ms();
    if (packr_interrupter_interrupt(s->interrupter) != PACKR_OK) abort();
    return NULL;
}

static void interrupts(const packr_module *module) {
    packr_instance *instance = NULL;
    CHECK_OK(packr_module_instantiate(module, &instance));
    /* While idle: the next call stops, then calls work again. */
    CHECK_OK(packr_instance_interrupt(instance));
    CHECK_STATUS(packr_instance_call(instance, "spin", NULL, 0, NULL, 0), PACKR_ERR_INTERRUPTED);
    CHECK_MESSAGE("interrupted");
    packr_val one;
    CHECK_OK(packr_instance_call(instance, "one", NULL, 0, &one, 1));
    /* While running, from another thread, through an interrupter. */
    struct stopper s = {.interrupter = NULL, .go = 0, .sent_ms = 0};
    CHECK_OK(packr_instance_interrupter(instance, &s.interrupter));
    pthread_t thread;
    pthread_create(&thread, NULL, stop_later, &s);
    atomic_store(&s.go, 1);
    CHECK_STATUS(packr_instance_call(instance, "spin", NULL, 0, NULL, 0), PACKR_ERR_INTERRUPTED);
    double stopped = now_ms();
    pthread_join(thread, NULL);
    printf("interrupt from another thread: the call returned %.3f ms after it was sent\n", stopped - s.sent_ms);
    CHECK(stopped - s.sent_ms < 5000.0);
    CHECK_OK(packr_instance_call(instance, "one", NULL, 0, &one, 1));
    /* A call-scoped interrupt while idle leaves nothing for the next call. */
    CHECK_OK(packr_instance_interrupt_call(instance));
    CHECK_OK(packr_interrupter_interrupt_call(s.interrupter));
    CHECK_OK(packr_instance_call(instance, "one", NULL, 0, &one, 1));
    CHECK_STATUS(packr_instance_interrupt_call(NULL), PACKR_ERR_NULL_POINTER);
    /* The interrupter outlives the instance and is then a no-op. */
    packr_instance_free(instance);
    CHECK_OK(packr_interrupter_interrupt(s.interrupter));
    CHECK_OK(packr_interrupter_interrupt_call(s.interrupter));
    packr_interrupter_free(s.interrupter);
    packr_interrupter_free(NULL);
    CHECK_STATUS(packr_instance_interrupt(NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_interrupter_interrupt(NULL), PACKR_ERR_NULL_POINTER);
}

static void fuel_and_limits(void) {
    packr_config *config = NULL;
    packr_runtime *runtime = NULL;
    CHECK_OK(packr_config_new(&config));
    CHECK_OK(packr_config_set_fuel(config, true));
    CHECK_OK(packr_runtime_new_with_config(config, &runtime));
    packr_config_free(config);
    packr_module *module = harness_load(runtime, GUARD);
    packr_instance_config *options = NULL;
    packr_instance *instance = NULL;
    CHECK_OK(packr_instance_config_new(&options));
    CHECK_OK(packr_instance_config_set_fuel(options, 5000));
    CHECK_OK(packr_instance_config_set_memory_limit(options, 2 << 16));
    CHECK_OK(packr_module_instantiate_with(module, options, NULL, &instance));
    packr_instance_config_free(options);
    uint64_t fuel = 0;
    CHECK_OK(packr_instance_fuel(instance, &fuel));
    CHECK(fuel == 5000);
    CHECK_STATUS(packr_instance_call(instance, "spin", NULL, 0, NULL, 0), PACKR_ERR_OUT_OF_FUEL);
    CHECK_MESSAGE("ran out of fuel");
    CHECK_OK(packr_instance_add_fuel(instance, 1000));
    packr_val pages = harness_i32(1), old;
    CHECK_OK(packr_instance_call(instance, "grow", &pages, 1, &old, 1));
    CHECK(old.of.i32 == 1);
    CHECK_OK(packr_instance_call(instance, "grow", &pages, 1, &old, 1));
    CHECK(old.of.i32 == -1); /* a third page is past the limit */
    packr_instance_free(instance);
    packr_module_free(module);
    packr_runtime_free(runtime);
}

/* Deep recursion on threads with small stacks traps; compiling on one works. */
struct small {
    const packr_module *module;
    const packr_runtime *runtime;
    packr_status deep, compiled;
    int32_t after;
};

static void *on_small_stack(void *arg) {
    struct small *s = arg;
    packr_instance *instance = NULL;
    packr_val depth = harness_i32(100000000), result;
    if (packr_module_instantiate(s->module, &instance) == PACKR_OK) {
        s->deep = packr_instance_call(instance, "deep", &depth, 1, &result, 1);
        depth = harness_i32(1000);
        s->after = packr_instance_call(instance, "deep", &depth, 1, &result, 1) == PACKR_OK ? result.of.i32 : -1;
    }
    packr_instance_free(instance);
    packr_module *fresh = NULL;
    s->compiled = packr_module_load(s->runtime, (const uint8_t *)GUARD, strlen(GUARD), &fresh);
    packr_module_free(fresh);
    return NULL;
}

static void small_stacks(const packr_runtime *runtime, const packr_module *module) {
    size_t sizes[] = {128 << 10, 192 << 10, 256 << 10, 512 << 10};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        struct small s = {.module = module, .runtime = runtime, .deep = -1, .compiled = -1, .after = 0};
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        CHECK(pthread_attr_setstacksize(&attr, sizes[i]) == 0);
        pthread_t thread;
        CHECK(pthread_create(&thread, &attr, on_small_stack, &s) == 0);
        pthread_join(thread, NULL);
        pthread_attr_destroy(&attr);
        CHECK(s.deep == PACKR_ERR_TRAP);
        CHECK(s.after == 1000);
        CHECK(s.compiled == PACKR_OK);
    }
    /* And on this thread's own stack. */
    packr_instance *instance = NULL;
    packr_val depth = harness_i32(100000000), result;
    CHECK_OK(packr_module_instantiate(module, &instance));
    CHECK_STATUS(packr_instance_call(instance, "deep", &depth, 1, &result, 1), PACKR_ERR_TRAP);
    CHECK_MESSAGE("call stack exhausted");
    packr_instance_free(instance);
}

static void host_owned_segv(int sig) {
    (void)sig;
    static const char said[] = "the host's own SIGSEGV handler ran: a trap relied on a signal\n";
    if (write(2, said, sizeof said - 1) < 0) {}
    _exit(99);
}

/* With signals_based_traps off, a host may take SIGSEGV, SIGBUS, SIGILL and SIGFPE for
 * itself after making the runtime, and traps still come back as statuses. Runs in a fresh
 * process (this program run again), where no engine with signal handlers exists. */
static int no_signals_child(void) {
    {
        packr_config *config = NULL;
        packr_runtime *runtime = NULL;
        packr_instance *instance = NULL;
        int bad = packr_config_new(&config) != PACKR_OK || packr_config_set_signals_based_traps(config, false) != PACKR_OK ||
                  packr_runtime_new_with_config(config, &runtime) != PACKR_OK;
        packr_config_free(config);
        packr_module *module = bad ? NULL : harness_load(runtime, GUARD);
        bad = bad || packr_module_instantiate(module, &instance) != PACKR_OK;
        int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
        for (int i = 0; i < 4; i++) signal(signals[i], host_owned_segv);
        packr_val past = harness_i32(1 << 20), value;
        bad = bad || packr_instance_call(instance, "load", &past, 1, &value, 1) != PACKR_ERR_TRAP;
        bad = bad || strstr(packr_last_error(), "out of bounds memory access") == NULL;
        packr_val depth = harness_i32(100000000);
        bad = bad || packr_instance_call(instance, "deep", &depth, 1, &value, 1) != PACKR_ERR_TRAP;
        packr_instance_free(instance);
        packr_module_free(module);
        packr_runtime_free(runtime);
        return bad ? 1 : 0;
    }
}

static void traps_without_signals(void) {
    /* readlink, not /proc/self/exe itself: under valgrind only the former names this program. */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    if (n <= 0) return;
    self[n] = '\0';
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        execl(self, "test_guard", "no-signals", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "no-signals") == 0) return no_signals_child();
    packr_runtime *runtime = NULL;
    CHECK_OK(packr_runtime_new(&runtime));
    packr_module *module = harness_load(runtime, GUARD);
    timeouts(module);
    interrupts(module);
    fuel_and_limits();
    small_stacks(runtime, module);
    packr_module_free(module);
    packr_runtime_free(runtime);
    traps_without_signals();
    return harness_finish("test_guard");
}
