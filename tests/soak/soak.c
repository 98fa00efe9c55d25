/* The soak: THREADS threads each spawn SPAWNS instances of one cached module on a pooled
 * runtime and mix in calls, traps, timeouts, interrupts (from a watchdog thread and while
 * idle), fuel exhaustion and refused memory growth; then checks that resident memory ended
 * within a small bound of where it stood after a warm-up.
 *
 *   soak [SPAWNS_PER_THREAD]   (default 100000; `make soak`, and briefly in `make test`) */
#define _GNU_SOURCE
#include "packr.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { THREADS = 8 };
/* Resident memory may end at most this far above where it stood after the warm-up. */
static const long BOUND_KIB = 16 * 1024;

static const char *MODULE =
    "(module"
    "  (memory (export \"memory\") 1 64)"
    "  (func (export \"work\") (param i32) (result i32) (local i32)"
    "    (loop $l (local.set 1 (i32.add (local.get 1) (local.get 0)))"
    "      (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br_if $l (local.get 0)))"
    "    (i32.store (i32.const 64) (local.get 1)) (local.get 1))"
    "  (func (export \"div\") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))"
    "  (func (export \"spin\") (loop $l (br $l)))"
    "  (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get 0))))";

struct tally {
    long ok, traps, timeouts, interrupts, fuel, refused, failures;
};

struct worker {
    const packr_runtime *runtime;
    const packr_module *module;
    long spawns;
    struct tally tally;
    /* The instance the watchdog may interrupt, or NULL; it holds an interrupter. */
    _Atomic(packr_interrupter *) running;
};

static atomic_int stop_watchdog;

static long resident_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void note(struct tally *t, packr_status got, packr_status want) {
    if (got != want) {
        if (t->failures++ < 5) fprintf(stderr, "soak: got %s, want %s: %s\n", packr_status_name(got), packr_status_name(want), packr_last_error());
        return;
    }
    switch (got) {
    case PACKR_OK: t->ok++; break;
    case PACKR_ERR_TRAP: t->traps++; break;
    case PACKR_ERR_TIMEOUT: t->timeouts++; break;
    case PACKR_ERR_INTERRUPTED: t->interrupts++; break;
    case PACKR_ERR_OUT_OF_FUEL: t->fuel++; break;
    default: break;
    }
}

/* `roomy` gives fuel that lasts; `hungry` runs out in the fuel case's spin. */
static void spawn_once(struct worker *w, long i, packr_instance_config *roomy, packr_instance_config *hungry) {
    packr_instance *instance = NULL;
    packr_status got = packr_module_instantiate_with(w->module, i % 1000 == 4 ? hungry : roomy, NULL, &instance);
    if (got != PACKR_OK) {
        note(&w->tally, got, PACKR_OK);
        return;
    }
    packr_val arg = {.kind = PACKR_I32, .of.i32 = (int32_t)(i % 100) + 1}, result;
    note(&w->tally, packr_instance_call(instance, "work", &arg, 1, &result, 1), PACKR_OK);
    switch (i % 10) {
    case 1: { /* a trap */
        packr_val zero = {.kind = PACKR_I32, .of.i32 = 0};
        note(&w->tally, packr_instance_call(instance, "div", &zero, 1, &result, 1), PACKR_ERR_TRAP);
        break;
    }
    case 2: /* an interrupt while idle stops the next call */
        packr_instance_interrupt(instance);
        note(&w->tally, packr_instance_call(instance, "spin", NULL, 0, NULL, 0), PACKR_ERR_INTERRUPTED);
        break;
    case 3: { /* growth past the limit is refused */
        packr_val pages = {.kind = PACKR_I32, .of.i32 = 8};
        if (packr_instance_call(instance, "grow", &pages, 1, &result, 1) == PACKR_OK && result.of.i32 == -1) w->tally.refused++;
        else w->tally.failures++;
        break;
    }
    case 4: /* fuel runs out */
        if (i % 1000 == 4) {
            note(&w->tally, packr_instance_call(instance, "spin", NULL, 0, NULL, 0), PACKR_ERR_OUT_OF_FUEL);
            packr_instance_add_fuel(instance, 1000);
            note(&w->tally, packr_instance_call(instance, "work", &arg, 1, &result, 1), PACKR_OK);
        }
        break;
    case 5: /* a timeout, now and then (each costs its 1 ms) */
        if (i % 500 == 5) {
            packr_instance_set_timeout_ms(instance, 1);
            note(&w->tally, packr_instance_call(instance, "spin", NULL, 0, NULL, 0), PACKR_ERR_TIMEOUT);
        }
        break;
    case 6: /* an interrupt from the watchdog while the guest spins */
        if (i % 500 == 6) {
            packr_interrupter *interrupter = NULL;
            packr_instance_interrupter(instance, &interrupter);
            atomic_store(&w->running, interrupter);
            packr_status stopped = packr_instance_call(instance, "spin", NULL, 0, NULL, 0);
            /* Take it back, waiting while the watchdog holds it. */
            while (atomic_exchange(&w->running, NULL) == NULL) sched_yield();
            note(&w->tally, stopped, PACKR_ERR_INTERRUPTED);
            packr_interrupter_free(interrupter);
        }
        break;
    default:
        break;
    }
    packr_instance_free(instance);
}

