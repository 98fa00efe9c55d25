/* Thin C shims for the Go binding. Not part of the public API. */
#ifndef PACKR_GO_SHIM_H
#define PACKR_GO_SHIM_H

#include <stdlib.h>
#include <string.h>

#include "packr.h"

/* packr_last_error() is per OS thread, and a goroutine may move between threads between
 * two cgo calls. So each shim makes the packr call and copies the message in the same C
 * call, on the thread that failed. On failure *err is a malloc'd copy the caller frees;
 * on success it is NULL. */
static inline char *packr_go_errdup(void) {
  const char *msg = packr_last_error();
  size_t n = strlen(msg) + 1;
  char *copy = malloc(n);
  if (copy != NULL) memcpy(copy, msg, n);
  return copy;
}

#define PACKR_GO_SHIM(call)                                  \
  packr_status st = (call);                                  \
  *err = st == PACKR_OK ? NULL : packr_go_errdup();          \
  return st

static inline packr_status packr_go_runtime_new(packr_runtime **out, char **err) {
  PACKR_GO_SHIM(packr_runtime_new(out));
}

static inline packr_status packr_go_config_new(packr_config **out, char **err) {
  PACKR_GO_SHIM(packr_config_new(out));
}

static inline packr_status packr_go_config_set_pooling(packr_config *c, bool v, char **err) {
  PACKR_GO_SHIM(packr_config_set_pooling(c, v));
}

static inline packr_status packr_go_config_set_pool_instances(packr_config *c, uint32_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_pool_instances(c, v));
}

static inline packr_status packr_go_config_set_pool_memories_per_instance(packr_config *c, uint32_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_pool_memories_per_instance(c, v));
}

static inline packr_status packr_go_config_set_pool_tables_per_instance(packr_config *c, uint32_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_pool_tables_per_instance(c, v));
}

static inline packr_status packr_go_config_set_pool_memory_bytes(packr_config *c, uint64_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_pool_memory_bytes(c, v));
}

static inline packr_status packr_go_config_set_pool_table_elements(packr_config *c, uint32_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_pool_table_elements(c, v));
}

static inline packr_status packr_go_config_set_memory_images(packr_config *c, bool v, char **err) {
  PACKR_GO_SHIM(packr_config_set_memory_images(c, v));
}

static inline packr_status packr_go_config_set_opt_level(packr_config *c, uint32_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_opt_level(c, v));
}

static inline packr_status packr_go_config_set_parallel_compilation(packr_config *c, bool v, char **err) {
  PACKR_GO_SHIM(packr_config_set_parallel_compilation(c, v));
}

static inline packr_status packr_go_config_set_memory_reservation(packr_config *c, uint64_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_memory_reservation(c, v));
}

static inline packr_status packr_go_config_set_pool_keep_resident(packr_config *c, uint64_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_pool_keep_resident(c, v));
}

static inline packr_status packr_go_config_set_pool_pagemap_scan(packr_config *c, bool v, char **err) {
  PACKR_GO_SHIM(packr_config_set_pool_pagemap_scan(c, v));
}

static inline packr_status packr_go_config_set_pool_decommit_batch(packr_config *c, uint32_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_pool_decommit_batch(c, v));
}

static inline packr_status packr_go_config_set_fuel(packr_config *c, bool v, char **err) {
  PACKR_GO_SHIM(packr_config_set_fuel(c, v));
}

static inline packr_status packr_go_config_set_timer_tick_us(packr_config *c, uint64_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_timer_tick_us(c, v));
}

static inline packr_status packr_go_config_set_max_wasm_stack(packr_config *c, size_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_max_wasm_stack(c, v));
}

static inline packr_status packr_go_config_set_max_module_bytes(packr_config *c, uint64_t v, char **err) {
  PACKR_GO_SHIM(packr_config_set_max_module_bytes(c, v));
}

static inline packr_status packr_go_config_set_signals_based_traps(packr_config *c, bool v, char **err) {
  PACKR_GO_SHIM(packr_config_set_signals_based_traps(c, v));
}

static inline packr_status packr_go_runtime_new_with_config(const packr_config *c, packr_runtime **out, char **err) {
  PACKR_GO_SHIM(packr_runtime_new_with_config(c, out));
}

