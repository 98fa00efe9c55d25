package packr

// #include "shim.h"
import "C"

import (
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

//go:generate go run ./internal/genadapters -o adapters_gen.go

// Host is a set of host functions: Go funcs that serve the imports of the modules
// instantiated in runtimes made from it (NewRuntimeWithHost). A runtime copies the
// definitions as they are when it is made; later definitions do not reach it.
//
// A Host owns its C handle and frees it on Close (or, as a safety net, when garbage
// collected); runtimes made from it keep what they copied, so it may be closed at once.
// Define and Close may be called from any goroutine; they are serialised with each other
// and with NewRuntimeWithHost.
type Host struct {
	mu      sync.RWMutex // Define and Close hold Lock; NewRuntimeWithHost holds RLock
	ptr     *C.packr_host
	cleanup runtime.Cleanup
}

// HostOption configures a Host made by NewHost.
type HostOption func(*hostOptions)

type hostOptions struct{ trapUnknown bool }

// TrapUnknownImports makes runtimes made from the host satisfy every function import
// nobody defined with a function that traps when called (ErrTrap), so a module importing
// more than the host serves still instantiates. Without it, such a module fails to
// instantiate with ErrLink naming every unmet import. Imports of memories, globals and
// tables must always be defined.
func TrapUnknownImports() HostOption {
	return func(o *hostOptions) { o.trapUnknown = true }
}

// NewHost creates an empty Host. The caller owns it and should Close it.
func NewHost(options ...HostOption) (*Host, error) {
	var o hostOptions
	for _, opt := range options {
		opt(&o)
	}
	var p *C.packr_host
	var msg *C.char
	if err := check(C.packr_go_host_new(&p, &msg), msg); err != nil {
		return nil, err
	}
	if o.trapUnknown {
		if err := check(C.packr_go_host_set_unknown_imports_trap(p, true, &msg), msg); err != nil {
			C.packr_host_free(p)
			return nil, err
		}
	}
	h := &Host{ptr: p}
	h.cleanup = runtime.AddCleanup(h, func(p *C.packr_host) { C.packr_host_free(p) }, p)
	return h, nil
}

// Close frees the host handle. Runtimes made from it keep their copy of its definitions,
// and each definition's Go func is released once nothing can call it any more (the host,
// every runtime made from it, and every module and instance bound to those runtimes are
// closed or collected). It is idempotent and always returns nil.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ptr != nil {
		h.cleanup.Stop()
		C.packr_host_free(h.ptr)
		h.ptr = nil
	}
	return nil
}

// UntypedFunc is a host function that takes and returns Values, for DefineUntyped.
//
// args holds the arguments, of the kinds the definition declared. results holds one slot
// per declared result, each already of its kind and zero; set them (results[0] =
// ValueI32(x)). Both slices are packr's own memory, valid only until the func returns:
// do not keep them. A result of another kind than declared fails the call like an error.
type UntypedFunc func(c *Caller, args, results []Value) error

// hostDef is one definition, reached from C through a cgo.Handle (its env).
type hostDef struct {
	qualified   string      // module::name, for messages
	fn          UntypedFunc // the adapter: decodes args, runs the Go func, encodes results
	bytes       BytesFunc   // instead of fn, for DefineBytes
	wantsCaller bool        // whether fn needs a *Caller (typed funcs without one do not)
}

// Define defines the host function module::name from fn, a Go func whose parameter and
// result types give the function's WebAssembly signature:
//
//   - parameters: an optional leading *Caller, then any number of int32 (i32), int64 (i64),
//     float32 (f32), float64 (f64) or Vec128 (v128);
//   - results: any number of those types, then an optional error.
//
// For example func(c *packr.Caller, ptr int32, n int32) (int64, error) serves an import of
// type (i32, i32) -> i64. The types are checked here, once; a func of another shape is
// ErrTypeMismatch naming the offending parameter or result.
//
// Each call from wasm runs fn on the goroutine that called into the instance (Call,
// CallFunc, CallBytes, Run, Instantiate's start function), so a host function shared by
// many instances may run on several goroutines at once. A non-nil error returned by fn,
// or a panic in it, makes the guest trap: the call that entered wasm returns an *Error
// with ErrHost whose message is "host function MODULE::NAME failed: " and the error's
// text (for a panic, "panic: " and the value), and which unwraps to the returned error; a
// panic is re-raised, with the same value, on the goroutine that made the call, once packr
// has returned. The instance stays usable. fn must not call runtime.Goexit (t.FailNow and
// friends) nor keep the *Caller after it returns.
//
// Calls do not use reflection for the shapes of most imports, each with or without the
// *Caller and the error: parameters and result all int32 or int64 (up to three parameters,
// at most one result); all float32, or all float64 (up to two parameters, at most one
// result of the same type); and (Vec128) -> Vec128. For those an adapter made here
// decodes packr's values and calls fn directly, without allocating (but one small
// allocation per call for the *Caller when fn takes one). Other shapes are called through
// reflect, which allocates on every call and costs several times more; for a hot function
// of such a shape, use DefineUntyped.
//
// Defining module::name twice in one host is ErrInvalidArgument; names holding a NUL
// byte are ErrInvalidArgument.
func (h *Host) Define(module, name string, fn any) error {
	def, params, results, err := typedDef(module, name, fn)
	if err != nil {
		return err
	}
	return h.define(module, name, params, results, def)
}

