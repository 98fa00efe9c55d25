// A Go host over wasmtime's C API through cgo, shaped like wasmtime-go: one cgo call per
// operation (new store, instantiate, look up the export, call, delete the store).
//
// Modes:
//   - nopool: what wasmtime-go offers, which has no pre-linked instances and no pooling:
//     wasmtime_linker_instantiate per spawn with the on-demand allocator.
//   - pooling: the C API's fastest path: one wasmtime_instance_pre_t and the pooling
//     allocator with the suite's pool limits.
//   - calls: per-call costs on one live instance of build/guest/calls.wasm (calls.go), with
//     the nopool engine.
//
// The engine has packr's settings (multi-memory, epoch interruption, CoW images). Built
// against the static library and headers bench/build.sh produces under target/.
package main

// #cgo CFLAGS: -I${SRCDIR}/../../../../target/bench/capi/include
// #cgo LDFLAGS: -L${SRCDIR}/../../../../target/release -lpackr_bench_wasmtime_capi -lm -ldl -lpthread -lgcc_s
// #include <stdlib.h>
// #include <string.h>
// #include <wasmtime.h>
//
// // The message of an error or trap (either may be NULL), malloc'd; frees both.
// static char *bench_message(wasmtime_error_t *error, wasm_trap_t *trap) {
//     wasm_byte_vec_t m = {0, NULL};
//     if (error) { wasmtime_error_message(error, &m); wasmtime_error_delete(error); }
//     else if (trap) { wasm_trap_message(trap, &m); wasm_trap_delete(trap); }
//     else return NULL;
//     char *s = malloc(m.size + 1);
//     memcpy(s, m.data, m.size);
//     s[m.size] = 0;
//     wasm_byte_vec_delete(&m);
//     return s;
// }
//
// static wasmtime_context_t *bench_store_context(wasmtime_store_t *store) {
//     wasmtime_context_t *context = wasmtime_store_context(store);
//     wasmtime_context_set_epoch_deadline(context, UINT64_MAX / 2);
//     return context;
// }
//
// // Looks up a function export; returns false if there is none.
// static bool bench_export_func(wasmtime_context_t *context, const wasmtime_instance_t *instance,
//                               const char *name, size_t len, wasmtime_func_t *func_out) {
//     wasmtime_extern_t item;
//     if (!wasmtime_instance_export_get(context, instance, name, len, &item)) return false;
//     if (item.kind != WASMTIME_EXTERN_FUNC) { wasmtime_extern_delete(&item); return false; }
//     *func_out = item.of.func;
//     return true;
// }
//
// // Calls a () -> i32 function.
// static char *bench_call_i32(wasmtime_context_t *context, const wasmtime_func_t *func, int32_t *out) {
//     wasmtime_val_t result;
//     wasm_trap_t *trap = NULL;
//     wasmtime_error_t *error = wasmtime_func_call(context, func, NULL, 0, &result, 1, &trap);
//     if (error || trap) return bench_message(error, trap);
//     *out = result.kind == WASMTIME_I32 ? result.of.i32 : -1;
//     return NULL;
// }
import "C"

import (
	"os"
	"time"
	"unsafe"

	"packr-bench/internal/bench"
)

type host struct {
	engine *C.wasm_engine_t
	linker *C.wasmtime_linker_t
	module *C.wasmtime_module_t
	pre    *C.wasmtime_instance_pre_t // pooling mode only
}

var funcName = C.CString("demo_version_number")

func fail(what string, msg *C.char) {
	defer C.free(unsafe.Pointer(msg))
	bench.Die("capi-go: %s: %s", what, C.GoString(msg))
}

