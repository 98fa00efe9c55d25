/* tests/wasi/probe.c - build/guest/wasi_probe.wasm: a wasm32-wasi command that exercises one
 * WASI preview 1 feature per run, so one module serves every WASI test. argv[1] picks the mode:
 *
 *   args          each argv element (argv[0] too) on its own line, to stdout
 *   env           each environ entry NAME=VALUE on its own line, in order
 *   stdin         copies stdin to stdout, then "read N bytes\n" to stderr
 *   streams       "to stdout\n" to stdout, "to stderr\n" to stderr
 *   files DIR     in the preopened guest dir DIR: prints DIR/in.txt, writes DIR/out.txt,
 *                 lists DIR ("entry: NAME", sorted), then checks that DIR/../outside.txt and
 *                 /etc/passwd cannot be opened ("refused: PATH", or "opened: PATH")
 *   clock         "realtime ok" (year >= 2024), "monotonic ok" (non-decreasing)
 *   random        "random ok" if two getentropy() buffers differ and are not all zero
 *   exit N        exit(N), i.e. proc_exit(N)
 *   return        prints "done", returns 0 from main
 *   flood N       N bytes of 'x' to stdout in 64 KiB chunks
 *
 * Anything else (or no mode): "unknown mode" to stderr, exit 2. A failed check or I/O error
 * prints one line naming it to stderr and exits 1. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int fail(const char *what, const char *detail) {
    fprintf(stderr, "%s: %s\n", what, detail);
    return 1;
}

/* Writes all of buf to fd, retrying short writes. */
static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int mode_args(int argc, char **argv) {
    for (int i = 0; i < argc; i++) printf("%s\n", argv[i]);
    return 0;
}

static int mode_env(void) {
    for (char **e = environ; e && *e; e++) printf("%s\n", *e);
    return 0;
}

static int mode_stdin(void) {
    static char buf[65536];
    unsigned long long total = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail("read stdin", strerror(errno));
        }
        if (n == 0) break;
        if (write_all(1, buf, (size_t)n) < 0) return fail("write stdout", strerror(errno));
        total += (unsigned long long)n;
    }
    fprintf(stderr, "read %llu bytes\n", total);
    return 0;
}

static int mode_streams(void) {
    /* Unbuffered writes, so the order on a shared terminal is the order here. */
    if (write_all(1, "to stdout\n", 10) < 0) return fail("write stdout", strerror(errno));
    if (write_all(2, "to stderr\n", 10) < 0) return 1;
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Tries to open path for reading; success is the failure here. */
static void try_escape(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        printf("opened: %s\n", path);
        close(fd);
    } else {
        printf("refused: %s\n", path);
    }
}

static int mode_files(const char *dir) {
    char path[4096];

    snprintf(path, sizeof path, "%s/in.txt", dir);
    FILE *in = fopen(path, "rb");
    if (!in) return fail(path, strerror(errno));
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, stdout);
    fclose(in);

    snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *out = fopen(path, "wb");
    if (!out) return fail(path, strerror(errno));
    fputs("written by wasm\n", out);
    if (fclose(out) != 0) return fail(path, strerror(errno));

    DIR *d = opendir(dir);
    if (!d) return fail(dir, strerror(errno));
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, cap * sizeof *names);
            if (!names) return fail("readdir", "out of memory");
        }
        names[count++] = strdup(ent->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof *names, cmp_names);
    for (size_t i = 0; i < count; i++) {
        printf("entry: %s\n", names[i]);
        free(names[i]);
    }
    free(names);

    snprintf(path, sizeof path, "%s/../outside.txt", dir);
    try_escape(path);
    try_escape("/etc/passwd");
    return 0;
}

static int mode_clock(void) {
    struct timespec real, t0, t1;
    if (clock_gettime(CLOCK_REALTIME, &real) != 0) return fail("CLOCK_REALTIME", strerror(errno));
    if (real.tv_sec < 1704067200) /* 2024-01-01T00:00:00Z */
        return fail("realtime before 2024", "check the host clock");
    printf("realtime ok\n");

    if (clock_gettime(CLOCK_MONOTONIC, &t0) != 0) return fail("CLOCK_MONOTONIC", strerror(errno));
    volatile uint64_t spin = 0;
    for (int i = 0; i < 1000000; i++) spin += (uint64_t)i;
    (void)spin;
    if (clock_gettime(CLOCK_MONOTONIC, &t1) != 0) return fail("CLOCK_MONOTONIC", strerror(errno));
    if (t1.tv_sec < t0.tv_sec || (t1.tv_sec == t0.tv_sec && t1.tv_nsec < t0.tv_nsec))
        return fail("monotonic clock", "went backwards");
    printf("monotonic ok\n");
    return 0;
}

static int mode_random(void) {
    unsigned char a[32], b[32], zero[32] = {0};
    if (getentropy(a, sizeof a) != 0 || getentropy(b, sizeof b) != 0)
        return fail("getentropy", strerror(errno));
    if (!memcmp(a, b, sizeof a)) return fail("random", "two buffers are equal");
    if (!memcmp(a, zero, sizeof a) || !memcmp(b, zero, sizeof b)) return fail("random", "all zero");
    printf("random ok\n");
    return 0;
}

static int mode_flood(const char *count) {
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    unsigned long long left = strtoull(count, NULL, 10);
    while (left > 0) {
        size_t n = left < sizeof chunk ? (size_t)left : sizeof chunk;
        if (write_all(1, chunk, n) < 0) return fail("flood: write stdout", strerror(errno));
        left -= n;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "args")) return mode_args(argc, argv);
    if (!strcmp(mode, "env")) return mode_env();
    if (!strcmp(mode, "stdin")) return mode_stdin();
    if (!strcmp(mode, "streams")) return mode_streams();
    if (!strcmp(mode, "files") && argc > 2) return mode_files(argv[2]);
    if (!strcmp(mode, "clock")) return mode_clock();
    if (!strcmp(mode, "random")) return mode_random();
    if (!strcmp(mode, "exit") && argc > 2) exit(atoi(argv[2]));
    if (!strcmp(mode, "return")) {
        printf("done\n");
        return 0;
    }
    if (!strcmp(mode, "flood") && argc > 2) return mode_flood(argv[2]);
    fprintf(stderr, "unknown mode\n");
    return 2;
}
