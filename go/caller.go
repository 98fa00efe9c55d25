package packr

// No callback can happen in these (Caller.Call's shims are in instance.go's list).

// #cgo noescape packr_go_caller_memory_size
// #cgo nocallback packr_go_caller_memory_size
// #cgo noescape packr_go_caller_memory_read
// #cgo nocallback packr_go_caller_memory_read
// #cgo noescape packr_go_caller_memory_write
// #cgo nocallback packr_go_caller_memory_write
// #cgo noescape packr_go_caller_memory_data
// #cgo nocallback packr_go_caller_memory_data
// #cgo nocallback packr_go_caller_data
// #cgo noescape packr_go_caller_func_signature
// #cgo nocallback packr_go_caller_func_signature
// #include "shim.h"
import "C"

import (
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// Caller is the instance calling a host function, as the function sees it: its data, its
// memories and its exports.
//
// A Caller is valid only while the host function it was given to runs, and only on that
// goroutine: do not keep it, or hand it to another goroutine. After the function
// returns, every method returns ErrClosed.
type Caller struct {
	ptr *C.packr_caller // nil once the callback returned
}

func (c *Caller) live() (*C.packr_caller, error) {
	if c == nil || c.ptr == nil {
		return nil, ErrClosed
	}
	return c.ptr, nil
}

// state is the calling instance's Go state; every instance that can call a host function
// has one.
func (c *Caller) state() *instState {
	h := uintptr(C.packr_go_caller_data(c.ptr))
	if h == 0 {
		return nil
	}
	return cgo.Handle(h).Value().(*instState)
}

// signature finds the calling instance's export name's signature in the module's shared
// cache, or asks packr.
func (c *Caller) signature(s *instState, name string) (*funcSig, error) {
	if sig := s.info.get(name); sig != nil {
		return sig, nil
	}
	cname, err := cName(name)
	if err != nil {
		return nil, err
	}
	var cs C.packr_func_signature
	var msg *C.char
	st := C.packr_go_caller_func_signature(c.ptr, (*C.char)(unsafe.Pointer(&cname[0])), &cs, &msg)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	sig := newFuncSig(cname, &cs)
	s.info.put(name, sig)
	return sig, nil
}

// Data returns the calling instance's data (InstanceConfig.Data), or nil.
func (c *Caller) Data() any {
	if _, err := c.live(); err != nil {
		return nil
	}
	if s := c.state(); s != nil {
		return s.data
	}
	return nil
}

// MemorySize returns the current size in bytes of the calling instance's memory exported
// as name. No such export is ErrNotFound; an export that is not a memory is
// ErrTypeMismatch.
func (c *Caller) MemorySize(name string) (uint64, error) {
	p, err := c.live()
	if err != nil {
		return 0, err
	}
	var nbuf [64]byte
	cname, err := memoryName(name, &nbuf)
	if err != nil {
		return 0, err
	}
	var n C.uint64_t
	var msg *C.char
	if err := check(C.packr_go_caller_memory_size(p, cname, &n, &msg), msg); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// ReadMemory copies length bytes at offset out of the calling instance's memory name into
// a new slice the caller owns. A range outside the memory is ErrOutOfBounds (the message
// says which bytes); no such memory is ErrNotFound.
func (c *Caller) ReadMemory(name string, offset uint64, length int) ([]byte, error) {
	p, err := c.live()
	if err != nil {
		return nil, err
	}
	if length < 0 {
		return nil, newError(StatusInvalidArgument, fmt.Sprintf("negative length %d", length))
	}
	var nbuf [64]byte
	cname, err := memoryName(name, &nbuf)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, length)
	var bp *C.uint8_t
	if length > 0 {
		bp = (*C.uint8_t)(unsafe.Pointer(&buf[0]))
	}
	var msg *C.char
	if err := check(C.packr_go_caller_memory_read(p, cname, C.uint64_t(offset), bp, C.size_t(length), &msg), msg); err != nil {
		return nil, err
	}
	return buf, nil
}

// WriteMemory copies data into the calling instance's memory name at offset. Nothing is
// written unless the whole range fits, else the error is ErrOutOfBounds.
func (c *Caller) WriteMemory(name string, offset uint64, data []byte) error {
	p, err := c.live()
	if err != nil {
		return err
	}
	var nbuf [64]byte
	cname, err := memoryName(name, &nbuf)
	if err != nil {
		return err
	}
	var bp *C.uint8_t
	if len(data) > 0 {
		bp = (*C.uint8_t)(unsafe.Pointer(&data[0]))
	}
	var msg *C.char
	return check(C.packr_go_caller_memory_write(p, cname, C.uint64_t(offset), bp, C.size_t(len(data)), &msg), msg)
}

// MemoryData returns the calling instance's memory name itself, without copying: reads
// and writes of the slice are the guest's memory. The slice is valid only until the host
// function returns or the guest grows that memory (a Caller.Call may), whichever comes
// first; using it after is undefined behaviour, so take it again instead of keeping it.
// It may be empty (a memory of zero pages).
func (c *Caller) MemoryData(name string) ([]byte, error) {
	p, err := c.live()
	if err != nil {
		return nil, err
	}
	var nbuf [64]byte
	cname, err := memoryName(name, &nbuf)
	if err != nil {
		return nil, err
	}
	var data *C.uint8_t
	var size C.uint64_t
	var msg *C.char
	if err := check(C.packr_go_caller_memory_data(p, cname, &data, &size, &msg), msg); err != nil {
		return nil, err
	}
	if size == 0 {
		return []byte{}, nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(data)), int(size)), nil
}

