/* WASI preview 1 from a C host written only from packr.h: real wasm32-wasi programs built
 * from C with wasi-libc (build/guest/wasi_probe.wasm, wasi_reactor.wasm, quickjs.wasm; see
 * guest/build.sh), each compiled once and run from the cache with its own arguments,
 * environment, stdin, captured output and directories.
 * Usage: test_wasi [cases-dir] (the guests are found in $PACKR_GUESTS or build/guest). */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "harness.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* One run of a command: its status, exit code, and captured stdout and stderr (as
 * NUL-terminated strings the caller frees with run_free). */
typedef struct {
    packr_status status;
    int32_t exit_code;
    packr_bytes out, err;
    char *out_text, *err_text;
    uint64_t out_dropped;
} run_result;

static char *text_of(const packr_bytes *bytes) {
    char *text = malloc(bytes->len + 1);
    if (text == NULL) exit(2);
    if (bytes->len > 0) memcpy(text, bytes->data, bytes->len);
    text[bytes->len] = '\0';
    return text;
}

/* Instantiates `module` with `config` (stdout and stderr captured on top of it), runs it. */
static run_result run(const packr_module *module, packr_instance_config *config) {
    run_result r = {PACKR_OK, -1, {NULL, 0}, {NULL, 0}, NULL, NULL, 0};
    CHECK_OK(packr_instance_config_set_wasi_stdout(config, PACKR_WASI_CAPTURE));
    CHECK_OK(packr_instance_config_set_wasi_stderr(config, PACKR_WASI_CAPTURE));
    packr_instance *instance = NULL;
    r.status = packr_module_instantiate_with(module, config, NULL, &instance);
    if (r.status == PACKR_OK) r.status = packr_instance_run(instance, &r.exit_code);
    if (instance != NULL) {
        CHECK_OK(packr_instance_wasi_output(instance, 1, &r.out));
        CHECK_OK(packr_instance_wasi_output(instance, 2, &r.err));
        CHECK_OK(packr_instance_wasi_dropped(instance, 1, &r.out_dropped));
    }
    r.out_text = text_of(&r.out);
    r.err_text = text_of(&r.err);
    packr_instance_free(instance);
    return r;
}

static void run_free(run_result *r) {
    packr_bytes_free(&r->out);
    packr_bytes_free(&r->err);
    free(r->out_text);
    free(r->err_text);
}

static packr_instance_config *config_with_args(const char *const *argv, size_t argc) {
    packr_instance_config *config = NULL;
    CHECK_OK(packr_instance_config_new(&config));
    CHECK_OK(packr_instance_config_set_wasi_args(config, argv, argc));
    return config;
}

#define CHECK_RUN(r, code, out)                                                                  \
    do {                                                                                         \
        CHECK_OK((r).status);                                                                    \
        CHECK((r).exit_code == (code));                                                          \
        CHECK(strcmp((r).out_text, (out)) == 0);                                                 \
        if (strcmp((r).out_text, (out)) != 0) fprintf(stderr, "  stdout was \"%s\"\n", (r).out_text); \
    } while (0)

static void test_args_env_stdin_streams(const packr_module *probe) {
    const char *args[] = {"probe", "args", "two words", "\xc3\xbc"};
    packr_instance_config *config = config_with_args(args, 4);
    run_result r = run(probe, config);
    CHECK_RUN(r, 0, "probe\nargs\ntwo words\n\xc3\xbc\n");
    run_free(&r);

    const char *env_args[] = {"probe", "env"};
    CHECK_OK(packr_instance_config_set_wasi_args(config, env_args, 2));
    const char *names[] = {"ZED", "ALPHA"}, *values[] = {"last=1", "two"};
    CHECK_OK(packr_instance_config_set_wasi_env(config, names, values, 2));
    r = run(probe, config);
    CHECK_RUN(r, 0, "ZED=last=1\nALPHA=two\n");
    run_free(&r);

    const char *stdin_args[] = {"probe", "stdin"};
    CHECK_OK(packr_instance_config_set_wasi_args(config, stdin_args, 2));
    CHECK_OK(packr_instance_config_set_wasi_stdin(config, (const uint8_t *)"hello\n", 6));
    for (int i = 0; i < 2; i++) { /* each instance reads its own copy from the start */
        r = run(probe, config);
        CHECK_RUN(r, 0, "hello\n");
        CHECK(strcmp(r.err_text, "read 6 bytes\n") == 0);
        run_free(&r);
    }
    packr_instance_config_free(config);

    const char *streams[] = {"probe", "streams"};
    config = config_with_args(streams, 2);
    r = run(probe, config);
    CHECK_RUN(r, 0, "to stdout\n");
    CHECK(strcmp(r.err_text, "to stderr\n") == 0);
    run_free(&r);
    packr_instance_config_free(config);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL) return;
    fputs(text, f);
    fclose(f);
}