static packr_instance_config *options(uint64_t fuel) {
    packr_instance_config *config = NULL;
    if (packr_instance_config_new(&config) != PACKR_OK || packr_instance_config_set_memory_limit(config, 4 << 16) != PACKR_OK ||
        packr_instance_config_set_fuel(config, fuel) != PACKR_OK) {
        fprintf(stderr, "soak: %s\n", packr_last_error());
        exit(2);
    }
    return config;
}

static void *spawner(void *arg) {
    struct worker *w = arg;
    packr_instance_config *roomy = options(UINT64_MAX), *hungry = options(100000);
    for (long i = 0; i < w->spawns; i++) spawn_once(w, i, roomy, hungry);
    packr_instance_config_free(roomy);
    packr_instance_config_free(hungry);
    return NULL;
}

/* Interrupts whatever instance a worker has published, taking the interrupter so that the
 * worker frees it only after this is done with it. */
static void *watchdog(void *arg) {
    struct worker *workers = arg;
    while (!atomic_load(&stop_watchdog)) {
        for (int t = 0; t < THREADS; t++) {
            packr_interrupter *interrupter = atomic_load(&workers[t].running);
            if (interrupter != NULL && atomic_compare_exchange_strong(&workers[t].running, &interrupter, NULL)) {
                packr_interrupter_interrupt(interrupter);
                atomic_store(&workers[t].running, interrupter);
            }
        }
        usleep(200);
    }
    return NULL;
}

static void run(struct worker *workers, const packr_runtime *runtime, const packr_module *module, long spawns) {
    pthread_t threads[THREADS], dog;
    atomic_store(&stop_watchdog, 0);
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (struct worker){.runtime = runtime, .module = module, .spawns = spawns};
        atomic_init(&workers[t].running, NULL);
        pthread_create(&threads[t], NULL, spawner, &workers[t]);
    }
    pthread_create(&dog, NULL, watchdog, workers);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    atomic_store(&stop_watchdog, 1);
    pthread_join(dog, NULL);
}

int main(int argc, char **argv) {
    long spawns = argc > 1 ? atol(argv[1]) : 100000;
    packr_config *config = NULL;
    packr_runtime *runtime = NULL;
    packr_module *module = NULL;
    if (packr_config_new(&config) != PACKR_OK || packr_config_set_pooling(config, true) != PACKR_OK ||
        packr_config_set_pool_instances(config, 64) != PACKR_OK || packr_config_set_pool_memory_bytes(config, 64 << 16) != PACKR_OK ||
        packr_config_set_fuel(config, true) != PACKR_OK || packr_runtime_new_with_config(config, &runtime) != PACKR_OK ||
        packr_module_load(runtime, (const uint8_t *)MODULE, strlen(MODULE), &module) != PACKR_OK) {
        fprintf(stderr, "soak: setup failed: %s\n", packr_last_error());
        return 2;
    }
    packr_config_free(config);
    static struct worker workers[THREADS];
    /* Warm-up: pool slots, the timer thread, lazily made state. */
    run(workers, runtime, module, spawns / 20 > 1000 ? 1000 : spawns / 20 + 1);
    long before = resident_kib();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run(workers, runtime, module, spawns);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long after = resident_kib();
    struct tally sum = {0};
    for (int t = 0; t < THREADS; t++) {
        struct tally *w = &workers[t].tally;
        sum.ok += w->ok, sum.traps += w->traps, sum.timeouts += w->timeouts, sum.interrupts += w->interrupts;
        sum.fuel += w->fuel, sum.refused += w->refused, sum.failures += w->failures;
    }
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("soak: %d threads x %ld spawns in %.1f s: %ld calls ok, %ld traps, %ld timeouts, %ld interrupts, "
           "%ld out of fuel, %ld refused growths, %ld failures\n",
           THREADS, spawns, seconds, sum.ok, sum.traps, sum.timeouts, sum.interrupts, sum.fuel, sum.refused, sum.failures);
    printf("soak: resident memory %ld KiB after the warm-up, %ld KiB at the end (%+ld KiB; bound %ld KiB)\n", before, after,
           after - before, BOUND_KIB);
    packr_module_free(module);
    packr_runtime_free(runtime);
    int bad = sum.failures != 0 || before < 0 || after - before > BOUND_KIB || sum.interrupts == 0 || sum.traps == 0;
    return bad ? 1 : 0;
}
