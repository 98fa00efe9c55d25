package packr

// #cgo noescape packr_go_module_func
// #cgo nocallback packr_go_module_func
// #cgo noescape packr_go_func_signature
// #cgo nocallback packr_go_func_signature
// #include "shim.h"
import "C"

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Func is an exported function resolved once on a module's compiled code (Module.Func),
// to be called on any instance of that code: made from the module, from any clone of it,
// or from any wrap of it into another runtime. Resolve when a module enters the cache,
// call on every spawn, without looking the name up again.
//
// A Func owns its C handle, which keeps the compiled code alive (not the runtime). It never
// changes, so any number of goroutines may call through it at once. Close marks it closed,
// so later calls return ErrClosed; the handle itself is freed once the Func is garbage
// collected, when no call can be using it. That is what lets a call through a Func take no
// lock of its own (on the hot path, one lock less than Instance.Call).
type Func struct {
	ptr    *C.packr_func // set once; freed by the cleanup
	closed atomic.Bool
	sig    *funcSig
}

// Func resolves the exported function name. No such export is ErrNotFound; an export
// that is not a function, or uses types packr values cannot carry (references), is
// ErrTypeMismatch. The caller owns the Func and should Close it; m may be closed first.
func (m *Module) Func(name string) (*Func, error) {
	cname, err := cName(name)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return nil, ErrClosed
	}
	var p *C.packr_func
	var msg *C.char
	st := C.packr_go_module_func(m.ptr, (*C.char)(unsafe.Pointer(&cname[0])), &p, &msg)
	runtime.KeepAlive(m)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	var cs C.packr_func_signature
	if err := check(C.packr_go_func_signature(p, &cs, &msg), msg); err != nil {
		C.packr_func_free(p)
		return nil, err
	}
	f := &Func{ptr: p, sig: newFuncSig(cname, &cs)}
	runtime.AddCleanup(f, func(p *C.packr_func) { C.packr_func_free(p) }, p)
	return f, nil
}

// Signature returns the function's parameter and result kinds (a copy).
func (f *Func) Signature() Signature { return f.sig.signature() }

// Close marks the func closed: calls through it then return ErrClosed. Calls in progress
// finish normally. It is idempotent and always returns nil.
func (f *Func) Close() error {
	f.closed.Store(true)
	return nil
}

// lockCall takes i's read lock for a call through f, returning false (unlocked) if either
// is closed.
func lockCall(i *Instance, f *Func) bool {
	i.mu.RLock()
	if i.ptr == nil || f.closed.Load() {
		i.mu.RUnlock()
		return false
	}
	return true
}

func unlockCall(i *Instance, f *Func) {
	i.mu.RUnlock()
}

// CallFunc calls f on i with the arguments and results of Call. A func resolved on other
// compiled code than i's is ErrInvalidArgument naming both.
func (i *Instance) CallFunc(f *Func, args ...any) ([]any, error) {
	if f == nil {
		return nil, newError(StatusNullPointer, "func is nil")
	}
	if !lockCall(i, f) {
		return nil, ErrClosed
	}
	defer unlockCall(i, f)
	var buf [2 * smallVals]Value
	argv, resv, err := slots(args, len(f.sig.results), f.sig, &buf)
	if err != nil {
		return nil, err
	}
	if err := i.callValues(nil, f.ptr, argv, resv); err != nil {
		return nil, err
	}
	runtime.KeepAlive(f)
	return boxed(resv), nil
}

// CallFuncValues calls f on i with args (of f's parameter kinds) and fills results (one
// slot per result of f). Counts and kinds are checked by packr (ErrTypeMismatch). It does
// not allocate for up to 8 arguments and 8 results, whatever the signature.
func (i *Instance) CallFuncValues(f *Func, args, results []Value) error {
	if f == nil {
		return newError(StatusNullPointer, "func is nil")
	}
	if !lockCall(i, f) {
		return ErrClosed
	}
	defer unlockCall(i, f)
	err := i.callValues(nil, f.ptr, args, results)
	runtime.KeepAlive(f)
	return err
}

// The typed helpers call f on inst with Go-typed arguments and result, without []any and
// without allocating. Their type parameters say the signature: R is the result's Go type
// (int32, int64, float32, float64 or Vec128; NoResult for a function without results),
// and the arguments' types, inferred from the call, give the parameter kinds:
//
//	add, _ := m.Func("add") // (i32, i32) -> i32
//	sum, err := packr.CallFunc2[int32](inst, add, int32(2), int32(3))
//
// Kinds and counts are checked on every call against f's signature (ErrTypeMismatch
// naming the mismatch); the other errors are CallFunc's.

