package main

// The Go callbacks of the calls mode (calls.go). A file with //export may only declare in
// its preamble.

// #include <stdint.h>
// #include <stdlib.h>
// #include <wasmtime.h>
import "C"

import (
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// incTrap turns a panic in the Go func into a trap, as wasmtime-go does.
func incTrap(r any) *C.wasm_trap_t {
	msg := fmt.Sprint("panic: ", r)
	cmsg := C.CString(msg)
	defer C.free(unsafe.Pointer(cmsg))
	return C.wasmtime_trap_new(cmsg, C.size_t(len(msg)))
}

//export benchGoIncChecked
func benchGoIncChecked(env C.uintptr_t, args *C.wasmtime_val_t, results *C.wasmtime_val_t) (trap *C.wasm_trap_t) {
	defer func() {
		if r := recover(); r != nil {
			trap = incTrap(r)
		}
	}()
	inc := cgo.Handle(env).Value().(func(int32) int32)
	x := *(*int32)(unsafe.Pointer(&args.of))
	results.kind = C.WASMTIME_I32
	*(*int32)(unsafe.Pointer(&results.of)) = inc(x)
	return nil
}

//export benchGoIncUnchecked
func benchGoIncUnchecked(env C.uintptr_t, raw *C.wasmtime_val_raw_t) (trap *C.wasm_trap_t) {
	defer func() {
		if r := recover(); r != nil {
			trap = incTrap(r)
		}
	}()
	inc := cgo.Handle(env).Value().(func(int32) int32)
	p := (*int32)(unsafe.Pointer(raw))
	*p = inc(*p)
	return nil
}
