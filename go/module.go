package packr

// #include "shim.h"
import "C"

import (
	"runtime"
	"runtime/cgo"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ExternKind is the kind of an import or export. Numbers this package does not know
// should be treated as "other".
type ExternKind uint32

// The extern kinds, as in packr.h.
const (
	ExternFunc   ExternKind = C.PACKR_EXTERN_FUNC
	ExternGlobal ExternKind = C.PACKR_EXTERN_GLOBAL
	ExternTable  ExternKind = C.PACKR_EXTERN_TABLE
	ExternMemory ExternKind = C.PACKR_EXTERN_MEMORY
	ExternTag    ExternKind = C.PACKR_EXTERN_TAG
)

func (k ExternKind) String() string {
	switch k {
	case ExternFunc:
		return "func"
	case ExternGlobal:
		return "global"
	case ExternTable:
		return "table"
	case ExternMemory:
		return "memory"
	case ExternTag:
		return "tag"
	}
	return "ExternKind(" + strconv.FormatUint(uint64(k), 10) + ")"
}

// ValKind is the kind of a parameter or result. Only I32, I64, F32 and F64 can be passed
// to or returned from Call; the others appear in signatures so callers can see why an
// export cannot be called.
type ValKind uint32

// The value kinds, as in packr.h.
const (
	I32       ValKind = C.PACKR_I32
	I64       ValKind = C.PACKR_I64
	F32       ValKind = C.PACKR_F32
	F64       ValKind = C.PACKR_F64
	V128      ValKind = C.PACKR_V128
	FuncRef   ValKind = C.PACKR_FUNCREF
	ExternRef ValKind = C.PACKR_EXTERNREF
	OtherRef  ValKind = C.PACKR_OTHERREF
)

func (k ValKind) String() string {
	switch k {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	case OtherRef:
		return "otherref"
	}
	return "ValKind(" + strconv.FormatUint(uint64(k), 10) + ")"
}

// Export describes one export of a module.
type Export struct {
	Name string
	Kind ExternKind
}

// Import describes one import of a module.
type Import struct {
	Module string
	Name   string
	Kind   ExternKind
}

// Signature is the parameter and result kinds of an exported function. It is a copy in Go
// memory; the caller may keep and change it.
type Signature struct {
	Params  []ValKind
	Results []ValKind
}

// funcSig is a cached, immutable signature plus the NUL-terminated export name, so a hot
// Call neither re-queries the core nor allocates a C string.
type funcSig struct {
	cname   []byte
	params  []ValKind
	results []ValKind
}

// moduleInfo is shared by every clone, wrap and instance of one compiled module: they run
// the same code, so they have the same signatures.
type moduleInfo struct {
	mu   sync.Mutex                          // serialises writers
	sigs atomic.Pointer[map[string]*funcSig] // copy-on-write: readers never lock
}

func (mi *moduleInfo) get(name string) *funcSig {
	if m := mi.sigs.Load(); m != nil {
		return (*m)[name]
	}
	return nil
}

func (mi *moduleInfo) put(name string, s *funcSig) {
	mi.mu.Lock()
	defer mi.mu.Unlock()
	old := mi.sigs.Load()
	next := make(map[string]*funcSig, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[name] = s
	mi.sigs.Store(&next)
}

// cName returns name NUL-terminated, refusing names with a NUL inside (C would read them
// short and find another export).
func cName(name string) ([]byte, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return nil, newError(StatusInvalidArgument, "export name "+strconv.Quote(name)+" contains a NUL byte")
	}
	b := make([]byte, len(name)+1)
	copy(b, name)
	return b, nil
}

// newFuncSig copies a C signature into Go memory. The caller keeps the owning handle
// alive until it returns.
func newFuncSig(cname []byte, s *C.packr_func_signature) *funcSig {
	return &funcSig{cname: cname, params: valKinds(s.params, s.nparams), results: valKinds(s.results, s.nresults)}
}

func valKinds(p *C.packr_valkind, n C.size_t) []ValKind {
	out := make([]ValKind, int(n))
	if n > 0 {
		for i, k := range unsafe.Slice(p, int(n)) {
			out[i] = ValKind(k)
		}
	}
	return out
}

func (s *funcSig) signature() Signature {
	return Signature{Params: append([]ValKind(nil), s.params...), Results: append([]ValKind(nil), s.results...)}
}

// Module is a compiled module bound to a runtime. It owns one reference to the compiled
// code: Clone adds one, Close drops it, and the code is freed with the last reference
// (clones, wraps and instances all count).
//
// A Module is safe for concurrent use by many goroutines: clone, wrap, instantiate and
// inspect at once. Close waits for calls in progress on it. A garbage-collected Module is
// released as a safety net, but call Close to release it promptly.
type Module struct {
	mu      sync.RWMutex // calls hold RLock; Close holds Lock
	ptr     *C.packr_module
	info    *moduleInfo
	hosted  bool // bound to a runtime with host functions: every instance gets a state
	cleanup runtime.Cleanup
}

func newModule(p *C.packr_module, info *moduleInfo, hosted bool) *Module {
	m := &Module{ptr: p, info: info, hosted: hosted}
	if p != nil {
		m.cleanup = runtime.AddCleanup(m, func(p *C.packr_module) { C.packr_module_free(p) }, p)
	}
	return m
}

// Clone returns a new handle to the same module in O(1), without copying the code. The
// caller owns it and should Close it, independently of m. Cloning a closed module gives a
// closed module, whose methods return ErrClosed.
func (m *Module) Clone() *Module {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return newModule(nil, m.info, m.hosted)
	}
	p := C.packr_module_clone(m.ptr)
	runtime.KeepAlive(m)
	return newModule(p, m.info, m.hosted)
}