// CallFunc0 calls f, which takes no arguments, on inst.
func CallFunc0[R result](inst *Instance, f *Func) (R, error) {
	var v C.packr_go_vals4
	return callTyped[R](inst, f, &v, 0)
}

// CallFunc1 calls f on inst with one argument.
func CallFunc1[R result, A scalar](inst *Instance, f *Func, a A) (R, error) {
	var v C.packr_go_vals4
	setArg(&v, 0, a)
	return callTyped[R](inst, f, &v, 1)
}

// CallFunc2 calls f on inst with two arguments.
func CallFunc2[R result, A, B scalar](inst *Instance, f *Func, a A, b B) (R, error) {
	var v C.packr_go_vals4
	setArg(&v, 0, a)
	setArg(&v, 1, b)
	return callTyped[R](inst, f, &v, 2)
}

// CallFunc3 calls f on inst with three arguments.
func CallFunc3[R result, A, B, C scalar](inst *Instance, f *Func, a A, b B, c C) (R, error) {
	var v C.packr_go_vals4
	setArg(&v, 0, a)
	setArg(&v, 1, b)
	setArg(&v, 2, c)
	return callTyped[R](inst, f, &v, 3)
}

// CallFunc4 calls f on inst with four arguments.
func CallFunc4[R result, A, B, C, D scalar](inst *Instance, f *Func, a A, b B, c C, d D) (R, error) {
	var v C.packr_go_vals4
	setArg(&v, 0, a)
	setArg(&v, 1, b)
	setArg(&v, 2, c)
	setArg(&v, 3, d)
	return callTyped[R](inst, f, &v, 4)
}

func setArg[T scalar](v *C.packr_go_vals4, k int, x T) {
	p := (*Value)(unsafe.Pointer(&v.v[k]))
	p.kind = kindOf[T]()
	valSet(p, x)
}

// resultKind is R's kind, and whether R is a result at all (not NoResult).
func resultKind[R result]() (ValKind, bool) {
	switch any((*R)(nil)).(type) {
	case *NoResult:
		return 0, false
	case *int32:
		return I32, true
	case *int64:
		return I64, true
	case *float32:
		return F32, true
	case *float64:
		return F64, true
	}
	return V128, true
}

// callTyped is the typed helpers' call: Instance.callValues for exactly this shape, with
// the arguments built in place.
func callTyped[R result](inst *Instance, f *Func, args *C.packr_go_vals4, nargs int) (R, error) {
	var r R
	if inst == nil || f == nil {
		return r, newError(StatusNullPointer, "instance or func is nil")
	}
	kind, has := resultKind[R]()
	nres := C.size_t(0)
	if has {
		nres = 1
		// packr checks arguments and counts; the result's kind is ours to check.
		if len(f.sig.results) == 1 && f.sig.results[0] != kind {
			return r, typedMismatch(f, kind)
		}
	}
	if !lockCall(inst, f) {
		return r, ErrClosed
	}
	defer unlockCall(inst, f) // held while finish takes this call's pending failure
	var st C.packr_status
	var msg *C.char
	var result C.packr_val
	if inst.callbacks {
		ret := C.packr_go_call4(inst.ptr, f.ptr, nil, *args, C.size_t(nargs), nres)
		st, msg, result = ret.st, ret.err, ret.result
	} else {
		st = C.packr_go_call_nc(inst.ptr, f.ptr, nil, &args.v[0], C.size_t(nargs), &result, nres, &msg)
	}
	runtime.KeepAlive(inst)
	runtime.KeepAlive(f)
	if st != C.PACKR_OK {
		return r, inst.failed(st, funcErr(st, msg))
	}
	if has {
		r = *(*R)(unsafe.Pointer(&result.of))
	}
	return r, nil
}

// funcErr is the error of a failed call through a func, naming this package's method
// where the core names its C function.
func funcErr(st C.packr_status, msg *C.char) *Error {
	err := checkErr(st, msg)
	if st == C.PACKR_ERR_INVALID_ARGUMENT {
		err.Message = strings.ReplaceAll(err.Message, "packr_module_func", "Module.Func")
	}
	return err
}

func typedMismatch(f *Func, kind ValKind) error {
	return newError(StatusTypeMismatch, fmt.Sprintf("the function returns %v, the call asks for %v", f.sig.results[0], kind))
}
