/* Runs the shared case table (tests/cases/cases.tsv) through the C ABI. Every binding runs
 * the same table, so none can drift from the core. Usage: test_cases <cases-dir> */
#include "harness.h"
#include "case_host.h"

#include <math.h>

enum { MAX_VALS = 8, COLUMNS = 9 };

static int kind_of(const char *name, packr_valkind *kind) {
    static const struct { const char *name; packr_valkind kind; } kinds[] = {
        {"i32", PACKR_I32}, {"i64", PACKR_I64}, {"f32", PACKR_F32}, {"f64", PACKR_F64},
        {"v128", PACKR_V128}, {"bad", 99}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(name, kinds[i].name) == 0) {
            *kind = kinds[i].kind;
            return 1;
        }
    }
    return 0;
}

/* Parses "KIND:VALUE KIND:VALUE ..." (or "-") into vals; returns the count or -1. */
static int parse_vals(char *text, packr_val *vals) {
    if (strcmp(text, "-") == 0) return 0;
    int n = 0;
    for (char *tok = strtok(text, " "); tok != NULL; tok = strtok(NULL, " ")) {
        char *colon = strchr(tok, ':');
        if (colon == NULL || n == MAX_VALS) return -1;
        *colon = '\0';
        if (!kind_of(tok, &vals[n].kind)) return -1;
        const char *v = colon + 1;
        switch (vals[n].kind) {
        case PACKR_F32: vals[n].of.f32 = strtof(v, NULL); break;
        case PACKR_F64: vals[n].of.f64 = strtod(v, NULL); break;
        case PACKR_I32: vals[n].of.i32 = (int32_t)strtol(v, NULL, 10); break;
        case PACKR_V128:
            if (strlen(v) != 32) return -1;
            for (int i = 0; i < 16; i++) {
                char hex[3] = {v[2 * i], v[2 * i + 1], '\0'};
                vals[n].of.v128[i] = (uint8_t)strtoul(hex, NULL, 16);
            }
            break;
        default: vals[n].of.i64 = strtoll(v, NULL, 10); break;
        }
        n++;
    }
    return n;
}

static int same_val(packr_val a, packr_val b) {
    if (a.kind != b.kind) return 0;
    switch (a.kind) {
    case PACKR_I32: return a.of.i32 == b.of.i32;
    case PACKR_I64: return a.of.i64 == b.of.i64;
    case PACKR_F32: return a.of.f32 == b.of.f32;
    case PACKR_F64: return a.of.f64 == b.of.f64;
    default: return memcmp(a.of.v128, b.of.v128, 16) == 0;
    }
}

/* Splits a line at tabs in place; returns the number of fields. */
static int split(char *line, char **fields) {
    int n = 0;
    fields[n++] = line;
    for (char *p = line; *p != '\0' && n < COLUMNS + 1; p++) {
        if (*p == '\t') {
            *p = '\0';
            fields[n++] = p + 1;
        } else if (*p == '\n' || *p == '\r') {
            *p = '\0';
        }
    }
    return n;
}

/* Parses a BYTES value (str:TEXT, with \n for a newline, or rep:N:C, or "-") into a fresh
 * buffer the caller frees; NULL when malformed. */
static uint8_t *parse_bytes(const char *text, size_t *len) {
    *len = 0;
    if (strcmp(text, "-") == 0) return malloc(1);
    if (strncmp(text, "rep:", 4) == 0) {
        char *end = NULL;
        size_t n = strtoul(text + 4, &end, 10);
        if (end == NULL || end[0] != ':' || end[1] == '\0') return NULL;
        uint8_t *bytes = malloc(n + 1);
        if (bytes != NULL) memset(bytes, end[1], n);
        *len = n;
        return bytes;
    }
    if (strncmp(text, "str:", 4) != 0) return NULL;
    uint8_t *bytes = malloc(strlen(text) + 1);
    if (bytes == NULL) return NULL;
    for (const char *p = text + 4; *p != '\0'; p++) {
        if (p[0] == '\\' && p[1] == 'n') {
            bytes[(*len)++] = '\n';
            p++;
        } else {
            bytes[(*len)++] = (uint8_t)*p;
        }
    }
    return bytes;
}

/* Whether `got` holds exactly the bytes `text` describes. */
static int same_bytes(const packr_bytes *got, const char *text) {
    size_t len = 0;
    uint8_t *want = parse_bytes(text, &len);
    int same = want != NULL && got->len == len && (len == 0 || memcmp(got->data, want, len) == 0);
    free(want);
    return same;
}

/* Runs a `bytes` or `run` row on the case host's runtime; writes what it produced (the
 * output, or the captured stdout and the exit code). */
