package packr

// The //export'ed trampolines packr calls (through the C wrappers in shim.h). A file with
// //export may only declare in its preamble, so this one includes packr.h alone.

// #include <stdint.h>
// #include <stdlib.h>
// #include "packr.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// liveHandles counts the references this package hands to C (definitions in defs, and
// instance states as cgo.Handles), so tests can see every one released.
var liveHandles atomic.Int64

func newHandle(v any) cgo.Handle {
	liveHandles.Add(1)
	return cgo.NewHandle(v)
}

func deleteHandle(h cgo.Handle) {
	h.Delete()
	liveHandles.Add(-1)
}

// defs holds every host definition packr can still call; a definition's env is its id.
// It does what a cgo.Handle does, but a lookup is two loads instead of a sync.Map lookup
// (measured here: about 2 ns against 14 ns), and a lookup runs on every host call.
var defs defRegistry

const defChunk = 256

type defRegistry struct {
	mu     sync.Mutex                                           // serialises add and remove
	chunks atomic.Pointer[[]*[defChunk]atomic.Pointer[hostDef]] // chunks never move: get needs no lock
	free   []uintptr                                            // removed ids, for reuse
	next   uintptr                                              // the next id never used (ids start at 1)
}

func (r *defRegistry) add(d *hostDef) uintptr {
	r.mu.Lock()
	defer r.mu.Unlock()
	var id uintptr
	if n := len(r.free); n > 0 {
		id, r.free = r.free[n-1], r.free[:n-1]
	} else {
		r.next++
		id = r.next
		var chunks []*[defChunk]atomic.Pointer[hostDef]
		if p := r.chunks.Load(); p != nil {
			chunks = *p
		}
		if int((id-1)/defChunk) == len(chunks) {
			grown := append(chunks[:len(chunks):len(chunks)], new([defChunk]atomic.Pointer[hostDef]))
			r.chunks.Store(&grown)
		}
	}
	r.slot(id).Store(d)
	liveHandles.Add(1)
	return id
}

func (r *defRegistry) slot(id uintptr) *atomic.Pointer[hostDef] {
	return &(*r.chunks.Load())[(id-1)/defChunk][(id-1)%defChunk]
}

// get returns the definition of a live id.
func (r *defRegistry) get(id uintptr) *hostDef { return r.slot(id).Load() }

func (r *defRegistry) remove(id uintptr) *hostDef {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.slot(id).Swap(nil)
	r.free = append(r.free, id)
	liveHandles.Add(-1)
	return d
}

// finalized, when set (by tests), is called with a definition's module::name when its
// finalizer runs.
var finalized atomic.Pointer[func(qualified string)]

// packrGoHostCallback serves one call of a Go host function. env is the definition's id
// in defs. It never lets a panic unwind into packr: a failure (an error or a panic) is
// left for the call that entered wasm in the instance's state (see instState), its text
// given to packr as the callback's message, and reported with a failing status.
//
//export packrGoHostCallback
func packrGoHostCallback(env C.uintptr_t, caller *C.packr_caller, args *C.packr_val, nargs C.size_t, results *C.packr_val, nresults C.size_t) (status C.packr_status) {
	def := defs.get(uintptr(env))
	var c *Caller
	if def.wantsCaller {
		c = &Caller{ptr: caller}
	}
	defer func() {
		if c != nil {
			c.ptr = nil // a kept Caller fails with ErrClosed instead of touching freed memory
		}
		if r := recover(); r != nil {
			status = hostFailed(caller, hostPanic{r}, fmt.Sprint("panic: ", r))
		}
	}()
	if err := def.fn(c, values(args, nargs), values(results, nresults)); err != nil {
		return hostFailed(caller, err, err.Error())
	}
	return C.PACKR_OK
}

// packrGoBytesCallback serves one call of a Go bytes function (DefineBytes); the rules
// are packrGoHostCallback's.
//
//export packrGoBytesCallback
func packrGoBytesCallback(env C.uintptr_t, caller *C.packr_caller, input *C.uint8_t, n C.size_t) (status C.packr_status) {
	def := defs.get(uintptr(env))
	c := &Caller{ptr: caller}
	defer func() {
		c.ptr = nil
		if r := recover(); r != nil {
			status = hostFailed(caller, hostPanic{r}, fmt.Sprint("panic: ", r))
		}
	}()
	in := []byte{}
	if n > 0 {
		in = unsafe.Slice((*byte)(unsafe.Pointer(input)), int(n)) // packr's copy: no other
	}
	out, err := def.bytes(c, in)
	if err != nil {
		if errors.Is(err, ErrGuest) {
			return C.PACKR_ERR_GUEST
		}
		return hostFailed(caller, err, err.Error())
	}
	if len(out) == 0 {
		return C.PACKR_OK
	}
	st, err := c.returnBytes(out)
	if st == C.PACKR_OK || st == C.PACKR_ERR_GUEST {
		return st
	}
	return hostFailed(caller, err, err.Error())
}

// hostPanic carries a recovered panic value to the goroutine that re-raises it.
type hostPanic struct{ value any }

// hostFailed records why a callback failed for the call that entered wasm and sets
// packr's message.
func hostFailed(caller *C.packr_caller, why any, message string) C.packr_status {
	if s := callerState(caller); s != nil {
		s.pending = why
	}
	// packr takes UTF-8 without NULs.
	message = strings.ToValidUTF8(strings.ReplaceAll(message, "\x00", `\x00`), "\uFFFD")
	cm := C.CString(message)
	C.packr_caller_set_error(caller, cm)
	C.free(unsafe.Pointer(cm))
	return C.PACKR_ERR_HOST
}

// callerState is the state of the instance calling, or nil if it has none.
func callerState(caller *C.packr_caller) *instState {
	h := uintptr(C.packr_caller_data(caller))
	if h == 0 {
		return nil
	}
	return cgo.Handle(h).Value().(*instState)
}

// packrGoHostFinalize runs once per definition, when nothing can call it any more (or
// when packr refused the definition): it releases the Go func.
//
//export packrGoHostFinalize
func packrGoHostFinalize(env C.uintptr_t) {
	def := defs.remove(uintptr(env))
	if f := finalized.Load(); f != nil {
		(*f)(def.qualified)
	}
}
