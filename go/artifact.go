package packr

// #include "shim.h"
import "C"

import (
	"runtime"
	"unsafe"
)

// Serialize returns m's compiled code as an artifact: bytes that Runtime.Deserialize turns
// back into the module without compiling, in this process or another, on a runtime whose
// engine has the same settings and the same wasmtime and packr versions. The artifact
// carries a checksum that Deserialize verifies; it is not authenticated, so anyone able
// to change the bytes can make them say anything: for artifacts kept where others can
// write, use SerializeKeyed. The caller owns the returned slice.
//
// Serialize is safe to call while m is used by other goroutines.
func (m *Module) Serialize() ([]byte, error) {
	return m.serialize(nil, false)
}

// SerializeKeyed is Serialize with the artifact authenticated by key (a BLAKE3 MAC instead
// of the checksum): only DeserializeKeyed with the same key accepts it. key must be at
// least 16 bytes, else the error is ErrInvalidArgument; it is only read during the call.
func (m *Module) SerializeKeyed(key []byte) ([]byte, error) {
	return m.serialize(key, true)
}

func (m *Module) serialize(key []byte, keyed bool) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return nil, ErrClosed
	}
	var b C.packr_bytes
	var msg *C.char
	var st C.packr_status
	if keyed {
		st = C.packr_go_module_serialize_keyed(m.ptr, bytesPtr(key), C.size_t(len(key)), &b, &msg)
	} else {
		st = C.packr_go_module_serialize(m.ptr, &b, &msg)
	}
	runtime.KeepAlive(m)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	return takeBytes(&b), nil
}

// Deserialize turns an artifact from Module.Serialize back into a module bound to this
// runtime, without compiling. The module behaves exactly like one from Load: clone, wrap,
// instantiate and close it the same way. The caller owns it and should Close it; b is
// only read during the call.
//
// Every artifact is verified first: bytes that are damaged, truncated, not an artifact,
// made by an engine with other settings (Config) or another wasmtime or packr version, or
// written with a key (SerializeKeyed) are ErrArtifact, whose message names the check that
// failed. Only pass bytes that this program, or one you trust, wrote: the checksum
// catches accidents, not attackers (see SerializeKeyed).
func (r *Runtime) Deserialize(b []byte) (*Module, error) {
	return r.deserialize(nil, false, b)
}

// DeserializeKeyed is Deserialize for an artifact from SerializeKeyed: one written with
// another key, tampered with, or written without a key is ErrArtifact. key must be at least
// 16 bytes, else the error is ErrInvalidArgument; it is only read during the call.
func (r *Runtime) DeserializeKeyed(key, b []byte) (*Module, error) {
	return r.deserialize(key, true, b)
}

func (r *Runtime) deserialize(key []byte, keyed bool, b []byte) (*Module, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return nil, ErrClosed
	}
	var out *C.packr_module
	var msg *C.char
	var st C.packr_status
	if keyed {
		st = C.packr_go_module_deserialize_keyed(r.ptr, bytesPtr(key), C.size_t(len(key)), bytesPtr(b), C.size_t(len(b)), &out, &msg)
	} else {
		st = C.packr_go_module_deserialize(r.ptr, bytesPtr(b), C.size_t(len(b)), &out, &msg)
	}
	runtime.KeepAlive(r)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	return newModule(out, &moduleInfo{}, r.hosted), nil
}

// bytesPtr is b's first byte for C, or NULL for an empty b (C reads none of it).
func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}
