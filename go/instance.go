package packr

// Calls that can reach a host callback (Go) are neither nocallback nor noescape: they take
// their arguments by value or in Go heap memory (see shim.h). No callback can happen in
// those listed below.

// #cgo noescape packr_go_call_nc
// #cgo nocallback packr_go_call_nc
// #cgo noescape packr_go_instance_memory_read
// #cgo nocallback packr_go_instance_memory_read
// #cgo noescape packr_go_instance_memory_write
// #cgo nocallback packr_go_instance_memory_write
// #cgo noescape packr_go_instance_memory_size
// #cgo nocallback packr_go_instance_memory_size
// #cgo noescape packr_go_instance_global_get
// #cgo nocallback packr_go_instance_global_get
// #cgo noescape packr_go_instance_global_set
// #cgo nocallback packr_go_instance_global_set
// #cgo noescape packr_go_instance_func_signature
// #cgo nocallback packr_go_instance_func_signature
// #include "shim.h"
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"
)

// instState is the Go side of one instance, reached from host callbacks through the
// instance's host data (a cgo.Handle given to packr_module_instantiate_with), never
// through a global slot.
type instState struct {
	data any         // InstanceConfig.Data
	info *moduleInfo // the module's signatures, for Caller.Call

	// pending is why the innermost failed host callback failed (an error or a hostPanic),
	// left for the call that entered wasm: that call returns with PACKR_ERR_HOST and takes
	// it. Only the goroutine running a call on the instance touches it (packr admits one
	// call at a time; a callback runs on the calling goroutine), and a nested call
	// (Caller.Call) takes what its own callbacks left before its caller continues.
	pending any
}

// finish completes a call that may have run host callbacks: err (from st) gets the Go
// error a failed callback returned as its cause, or the callback's panic is re-raised.
func (s *instState) finish(st C.packr_status, err *Error) error {
	if err == nil {
		return nil
	}
	if s == nil || st != C.PACKR_ERR_HOST {
		return err
	}
	p := s.pending
	s.pending = nil
	switch p := p.(type) {
	case hostPanic:
		panic(p.value)
	case error:
		err.cause = p
	}
	return err
}

// Instance is a live instance of a module: its own store, memories and globals. It owns
// its C handle and keeps its module and runtime alive.
//
// Thread rules: use an instance from one goroutine at a time. Concurrent calls are not
// serialised here: the core refuses the overlapping one with ErrBusy instead of waiting,
// which is always safe. Close may be called from any goroutine at any time; it waits for
// a call in progress to return, then frees the instance, and later calls get ErrClosed.
// Interrupt, InterruptCall, SetTimeout and Data may be called from any goroutine at any
// time, also during a call and concurrently with Close, and never wait for a call.
// The instance's own methods must not be called from its host functions (Close would wait
// for the call that is running it; the others would be ErrBusy): use the Caller there.
type Instance struct {
	mu        sync.RWMutex // calls hold RLock; Close holds Lock, so no call sees a freed handle
	ptrMu     sync.Mutex   // guards ptr for the interrupts and SetTimeout (see Close)
	ptr       *C.packr_instance
	info      *moduleInfo
	state     *instState // nil for an instance without host data or host functions
	handle    cgo.Handle // state's handle, 0 without state
	callbacks bool       // its runtime has host functions, so calls may run Go callbacks
	cleanup   runtime.Cleanup
}

// instanceRes is what an instance's cleanup frees: the instance, then its state's handle
// (no callback can reach the state any more).
type instanceRes struct {
	ptr    *C.packr_instance
	handle cgo.Handle
}

func (r instanceRes) free() {
	C.packr_instance_free(r.ptr)
	if r.handle != 0 {
		deleteHandle(r.handle)
	}
}

func newInstance(p *C.packr_instance, info *moduleInfo, state *instState, h cgo.Handle, callbacks bool) *Instance {
	i := &Instance{ptr: p, info: info, state: state, handle: h, callbacks: callbacks}
	i.cleanup = runtime.AddCleanup(i, instanceRes.free, instanceRes{ptr: p, handle: h})
	return i
}

