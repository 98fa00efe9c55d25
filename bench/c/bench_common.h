/*
 * The measurement every C driver shares: command line, timing, statistics, VmRSS and the
 * one JSON line. A driver supplies a compiled module and three callbacks; bench_measure()
 * does the rest, in the same order as every other driver in bench/:
 *   warm-up (100 spawns), N single-threaded timed spawns, N spawns over T threads, then
 *   `live` instances held at once for the RSS figure.
 * Include this first: it sets the POSIX feature level for the system headers.
 */
#ifndef PACKR_BENCH_COMMON_H
#define PACKR_BENCH_COMMON_H

#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_EXPECTED_VERSION 3046000
#define BENCH_WARMUP 100
/* Pool limits every pooling driver uses: slots for max(live, threads) + headroom, 64 MiB
 * per memory (sqlite.wasm starts at 4 MiB). */
#define BENCH_POOL_HEADROOM 64
#define BENCH_POOL_MEMORY_BYTES (64ull << 20)

typedef struct bench_args {
    const char *wasm;
    size_t spawns;
    size_t threads;
    size_t live;
    const char *mode;
    bool quick;
    /* The cache mode: the directory its disk cache uses, and the phase ("first": fill the
     * empty directory; "hit": one load from it, in this fresh process). */
    const char *cache_dir;
    const char *cache_phase;
} bench_args;

/* What a driver plugs in. `spawn` creates, calls and drops one instance; `live_new` creates
 * and calls one and keeps it; `live_free` drops what `live_new` made. Each returns or
 * handles failure itself by printing to stderr and exiting 1. */
typedef struct bench_driver {
    void *ctx;
    void (*spawn)(void *ctx);
    void *(*live_new)(void *ctx);
    void (*live_free)(void *ctx, void *instance);
} bench_driver;

static inline void bench_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static inline double bench_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline size_t bench_pool_instances(const bench_args *a) {
    return (a->live > a->threads ? a->live : a->threads) + BENCH_POOL_HEADROOM;
}

static inline size_t bench_number(const char *prog, const char *flag, const char *value) {
    char *end = NULL;
    unsigned long long n = strtoull(value, &end, 10);
    if (value[0] == '\0' || *end != '\0' || n == 0) {
        bench_die("%s: %s needs a positive number, not '%s'", prog, flag, value);
    }
    return (size_t)n;
}

/* `modes` is a NULL-terminated list; the first is the default. */
static inline bench_args bench_parse(int argc, char **argv, const char *const *modes) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    bench_args a = {"build/guest/sqlite.wasm", 10000, cpus > 0 ? (size_t)cpus : 1, 1000, modes[0], false, NULL,
                    "first"};
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--quick") == 0) {
            a.spawns = 300;
            a.live = 50;
            a.quick = true;
            continue;
        }
        if (i + 1 >= argc) {
            bench_die("%s: %s needs a value", argv[0], flag);
        }
        const char *value = argv[++i];
        if (strcmp(flag, "--wasm") == 0) {
            a.wasm = value;
        } else if (strcmp(flag, "--spawns") == 0) {
            a.spawns = bench_number(argv[0], flag, value);
        } else if (strcmp(flag, "--threads") == 0) {
            a.threads = bench_number(argv[0], flag, value);
        } else if (strcmp(flag, "--live") == 0) {
            a.live = bench_number(argv[0], flag, value);
        } else if (strcmp(flag, "--mode") == 0) {
            const char *const *m = modes;
            while (*m && strcmp(*m, value) != 0) {
                m++;
            }
            if (!*m) {
                bench_die("%s: unknown mode '%s'", argv[0], value);
            }
            a.mode = *m;
        } else if (strcmp(flag, "--cache-dir") == 0) {
            a.cache_dir = value;
        } else if (strcmp(flag, "--cache-phase") == 0) {
            if (strcmp(value, "first") != 0 && strcmp(value, "hit") != 0) {
                bench_die("%s: unknown cache phase '%s' (first or hit)", argv[0], value);
            }
            a.cache_phase = value;
        } else {
            bench_die("usage: %s [--wasm PATH] [--spawns N] [--threads T] [--live N] [--mode M] [--quick] "
                      "[--cache-dir D] [--cache-phase first|hit]", argv[0]);
        }
    }
    return a;
}

