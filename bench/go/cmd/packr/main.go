// packr through its Go package: compile once, then every spawn wraps the cached module
// (the cache-hit path), instantiates it, calls demo_version_number and closes both.
// Modes: default (NewRuntime) and pooling (NewRuntimeWithConfig). One JSON line on stdout.
package main

import (
	"os"
	"time"

	packr "github.com/packr-dev/packr/go"

	"packr-bench/internal/bench"
)

func main() {
	a := bench.Parse("default", "pooling")
	wasm, err := os.ReadFile(a.Wasm)
	if err != nil {
		bench.Die("packr-go: %v", err)
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
