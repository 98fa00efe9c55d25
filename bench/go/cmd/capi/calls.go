package main

// The calls mode: two instances of calls.wasm, one whose bench.inc is a Go callback
// defined with wasmtime_linker_define_func and one defined with
// wasmtime_linker_define_func_unchecked; add called with wasmtime_func_call and
// wasmtime_func_call_unchecked. Each call is one cgo call to a C shim taking and returning
// scalars, as a Go host over the C API writes it; each callback reaches its Go func through
// a cgo.Handle in env, as wasmtime-go does.

// #include <stdint.h>
// #include <stdlib.h>
// #include <string.h>
// #include <wasmtime.h>
//
// extern wasm_trap_t *benchGoIncChecked(uintptr_t env, wasmtime_val_t *args, wasmtime_val_t *results);
// extern wasm_trap_t *benchGoIncUnchecked(uintptr_t env, wasmtime_val_raw_t *args_and_results);
//
// static wasm_trap_t *calls_inc_checked(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args,
//                                       size_t nargs, wasmtime_val_t *results, size_t nresults) {
//     (void)caller, (void)nargs, (void)nresults;
//     return benchGoIncChecked((uintptr_t)env, (wasmtime_val_t *)args, results);
// }
//
// static wasm_trap_t *calls_inc_unchecked(void *env, wasmtime_caller_t *caller, wasmtime_val_raw_t *raw, size_t n) {
//     (void)caller, (void)n;
//     return benchGoIncUnchecked((uintptr_t)env, raw);
// }
//
// static char *calls_message(wasmtime_error_t *error, wasm_trap_t *trap) {
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
// typedef struct { char *err; int32_t result; } calls_ret;
//
// static calls_ret calls_add(wasmtime_context_t *context, const wasmtime_func_t *add, int32_t a, int32_t b) {
//     wasmtime_val_t args[2], result;
//     args[0].kind = WASMTIME_I32; args[0].of.i32 = a;
//     args[1].kind = WASMTIME_I32; args[1].of.i32 = b;
//     wasm_trap_t *trap = NULL;
//     wasmtime_error_t *error = wasmtime_func_call(context, add, args, 2, &result, 1, &trap);
//     calls_ret r = {calls_message(error, trap), result.of.i32};
//     return r;
// }
//
// static calls_ret calls_unchecked(wasmtime_context_t *context, const wasmtime_func_t *f, int32_t a, int32_t b, size_t n) {
//     wasmtime_val_raw_t raw[2];
//     raw[0].i32 = a;
//     raw[1].i32 = b;
//     wasm_trap_t *trap = NULL;
//     wasmtime_error_t *error = wasmtime_func_call_unchecked(context, f, raw, n, &trap);
//     calls_ret r = {calls_message(error, trap), raw[0].i32};
//     return r;
// }
//
// static char *calls_instance(wasm_engine_t *engine, wasmtime_module_t *module, bool unchecked, uintptr_t env,
//                             wasmtime_store_t **store_out, wasmtime_instance_t *instance) {
//     wasmtime_linker_t *linker = wasmtime_linker_new(engine);
//     wasm_valtype_vec_t params, results;
//     wasm_valtype_t *p = wasm_valtype_new_i32(), *r = wasm_valtype_new_i32();
//     wasm_valtype_vec_new(&params, 1, &p);
//     wasm_valtype_vec_new(&results, 1, &r);
//     wasm_functype_t *ty = wasm_functype_new(&params, &results);
//     wasmtime_error_t *error = unchecked
//         ? wasmtime_linker_define_func_unchecked(linker, "bench", 5, "inc", 3, ty, calls_inc_unchecked, (void *)env, NULL)
//         : wasmtime_linker_define_func(linker, "bench", 5, "inc", 3, ty, calls_inc_checked, (void *)env, NULL);
//     wasm_functype_delete(ty);
//     if (error) { wasmtime_linker_delete(linker); return calls_message(error, NULL); }
//     *store_out = wasmtime_store_new(engine, NULL, NULL);
//     wasmtime_context_t *context = wasmtime_store_context(*store_out);
//     wasmtime_context_set_epoch_deadline(context, UINT64_MAX / 2);
//     wasm_trap_t *trap = NULL;
//     error = wasmtime_linker_instantiate(linker, context, module, instance, &trap);
//     wasmtime_linker_delete(linker);
//     return calls_message(error, trap);
// }
//
// static bool calls_export(wasmtime_context_t *context, const wasmtime_instance_t *instance, const char *name,
//                          wasmtime_func_t *out) {
//     wasmtime_extern_t item;
//     if (!wasmtime_instance_export_get(context, instance, name, strlen(name), &item)) return false;
//     if (item.kind != WASMTIME_EXTERN_FUNC) { wasmtime_extern_delete(&item); return false; }
//     *out = item.of.func;
//     return true;
// }
import "C"