/* The whole file, malloc'd; the caller frees it. */
static inline uint8_t *bench_read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        bench_die("cannot open %s", path);
    }
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    if (!buf) {
        bench_die("out of memory reading %s", path);
    }
    *len_out = len;
    return buf;
}

static inline long bench_vm_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return kib;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static inline double bench_percentile(const double *sorted, size_t n, double p) {
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > n) {
        rank = n;
    }
    return sorted[rank - 1];
}

typedef struct bench_worker {
    const bench_driver *driver;
    pthread_barrier_t *barrier;
    size_t share;
    double start, end;
} bench_worker;

static inline void *bench_worker_main(void *p) {
    bench_worker *w = p;
    pthread_barrier_wait(w->barrier);
    w->start = bench_now_s();
    for (size_t i = 0; i < w->share; i++) {
        w->driver->spawn(w->driver->ctx);
    }
    w->end = bench_now_s();
    return NULL;
}

/* Runs the measurement and prints the JSON line. */
static inline void bench_measure(const char *system, const bench_args *a, double compile_ms, const bench_driver *d) {
    for (size_t i = 0; i < BENCH_WARMUP; i++) {
        d->spawn(d->ctx);
    }

    double *samples = malloc(a->spawns * sizeof *samples);
    if (!samples) {
        bench_die("out of memory");
    }
    double loop_start = bench_now_s();
    for (size_t i = 0; i < a->spawns; i++) {
        double t = bench_now_s();
        d->spawn(d->ctx);
        samples[i] = (bench_now_s() - t) * 1e6;
    }
    double per_sec_1 = (double)a->spawns / (bench_now_s() - loop_start);
    qsort(samples, a->spawns, sizeof *samples, bench_cmp_double);

    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)a->threads + 1);
    pthread_t *tids = malloc(a->threads * sizeof *tids);
    bench_worker *workers = malloc(a->threads * sizeof *workers);
    if (!tids || !workers) {
        bench_die("out of memory");
    }
    for (size_t i = 0; i < a->threads; i++) {
        workers[i] = (bench_worker){d, &barrier, a->spawns / a->threads + (i < a->spawns % a->threads), 0, 0};
        if (pthread_create(&tids[i], NULL, bench_worker_main, &workers[i]) != 0) {
            bench_die("cannot start thread %zu", i);
        }
    }
    pthread_barrier_wait(&barrier);
    /* Each worker times itself: the main thread may not run again until they are done. */
    double first = 0, last = 0;
    for (size_t i = 0; i < a->threads; i++) {
        pthread_join(tids[i], NULL);
        first = (i == 0 || workers[i].start < first) ? workers[i].start : first;
        last = workers[i].end > last ? workers[i].end : last;
    }
    double per_sec_all = (double)a->spawns / (last - first);
    pthread_barrier_destroy(&barrier);

    void **live = malloc(a->live * sizeof *live);
    if (!live) {
        bench_die("out of memory");
    }
    long before = bench_vm_rss_kib();
    for (size_t i = 0; i < a->live; i++) {
        live[i] = d->live_new(d->ctx);
    }
    double rss_mib = (double)(bench_vm_rss_kib() - before) / 1024.0;
    for (size_t i = 0; i < a->live; i++) {
        d->live_free(d->ctx, live[i]);
    }

    printf("{\"system\": \"%s\", \"mode\": \"%s\", \"compile_ms\": %.3f, \"spawn_median_us\": %.3f, "
           "\"spawn_p99_us\": %.3f, \"spawns\": %zu, \"spawns_per_sec_1\": %.1f, \"spawns_per_sec_all\": %.1f, "
           "\"threads_all\": %zu, \"rss_1000_live_mib\": %.3f}\n",
           system, a->mode, compile_ms, bench_percentile(samples, a->spawns, 50),
           bench_percentile(samples, a->spawns, 99), a->spawns, per_sec_1, per_sec_all, a->threads, rss_mib);
    fflush(stdout);
    free(live);
    free(workers);
    free(tids);
    free(samples);
}

