/* guest/quickjs_main.c - build/guest/quickjs.wasm: a wasm32-wasi command running one JavaScript
 * program on the QuickJS core (no quickjs-libc, which needs POSIX).
 *
 * Usage: quickjs.wasm < program.js     (the program is all of stdin)
 *        quickjs.wasm -e 'CODE'        (the program is CODE)
 * Globals: print(...) and console.log(...) write their arguments, converted to strings and
 * space-separated, plus "\n" to stdout. Promise jobs run after the program.
 * Exit status: 0; 1 after an uncaught exception (printed to stderr with its stack, as
 * "Uncaught <error>"), after a promise rejection nobody handled ("Uncaught (in promise)
 * <reason>"), or when the program cannot be read or the engine cannot start; 2 for bad
 * usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quickjs.h"

static JSValue js_print(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    for (int i = 0; i < argc; i++) {
        size_t len;
        const char *s = JS_ToCStringLen(ctx, &len, argv[i]);
        if (!s) return JS_EXCEPTION;
        if (i) putchar(' ');
        fwrite(s, 1, len, stdout);
        JS_FreeCString(ctx, s);
    }
    putchar('\n');
    return JS_UNDEFINED;
}

/* Prints an uncaught value to stderr: its string form, then its stack when it has one. */
static void report(JSContext *ctx, const char *prefix, JSValueConst exc) {
    const char *msg = JS_ToCString(ctx, exc);
    fprintf(stderr, "%s %s\n", prefix, msg ? msg : "(value not convertible to a string)");
    JS_FreeCString(ctx, msg);
    if (JS_IsError(exc)) {
        JSValue stack = JS_GetPropertyStr(ctx, exc, "stack");
        if (JS_IsString(stack)) {
            const char *s = JS_ToCString(ctx, stack);
            if (s) fputs(s, stderr);
            JS_FreeCString(ctx, s);
        }
        JS_FreeValue(ctx, stack);
    }
}

static void report_exception(JSContext *ctx) {
    JSValue exc = JS_GetException(ctx);
    report(ctx, "Uncaught", exc);
    JS_FreeValue(ctx, exc);
}

/* Rejected promises without a handler yet; a later handler takes them off the list. What is
 * left once the jobs have run is reported like an uncaught exception. */
struct rejection {
    JSValue promise, reason;
    struct rejection *next;
};
static struct rejection *unhandled;

static void track_rejection(JSContext *ctx, JSValueConst promise, JSValueConst reason,
                            bool is_handled, void *opaque) {
    (void)opaque;
    if (!is_handled) {
        struct rejection *r = malloc(sizeof *r);
        if (!r) return;
        r->promise = JS_DupValue(ctx, promise);
        r->reason = JS_DupValue(ctx, reason);
        r->next = unhandled;
        unhandled = r;
        return;
    }
    for (struct rejection **p = &unhandled; *p; p = &(*p)->next) {
        if (JS_VALUE_GET_PTR((*p)->promise) == JS_VALUE_GET_PTR(promise)) {
            struct rejection *r = *p;
            *p = r->next;
            JS_FreeValue(ctx, r->promise);
            JS_FreeValue(ctx, r->reason);
            free(r);
            return;
        }
    }
}

/* Reports and frees the unhandled rejections; returns how many there were. */
static int drain_rejections(JSContext *ctx, int quiet) {
    int count = 0;
    while (unhandled) {
        struct rejection *r = unhandled;
        unhandled = r->next;
        if (!quiet) report(ctx, "Uncaught (in promise)", r->reason);
        JS_FreeValue(ctx, r->promise);
        JS_FreeValue(ctx, r->reason);
        free(r);
        count++;
    }
    return count;
}

/* Reads all of stdin into a NUL-terminated buffer (JS_Eval wants one). */
static char *read_stdin(size_t *len_out) {
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (cap - len < 2) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) break;
            buf = grown;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, stdin);
        len += n;
        if (n == 0) {
            if (ferror(stdin)) break;
            buf[len] = '\0';
            *len_out = len;
            return buf;
        }
    }
    free(buf);
    return NULL;
}

static int add_globals(JSContext *ctx) {
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue console = JS_NewObject(ctx);
    int ok = JS_SetPropertyStr(ctx, global, "print", JS_NewCFunction(ctx, js_print, "print", 1)) >= 0
          && JS_SetPropertyStr(ctx, console, "log", JS_NewCFunction(ctx, js_print, "log", 1)) >= 0
          && JS_SetPropertyStr(ctx, global, "console", console) >= 0;
    JS_FreeValue(ctx, global);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    char *code;
    size_t len;
    const char *filename;
    if (argc == 3 && !strcmp(argv[1], "-e")) {
        code = strdup(argv[2]);
        len = code ? strlen(code) : 0;
        filename = "<cmdline>";
    } else if (argc == 1) {
        code = read_stdin(&len);
        filename = "<stdin>";
    } else {
        fprintf(stderr, "usage: quickjs.wasm [-e CODE]   (without -e the program is read from stdin)\n");
        return 2;
    }
    if (!code) {
        fprintf(stderr, "quickjs: cannot read the program: %s\n", strerror(errno));
        return 1;
    }

    JSRuntime *rt = JS_NewRuntime();
    JSContext *ctx = rt ? JS_NewContext(rt) : NULL;
    if (!ctx || add_globals(ctx) < 0) {
        fprintf(stderr, "quickjs: cannot start the engine\n");
        return 1;
    }
    JS_SetHostPromiseRejectionTracker(rt, track_rejection, NULL);

    int status = 0;
    JSValue result = JS_Eval(ctx, code, len, filename, JS_EVAL_TYPE_GLOBAL);
    free(code);
    if (JS_IsException(result)) {
        report_exception(ctx);
        status = 1;
    }
    JS_FreeValue(ctx, result);

    /* Promise jobs; an exception in one ends the program like one at top level. */
    while (status == 0) {
        JSContext *job_ctx;
        int r = JS_ExecutePendingJob(rt, &job_ctx);
        if (r == 0) break;
        if (r < 0) {
            report_exception(job_ctx);
            status = 1;
        }
    }

    /* After an uncaught exception its rejections are noise: free them quietly. */
    if (drain_rejections(ctx, status != 0) > 0) status = 1;

    fflush(stdout);
    JS_FreeContext(ctx);
    JS_FreeRuntime(rt);
    return status;
}
