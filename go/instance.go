package packr

// #cgo noescape packr_go_instance_call
// #cgo nocallback packr_go_instance_call
// #cgo noescape packr_go_instance_memory_read
// #cgo nocallback packr_go_instance_memory_read
// #cgo noescape packr_go_instance_memory_write
// #cgo noescape packr_go_instance_memory_size
// #cgo nocallback packr_go_instance_memory_size
// #cgo nocallback packr_go_instance_memory_write
// #include "shim.h"
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// Instance is a live instance of a module: its own store, memories and globals. It owns
// its C handle and keeps its module and runtime alive.
//
// Thread rules: use an instance from one goroutine at a time. Concurrent calls are not
// serialised here: the core refuses the overlapping one with ErrBusy instead of waiting,
// which is always safe. Close may be called from any goroutine at any time; it waits for
// a call in progress to return, then frees the instance, and later calls get ErrClosed.
type Instance struct {
	mu      sync.RWMutex // calls hold RLock; Close holds Lock, so no call sees a freed handle
	ptr     *C.packr_instance
	info    *moduleInfo
	cleanup runtime.Cleanup
}

func newInstance(p *C.packr_instance, info *moduleInfo) *Instance {
	i := &Instance{ptr: p, info: info}
	i.cleanup = runtime.AddCleanup(i, func(p *C.packr_instance) { C.packr_instance_free(p) }, p)
	return i
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
// Arguments are int32, int64, float32 or float64, passed with that kind; an int takes
// the kind of its parameter (i32 or i64) and fails with ErrInvalidArgument if it does not
// fit. Any other Go type fails with ErrTypeMismatch. Results are int32, int64, float32 or
// float64. A trap is ErrTrap and leaves the instance usable.
func (i *Instance) Call(name string, args ...any) ([]any, error) {
	return i.call(name, args, -1)
}

// stackVals is how many arguments and results a call keeps on the stack.
const stackVals = 8

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
	var argBuf, resBuf [stackVals]C.packr_val
	argv, resv := argBuf[:], resBuf[:]
	if len(args) > stackVals {
		argv = make([]C.packr_val, len(args))
	}
	if nresults > stackVals {
		resv = make([]C.packr_val, nresults)
	}
	for k, a := range args {
		if err := setVal(&argv[k], a, k, sig); err != nil {
			return nil, err
		}
	}
	var msg *C.char
	st := C.packr_go_instance_call(i.ptr, (*C.char)(unsafe.Pointer(&sig.cname[0])),
		&argv[0], C.size_t(len(args)), &resv[0], C.size_t(nresults), &msg)
	runtime.KeepAlive(i)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	out := make([]any, nresults)
	for k := range out {
		out[k] = getVal(&resv[k])
	}
	return out, nil
}

func setVal(v *C.packr_val, a any, k int, sig *funcSig) error {
	p := unsafe.Pointer(&v.of)
	switch x := a.(type) {
	case int32:
		v.kind, *(*int32)(p) = C.PACKR_I32, x
	case int64:
		v.kind, *(*int64)(p) = C.PACKR_I64, x
	case float32:
		v.kind, *(*float32)(p) = C.PACKR_F32, x
	case float64:
		v.kind, *(*float64)(p) = C.PACKR_F64, x
	case int:
		want := I64 // past the parameters: the core reports the count
		if k < len(sig.params) {
			want = sig.params[k]
		}
		switch want {
		case I32:
			if x < math.MinInt32 || x > math.MaxInt32 {
				return newError(StatusInvalidArgument, fmt.Sprintf("argument %d is %d, which does not fit the signature's i32", k, x))
			}
			v.kind, *(*int32)(p) = C.PACKR_I32, int32(x)
		case I64:
			v.kind, *(*int64)(p) = C.PACKR_I64, int64(x)
		default:
			return newError(StatusTypeMismatch, fmt.Sprintf("argument %d is a Go int, the signature wants %v", k, want))
		}
	default:
		return newError(StatusTypeMismatch, fmt.Sprintf("argument %d is a Go %T; pass int32, int64, float32, float64 or int", k, a))
	}
	return nil
}

func getVal(v *C.packr_val) any {
	p := unsafe.Pointer(&v.of)
	switch v.kind {
	case C.PACKR_I32:
		return *(*int32)(p)
	case C.PACKR_I64:
		return *(*int64)(p)
	case C.PACKR_F32:
		return *(*float32)(p)
	case C.PACKR_F64:
		return *(*float64)(p)
	}
	return nil // the core writes only the four kinds above
}

// MemorySize returns the current size in bytes of the memory exported as "memory".
func (i *Instance) MemorySize() (uint64, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return 0, ErrClosed
	}
	var n C.uint64_t
	var msg *C.char
	st := C.packr_go_instance_memory_size(i.ptr, &n, &msg)
	runtime.KeepAlive(i)
	if err := check(st, msg); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// ReadMemory copies length bytes at offset out of the memory exported as "memory" into a
// new slice the caller owns. A range outside the memory is ErrOutOfBounds.
func (i *Instance) ReadMemory(offset uint64, length int) ([]byte, error) {
	if length < 0 {
		return nil, newError(StatusInvalidArgument, fmt.Sprintf("negative length %d", length))
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
	st := C.packr_go_instance_memory_read(i.ptr, C.uint64_t(offset), p, C.size_t(length), &msg)
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
	st := C.packr_go_instance_memory_write(i.ptr, C.uint64_t(offset), p, C.size_t(len(data)), &msg)
	runtime.KeepAlive(i)
	return check(st, msg)
}

// Close frees the instance, its store, memories and globals. It is idempotent and
// always returns nil; it waits for a call in progress on i to return first.
func (i *Instance) Close() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.ptr != nil {
		i.cleanup.Stop()
		C.packr_instance_free(i.ptr)
		i.ptr = nil
	}
	return nil
}