// Call calls the calling instance's export name from inside the host function (a guest
// allocator, a callback export), with the arguments and results of Instance.Call. Calls
// may nest: the export may call host functions that call back again. A failure is
// returned as an error the host function may return in turn (or handle): a failed inner
// host function is ErrHost unwrapping to its Go error, and its panic is re-raised here.
// (Instance.Call on the same instance from inside its host function is ErrBusy.)
func (c *Caller) Call(name string, args ...any) ([]any, error) {
	if _, err := c.live(); err != nil {
		return nil, err
	}
	s := c.state()
	if s == nil {
		return nil, newError(StatusInvalidArgument, "the calling instance has no Go state") // not made by this package
	}
	sig, err := c.signature(s, name)
	if err != nil {
		return nil, err
	}
	var buf [2 * smallVals]Value
	argv, resv, err := slots(args, len(sig.results), sig, &buf)
	if err != nil {
		return nil, err
	}
	if err := c.callValues(s, sig.cname, argv, resv); err != nil {
		return nil, err
	}
	return boxed(resv), nil
}

// CallValues is Call with Values: args of the export's parameter kinds, and one result
// slot per result, which it fills. It does not allocate for up to 8 arguments and results.
func (c *Caller) CallValues(name string, args, results []Value) error {
	if _, err := c.live(); err != nil {
		return err
	}
	s := c.state()
	if s == nil {
		return newError(StatusInvalidArgument, "the calling instance has no Go state")
	}
	sig, err := c.signature(s, name)
	if err != nil {
		return err
	}
	return c.callValues(s, sig.cname, args, results)
}

func (c *Caller) callValues(s *instState, cname []byte, args, results []Value) error {
	name := (*C.char)(unsafe.Pointer(&cname[0]))
	n, nr := C.size_t(len(args)), C.size_t(len(results))
	var st C.packr_status
	var msg *C.char
	switch {
	case n <= 4 && nr <= 1:
		var a C.packr_go_vals4
		copy(values(&a.v[0], 4), args)
		r := C.packr_go_caller_call4(c.ptr, name, a, n, nr)
		st, msg = r.st, r.err
		if st == C.PACKR_OK && nr == 1 {
			copy(results, values(&r.result, 1))
		}
	case n <= smallVals && nr <= smallVals:
		var a C.packr_go_vals8
		copy(values(&a.v[0], smallVals), args)
		r := C.packr_go_caller_call8(c.ptr, name, a, n, nr)
		st, msg = r.st, r.err
		if st == C.PACKR_OK {
			copy(results, values(&r.results.v[0], smallVals))
		}
	default:
		a, res := append([]Value(nil), args...), make([]Value, nr)
		var ap, rp *C.packr_val
		if n > 0 {
			ap = cval(&a[0])
		}
		if nr > 0 {
			rp = cval(&res[0])
		}
		r := C.packr_go_caller_call_heap(c.ptr, name, ap, n, rp, nr)
		st, msg = r.st, r.err
		if st == C.PACKR_OK {
			copy(results, res)
		}
	}
	if st == C.PACKR_OK {
		return nil
	}
	return s.finish(st, checkErr(st, msg))
}