import (
	"runtime/cgo"
	"unsafe"

	"packr-bench/internal/bench"
)

// callsInstance is one store and instance of calls.wasm, with its exports.
type callsInstance struct {
	store   *C.wasmtime_store_t
	context *C.wasmtime_context_t
	add     C.wasmtime_func_t
	loop    C.wasmtime_func_t
}

func newCallsInstance(engine *C.wasm_engine_t, module *C.wasmtime_module_t, unchecked bool, inc cgo.Handle) *callsInstance {
	ci := &callsInstance{}
	var instance C.wasmtime_instance_t
	if msg := C.calls_instance(engine, module, C.bool(unchecked), C.uintptr_t(inc), &ci.store, &instance); msg != nil {
		fail("instantiate calls.wasm", msg)
	}
	ci.context = C.wasmtime_store_context(ci.store)
	for name, out := range map[string]*C.wasmtime_func_t{"add": &ci.add, "host_loop": &ci.loop} {
		cname := C.CString(name)
		ok := C.calls_export(ci.context, &instance, cname, out)
		C.free(unsafe.Pointer(cname))
		if !ok {
			bench.Die("capi-go: no function %s", name)
		}
	}
	return ci
}

func result(r C.calls_ret, what string) int32 {
	if r.err != nil {
		fail(what, r.err)
	}
	return int32(r.result)
}

func runCalls(a bench.Args, engine *C.wasm_engine_t, wasm []byte) {
	var module *C.wasmtime_module_t
	if e := C.wasmtime_module_new(engine, (*C.uint8_t)(unsafe.Pointer(&wasm[0])), C.size_t(len(wasm)), &module); e != nil {
		fail("compile", C.calls_message(e, nil))
	}
	defer C.wasmtime_module_delete(module)
	inc := cgo.NewHandle(func(x int32) int32 { return x + 1 })
	defer inc.Delete()
	checked := newCallsInstance(engine, module, false, inc)
	defer C.wasmtime_store_delete(checked.store)
	unchecked := newCallsInstance(engine, module, true, inc)
	defer C.wasmtime_store_delete(unchecked.store)
	bench.MeasureCalls("Go cgo over wasmtime C API", a, bench.Calls{
		Call: func() int32 { return result(C.calls_add(checked.context, &checked.add, 1, 2), "call add") },
		CallFast: func() int32 {
			return result(C.calls_unchecked(checked.context, &checked.add, 1, 2, 2), "call add unchecked")
		},
		HostLoop: func(n int32) int32 {
			return result(C.calls_unchecked(checked.context, &checked.loop, C.int32_t(n), 0, 1), "call host_loop")
		},
		HostLoopFast: func(n int32) int32 {
			return result(C.calls_unchecked(unchecked.context, &unchecked.loop, C.int32_t(n), 0, 1), "call host_loop")
		},
	}, "call: wasmtime_func_call; fast: wasmtime_func_call_unchecked; host: a Go callback through "+
		"wasmtime_linker_define_func; host fast: through wasmtime_linker_define_func_unchecked (each one cgo "+
		"call, the Go func found through a cgo.Handle)")
}
