// packr through its Go package: compile once, then every spawn wraps the cached module
// (the cache-hit path), instantiates it, calls demo_version_number and closes both.
// Modes: default (NewRuntime) and pooling (NewRuntimeWithConfig); and calls, per-call costs
// on one live instance of build/guest/calls.wasm (see runCalls). One JSON line on stdout.
package main

import (
	"os"
	"time"

	packr "github.com/packr-dev/packr/go"

	"packr-bench/internal/bench"
)

func main() {
	a := bench.Parse("default", "pooling", "calls")
	wasm, err := os.ReadFile(a.Wasm)
	if err != nil {
		bench.Die("packr-go: %v", err)
	}
	if a.Mode == "calls" {
		runCalls(a, wasm)
		return
	}
	var rt *packr.Runtime
	if a.Mode == "pooling" {
		rt, err = packr.NewRuntimeWithConfig(packr.Config{
			Pooling:         true,
			PoolInstances:   uint32(a.PoolInstances()),
			PoolMemoryBytes: bench.PoolMemoryBytes,
		})
	} else {
		rt, err = packr.NewRuntime()
	}
	if err != nil {
		bench.Die("packr-go: runtime: %v", err)
	}
	defer rt.Close()

	t := time.Now()
	cached, err := rt.Load(wasm)
	compileMs := float64(time.Since(t).Nanoseconds()) / 1e6
	if err != nil {
		bench.Die("packr-go: compile: %v", err)
	}
	defer cached.Close()

	liveNew := func() any {
		m, err := rt.Wrap(cached)
		if err != nil {
			bench.Die("packr-go: wrap: %v", err)
		}
		inst, err := m.Instantiate()
		m.Close()
		if err != nil {
			bench.Die("packr-go: instantiate: %v", err)
		}
		res, err := inst.Call("demo_version_number")
		if err != nil {
			bench.Die("packr-go: call: %v", err)
		}
		if v, _ := res[0].(int32); v != bench.ExpectedVersion {
			bench.Die("packr-go: demo_version_number returned %v, not %d", res[0], bench.ExpectedVersion)
		}
		return inst
	}
	liveFree := func(inst any) { inst.(*packr.Instance).Close() }
	bench.Measure("packr (Go)", a, compileMs, bench.Driver{
		Spawn:    func() { liveFree(liveNew()) },
		LiveNew:  liveNew,
		LiveFree: liveFree,
	})
}

// runCalls measures the calls mode: bench.inc served by a typed Go func (Host.Define's
// reflection-free path), add called by name (Instance.Call) and through a resolved func
// (CallFunc2, no allocation), host_loop through its resolved func.
func runCalls(a bench.Args, wasm []byte) {
	base, err := packr.NewRuntime()
	if err != nil {
		bench.Die("packr-go: runtime: %v", err)
	}
	defer base.Close()
	host, err := packr.NewHost()
	if err != nil {
		bench.Die("packr-go: host: %v", err)
	}
	defer host.Close()
	if err := host.Define("bench", "inc", func(x int32) int32 { return x + 1 }); err != nil {
		bench.Die("packr-go: define inc: %v", err)
	}
	rt, err := packr.NewRuntimeWithHost(base, host)
	if err != nil {
		bench.Die("packr-go: runtime with host: %v", err)
	}
	defer rt.Close()
	m, err := rt.Load(wasm)
	if err != nil {
		bench.Die("packr-go: compile: %v", err)
	}
	defer m.Close()
	inst, err := m.Instantiate()
	if err != nil {
		bench.Die("packr-go: instantiate: %v", err)
	}
	defer inst.Close()
	add, err := m.Func("add")
	if err != nil {
		bench.Die("packr-go: func add: %v", err)
	}
	defer add.Close()
	loop, err := m.Func("host_loop")
	if err != nil {
		bench.Die("packr-go: func host_loop: %v", err)
	}
	defer loop.Close()
	must := func(r int32, err error) int32 {
		if err != nil {
			bench.Die("packr-go: %v", err)
		}
		return r
	}
	bench.MeasureCalls("packr (Go)", a, bench.Calls{
		Call: func() int32 {
			res, err := inst.Call("add", int32(1), int32(2))
			if err != nil {
				bench.Die("packr-go: call add: %v", err)
			}
			return res[0].(int32)
		},
		CallFast: func() int32 { return must(packr.CallFunc2[int32](inst, add, int32(1), int32(2))) },
		HostLoop: func(n int32) int32 { return must(packr.CallFunc1[int32](inst, loop, n)) },
	}, "call: Instance.Call by name; fast: CallFunc2 on a Module.Func; host: a typed Go func from Host.Define (no fast variant)")
}