// Data returns the data given in InstanceConfig.Data when the instance was made (nil
// otherwise); host functions reach the same value through Caller.Data. It never touches
// the store, so it may be called at any time, also during a call.
func (i *Instance) Data() any {
	if i.state == nil {
		return nil
	}
	return i.state.data
}

// signature finds name's signature, from the cache shared by the module's handles when it
// can. The caller holds i.mu.RLock on an open instance.
func (i *Instance) signature(name string) (*funcSig, error) {
	if s := i.info.get(name); s != nil {
		return s, nil
	}
	cname, err := cName(name)
	if err != nil {
		return nil, err
	}
	var cs C.packr_func_signature
	var msg *C.char
	st := C.packr_go_instance_func_signature(i.ptr, (*C.char)(unsafe.Pointer(&cname[0])), &cs, &msg)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	s := newFuncSig(cname, &cs)
	runtime.KeepAlive(i) // cs points into the module until copied
	i.info.put(name, s)
	return s, nil
}

// FuncSignature returns the signature of the exported function name, like
// Module.FuncSignature. It never returns ErrBusy.
func (i *Instance) FuncSignature(name string) (Signature, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return Signature{}, ErrClosed
	}
	s, err := i.signature(name)
	if err != nil {
		return Signature{}, err
	}
	return s.signature(), nil
}

// Call calls the exported function name and returns its results.
//
// Arguments are int32, int64, float32, float64 or Vec128, passed with that kind, or a
// Value; an int takes the kind of its parameter (i32 or i64) and fails with
// ErrInvalidArgument if it does not fit. Any other Go type fails with ErrTypeMismatch.
// Results are int32, int64, float32, float64 or Vec128. A trap is ErrTrap and leaves the
// instance usable. A failed host function is ErrHost, unwrapping to the Go error it
// returned; a host function's panic is re-raised here (see Host.Define). A guest that
// calls WASI's proc_exit ends the call with an *ExitError carrying its code.
//
// For calls on a hot path, resolve the export once with Module.Func and call it with
// CallFunc or the typed CallFunc0..CallFunc4, which skip the name lookup and (the typed
// ones) allocate nothing.
func (i *Instance) Call(name string, args ...any) ([]any, error) {
	return i.call(name, args, -1)
}

// call is Call with an explicit result count (-1: the signature's), so tests can also
// exercise the core's count checks.
func (i *Instance) call(name string, args []any, nresults int) ([]any, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return nil, ErrClosed
	}
	sig, err := i.signature(name)
	if err != nil {
		return nil, err
	}
	if nresults < 0 {
		nresults = len(sig.results)
	}
	var buf [2 * smallVals]Value
	argv, resv, err := slots(args, nresults, sig, &buf)
	if err != nil {
		return nil, err
	}
	if err := i.callValues(sig.cname, nil, argv, resv); err != nil {
		return nil, err
	}
	return boxed(resv), nil
}

// slots converts args for sig into argument slots, and makes nresults result slots: in
// buf (the caller's stack) when they fit.
func slots(args []any, nresults int, sig *funcSig, buf *[2 * smallVals]Value) (argv, resv []Value, err error) {
	if len(args) <= smallVals && nresults <= smallVals {
		argv, resv = buf[:len(args)], buf[smallVals:smallVals+nresults]
	} else {
		argv, resv = make([]Value, len(args)), make([]Value, nresults)
	}
	for k, a := range args {
		if err := setValue(&argv[k], a, k, sig); err != nil {
			return nil, nil, err
		}
	}
	return argv, resv, nil
}

// boxed returns results as the Go values of their kinds.
func boxed(results []Value) []any {
	out := make([]any, len(results))
	for k := range out {
		out[k] = results[k].Interface()
	}
	return out
}

// smallVals is how many arguments and results a call carries without allocating; it is
// the shim's PACKR_GO_SMALL.
const smallVals = C.PACKR_GO_SMALL