static inline packr_status packr_go_runtime_new_sharing_engine(const packr_runtime *base, packr_runtime **out, char **err) {
  PACKR_GO_SHIM(packr_runtime_new_sharing_engine(base, out));
}

static inline packr_status packr_go_module_load(const packr_runtime *rt, const uint8_t *wasm, size_t len, packr_module **out, char **err) {
  PACKR_GO_SHIM(packr_module_load(rt, wasm, len, out));
}

static inline packr_status packr_go_runtime_wrap_module(const packr_runtime *rt, const packr_module *m, packr_module **out, char **err) {
  PACKR_GO_SHIM(packr_runtime_wrap_module(rt, m, out));
}

static inline packr_status packr_go_module_export_count(const packr_module *m, size_t *out, char **err) {
  PACKR_GO_SHIM(packr_module_export_count(m, out));
}

static inline packr_status packr_go_module_export_get(const packr_module *m, size_t i, packr_export_desc *out, char **err) {
  PACKR_GO_SHIM(packr_module_export_get(m, i, out));
}

static inline packr_status packr_go_module_import_count(const packr_module *m, size_t *out, char **err) {
  PACKR_GO_SHIM(packr_module_import_count(m, out));
}

static inline packr_status packr_go_module_import_get(const packr_module *m, size_t i, packr_import_desc *out, char **err) {
  PACKR_GO_SHIM(packr_module_import_get(m, i, out));
}

static inline packr_status packr_go_module_func_signature(const packr_module *m, const char *name, packr_func_signature *out, char **err) {
  PACKR_GO_SHIM(packr_module_func_signature(m, name, out));
}

/* ---- Calls into wasm ----
 *
 * A call on an instance whose runtime has host functions may run Go callbacks, so those
 * calls are not `#cgo nocallback`; cgo then treats every Go pointer passed to them as
 * escaping (a callback may grow and move the goroutine's stack, so C must never hold a Go
 * stack pointer across one). To call without allocating, the `4` and `8` forms take their
 * arguments by value and return their results by value: cgo copies both through the
 * call's argument frame, which it re-finds after a moved stack. The `_heap` forms take Go
 * heap memory, which does not move. An instance without host functions cannot call back,
 * and takes the `_nc` forms: nocallback and noescape, pointers to the caller's stack.
 *
 * Each form calls `f` when it is not NULL, else the export `name`. */

/* What a call that may run callbacks returns: the status and, on failure, a malloc'd copy
 * of the message (else NULL). */
typedef struct {
  packr_status st;
  char *err;
} packr_go_ret;

static inline packr_go_ret packr_go_ret_of(packr_status st) {
  packr_go_ret r = {st, st == PACKR_OK ? NULL : packr_go_errdup()};
  return r;
}

typedef struct {
  packr_status st;
  char *err;
  packr_instance *instance;
} packr_go_instantiate_ret;

static inline packr_go_instantiate_ret packr_go_module_instantiate_with(const packr_module *m, const packr_instance_config *config, uintptr_t data) {
  packr_go_instantiate_ret r = {0, NULL, NULL};
  r.st = packr_module_instantiate_with(m, config, (void *)data, &r.instance);
  r.err = r.st == PACKR_OK ? NULL : packr_go_errdup();
  return r;
}

static inline packr_status packr_go_call(packr_instance *in, const packr_func *f, const char *name, const packr_val *args, size_t nargs, packr_val *results, size_t nresults) {
  return f != NULL ? packr_instance_call_func(in, f, args, nargs, results, nresults)
                   : packr_instance_call(in, name, args, nargs, results, nresults);
}

/* Up to 4 arguments and 1 result: the typed helpers' shape, the least to copy. */
typedef struct {
  packr_val v[4];
} packr_go_vals4;

typedef struct {
  packr_status st;
  char *err;
  packr_val result;
} packr_go_ret1;

static inline packr_go_ret1 packr_go_call4(packr_instance *in, const packr_func *f, const char *name, packr_go_vals4 args, size_t nargs, size_t nresults) {
  packr_go_ret1 r;
  r.st = nargs > 4 || nresults > 1 ? PACKR_ERR_INVALID_ARGUMENT : packr_go_call(in, f, name, args.v, nargs, &r.result, nresults);
  r.err = r.st == PACKR_OK ? NULL : packr_go_errdup();
  return r;
}