// DefineUntyped defines the host function module::name with the given parameter and
// result kinds, served by fn (see UntypedFunc): the same rules as Define, for signatures
// known only at run time or shapes Define would call through reflect. No reflection, and
// no allocation but the *Caller, on any call.
func (h *Host) DefineUntyped(module, name string, params, results []ValKind, fn UntypedFunc) error {
	if fn == nil {
		return newError(StatusNullPointer, "the func of "+module+"::"+name+" is nil")
	}
	def := &hostDef{qualified: module + "::" + name, fn: fn, wantsCaller: true}
	return h.define(module, name, append([]ValKind(nil), params...), append([]ValKind(nil), results...), def)
}

func (h *Host) define(module, name string, params, results []ValKind, def *hostDef) error {
	if strings.IndexByte(module, 0) >= 0 || strings.IndexByte(name, 0) >= 0 {
		return newError(StatusInvalidArgument, "host function name "+strconv.Quote(def.qualified)+" contains a NUL byte")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ptr == nil {
		return ErrClosed
	}
	cm, cn := C.CString(module), C.CString(name)
	defer C.free(unsafe.Pointer(cm))
	defer C.free(unsafe.Pointer(cn))
	cp, cr := cKinds(params), cKinds(results)
	defer C.free(unsafe.Pointer(cp))
	defer C.free(unsafe.Pointer(cr))
	// From here packr owns the id: its finalizer removes it, also when this fails.
	env := defs.add(def)
	r := C.packr_go_host_define_func(h.ptr, cm, cn, cp, C.size_t(len(params)), cr, C.size_t(len(results)), C.uintptr_t(env))
	runtime.KeepAlive(h)
	return check(r.st, r.err)
}

// cKinds copies kinds into C memory (NULL when empty); the caller frees it.
func cKinds(kinds []ValKind) *C.packr_valkind {
	if len(kinds) == 0 {
		return nil
	}
	p := (*C.packr_valkind)(C.malloc(C.size_t(len(kinds)) * C.size_t(unsafe.Sizeof(C.packr_valkind(0)))))
	for i, dst := 0, unsafe.Slice(p, len(kinds)); i < len(kinds); i++ {
		dst[i] = C.packr_valkind(kinds[i])
	}
	return p
}

var (
	callerType = reflect.TypeFor[*Caller]()
	errorType  = reflect.TypeFor[error]()
	kindTypes  = map[reflect.Type]ValKind{
		reflect.TypeFor[int32]():   I32,
		reflect.TypeFor[int64]():   I64,
		reflect.TypeFor[float32](): F32,
		reflect.TypeFor[float64](): F64,
		reflect.TypeFor[Vec128]():  V128,
	}
)

// typedDef checks fn's shape once and builds its adapter.
func typedDef(module, name string, fn any) (*hostDef, []ValKind, []ValKind, error) {
	qualified := module + "::" + name
	fail := func(format string, args ...any) (*hostDef, []ValKind, []ValKind, error) {
		return nil, nil, nil, newError(StatusTypeMismatch, "host function "+qualified+": "+fmt.Sprintf(format, args...))
	}
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func {
		return fail("a %T is not a func", fn)
	}
	if v.IsNil() {
		return nil, nil, nil, newError(StatusNullPointer, "host function "+qualified+": the func is nil")
	}
	t := v.Type()
	if t.IsVariadic() {
		return fail("a variadic func (%v) has no WebAssembly signature", t)
	}
	var params, results []ValKind
	wantsCaller := t.NumIn() > 0 && t.In(0) == callerType
	for i := range t.NumIn() {
		if i == 0 && wantsCaller {
			continue
		}
		k, ok := kindTypes[t.In(i)]
		if !ok {
			return fail("parameter %d is a %v; use int32, int64, float32, float64 or packr.Vec128 (and *packr.Caller first)", i, t.In(i))
		}
		params = append(params, k)
	}
	nout := t.NumOut()
	hasErr := nout > 0 && t.Out(nout-1) == errorType
	if hasErr {
		nout--
	}
	for i := range nout {
		k, ok := kindTypes[t.Out(i)]
		if !ok {
			return fail("result %d is a %v; use int32, int64, float32, float64 or packr.Vec128 (and error last)", i, t.Out(i))
		}
		results = append(results, k)
	}
	def := &hostDef{qualified: qualified, wantsCaller: wantsCaller}
	if f, ok := fastAdapter(fn); ok {
		def.fn = f
	} else {
		def.fn = reflectAdapter(v, wantsCaller, hasErr, results)
	}
	return def, params, results, nil
}

// reflectAdapter calls fn through reflect: the path for shapes fastAdapter does not know.
func reflectAdapter(fn reflect.Value, wantsCaller, hasErr bool, results []ValKind) UntypedFunc {
	return func(c *Caller, args, res []Value) error {
		in := make([]reflect.Value, 0, len(args)+1)
		if wantsCaller {
			in = append(in, reflect.ValueOf(c))
		}
		for _, a := range args {
			in = append(in, reflect.ValueOf(a.Interface()))
		}
		out := fn.Call(in)
		if hasErr {
			if e := out[len(out)-1]; !e.IsNil() {
				return e.Interface().(error)
			}
		}
		for i, k := range results {
			switch k {
			case I32:
				valSet(&res[i], int32(out[i].Int()))
			case I64:
				valSet(&res[i], out[i].Int())
			case F32:
				valSet(&res[i], float32(out[i].Float()))
			case F64:
				valSet(&res[i], out[i].Float())
			case V128:
				valSet(&res[i], out[i].Interface().(Vec128))
			}
		}
		return nil
	}
}