// callValues calls the export cname (or, with f non-nil, the func f) with args, writing
// results. The caller holds i.mu.RLock on an open instance (and f's lock), so that the
// pending failure finish takes is this call's. args and results may be on the caller's
// stack: they never reach C as pointers when a callback can run (see shim.h).
func (i *Instance) callValues(cname []byte, f *C.packr_func, args, results []Value) error {
	var name *C.char
	if f == nil {
		name = (*C.char)(unsafe.Pointer(&cname[0]))
	}
	n, nr := C.size_t(len(args)), C.size_t(len(results))
	var st C.packr_status
	var msg *C.char
	switch {
	case !i.callbacks: // no host functions: nothing can call back into Go
		var ap, rp *C.packr_val
		if n > 0 {
			ap = cval(&args[0])
		}
		if nr > 0 {
			rp = cval(&results[0])
		}
		st = C.packr_go_call_nc(i.ptr, f, name, ap, n, rp, nr, &msg)
	case n <= 4 && nr <= 1:
		var a C.packr_go_vals4
		copy(values(&a.v[0], 4), args)
		r := C.packr_go_call4(i.ptr, f, name, a, n, nr)
		st, msg = r.st, r.err
		if st == C.PACKR_OK && nr == 1 {
			copy(results, values(&r.result, 1))
		}
	case n <= smallVals && nr <= smallVals:
		var a C.packr_go_vals8
		copy(values(&a.v[0], smallVals), args)
		r := C.packr_go_call8(i.ptr, f, name, a, n, nr)
		st, msg = r.st, r.err
		if st == C.PACKR_OK {
			copy(results, values(&r.results.v[0], smallVals))
		}
	default: // copies on the heap, which does not move
		a, res := append([]Value(nil), args...), make([]Value, nr)
		var ap, rp *C.packr_val
		if n > 0 {
			ap = cval(&a[0])
		}
		if nr > 0 {
			rp = cval(&res[0])
		}
		r := C.packr_go_call_heap(i.ptr, f, name, ap, n, rp, nr)
		st, msg = r.st, r.err
		if st == C.PACKR_OK {
			copy(results, res)
		}
	}
	runtime.KeepAlive(i)
	if st == C.PACKR_OK {
		return nil
	}
	if f != nil {
		return i.failed(st, funcErr(st, msg))
	}
	return i.failed(st, checkErr(st, msg))
}

// memoryName is name NUL-terminated in buf when it fits (else on the heap), for the
// noescape memory and global shims; "memory" is NULL, packr's default.
func memoryName(name string, buf *[64]byte) (*C.char, error) {
	if name == "memory" {
		return nil, nil
	}
	if strings.IndexByte(name, 0) >= 0 {
		return nil, newError(StatusInvalidArgument, fmt.Sprintf("name %q contains a NUL byte", name))
	}
	b := buf[:]
	if len(name) >= len(buf) {
		b = make([]byte, len(name)+1)
	}
	copy(b, name)
	b[len(name)] = 0
	return (*C.char)(unsafe.Pointer(&b[0])), nil
}

// MemorySize returns the current size in bytes of the memory exported as "memory".
func (i *Instance) MemorySize() (uint64, error) { return i.MemorySizeNamed("memory") }