/* Up to 8 arguments and 8 results. */
#define PACKR_GO_SMALL 8

typedef struct {
  packr_val v[PACKR_GO_SMALL];
} packr_go_vals8;

typedef struct {
  packr_status st;
  char *err;
  packr_go_vals8 results;
} packr_go_ret8;

static inline packr_go_ret8 packr_go_call8(packr_instance *in, const packr_func *f, const char *name, packr_go_vals8 args, size_t nargs, size_t nresults) {
  packr_go_ret8 r;
  r.st = nargs > PACKR_GO_SMALL || nresults > PACKR_GO_SMALL ? PACKR_ERR_INVALID_ARGUMENT
         : packr_go_call(in, f, name, args.v, nargs, r.results.v, nresults);
  r.err = r.st == PACKR_OK ? NULL : packr_go_errdup();
  return r;
}

static inline packr_go_ret packr_go_call_heap(packr_instance *in, const packr_func *f, const char *name, const packr_val *args, size_t nargs, packr_val *results, size_t nresults) {
  return packr_go_ret_of(packr_go_call(in, f, name, args, nargs, results, nresults));
}

/* Only for instances without host functions (declared nocallback). */
static inline packr_status packr_go_call_nc(packr_instance *in, const packr_func *f, const char *name, const packr_val *args, size_t nargs, packr_val *results, size_t nresults, char **err) {
  PACKR_GO_SHIM(packr_go_call(in, f, name, args, nargs, results, nresults));
}

/* From inside a callback, into the calling instance. */
static inline packr_go_ret1 packr_go_caller_call4(packr_caller *c, const char *name, packr_go_vals4 args, size_t nargs, size_t nresults) {
  packr_go_ret1 r;
  r.st = nargs > 4 || nresults > 1 ? PACKR_ERR_INVALID_ARGUMENT : packr_caller_call(c, name, args.v, nargs, &r.result, nresults);
  r.err = r.st == PACKR_OK ? NULL : packr_go_errdup();
  return r;
}

static inline packr_go_ret8 packr_go_caller_call8(packr_caller *c, const char *name, packr_go_vals8 args, size_t nargs, size_t nresults) {
  packr_go_ret8 r;
  r.st = nargs > PACKR_GO_SMALL || nresults > PACKR_GO_SMALL ? PACKR_ERR_INVALID_ARGUMENT
         : packr_caller_call(c, name, args.v, nargs, r.results.v, nresults);
  r.err = r.st == PACKR_OK ? NULL : packr_go_errdup();
  return r;
}

static inline packr_go_ret packr_go_caller_call_heap(packr_caller *c, const char *name, const packr_val *args, size_t nargs, packr_val *results, size_t nresults) {
  return packr_go_ret_of(packr_caller_call(c, name, args, nargs, results, nresults));
}

/* ---- Pack calls and WASI runs: they may run callbacks too ---- */

typedef struct {
  packr_status st;
  char *err;
  packr_bytes out;
} packr_go_bytes_ret;

/* A pack call of `f`, or else of the export `name`. `input` is Go memory (pinned by cgo for
 * the call; this is not noescape). */
static inline packr_go_bytes_ret packr_go_call_bytes(packr_instance *in, const packr_func *f, const char *name, const uint8_t *input, size_t len) {
  packr_go_bytes_ret r = {0, NULL, {NULL, 0}};
  r.st = f != NULL ? packr_instance_call_func_bytes(in, f, input, len, &r.out)
                   : packr_instance_call_bytes(in, name, input, len, &r.out);
  r.err = r.st == PACKR_OK ? NULL : packr_go_errdup();
  return r;
}

typedef struct {
  packr_status st;
  char *err;
  int32_t code;
} packr_go_run_ret;

static inline packr_go_run_ret packr_go_instance_run(packr_instance *in) {
  packr_go_run_ret r = {0, NULL, 0};
  r.st = packr_instance_run(in, &r.code);
  r.err = r.st == PACKR_OK ? NULL : packr_go_errdup();
  return r;
}