static packr_status run_bytes_case(const char *op, const char *export_name, char *args, const unsigned char *code,
                                   size_t code_len, packr_bytes *output, int32_t *exit_code) {
    packr_host *host = case_host_new();
    packr_runtime *base = NULL, *runtime = NULL;
    packr_module *module = NULL;
    packr_instance *instance = NULL;
    packr_instance_config *config = NULL;
    packr_status got = host == NULL ? PACKR_ERR_PANIC : packr_runtime_new(&base);
    if (got == PACKR_OK) got = packr_runtime_new_with_host(base, host, &runtime);
    if (got == PACKR_OK) got = packr_module_load(runtime, code, code_len, &module);
    if (got == PACKR_OK) got = packr_instance_config_new(&config);
    char *argv_bytes[MAX_VALS + 1] = {NULL};
    const char *argv[MAX_VALS + 1] = {"case"};
    size_t argc = 1;
    if (got == PACKR_OK && strcmp(op, "run") == 0) {
        for (char *tok = strtok(args, " "); tok != NULL && strcmp(tok, "-") != 0 && argc <= MAX_VALS; tok = strtok(NULL, " ")) {
            size_t len = 0;
            argv_bytes[argc] = (char *)parse_bytes(tok, &len);
            if (argv_bytes[argc] == NULL) break;
            argv_bytes[argc][len] = '\0';
            argv[argc] = argv_bytes[argc];
            argc++;
        }
        got = packr_instance_config_set_wasi_args(config, argv, argc);
        if (got == PACKR_OK) got = packr_instance_config_set_wasi_stdout(config, PACKR_WASI_CAPTURE);
    }
    if (got == PACKR_OK) got = packr_module_instantiate_with(module, config, NULL, &instance);
    if (got == PACKR_OK && strcmp(op, "run") == 0) {
        got = packr_instance_run(instance, exit_code);
        packr_status taken = packr_instance_wasi_output(instance, 1, output);
        if (got == PACKR_OK) got = taken;
    } else if (got == PACKR_OK) {
        size_t len = 0;
        uint8_t *input = parse_bytes(args, &len);
        got = input == NULL ? PACKR_ERR_INVALID_ARGUMENT : packr_instance_call_bytes(instance, export_name, input, len, output);
        free(input);
    }
    for (size_t i = 1; i < argc; i++) free(argv_bytes[i]);
    packr_instance_free(instance);
    packr_instance_config_free(config);
    packr_module_free(module);
    packr_runtime_free(runtime);
    packr_runtime_free(base);
    packr_host_free(host);
    return got;
}

