// Package packr hosts WebAssembly from Go over packr's C library: compile a module once,
// then spawn cheap instances of it from a cache.
//
// A Runtime is an engine plus host definitions; Runtime.Load compiles a Module;
// Module.Instantiate makes an Instance with its own memory and globals; Instance.Call
// calls an export. Each value owns one C handle: Close it when done (Close is idempotent,
// and a cleanup frees a forgotten handle after garbage collection). Handles may be closed
// in any order: an instance keeps its module alive, a module its runtime.
//
// Runtimes and modules are safe for concurrent use. An instance is used by one goroutine
// at a time; an overlapping call fails with ErrBusy.
//
// Failures are *Error values carrying the core's status and message; test them with
// errors.Is against ErrTrap, ErrEngineMismatch and the other sentinels. Methods called
// after Close return ErrClosed.
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
// By default the package links the library built in this repository
// (cargo build --release); build with -tags packr_pkgconfig to find an installed packr
// through pkg-config instead.
package packr