// Instantiate creates a fresh instance (its own memories and globals) in the runtime m is
// bound to, running the start function if any. The caller owns the instance and should
// Close it; m may be closed first. Missing imports are ErrLink (naming every one); a
// trapping start function is ErrTrap; a failing host function called by it is ErrHost
// (and a panic in one is re-raised here, see Host.Define).
func (m *Module) Instantiate() (*Instance, error) {
	return m.instantiate(InstanceConfig{}, m.hosted)
}

// InstanceConfig holds the per-instance settings of Module.InstantiateWith. Its zero value
// gives what Instantiate gives: every zero field keeps packr's default. It is only read
// during InstantiateWith, so one InstanceConfig may serve many instances.
type InstanceConfig struct {
	// WASI, when not nil, sets the instance's WASI preview 1 context: arguments,
	// environment, streams and directories (see WASIConfig). It needs a runtime whose host
	// serves WASI (Host.DefineWASI), else instantiation is ErrInvalidArgument. nil gives
	// such a runtime's instances WASIConfig's defaults. It is only read during
	// InstantiateWith, so one WASIConfig may serve many instances.
	WASI *WASIConfig

	// Data is the host's value for this instance, returned by Instance.Data and, inside
	// host functions, Caller.Data. packr only hands it back; the host decides which
	// goroutines may touch what it points to (host functions run on the goroutine that
	// called into the instance). It stays reachable until the instance is closed (or
	// collected; if Data refers to the Instance itself, only Close releases them).
	Data any

	// Guardrails (see the package overview).

	// Timeout stops every call into the instance that runs longer, with ErrTimeout: its
	// start function (and a reactor's _initialize) during InstantiateWith, and each Call,
	// CallFunc, CallBytes, Run and their forms. It is rounded up to whole milliseconds; 0
	// (the default) is no timeout, and a negative one is ErrInvalidArgument. A host
	// function is never stopped in the middle: the guest stops at its next function call
	// or loop iteration after the host function returns. Instance.SetTimeout changes it
	// later.
	Timeout time.Duration

	// Fuel is the fuel the instance starts with, for a runtime whose engine counts fuel
	// (Config.Fuel; on another runtime InstantiateWith is ErrInvalidArgument). Calls drain
	// it as the guest runs, roughly one unit per wasm instruction, and a call that runs dry
	// stops with ErrOutOfFuel; Instance.AddFuel refills it. nil (the default) starts a
	// fuel-counting instance with as good as unlimited fuel; a pointer because 0 is a
	// setting of its own:
	//
	//	fuel := uint64(1_000_000)
	//	inst, err := m.InstantiateWith(packr.InstanceConfig{Fuel: &fuel})
	Fuel *uint64

	// MemoryLimit is the most bytes each of the instance's linear memories may hold.
	// Past it the guest's memory.grow returns -1, as the spec allows (not an error); a
	// module whose memory starts larger fails to instantiate with ErrLimit. 0 (the
	// default) is no limit beyond wasm's own. A pooled runtime's PoolMemoryBytes bounds
	// memories as well: the smaller holds.
	MemoryLimit uint64

	// TableLimit is MemoryLimit for tables, in elements: table.grow past it returns -1, a
	// table that starts larger is ErrLimit, and 0 (the default) is no limit.
	TableLimit uint64
}