/* Runs one row; returns 1 when it behaved as the table says. */
static int run_case(const char *dir, char **f) {
    const char *name = f[0], *file = f[1], *op = f[2], *export_name = f[3];
    packr_status want = -1;
    for (int s = 0; s < 64; s++) {
        if (strcmp(packr_status_name(s), f[6]) == 0) want = s;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t len = 0;
    if (strcmp(op, "bytes") == 0 || strcmp(op, "run") == 0) {
        unsigned char *code = harness_read_file(path, &len);
        packr_bytes output = {NULL, 0};
        int32_t exit_code = -1;
        packr_status got = run_bytes_case(op, export_name, f[4], code, len, &output, &exit_code);
        free(code);
        int ok = got == want;
        if (!ok) {
            fprintf(stderr, "case %s: got %s (%s), want %s\n", name, packr_status_name(got), got == PACKR_OK ? "" : packr_last_error(), f[6]);
        } else if (want != PACKR_OK && strcmp(f[8], "-") != 0 && strstr(packr_last_error(), f[8]) == NULL) {
            fprintf(stderr, "case %s: message \"%s\" lacks \"%s\"\n", name, packr_last_error(), f[8]);
            ok = 0;
        } else if (want == PACKR_OK && strcmp(op, "bytes") == 0 && !same_bytes(&output, f[7])) {
            fprintf(stderr, "case %s: the output differs\n", name);
            ok = 0;
        } else if (want == PACKR_OK && strcmp(op, "run") == 0) {
            char *space = strchr(f[7], ' '), want_exit[32];
            snprintf(want_exit, sizeof want_exit, "exit:%d", (int)exit_code);
            if (space == NULL || strncmp(f[7], want_exit, (size_t)(space - f[7])) != 0 || strncmp(space + 1, "out:", 4) != 0) {
                fprintf(stderr, "case %s: got %s, want %s\n", name, want_exit, f[7]);
                ok = 0;
            } else {
                memcpy(space + 1, "str:", 4);
                if (!same_bytes(&output, space + 1)) {
                    fprintf(stderr, "case %s: stdout differs\n", name);
                    ok = 0;
                }
            }
        }
        packr_bytes_free(&output);
        return ok;
    }
    packr_val args[MAX_VALS], expected[MAX_VALS], results[MAX_VALS];
    int nargs = parse_vals(f[4], args), nexpected = parse_vals(f[7], expected);
    size_t nresults = (size_t)strtoul(f[5], NULL, 10);
    if (want < 0 || nargs < 0 || nexpected < 0 || nresults > MAX_VALS) {
        fprintf(stderr, "case %s: malformed row\n", name);
        return 0;
    }

    unsigned char *bytes = harness_read_file(path, &len);
    int with_host = strcmp(op, "hostcall") == 0 || strcmp(op, "instantiate_host") == 0;
    int guarded = strcmp(op, "timeout") == 0 || strcmp(op, "fuel") == 0 || strcmp(op, "limit") == 0;
    int calls = strcmp(op, "call") == 0 || strcmp(op, "hostcall") == 0 || (guarded && strcmp(export_name, "-") != 0);
    int global = strncmp(op, "global_", 7) == 0;
    packr_runtime *base = NULL, *runtime = NULL;
    packr_module *module = NULL;
    packr_instance *instance = NULL;
    for (size_t i = 0; i < nresults; i++) results[i].kind = 1000;
    packr_status got = PACKR_OK;
    if (strcmp(op, "fuel") == 0) {
        packr_config *config = NULL;
        got = packr_config_new(&config);
        if (got == PACKR_OK) got = packr_config_set_fuel(config, true);
        if (got == PACKR_OK) got = packr_runtime_new_with_config(config, &base);
        packr_config_free(config);
    } else {
        got = packr_runtime_new(&base);
    }
    if (got == PACKR_OK && with_host) {
        packr_host *host = case_host_new();
        got = host == NULL ? PACKR_ERR_PANIC : packr_runtime_new_with_host(base, host, &runtime);
        packr_host_free(host);
    } else {
        runtime = base;
        base = NULL;
    }
    if (got == PACKR_OK) got = packr_module_load(runtime, bytes, len, &module);
    if (got == PACKR_OK && guarded) {
        packr_instance_config *config = NULL;
        got = packr_instance_config_new(&config);
        if (got == PACKR_OK && strcmp(op, "timeout") == 0) got = packr_instance_config_set_timeout_ms(config, 10);
        if (got == PACKR_OK && strcmp(op, "fuel") == 0) got = packr_instance_config_set_fuel(config, 10000);
        if (got == PACKR_OK && strcmp(op, "limit") == 0) got = packr_instance_config_set_memory_limit(config, 262144);
        if (got == PACKR_OK && strcmp(op, "limit") == 0) got = packr_instance_config_set_table_limit(config, 10);
        if (got == PACKR_OK) got = packr_module_instantiate_with(module, config, NULL, &instance);
        packr_instance_config_free(config);
    } else if (got == PACKR_OK && strcmp(op, "load") != 0) {
        got = packr_module_instantiate(module, &instance);
    }
    if (got == PACKR_OK && calls) got = packr_instance_call(instance, export_name, args, (size_t)nargs, results, nresults);
    if (got == PACKR_OK && strcmp(op, "global_set") == 0) got = packr_instance_global_set(instance, export_name, &args[0]);
    if (got == PACKR_OK && global) got = packr_instance_global_get(instance, export_name, &results[0]);

    int ok = got == want;
    if (!ok) {
        fprintf(stderr, "case %s: got %s (%s), want %s\n", name, packr_status_name(got),
                got == PACKR_OK ? "" : packr_last_error(), f[6]);
    } else if (want != PACKR_OK && strcmp(f[8], "-") != 0 && strstr(packr_last_error(), f[8]) == NULL) {
        fprintf(stderr, "case %s: message \"%s\" lacks \"%s\"\n", name, packr_last_error(), f[8]);
        ok = 0;
    } else if (want == PACKR_OK && (calls || global)) {
        for (int i = 0; i < nexpected; i++) {
            if (!same_val(results[i], expected[i])) {
                fprintf(stderr, "case %s: result %d differs\n", name, i);
                ok = 0;
            }
        }
    }
    packr_instance_free(instance);
    packr_module_free(module);
    packr_runtime_free(runtime);
    packr_runtime_free(base);
    free(bytes);
    return ok;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/cases";
    char path[1024];
    snprintf(path, sizeof path, "%s/cases.tsv", dir);
    FILE *table = fopen(path, "r");
    if (table == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return 2;
    }
    char line[2048];
    int rows = 0;
    while (fgets(line, sizeof line, table) != NULL) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *fields[COLUMNS + 1];
        if (split(line, fields) != COLUMNS) {
            fprintf(stderr, "malformed row: %s\n", line);
            CHECK(0);
            continue;
        }
        rows++;
        CHECK(run_case(dir, fields));
    }
    fclose(table);
    CHECK(rows >= 53);
    return harness_finish("test_cases");
}
