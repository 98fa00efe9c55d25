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

static inline packr_status packr_go_module_instantiate(const packr_module *m, packr_instance **out, char **err) {
  PACKR_GO_SHIM(packr_module_instantiate(m, out));
}

static inline packr_status packr_go_instance_func_signature(const packr_instance *in, const char *name, packr_func_signature *out, char **err) {
  PACKR_GO_SHIM(packr_instance_func_signature(in, name, out));
}

static inline packr_status packr_go_instance_call(packr_instance *in, const char *name, const packr_val *args, size_t nargs, packr_val *results, size_t nresults, char **err) {
  PACKR_GO_SHIM(packr_instance_call(in, name, args, nargs, results, nresults));
}

static inline packr_status packr_go_instance_memory_size(packr_instance *in, uint64_t *out, char **err) {
  PACKR_GO_SHIM(packr_instance_memory_size(in, NULL, out));
}

static inline packr_status packr_go_instance_memory_read(packr_instance *in, uint64_t offset, uint8_t *buf, size_t len, char **err) {
  PACKR_GO_SHIM(packr_instance_memory_read(in, NULL, offset, buf, len));
}

static inline packr_status packr_go_instance_memory_write(packr_instance *in, uint64_t offset, const uint8_t *buf, size_t len, char **err) {
  PACKR_GO_SHIM(packr_instance_memory_write(in, NULL, offset, buf, len));
}

#endif