static void test_files(const packr_module *probe) {
    char parent[] = "/tmp/packr-wasi-XXXXXX";
    CHECK(mkdtemp(parent) != NULL);
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/data", parent);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/in.txt", dir);
    write_file(path, "from the host\n");
    snprintf(path, sizeof path, "%s/outside.txt", parent);
    write_file(path, "secret\n");

    const char *args[] = {"probe", "files", "/data"};
    packr_instance_config *config = config_with_args(args, 3);
    CHECK_OK(packr_instance_config_wasi_preopen_dir(config, dir, "/data", true));
    run_result r = run(probe, config);
    CHECK_RUN(r, 0,
              "from the host\nentry: in.txt\nentry: out.txt\nrefused: /data/../outside.txt\nrefused: /etc/passwd\n");
    run_free(&r);
    snprintf(path, sizeof path, "%s/out.txt", dir);
    size_t len = 0;
    unsigned char *written = harness_read_file(path, &len);
    CHECK(len == 16 && memcmp(written, "written by wasm\n", 16) == 0);
    free(written);
    CHECK(unlink(path) == 0);
    packr_instance_config_free(config);

    /* Read-only: reading works, writing is refused, nothing appears on the host. */
    config = config_with_args(args, 3);
    CHECK_OK(packr_instance_config_wasi_preopen_dir(config, dir, "/data", false));
    r = run(probe, config);
    CHECK_OK(r.status);
    CHECK(r.exit_code == 1);
    CHECK(strncmp(r.out_text, "from the host\n", 14) == 0);
    CHECK(access(path, F_OK) != 0);
    run_free(&r);

    /* A preopen that does not exist is refused at the call that names it. */
    CHECK_STATUS(packr_instance_config_wasi_preopen_dir(config, "/no/such/packr/dir", "/x", false), PACKR_ERR_NOT_FOUND);
    CHECK_MESSAGE("/no/such/packr/dir");
    snprintf(path, sizeof path, "%s/in.txt", dir);
    CHECK_STATUS(packr_instance_config_wasi_preopen_dir(config, path, "/x", false), PACKR_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE("not a directory");
    packr_instance_config_free(config);

    CHECK(unlink(path) == 0);
    snprintf(path, sizeof path, "%s/outside.txt", parent);
    CHECK(unlink(path) == 0);
    CHECK(rmdir(dir) == 0 && rmdir(parent) == 0);
}

