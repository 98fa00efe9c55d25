package packr

// Pack calls and bytes host functions may run callbacks: no noescape or nocallback here.

// #include "shim.h"
import "C"

import (
	"runtime"
	"strconv"
	"strings"
	"unsafe"
)

// BytesFunc is a host function in upstream packr's pack convention, for DefineBytes: it
// gets the guest's input as bytes and returns its output as bytes.
//
// in is a copy packr made of the guest's input, in packr's memory and valid only until the
// func returns: do not keep it (copy it to keep it). It may be returned as the output.
//
// A nil error gives the output to the guest (an empty output allocates nothing in it). An
// error for which errors.Is(err, ErrGuest) holds, such as ErrGuest itself or
// fmt.Errorf("bad input: %w", packr.ErrGuest), makes the import return -1 to the guest: an
// error the guest handles (the pack convention carries no message with it). Any other
// error, or a panic, makes the guest trap, as for Host.Define: the call that entered wasm
// returns ErrHost with the error's text, unwrapping to it (a panic is re-raised).
type BytesFunc func(c *Caller, in []byte) ([]byte, error)

// DefineBytes defines the host function module::name in the pack convention: the import's
// type is (in_ptr, in_len, out_ptr_ptr, out_len_ptr: i32) -> i32 and fn serves it with
// bytes (see BytesFunc). packr copies the input out of the guest's "memory" export and the
// output into a block from the guest's __pack_alloc, which the guest frees. The rules
// for names, goroutines and the *Caller are Define's.
func (h *Host) DefineBytes(module, name string, fn BytesFunc) error {
	qualified := module + "::" + name
	if fn == nil {
		return newError(StatusNullPointer, "the func of "+qualified+" is nil")
	}
	if strings.IndexByte(module, 0) >= 0 || strings.IndexByte(name, 0) >= 0 {
		return newError(StatusInvalidArgument, "host function name "+strconv.Quote(qualified)+" contains a NUL byte")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ptr == nil {
		return ErrClosed
	}
	cm, cn := C.CString(module), C.CString(name)
	defer C.free(unsafe.Pointer(cm))
	defer C.free(unsafe.Pointer(cn))
	// From here packr owns the id: its finalizer removes it, also when this fails.
	env := defs.add(&hostDef{qualified: qualified, bytes: fn, wantsCaller: true})
	r := C.packr_go_host_define_bytes(h.ptr, cm, cn, C.uintptr_t(env))
	runtime.KeepAlive(h)
	return check(r.st, r.err)
}

// CallBytes calls the export name in upstream packr's pack convention: in goes into the
// guest (a block from its __pack_alloc), the export runs, and its output comes back as a
// new slice the caller owns. in is only read during the call. The guest must export
// memory, __pack_alloc(i32) -> i32 and __pack_free(i32, i32) (else ErrNotFound naming the
// missing one), and the export must have the type (i32, i32, i32, i32) -> i32 (else
// ErrTypeMismatch).
//
// A guest that returns -1 is ErrGuest, whose message is "the guest's `NAME` failed: " and
// the guest's own message; a guest that breaks the convention (another return code, a
// failed __pack_alloc) is ErrGuest saying how, and one that points outside its memory is
// ErrOutOfBounds. Traps, host functions, exits (*ExitError) and ErrBusy are as for Call.
//
// For calls on a hot path, resolve the export once with Module.Func and use
// CallFuncBytes.
func (i *Instance) CallBytes(name string, in []byte) ([]byte, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return nil, ErrClosed
	}
	var cname []byte
	if s := i.info.get(name); s != nil {
		cname = s.cname
	} else {
		var err error
		if cname, err = cName(name); err != nil {
			return nil, err
		}
	}
	return i.callBytes(cname, nil, in)
}

// CallFuncBytes makes a pack call of f on i: CallBytes without the name lookup. A func
// resolved on other compiled code than i's is ErrInvalidArgument.
func (i *Instance) CallFuncBytes(f *Func, in []byte) ([]byte, error) {
	if f == nil {
		return nil, newError(StatusNullPointer, "func is nil")
	}
	if !lockCall(i, f) {
		return nil, ErrClosed
	}
	defer unlockCall(i, f)
	out, err := i.callBytes(nil, f.ptr, in)
	runtime.KeepAlive(f)
	return out, err
}

// callBytes makes the pack call; the caller holds i.mu.RLock on an open instance.
func (i *Instance) callBytes(cname []byte, f *C.packr_func, in []byte) ([]byte, error) {
	var name *C.char
	if f == nil {
		name = (*C.char)(unsafe.Pointer(&cname[0]))
	}
	var p *C.uint8_t
	if len(in) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(&in[0])) // Go memory, pinned for the call: no copy
	}
	r := C.packr_go_call_bytes(i.ptr, f, name, p, C.size_t(len(in)))
	runtime.KeepAlive(i)
	if r.st != C.PACKR_OK {
		if f != nil {
			return nil, i.failed(r.st, funcErr(r.st, r.err))
		}
		return nil, i.failed(r.st, checkErr(r.st, r.err))
	}
	return takeBytes(&r.out), nil
}

// returnBytes gives out to the guest as the result of the bytes function being served.
// A failure is the status for the callback to return and its error.
func (c *Caller) returnBytes(out []byte) (C.packr_status, error) {
	r := C.packr_go_caller_return_bytes(c.ptr, (*C.uint8_t)(unsafe.Pointer(&out[0])), C.size_t(len(out)))
	if r.st == C.PACKR_OK {
		return r.st, nil
	}
	err := checkErr(r.st, r.err)
	if r.st == C.PACKR_ERR_GUEST {
		return r.st, err // __pack_alloc returned 0: the guest sees -1, as for ErrGuest
	}
	return r.st, c.state().finish(r.st, err)
}
