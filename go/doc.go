// Package packr hosts WebAssembly from Go over packr's C library: compile a module once,
// then spawn cheap instances of it from a cache.
//
// A Runtime is an engine plus host definitions; Runtime.Load compiles a Module;
// Module.Instantiate makes an Instance with its own memory and globals; Instance.Call
// calls an export. Each value owns one C handle: Close it when done (Close is idempotent,
// and a cleanup frees a forgotten handle after garbage collection). Handles may be closed
// in any order: an instance keeps its module alive, a module its runtime.
//
// Runtimes, modules, hosts and funcs are safe for concurrent use. An instance is used by
// one goroutine at a time; an overlapping call fails with ErrBusy.
//
// Failures are *Error values carrying the core's status and message; test them with
// errors.Is against ErrTrap, ErrEngineMismatch, ErrHost and the other sentinels. A call
// the guest ended with WASI's proc_exit is an *ExitError carrying the code (and
// errors.Is(err, ErrExit)). Methods called after Close return ErrClosed.
//
// The cache pattern: compile once, keep a clone, and on each hit wrap the cached module
// into the runtime serving the request (any runtime sharing the engine):
//
//	base, _ := packr.NewRuntime()
//	compiled, err := base.Load(wasm) // the only compilation
//	if err != nil { ... }
//	cache[key] = compiled
//
//	// per connection, on any goroutine:
//	rt, _ := packr.NewRuntimeSharingEngine(base)
//	defer rt.Close()
//	m, err := rt.Wrap(cache[key]) // no recompiling
//	if err != nil { ... }
//	defer m.Close()
//	inst, err := m.Instantiate()
//	if err != nil { ... }
//	defer inst.Close()
//	res, err := inst.Call("add", int32(2), int32(3)) // res[0] == int32(5)
//
// NewRuntimeWithConfig takes a Config whose zero fields keep packr's defaults. With
// Pooling, instances reuse warm slots of a pool reserved up front, shared by every runtime
// made with NewRuntimeSharingEngine from it; instantiating beyond PoolInstances fails with
// ErrPoolExhausted until an instance is closed:
//
//	base, err := packr.NewRuntimeWithConfig(packr.Config{
//		Pooling:         true,
//		PoolInstances:   100,
//		PoolMemoryBytes: 16 << 20, // a multiple of 64 KiB; smaller slots, smaller reservation
//	})
//	if errors.Is(err, packr.ErrInvalidArgument) { ... } // the message names the setting
//	...
//	inst, err := m.Instantiate()
//	if errors.Is(err, packr.ErrPoolExhausted) { ... } // retry once an instance is closed
//
// Config's PoolKeepResident, DisablePoolPagemapScan and PoolDecommitBatch tune how a freed
// slot is reset; their defaults are the fastest packr's benchmark found. PoolKeepResident is
// a *uint64 because 0 (keep nothing resident) is a setting of its own: nil keeps the default.
//
// # Host functions
//
// A Host holds Go funcs that serve a module's imports; a runtime made with
// NewRuntimeWithHost links its instances against them. Define derives each function's
// WebAssembly signature from the Go func's types, checked once (int32, int64, float32,
// float64 and Vec128, an optional leading *Caller, an optional trailing error):
//
//	host, _ := packr.NewHost()
//	defer host.Close() // runtimes keep what they copied
//	host.Define("env", "add", func(a int32, b int64) int64 { return int64(a) + b })
//	host.Define("env", "log", func(c *packr.Caller, ptr, n int32) error {
//		msg, err := c.ReadMemory("memory", uint64(ptr), int(n))
//		if err != nil {
//			return err // the guest traps; the call returns ErrHost wrapping err
//		}
//		c.Data().(*Conn).Log(string(msg))
//		return nil
//	})
//	rt, _ := packr.NewRuntimeWithHost(base, host) // shares base's engine
//	m, _ := rt.Wrap(cached)
//	inst, _ := m.InstantiateWith(packr.InstanceConfig{Data: conn}) // Caller.Data, Instance.Data
//
// A host function runs on the goroutine that called into the instance. An error it
// returns, or a panic, makes the guest trap: the call that entered wasm (Call, CallFunc,
// CallBytes, Run, Instantiate for a start function) returns an *Error with ErrHost whose message is
// packr's ("host function env::log failed: " and the error's text), and errors.Is and
// errors.As reach the returned error through it; a panic is re-raised with its value on
// the calling goroutine instead. The failure travels in the instance's own state (its host
// data), never in a global slot, so instances on many goroutines and nested calls
// (host -> Caller.Call -> host) each see their own. The instance stays usable.
//
// Funcs whose parameters and result are all int32/int64 (up to three parameters and one
// result), all one float type (up to two and one), or (Vec128) -> Vec128, with or without
// *Caller and error, are called without reflection or allocation (a *Caller costs one
// small allocation per call); other shapes go through reflect. DefineUntyped takes
// explicit kinds and a func(c *Caller, args, results []Value)
// error that reads and writes packr's own value slots, for any signature at the same cost.
// TrapUnknownImports (a NewHost option) satisfies every import nobody defined with a
// function that traps when called.
//
// Inside a host function the *Caller reaches the calling instance: Data, MemorySize,
// ReadMemory and WriteMemory by memory name, MemoryData (the guest memory itself, valid
// until the function returns or the memory grows), and Call or CallValues into the same
// instance. It must not be kept after the function returns (its methods then return
// ErrClosed). Instance.ReadMemoryNamed and friends reach any memory by name from outside;
// Instance.GetGlobal and SetGlobal read and write globals as Values.
//
// # Resolved funcs
//
// Module.Func resolves an export once; the Func works on every instance of that compiled
// code, through any clone or wrap of the module (a Func of other code is
// ErrInvalidArgument). Instance.CallFunc takes []any like Call; CallFuncValues takes
// []Value; and the generic CallFunc0 to CallFunc4 take typed arguments and return a typed
// result without allocating (NoResult for a function without results):
//
//	add, _ := cached.Func("add") // at cache-insert time
//	sum, err := packr.CallFunc2[int32](inst, add, int32(2), int32(3))
//
// Calls on an instance whose runtime has no host functions cannot reach Go, and skip the
// preparations cgo makes for callbacks.
//
// # WASI
//
// Host.DefineWASI makes a host's runtimes serve WASI preview 1; InstanceConfig.WASI gives
// each instance its own arguments, environment, stdin, output streams and preopened
// directories (a WASIConfig, only read at instantiation, so one serves many instances).
// Instance.Run runs a command's _start and returns its exit code; a captured stream is
// taken out with Instance.Stdout and Stderr, and what a full capture dropped is counted by
// StdoutDropped and StderrDropped. A reactor's _initialize runs at instantiation.
//
//	host.DefineWASI()
//	rt, _ := packr.NewRuntimeWithHost(base, host)
//	m, _ := rt.Wrap(cachedJS) // compiled once
//	inst, err := m.InstantiateWith(packr.InstanceConfig{WASI: &packr.WASIConfig{
//		Args:     []string{"qjs"},
//		Env:      []string{"LANG=C"}, // in order, as in os/exec
//		Stdin:    []byte("print(1+2)"),
//		Stdout:   packr.WASICapture,
//		Stderr:   packr.WASIDiscard,
//		Preopens: []packr.Preopen{{HostPath: dir, GuestPath: "/data"}}, // read-only
//	}})
//	if err != nil { ... }
//	defer inst.Close()
//	code, err := inst.Run() // 0, or the guest's proc_exit code
//	out, _ := inst.Stdout() // "3\n"
//
// WASI options on a runtime whose host does not serve WASI are ErrInvalidArgument. A guest
// calling proc_exit during Call (not Run) makes the call return an *ExitError.
//
// # The pack convention
//
// Instance.CallBytes and CallFuncBytes call an export in upstream packr's pack calling
// convention, bytes in and bytes out: the guest exports memory, __pack_alloc and
// __pack_free, and the export has the type (in_ptr, in_len, out_ptr_ptr, out_len_ptr: i32)
// -> i32. A guest's own error (it returned -1 with a message) is ErrGuest with that
// message. Host.DefineBytes serves an import of that type with a Go
// func(c *Caller, in []byte) ([]byte, error); returning an error wrapping ErrGuest makes
// the import return -1 to the guest, and other errors fail the call as for Define:
//
//	host.DefineBytes("host", "transform", func(c *packr.Caller, in []byte) ([]byte, error) {
//		if len(in) == 0 {
//			return nil, packr.ErrGuest // the guest sees -1
//		}
//		return bytes.ToUpper(in), nil // in is valid only during the call
//	})
//	upper, _ := cached.Func("via_host")
//	out, err := inst.CallFuncBytes(upper, payload) // payload is read in place
//
// # Guardrails
//
// A host running guests it did not write bounds each instance in its InstanceConfig:
// Timeout stops a call that runs too long (ErrTimeout); Fuel meters the guest's
// instructions on a runtime made with Config.Fuel (ErrOutOfFuel; Instance.AddFuel
// refills the tank, Instance.Fuel reads it); MemoryLimit and TableLimit cap growth
// (memory.grow and table.grow return -1 to the guest, and a module that starts above them
// is ErrLimit). Instance.Interrupt stops the running or next call from any goroutine
// (ErrInterrupted), Instance.InterruptCall only a running one, and CallContext,
// CallFuncContext, CallBytesContext, CallFuncBytesContext and RunContext stop their call
// when its context is done, with an error that is both the context's and ErrInterrupted:
//
//	inst, err := m.InstantiateWith(packr.InstanceConfig{
//		Timeout:     100 * time.Millisecond, // each call, whatever the caller's context
//		MemoryLimit: 64 << 20,
//	})
//	if err != nil { ... } // ErrLimit: the module's memory starts above 64 MiB
//	defer inst.Close()
//	ctx, cancel := context.WithTimeout(req.Context(), time.Second)
//	defer cancel()
//	res, err := inst.CallContext(ctx, "handle", n)
//	switch {
//	case errors.Is(err, context.Canceled): // the client went away; also ErrInterrupted
//	case errors.Is(err, packr.ErrTimeout): // the guest ran past 100 ms
//	}
//
// Every stop leaves the instance usable, its memory as the guest left it. Host functions
// are never stopped in the middle: the guest stops once the host function returns. For the
// whole engine, Config.MaxModuleBytes refuses larger modules before compiling (ErrLimit),
// Config.MaxWasmStack bounds guest recursion (deeper is ErrTrap, "call stack exhausted",
// on any goroutine), Config.TimerTick sets how precisely timeouts fire, and
// Config.DisableSignalsBasedTraps makes traps work without signal handlers.
//
// # The compile cache on disk
//
// Compiling is the expensive step, and a Runtime's modules live only as long as the
// process. Module.Serialize writes a module's compiled code as an artifact, and
// Runtime.Deserialize turns one back into a module without compiling, on any runtime
// whose engine has the same settings (and the same packr and wasmtime). Every artifact is
// verified before wasmtime reads it: a damaged, truncated or foreign one is ErrArtifact
// naming the check that failed. SerializeKeyed and DeserializeKeyed authenticate the
// artifact with a key of at least 16 bytes, for artifacts stored where others can write.
//
// A Cache keeps artifacts in a directory for you, shared by every goroutine and process
// that opens it: Cache.Load compiles a module the first time and loads its artifact after,
// and loaders of the same module wait for one compile. A damaged or foreign artifact is
// never an error there, only recompiled and replaced (Cache.Stats counts it, and
// Cache.LastProblem says why):
//
//	cache, err := packr.OpenCacheWith("/var/cache/myapp/wasm", packr.CacheOptions{
//		MaxBytes: 1 << 30, // least recently used artifacts go first
//	})
//	if err != nil { ... }
//	defer cache.Close() // modules it loaded keep working
//	m, err := cache.Load(rt, wasm) // ErrCompile as from rt.Load; never ErrArtifact
//	if err != nil { ... }
//	defer m.Close()
//	s := cache.Stats() // s.Hits, s.Misses, s.Rejected, ...
//
// # Installing and linking
//
// The module path is github.com/packr-dev/packr/go (the go folder of the packr
// repository); import it as "github.com/packr-dev/packr/go", package packr. It is a cgo
// package: building needs a C compiler, pkg-config and packr's C library installed. The
// C header comes inside the module (packr.h, identical to the repository's
// include/packr.h), so the module builds from a copy of its folder alone; only the
// library comes from outside, and it must be the same packr release as the module.
//
// The steps, with a prefix of your choice:
//
//	# in a clone of packr (Rust is needed for this step only): installs libpackr.so.0
//	# (and its libpackr.so link), libpackr.a, the headers, and packr.pc and
//	# packr-static.pc in lib/pkgconfig
//	make install PREFIX=$HOME/.local
//
//	# in the shell that builds your program
//	export PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig
//	go get github.com/packr-dev/packr/go
//	go build ./...
//
// To use a local copy of the module instead (such as the clone's go folder), skip go get
// and put in your go.mod:
//
//	require github.com/packr-dev/packr/go v0.0.0
//	replace github.com/packr-dev/packr/go => /path/to/packr/go
//
// The binary links libpackr.so.0 and finds it through the run path that packr.pc's Libs
// put in it (the prefix's lib directory), so it runs without LD_LIBRARY_PATH while the
// prefix stays where it was installed.
//
// A static build is one tag away: go build -tags packr_static links the installed
// libpackr.a into the binary, through packr-static.pc (installed beside packr.pc, with the
// system libraries the archive needs), so the binary runs with no libpackr.so anywhere;
// ldd lists only system libraries.
//
// The packr repository's own tests build with -tags packr_dev: it links the library the
// repository builds (cargo build --release, in ../target/release) with a run path to it,
// and needs neither make install nor pkg-config. link.go says how each mode links.
package packr