static void test_clock_random_exit_flood(const packr_module *probe) {
    static const struct { const char *mode, *arg; int32_t code; const char *out; } runs[] = {
        {"clock", NULL, 0, "realtime ok\nmonotonic ok\n"},
        {"random", NULL, 0, "random ok\n"},
        {"exit", "7", 7, ""},
        {"exit", "0", 0, ""},
        {"return", NULL, 0, "done\n"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        const char *args[] = {"probe", runs[i].mode, runs[i].arg};
        packr_instance_config *config = config_with_args(args, runs[i].arg != NULL ? 3 : 2);
        run_result r = run(probe, config);
        CHECK_RUN(r, runs[i].code, runs[i].out);
        run_free(&r);
        packr_instance_config_free(config);
    }

    /* A guest that prints 3 MB keeps the host at the capture limit, and says what it dropped. */
    const char *flood[] = {"probe", "flood", "3000000"};
    packr_instance_config *config = config_with_args(flood, 3);
    CHECK_OK(packr_instance_config_set_wasi_capture_limit(config, 1000));
    run_result r = run(probe, config);
    CHECK_OK(r.status);
    CHECK(r.exit_code == 0 && r.out.len == 1000 && r.out_dropped == 3000000 - 1000);
    run_free(&r);
    packr_instance_config_free(config);
}

static void test_statuses(const packr_runtime *plain, const packr_module *probe, const packr_module *reactor) {
    /* Not captured: no output to take. Exit code before any exit: none. */
    packr_instance *instance = NULL;
    CHECK_OK(packr_module_instantiate_with(probe, NULL, NULL, &instance));
    packr_bytes bytes = {NULL, 0};
    CHECK_STATUS(packr_instance_wasi_output(instance, 1, &bytes), PACKR_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE("not captured");
    CHECK_STATUS(packr_instance_wasi_output(instance, 3, &bytes), PACKR_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(packr_instance_wasi_output(NULL, 1, &bytes), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_wasi_output(instance, 1, NULL), PACKR_ERR_NULL_POINTER);
    int32_t code = 99;
    CHECK_STATUS(packr_instance_exit_code(instance, &code), PACKR_ERR_NOT_FOUND);
    CHECK(code == 99);
    CHECK_STATUS(packr_instance_run(instance, NULL), PACKR_ERR_NULL_POINTER);
    CHECK_STATUS(packr_instance_run(NULL, &code), PACKR_ERR_NULL_POINTER);
    packr_instance_free(instance);

    /* A reactor's _initialize runs at instantiation; it has no _start to run. */
    packr_instance_config *config = NULL;
    CHECK_OK(packr_instance_config_new(&config));
    CHECK_OK(packr_instance_config_set_wasi_stdout(config, PACKR_WASI_CAPTURE));
    CHECK_OK(packr_module_instantiate_with(reactor, config, NULL, &instance));
    packr_val result = harness_i32(0);
    CHECK_OK(packr_instance_call(instance, "reactor_get", NULL, 0, &result, 1));
    CHECK(result.of.i32 == 41);
    CHECK_OK(packr_instance_call(instance, "reactor_hello", NULL, 0, &result, 1));
    CHECK_OK(packr_instance_wasi_output(instance, 1, &bytes));
    CHECK(bytes.len == 19 && memcmp(bytes.data, "hello from reactor\n", 19) == 0);
    packr_bytes_free(&bytes);
    CHECK_STATUS(packr_instance_run(instance, &code), PACKR_ERR_NOT_FOUND);
    CHECK_MESSAGE("not a WASI command");
    CHECK_STATUS(packr_instance_config_set_wasi_stdout(config, 7), PACKR_ERR_INVALID_ARGUMENT);
    packr_instance_free(instance);

    /* WASI options on a runtime whose host does not serve WASI are refused, naming the fix;
     * so is the module itself, naming the imports. */
    packr_module *wrapped = NULL;
    CHECK_OK(packr_runtime_wrap_module(plain, reactor, &wrapped));
    CHECK_STATUS(packr_module_instantiate_with(wrapped, config, NULL, &instance), PACKR_ERR_INVALID_ARGUMENT);
    CHECK_MESSAGE("packr_host_define_wasi");
    CHECK_STATUS(packr_module_instantiate(wrapped, &instance), PACKR_ERR_LINK);
    CHECK_MESSAGE("wasi_snapshot_preview1::fd_write");
    CHECK_MESSAGE("a host serves WASI with packr_host_define_wasi");
    packr_module_free(wrapped);
    packr_instance_config_free(config);

    const char *bad[] = {"ok", NULL};
    CHECK_OK(packr_instance_config_new(&config));
    CHECK_STATUS(packr_instance_config_set_wasi_args(config, bad, 2), PACKR_ERR_NULL_POINTER);
    CHECK_MESSAGE("argv[1]");
    const char *not_utf8[] = {"\xff"};
    CHECK_STATUS(packr_instance_config_set_wasi_env(config, not_utf8, not_utf8, 1), PACKR_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(packr_instance_config_set_wasi_stdin(config, NULL, 3), PACKR_ERR_NULL_POINTER);
    CHECK_OK(packr_instance_config_set_wasi_stdin(config, NULL, 0));
    CHECK_STATUS(packr_instance_config_set_wasi_args(NULL, NULL, 0), PACKR_ERR_NULL_POINTER);
    packr_instance_config_free(config);
}

/* QuickJS, a real interpreter, compiled once and run per request with its own script. */
static void test_quickjs(const packr_module *quickjs) {
    const char *args[] = {"qjs"};
    packr_instance_config *config = config_with_args(args, 1);
    for (int i = 0; i < 5; i++) {
        char script[128];
        snprintf(script, sizeof script, "let n = %d; print([1, 2, 3].map(x => x * n).join(','))", i);
        CHECK_OK(packr_instance_config_set_wasi_stdin(config, (const uint8_t *)script, strlen(script)));
        run_result r = run(quickjs, config);
        char want[64];
        snprintf(want, sizeof want, "%d,%d,%d\n", i, 2 * i, 3 * i);
        CHECK_RUN(r, 0, want);
        run_free(&r);
    }
    const char *throwing[] = {"qjs", "-e", "throw new Error('boom')"};
    CHECK_OK(packr_instance_config_set_wasi_args(config, throwing, 3));
    run_result r = run(quickjs, config);
    CHECK_OK(r.status);
    CHECK(r.exit_code == 1 && strstr(r.err_text, "boom") != NULL);
    run_free(&r);
    packr_instance_config_free(config);
}

int main(void) {
    packr_host *host = NULL;
    packr_runtime *plain = NULL, *runtime = NULL;
    CHECK_OK(packr_host_new(&host));
    CHECK_OK(packr_host_define_wasi(host));
    CHECK_STATUS(packr_host_define_wasi(NULL), PACKR_ERR_NULL_POINTER);
    CHECK_OK(packr_runtime_new(&plain));
    CHECK_OK(packr_runtime_new_with_host(plain, host, &runtime));
    packr_host_free(host);

    packr_module *probe = harness_load_guest(runtime, "wasi_probe.wasm");
    packr_module *reactor = harness_load_guest(runtime, "wasi_reactor.wasm");
    packr_module *quickjs = harness_load_guest(runtime, "quickjs.wasm");
    test_args_env_stdin_streams(probe);
    test_files(probe);
    test_clock_random_exit_flood(probe);
    test_statuses(plain, probe, reactor);
    test_quickjs(quickjs);
    packr_module_free(probe);
    packr_module_free(reactor);
    packr_module_free(quickjs);
    packr_runtime_free(runtime);
    packr_runtime_free(plain);
    return harness_finish("test_wasi");
}