/* From inside a bytes callback: the guest's __pack_alloc runs, which may call imports. */
static inline packr_go_ret packr_go_caller_return_bytes(packr_caller *c, const uint8_t *bytes, size_t len) {
  return packr_go_ret_of(packr_caller_return_bytes(c, bytes, len));
}

/* Freeing a host, runtime, module or instance may run a definition's finalizer (Go), so
 * these are not nocallback either; they take no Go pointers. */

/* ---- Host definitions ---- */

/* The Go trampolines (callback.go). Their prototypes are what cgo writes into
 * _cgo_export.h for the //export'ed functions. */
extern packr_status packrGoHostCallback(uintptr_t env, packr_caller *caller, packr_val *args, size_t nargs, packr_val *results, size_t nresults);
extern void packrGoHostFinalize(uintptr_t env);

/* The callback and finalizer packr calls, with the exact C types of packr.h; env is the
 * definition's id in the Go registry (callback.go). */
static inline packr_status packr_go_callback(void *env, packr_caller *caller, const packr_val *args, size_t nargs, packr_val *results, size_t nresults) {
  return packrGoHostCallback((uintptr_t)env, caller, (packr_val *)args, nargs, results, nresults);
}

static inline void packr_go_finalizer(void *env) { packrGoHostFinalize((uintptr_t)env); }

static inline packr_status packr_go_host_new(packr_host **out, char **err) {
  PACKR_GO_SHIM(packr_host_new(out));
}

static inline packr_status packr_go_host_set_unknown_imports_trap(packr_host *h, bool enabled, char **err) {
  PACKR_GO_SHIM(packr_host_set_unknown_imports_trap(h, enabled));
}

/* On failure packr runs the finalizer before returning (the handle is deleted). */
extern packr_status packrGoBytesCallback(uintptr_t env, packr_caller *caller, uint8_t *input, size_t len);

static inline packr_status packr_go_bytes_callback(void *env, packr_caller *caller, const uint8_t *input, size_t len) {
  return packrGoBytesCallback((uintptr_t)env, caller, (uint8_t *)input, len);
}

static inline packr_go_ret packr_go_host_define_func(packr_host *h, const char *module, const char *name, const packr_valkind *params, size_t nparams, const packr_valkind *results, size_t nresults, uintptr_t env) {
  return packr_go_ret_of(packr_host_define_func(h, module, name, params, nparams, results, nresults, packr_go_callback, (void *)env, packr_go_finalizer));
}

static inline packr_go_ret packr_go_host_define_bytes(packr_host *h, const char *module, const char *name, uintptr_t env) {
  return packr_go_ret_of(packr_host_define_bytes(h, module, name, packr_go_bytes_callback, (void *)env, packr_go_finalizer));
}

static inline packr_status packr_go_host_define_wasi(packr_host *h, char **err) {
  PACKR_GO_SHIM(packr_host_define_wasi(h));
}

static inline packr_status packr_go_runtime_new_with_host(const packr_runtime *base, const packr_host *h, packr_runtime **out, char **err) {
  PACKR_GO_SHIM(packr_runtime_new_with_host(base, h, out));
}

/* ---- No callback can happen below ---- */

static inline uintptr_t packr_go_caller_data(const packr_caller *c) { return (uintptr_t)packr_caller_data(c); }

static inline packr_status packr_go_caller_set_error(packr_caller *c, const char *message) {
  return packr_caller_set_error(c, message);
}

static inline packr_status packr_go_caller_memory_size(packr_caller *c, const char *name, uint64_t *out, char **err) {
  PACKR_GO_SHIM(packr_caller_memory_size(c, name, out));
}

static inline packr_status packr_go_caller_memory_read(packr_caller *c, const char *name, uint64_t offset, uint8_t *buf, size_t len, char **err) {
  PACKR_GO_SHIM(packr_caller_memory_read(c, name, offset, buf, len));
}

static inline packr_status packr_go_caller_memory_write(packr_caller *c, const char *name, uint64_t offset, const uint8_t *buf, size_t len, char **err) {
  PACKR_GO_SHIM(packr_caller_memory_write(c, name, offset, buf, len));
}

static inline packr_status packr_go_caller_memory_data(packr_caller *c, const char *name, uint8_t **data, uint64_t *size, char **err) {
  PACKR_GO_SHIM(packr_caller_memory_data(c, name, data, size));
}

