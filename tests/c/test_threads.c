/* Threads spawning from one cached module, and one instance contended across threads. */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>

static const char *MODULE =
    "(module"
    "  (func (export \"square\") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))"
    "  (func (export \"spin\") (param i32) (result i32)"
    "    (loop $l (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br_if $l (local.get 0)))"
    "    (i32.const 1)))";

enum { THREADS = 4, SPAWNS = 25 };

struct worker {
    packr_runtime *runtime;
    const packr_module *cached;
    int failures;
};

static void *spawner(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < SPAWNS; i++) {
        packr_module *hit = NULL;
        packr_instance *instance = NULL;
        packr_val x = harness_i32(i), y;
        if (packr_runtime_wrap_module(w->runtime, w->cached, &hit) != PACKR_OK ||
            packr_module_instantiate(hit, &instance) != PACKR_OK ||
            packr_instance_call(instance, "square", &x, 1, &y, 1) != PACKR_OK || y.of.i32 != i * i) {
            w->failures++;
        }
        packr_instance_free(instance);
        packr_module_free(hit);
    }
    return NULL;
}

static void many_spawners(void) {
    packr_runtime *base = NULL;
    CHECK_OK(packr_runtime_new(&base));
    packr_module *cached = harness_load(base, MODULE);
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t].cached = cached;
        workers[t].failures = 0;
        /* Half the threads use their own runtime over the shared engine. */
        workers[t].runtime = NULL;
        if (t % 2 == 0) CHECK_OK(packr_runtime_new_sharing_engine(base, &workers[t].runtime));
        else workers[t].runtime = base;
        CHECK(pthread_create(&threads[t], NULL, spawner, &workers[t]) == 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        CHECK(workers[t].failures == 0);
        if (workers[t].runtime != base) packr_runtime_free(workers[t].runtime);
    }
    packr_module_free(cached);
    packr_runtime_free(base);
}

struct spinner {
    packr_instance *instance;
    atomic_int started, finished;
    packr_status status;
};

static void *spin(void *arg) {
    struct spinner *s = arg;
    packr_val n = harness_i32(200000000), r;
    atomic_store(&s->started, 1);
    /* The other thread may hold the instance for a moment; that is BUSY for us too. */
    do {
        s->status = packr_instance_call(s->instance, "spin", &n, 1, &r, 1);
    } while (s->status == PACKR_ERR_BUSY);
    atomic_store(&s->finished, 1);
    return NULL;
}

/* While one thread is inside a call, another gets PACKR_ERR_BUSY, never a race. */
static void busy(void) {
    packr_runtime *runtime = NULL;
    CHECK_OK(packr_runtime_new(&runtime));
    packr_module *module = harness_load(runtime, MODULE);
    struct spinner s;
    CHECK_OK(packr_module_instantiate(module, &s.instance));
    atomic_init(&s.started, 0);
    atomic_init(&s.finished, 0);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, spin, &s) == 0);
    while (!atomic_load(&s.started)) {
    }
    int saw_busy = 0, unexpected = 0;
    while (!atomic_load(&s.finished) && !saw_busy) {
        packr_val x = harness_i32(3), y;
        packr_status status = packr_instance_call(s.instance, "square", &x, 1, &y, 1);
        if (status == PACKR_ERR_BUSY) {
            saw_busy = 1;
            CHECK_MESSAGE("in use by another call");
        } else if (status != PACKR_OK) {
            unexpected++;
        }
    }
    pthread_join(thread, NULL);
    CHECK(saw_busy);
    CHECK(unexpected == 0);
    CHECK(s.status == PACKR_OK);
    packr_instance_free(s.instance);
    packr_module_free(module);
    packr_runtime_free(runtime);
}

int main(void) {
    many_spawners();
    busy();
    return harness_finish("test_threads");
}