// MemorySizeNamed returns the current size in bytes of the memory exported as name.
// No such export is ErrNotFound; an export that is not a memory is ErrTypeMismatch.
func (i *Instance) MemorySizeNamed(name string) (uint64, error) {
	var buf [64]byte
	cname, err := memoryName(name, &buf)
	if err != nil {
		return 0, err
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return 0, ErrClosed
	}
	var n C.uint64_t
	var msg *C.char
	st := C.packr_go_instance_memory_size(i.ptr, cname, &n, &msg)
	runtime.KeepAlive(i)
	if err := check(st, msg); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// ReadMemory copies length bytes at offset out of the memory exported as "memory" into a
// new slice the caller owns. A range outside the memory is ErrOutOfBounds.
func (i *Instance) ReadMemory(offset uint64, length int) ([]byte, error) {
	return i.ReadMemoryNamed("memory", offset, length)
}

// ReadMemoryNamed is ReadMemory on the memory exported as name (ErrNotFound if none).
func (i *Instance) ReadMemoryNamed(name string, offset uint64, length int) ([]byte, error) {
	if length < 0 {
		return nil, newError(StatusInvalidArgument, fmt.Sprintf("negative length %d", length))
	}
	var nbuf [64]byte
	cname, err := memoryName(name, &nbuf)
	if err != nil {
		return nil, err
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return nil, ErrClosed
	}
	buf := make([]byte, length)
	var p *C.uint8_t
	if length > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&buf[0]))
	}
	var msg *C.char
	st := C.packr_go_instance_memory_read(i.ptr, cname, C.uint64_t(offset), p, C.size_t(length), &msg)
	runtime.KeepAlive(i)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	return buf, nil
}

// WriteMemory copies data into the memory exported as "memory" at offset; data is only
// read during the call. Nothing is written unless the whole range fits, else the error
// is ErrOutOfBounds.
func (i *Instance) WriteMemory(offset uint64, data []byte) error {
	return i.WriteMemoryNamed("memory", offset, data)
}

// WriteMemoryNamed is WriteMemory on the memory exported as name (ErrNotFound if none).
func (i *Instance) WriteMemoryNamed(name string, offset uint64, data []byte) error {
	var nbuf [64]byte
	cname, err := memoryName(name, &nbuf)
	if err != nil {
		return err
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return ErrClosed
	}
	var p *C.uint8_t
	if len(data) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	var msg *C.char
	st := C.packr_go_instance_memory_write(i.ptr, cname, C.uint64_t(offset), p, C.size_t(len(data)), &msg)
	runtime.KeepAlive(i)
	return check(st, msg)
}

// GetGlobal reads the global exported as name. No such export is ErrNotFound; an export
// that is not a global, or a global holding a reference, is ErrTypeMismatch.
func (i *Instance) GetGlobal(name string) (Value, error) {
	var nbuf [64]byte
	cname, err := globalName(name, &nbuf)
	if err != nil {
		return Value{}, err
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return Value{}, ErrClosed
	}
	var v Value
	var msg *C.char
	st := C.packr_go_instance_global_get(i.ptr, cname, cval(&v), &msg)
	runtime.KeepAlive(i)
	if err := check(st, msg); err != nil {
		return Value{}, err
	}
	return v, nil
}

// SetGlobal sets the mutable global exported as name to v, whose kind must be the
// global's. An immutable global, another kind, or an export that is not a global is
// ErrTypeMismatch; no such export is ErrNotFound.
func (i *Instance) SetGlobal(name string, v Value) error {
	var nbuf [64]byte
	cname, err := globalName(name, &nbuf)
	if err != nil {
		return err
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return ErrClosed
	}
	var msg *C.char
	st := C.packr_go_instance_global_set(i.ptr, cname, cval(&v), &msg)
	runtime.KeepAlive(i)
	return check(st, msg)
}

// globalName is memoryName without the NULL shortcut (a global's name is required).
func globalName(name string, buf *[64]byte) (*C.char, error) {
	if name == "memory" {
		b := append(buf[:0], "memory\x00"...)
		return (*C.char)(unsafe.Pointer(&b[0])), nil
	}
	return memoryName(name, buf)
}

// Close frees the instance, its store, memories and globals. It is idempotent and
// always returns nil; it waits for a call in progress on i to return first.
func (i *Instance) Close() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.ptr != nil {
		i.cleanup.Stop()
		res := instanceRes{ptr: i.ptr, handle: i.handle}
		i.ptrMu.Lock()
		i.ptr = nil // from here no interrupt or SetTimeout reaches the handle
		i.ptrMu.Unlock()
		res.free()
	}
	return nil
}