static inline packr_status packr_go_instance_func_signature(const packr_instance *in, const char *name, packr_func_signature *out, char **err) {
  PACKR_GO_SHIM(packr_instance_func_signature(in, name, out));
}

static inline packr_status packr_go_instance_memory_size(packr_instance *in, const char *name, uint64_t *out, char **err) {
  PACKR_GO_SHIM(packr_instance_memory_size(in, name, out));
}

static inline packr_status packr_go_instance_memory_read(packr_instance *in, const char *name, uint64_t offset, uint8_t *buf, size_t len, char **err) {
  PACKR_GO_SHIM(packr_instance_memory_read(in, name, offset, buf, len));
}

static inline packr_status packr_go_instance_memory_write(packr_instance *in, const char *name, uint64_t offset, const uint8_t *buf, size_t len, char **err) {
  PACKR_GO_SHIM(packr_instance_memory_write(in, name, offset, buf, len));
}

static inline packr_status packr_go_instance_global_get(packr_instance *in, const char *name, packr_val *out, char **err) {
  PACKR_GO_SHIM(packr_instance_global_get(in, name, out));
}

static inline packr_status packr_go_instance_global_set(packr_instance *in, const char *name, const packr_val *value, char **err) {
  PACKR_GO_SHIM(packr_instance_global_set(in, name, value));
}

static inline packr_status packr_go_module_func(const packr_module *m, const char *name, packr_func **out, char **err) {
  PACKR_GO_SHIM(packr_module_func(m, name, out));
}

static inline packr_status packr_go_func_signature(const packr_func *f, packr_func_signature *out, char **err) {
  PACKR_GO_SHIM(packr_func_get_signature(f, out));
}

static inline packr_status packr_go_caller_func_signature(packr_caller *c, const char *name, packr_func_signature *out, char **err) {
  PACKR_GO_SHIM(packr_caller_func_signature(c, name, out));
}

/* Instance configs (WASI options). */

static inline packr_status packr_go_instance_config_new(packr_instance_config **out, char **err) {
  PACKR_GO_SHIM(packr_instance_config_new(out));
}

static inline packr_status packr_go_instance_config_set_wasi_args(packr_instance_config *c, const char *const *argv, size_t argc, char **err) {
  PACKR_GO_SHIM(packr_instance_config_set_wasi_args(c, argv, argc));
}

static inline packr_status packr_go_instance_config_set_wasi_env(packr_instance_config *c, const char *const *names, const char *const *values, size_t n, char **err) {
  PACKR_GO_SHIM(packr_instance_config_set_wasi_env(c, names, values, n));
}

static inline packr_status packr_go_instance_config_set_wasi_stdin(packr_instance_config *c, const uint8_t *bytes, size_t len, char **err) {
  PACKR_GO_SHIM(packr_instance_config_set_wasi_stdin(c, bytes, len));
}

static inline packr_status packr_go_instance_config_set_wasi_stdout(packr_instance_config *c, packr_wasi_output mode, char **err) {
  PACKR_GO_SHIM(packr_instance_config_set_wasi_stdout(c, mode));
}

static inline packr_status packr_go_instance_config_set_wasi_stderr(packr_instance_config *c, packr_wasi_output mode, char **err) {
  PACKR_GO_SHIM(packr_instance_config_set_wasi_stderr(c, mode));
}

static inline packr_status packr_go_instance_config_set_wasi_capture_limit(packr_instance_config *c, size_t bytes, char **err) {
  PACKR_GO_SHIM(packr_instance_config_set_wasi_capture_limit(c, bytes));
}

static inline packr_status packr_go_instance_config_wasi_preopen_dir(packr_instance_config *c, const char *host, const char *guest, bool writable, char **err) {
  PACKR_GO_SHIM(packr_instance_config_wasi_preopen_dir(c, host, guest, writable));
}

/* Guardrails: an instance config's limits, and the instance functions that set or read
 * them. Interrupting and setting a timeout never touch the store; the fuel functions do. */

static inline packr_status packr_go_instance_config_set_timeout_ms(packr_instance_config *c, uint64_t ms, char **err) {
  PACKR_GO_SHIM(packr_instance_config_set_timeout_ms(c, ms));
}