// InstantiateWith is Instantiate with the settings in cfg, such as the instance's data, its
// WASI context and its guardrails. A setting packr refuses fails here: ErrInvalidArgument
// naming the field, ErrNotFound for a preopen whose host directory does not exist, or
// ErrLimit for a memory or table that starts above its limit. A start function that runs
// past cfg.Timeout is ErrTimeout.
func (m *Module) InstantiateWith(cfg InstanceConfig) (*Instance, error) {
	return m.instantiate(cfg, true)
}

func (m *Module) instantiate(cfg InstanceConfig, withState bool) (*Instance, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return nil, ErrClosed
	}
	ccfg, err := cfg.cConfig()
	if err != nil {
		return nil, err
	}
	if ccfg != nil {
		defer C.packr_instance_config_free(ccfg)
	}
	var state *instState
	var h cgo.Handle
	if withState {
		state = &instState{data: cfg.Data, info: m.info}
		h = newHandle(state)
	}
	r := C.packr_go_module_instantiate_with(m.ptr, ccfg, C.uintptr_t(h))
	runtime.KeepAlive(m)
	if r.st != C.PACKR_OK {
		err := checkErr(r.st, r.err)
		if state == nil {
			return nil, err
		}
		deleteHandle(h)
		return nil, state.finish(r.st, err)
	}
	return newInstance(r.instance, m.info, state, h, m.hosted), nil
}

// Exports lists the module's exports in order. The result is the caller's.
func (m *Module) Exports() ([]Export, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return nil, ErrClosed
	}
	defer runtime.KeepAlive(m) // the names belong to the module until copied
	var n C.size_t
	var msg *C.char
	if err := check(C.packr_go_module_export_count(m.ptr, &n, &msg), msg); err != nil {
		return nil, err
	}
	out := make([]Export, int(n))
	for i := range out {
		var d C.packr_export_desc
		if err := check(C.packr_go_module_export_get(m.ptr, C.size_t(i), &d, &msg), msg); err != nil {
			return nil, err
		}
		out[i] = Export{Name: C.GoStringN(d.name, C.int(d.name_len)), Kind: ExternKind(d.kind)}
	}
	return out, nil
}

// Imports lists the module's imports in order. The result is the caller's.
func (m *Module) Imports() ([]Import, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return nil, ErrClosed
	}
	defer runtime.KeepAlive(m)
	var n C.size_t
	var msg *C.char
	if err := check(C.packr_go_module_import_count(m.ptr, &n, &msg), msg); err != nil {
		return nil, err
	}
	out := make([]Import, int(n))
	for i := range out {
		var d C.packr_import_desc
		if err := check(C.packr_go_module_import_get(m.ptr, C.size_t(i), &d, &msg), msg); err != nil {
			return nil, err
		}
		out[i] = Import{
			Module: C.GoStringN(d.module, C.int(d.module_len)),
			Name:   C.GoStringN(d.name, C.int(d.name_len)),
			Kind:   ExternKind(d.kind),
		}
	}
	return out, nil
}

// FuncSignature returns the signature of the exported function name: ErrNotFound if there
// is no such export, ErrTypeMismatch if it is not a function.
func (m *Module) FuncSignature(name string) (Signature, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.ptr == nil {
		return Signature{}, ErrClosed
	}
	if s := m.info.get(name); s != nil {
		return s.signature(), nil
	}
	cname, err := cName(name)
	if err != nil {
		return Signature{}, err
	}
	var cs C.packr_func_signature
	var msg *C.char
	st := C.packr_go_module_func_signature(m.ptr, (*C.char)(unsafe.Pointer(&cname[0])), &cs, &msg)
	if err := check(st, msg); err != nil {
		return Signature{}, err
	}
	s := newFuncSig(cname, &cs)
	runtime.KeepAlive(m) // cs points into the module until copied
	m.info.put(name, s)
	return s.signature(), nil
}

// Close drops this handle's reference to the module. Other clones, wraps and instances
// keep working. It is idempotent and always returns nil; it waits for calls in progress
// on m.
func (m *Module) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ptr != nil {
		m.cleanup.Stop()
		C.packr_module_free(m.ptr)
		m.ptr = nil
	}
	return nil
}