func newEngine(a bench.Args) *C.wasm_engine_t {
	config := C.wasm_config_new()
	C.wasmtime_config_wasm_multi_memory_set(config, true)
	C.wasmtime_config_epoch_interruption_set(config, true)
	C.wasmtime_config_memory_init_cow_set(config, true)
	C.wasmtime_config_parallel_compilation_set(config, true)
	C.wasmtime_config_cranelift_opt_level_set(config, C.WASMTIME_OPT_LEVEL_SPEED)
	if a.Mode == "pooling" {
		// The pool packr builds for the same settings (src/config.rs).
		n := C.uint32_t(a.PoolInstances())
		pool := C.wasmtime_pooling_allocation_config_new()
		C.wasmtime_pooling_allocation_config_total_core_instances_set(pool, n)
		C.wasmtime_pooling_allocation_config_total_memories_set(pool, 2*n)
		C.wasmtime_pooling_allocation_config_total_tables_set(pool, n)
		C.wasmtime_pooling_allocation_config_total_stacks_set(pool, n)
		C.wasmtime_pooling_allocation_config_total_gc_heaps_set(pool, n)
		C.wasmtime_pooling_allocation_config_max_memories_per_module_set(pool, 2)
		C.wasmtime_pooling_allocation_config_max_tables_per_module_set(pool, 1)
		C.wasmtime_pooling_allocation_config_max_memory_size_set(pool, bench.PoolMemoryBytes)
		C.wasmtime_pooling_allocation_config_table_elements_set(pool, 20000)
		C.wasmtime_config_memory_reservation_set(config, bench.PoolMemoryBytes)
		C.wasmtime_pooling_allocation_strategy_set(config, pool)
		C.wasmtime_pooling_allocation_config_delete(pool)
	}
	engine := C.wasm_engine_new_with_config(config)
	if engine == nil {
		bench.Die("capi-go: cannot create the engine")
	}
	return engine
}

// liveNew makes one instance in a fresh store, calls it once, and returns the store.
func (h *host) liveNew() any {
	store := C.wasmtime_store_new(h.engine, nil, nil)
	context := C.bench_store_context(store)
	var instance C.wasmtime_instance_t
	var trap *C.wasm_trap_t
	var err *C.wasmtime_error_t
	if h.pre != nil {
		err = C.wasmtime_instance_pre_instantiate(h.pre, context, &instance, &trap)
	} else {
		err = C.wasmtime_linker_instantiate(h.linker, context, h.module, &instance, &trap)
	}
	if err != nil || trap != nil {
		fail("instantiate", C.bench_message(err, trap))
	}
	var fn C.wasmtime_func_t
	if !C.bench_export_func(context, &instance, funcName, 19, &fn) {
		bench.Die("capi-go: no function demo_version_number")
	}
	var got C.int32_t
	if msg := C.bench_call_i32(context, &fn, &got); msg != nil {
		fail("call", msg)
	}
	if got != bench.ExpectedVersion {
		bench.Die("capi-go: demo_version_number returned %d, not %d", got, bench.ExpectedVersion)
	}
	return store
}

func liveFree(store any) { C.wasmtime_store_delete(store.(*C.wasmtime_store_t)) }

func main() {
	a := bench.Parse("nopool", "pooling", "calls")
	wasm, err := os.ReadFile(a.Wasm)
	if err != nil {
		bench.Die("capi-go: %v", err)
	}
	h := &host{engine: newEngine(a)}
	if a.Mode == "calls" {
		runCalls(a, h.engine, wasm)
		return
	}
	t := time.Now()
	if e := C.wasmtime_module_new(h.engine, (*C.uint8_t)(unsafe.Pointer(&wasm[0])), C.size_t(len(wasm)), &h.module); e != nil {
		fail("compile", C.bench_message(e, nil))
	}
	compileMs := float64(time.Since(t).Nanoseconds()) / 1e6
	h.linker = C.wasmtime_linker_new(h.engine)
	if a.Mode == "pooling" {
		if e := C.wasmtime_linker_instantiate_pre(h.linker, h.module, &h.pre); e != nil {
			fail("instantiate_pre", C.bench_message(e, nil))
		}
	}
	bench.Measure("Go cgo over wasmtime C API", a, compileMs, bench.Driver{
		Spawn:    func() { liveFree(h.liveNew()) },
		LiveNew:  h.liveNew,
		LiveFree: liveFree,
	})
}