static inline packr_status packr_go_instance_config_set_fuel(packr_instance_config *c, uint64_t fuel, char **err) {
  PACKR_GO_SHIM(packr_instance_config_set_fuel(c, fuel));
}

static inline packr_status packr_go_instance_config_set_memory_limit(packr_instance_config *c, uint64_t bytes, char **err) {
  PACKR_GO_SHIM(packr_instance_config_set_memory_limit(c, bytes));
}

static inline packr_status packr_go_instance_config_set_table_limit(packr_instance_config *c, uint64_t elements, char **err) {
  PACKR_GO_SHIM(packr_instance_config_set_table_limit(c, elements));
}

static inline packr_status packr_go_instance_add_fuel(packr_instance *in, uint64_t fuel, char **err) {
  PACKR_GO_SHIM(packr_instance_add_fuel(in, fuel));
}

static inline packr_status packr_go_instance_fuel(packr_instance *in, uint64_t *out, char **err) {
  PACKR_GO_SHIM(packr_instance_fuel(in, out));
}

/* Captured WASI output. */

static inline packr_status packr_go_instance_wasi_output(const packr_instance *in, int32_t fd, packr_bytes *out, char **err) {
  PACKR_GO_SHIM(packr_instance_wasi_output(in, fd, out));
}

static inline packr_status packr_go_instance_wasi_dropped(const packr_instance *in, int32_t fd, uint64_t *out, char **err) {
  PACKR_GO_SHIM(packr_instance_wasi_dropped(in, fd, out));
}

/* ---- Artifacts (serialized modules) and the compile cache ----
 * None of these can call back into Go: they compile, read and write files, and free
 * nothing a finalizer hangs on (the caller's runtime and module stay alive). */

static inline packr_status packr_go_module_serialize(const packr_module *m, packr_bytes *out, char **err) {
  PACKR_GO_SHIM(packr_module_serialize(m, out));
}

static inline packr_status packr_go_module_serialize_keyed(const packr_module *m, const uint8_t *key, size_t key_len, packr_bytes *out, char **err) {
  PACKR_GO_SHIM(packr_module_serialize_keyed(m, key, key_len, out));
}

static inline packr_status packr_go_module_deserialize(const packr_runtime *rt, const uint8_t *bytes, size_t len, packr_module **out, char **err) {
  PACKR_GO_SHIM(packr_module_deserialize(rt, bytes, len, out));
}

static inline packr_status packr_go_module_deserialize_keyed(const packr_runtime *rt, const uint8_t *key, size_t key_len, const uint8_t *bytes, size_t len, packr_module **out, char **err) {
  PACKR_GO_SHIM(packr_module_deserialize_keyed(rt, key, key_len, bytes, len, out));
}

static inline packr_status packr_go_cache_options_new(packr_cache_options **out, char **err) {
  PACKR_GO_SHIM(packr_cache_options_new(out));
}

static inline packr_status packr_go_cache_options_set_key(packr_cache_options *o, const uint8_t *key, size_t key_len, char **err) {
  PACKR_GO_SHIM(packr_cache_options_set_key(o, key, key_len));
}

static inline packr_status packr_go_cache_options_set_max_bytes(packr_cache_options *o, uint64_t bytes, char **err) {
  PACKR_GO_SHIM(packr_cache_options_set_max_bytes(o, bytes));
}

static inline packr_status packr_go_cache_open_with(const char *dir, const packr_cache_options *o, packr_cache **out, char **err) {
  PACKR_GO_SHIM(packr_cache_open_with(dir, o, out));
}

static inline packr_status packr_go_cache_load(packr_cache *c, const packr_runtime *rt, const uint8_t *wasm, size_t len, packr_module **out, char **err) {
  PACKR_GO_SHIM(packr_cache_load(c, rt, wasm, len, out));
}

static inline packr_status packr_go_cache_stats(const packr_cache *c, packr_cache_stats *out, char **err) {
  PACKR_GO_SHIM(packr_cache_get_stats(c, out));
}

static inline packr_status packr_go_cache_last_problem(const packr_cache *c, packr_bytes *out, char **err) {
  PACKR_GO_SHIM(packr_cache_last_problem(c, out));
}

#endif