/*
 * The calls mode (bench/README.md): per-call costs on one live instance of
 * build/guest/calls.wasm. A driver supplies up to four measured operations; a NULL one is
 * reported as null.
 */
#define BENCH_CALL_BATCHES 5
#define BENCH_CALL_WARMUP 1000

typedef struct bench_calls {
    void *ctx;
    /* add(1, 2): returns what the guest returned (checked to be 3). */
    int32_t (*call)(void *ctx);
    int32_t (*call_fast)(void *ctx);
    /* host_loop(n): returns what the guest returned (checked to be n). */
    int32_t (*host_loop)(void *ctx, int32_t n);
    int32_t (*host_loop_fast)(void *ctx, int32_t n);
} bench_calls;

/* Median over batches of the per-call time of `call`, in ns. */
static inline double bench_time_call(int32_t (*call)(void *), void *ctx, size_t batch) {
    double per_call[BENCH_CALL_BATCHES];
    for (size_t i = 0; i < BENCH_CALL_WARMUP; i++) {
        if (call(ctx) != 3) bench_die("add(1, 2) did not return 3");
    }
    for (int b = 0; b < BENCH_CALL_BATCHES; b++) {
        double t = bench_now_s();
        for (size_t i = 0; i < batch; i++) {
            if (call(ctx) != 3) bench_die("add(1, 2) did not return 3");
        }
        per_call[b] = (bench_now_s() - t) * 1e9 / (double)batch;
    }
    qsort(per_call, BENCH_CALL_BATCHES, sizeof per_call[0], bench_cmp_double);
    return per_call[BENCH_CALL_BATCHES / 2];
}

/* Median over runs of host_loop(n)'s time per host call, in ns. */
static inline double bench_time_host(int32_t (*loop)(void *, int32_t), void *ctx, int32_t n) {
    double per_call[BENCH_CALL_BATCHES];
    if (loop(ctx, BENCH_CALL_WARMUP) != BENCH_CALL_WARMUP) bench_die("host_loop returned the wrong count");
    for (int b = 0; b < BENCH_CALL_BATCHES; b++) {
        double t = bench_now_s();
        if (loop(ctx, n) != n) bench_die("host_loop(%d) returned the wrong count", (int)n);
        per_call[b] = (bench_now_s() - t) * 1e9 / (double)n;
    }
    qsort(per_call, BENCH_CALL_BATCHES, sizeof per_call[0], bench_cmp_double);
    return per_call[BENCH_CALL_BATCHES / 2];
}

static inline void bench_print_ns(const char *field, double ns, bool present) {
    if (present) {
        printf(", \"%s\": %.3f", field, ns);
    } else {
        printf(", \"%s\": null", field);
    }
}

/* Measures and prints the calls mode's JSON line. */
static inline void bench_measure_calls(const char *system, const bench_args *a, const bench_calls *c, const char *notes) {
    size_t batch = a->quick ? 20000 : 200000;
    int32_t n = a->quick ? 100000 : 1000000;
    double call = c->call ? bench_time_call(c->call, c->ctx, batch) : 0;
    double fast = c->call_fast ? bench_time_call(c->call_fast, c->ctx, batch) : 0;
    double host = c->host_loop ? bench_time_host(c->host_loop, c->ctx, n) : 0;
    double host_fast = c->host_loop_fast ? bench_time_host(c->host_loop_fast, c->ctx, n) : 0;
    printf("{\"system\": \"%s\", \"mode\": \"calls\"", system);
    bench_print_ns("call_ns", call, c->call != NULL);
    bench_print_ns("call_fast_ns", fast, c->call_fast != NULL);
    bench_print_ns("host_call_ns", host, c->host_loop != NULL);
    bench_print_ns("host_call_fast_ns", host_fast, c->host_loop_fast != NULL);
    printf(", \"notes\": \"%s\"}\n", notes);
    fflush(stdout);
}

#endif /* PACKR_BENCH_COMMON_H */
