package packr

// #include "shim.h"
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// Version returns the version of the linked packr library, such as "0.1.0".
func Version() string {
	return C.GoString(C.packr_version())
}

// Runtime is a wasmtime engine plus the host definitions instances are linked against.
//
// A Runtime owns its C handle and frees it on Close (or, as a safety net, when garbage
// collected). Modules and instances made from it keep what they need alive, so it may be
// closed before them. A Runtime is safe for concurrent use by many goroutines; Close
// waits for calls in progress on it.
type Runtime struct {
	mu      sync.RWMutex // calls hold RLock; Close holds Lock, so no call sees a freed handle
	ptr     *C.packr_runtime
	hosted  bool // made with a Host
	cleanup runtime.Cleanup
}

func newRuntime(p *C.packr_runtime) *Runtime {
	r := &Runtime{ptr: p}
	r.cleanup = runtime.AddCleanup(r, func(p *C.packr_runtime) { C.packr_runtime_free(p) }, p)
	return r
}

// NewRuntime creates a runtime with its own engine. The caller owns it and should Close it.
func NewRuntime() (*Runtime, error) {
	var out *C.packr_runtime
	var msg *C.char
	if err := check(C.packr_go_runtime_new(&out, &msg), msg); err != nil {
		return nil, err
	}
	return newRuntime(out), nil
}

// NewRuntimeSharingEngine creates a runtime that shares base's engine, so modules of
// either can be wrapped into the other without recompiling. The caller owns the new
// runtime; base stays the caller's and may be closed first.
func NewRuntimeSharingEngine(base *Runtime) (*Runtime, error) {
	if base == nil {
		return nil, newError(StatusNullPointer, "base runtime is nil")
	}
	base.mu.RLock()
	defer base.mu.RUnlock()
	if base.ptr == nil {
		return nil, ErrClosed
	}
	var out *C.packr_runtime
	var msg *C.char
	st := C.packr_go_runtime_new_sharing_engine(base.ptr, &out, &msg)
	runtime.KeepAlive(base)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	return newRuntime(out), nil
}

// NewRuntimeWithHost creates a runtime that shares base's engine (as
// NewRuntimeSharingEngine does, so modules wrap between them without recompiling) and
// whose instances' imports are served by host's definitions as they are now: later
// Defines do not reach it, and host may be closed at once. base's own host functions are
// not carried over. The caller owns the new runtime; base and host stay the caller's.
//
// Imports are resolved once per module bound to the runtime, on its first instantiation;
// a module whose imports the definitions cannot satisfy fails then with ErrLink, naming
// every unmet import.
func NewRuntimeWithHost(base *Runtime, host *Host) (*Runtime, error) {
	if base == nil || host == nil {
		return nil, newError(StatusNullPointer, "base runtime or host is nil")
	}
	base.mu.RLock()
	defer base.mu.RUnlock()
	host.mu.RLock()
	defer host.mu.RUnlock()
	if base.ptr == nil || host.ptr == nil {
		return nil, ErrClosed
	}
	var out *C.packr_runtime
	var msg *C.char
	st := C.packr_go_runtime_new_with_host(base.ptr, host.ptr, &out, &msg)
	runtime.KeepAlive(base)
	runtime.KeepAlive(host)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	r := newRuntime(out)
	r.hosted = true
	return r, nil
}

// Load compiles wasm (a binary module or WebAssembly text) with the runtime's engine and
// returns a module bound to this runtime. The caller owns the module and should Close it;
// wasm is only read during the call. Compile errors are ErrCompile.
func (r *Runtime) Load(wasm []byte) (*Module, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return nil, ErrClosed
	}
	var p *C.uint8_t
	if len(wasm) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&wasm[0]))
	}
	var out *C.packr_module
	var msg *C.char
	st := C.packr_go_module_load(r.ptr, p, C.size_t(len(wasm)), &out, &msg)
	runtime.KeepAlive(r)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	return newModule(out, &moduleInfo{}, r.hosted), nil
}

// Wrap binds m to this runtime without recompiling: the compile-cache hit. m must come
// from a runtime sharing this one's engine, else the error is ErrEngineMismatch. The
// caller owns the result and should Close it; m stays the caller's.
func (r *Runtime) Wrap(m *Module) (*Module, error) {
	if m == nil {
		return nil, newError(StatusNullPointer, "module is nil")
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if r.ptr == nil || m.ptr == nil {
		return nil, ErrClosed
	}
	var out *C.packr_module
	var msg *C.char
	st := C.packr_go_runtime_wrap_module(r.ptr, m.ptr, &out, &msg)
	runtime.KeepAlive(r)
	runtime.KeepAlive(m)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	// Same compiled code, so the same signatures: share the cache.
	return newModule(out, m.info, r.hosted), nil
}

// Close frees the runtime handle. Modules and instances made from it keep working.
// It is idempotent and always returns nil; it waits for calls in progress on r.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr != nil {
		r.cleanup.Stop()
		C.packr_runtime_free(r.ptr)
		r.ptr = nil
	}
	return nil
}
