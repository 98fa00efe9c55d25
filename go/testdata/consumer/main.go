// A program outside the packr repository that uses the Go package the way a user does:
// the install test copies this folder to a temporary directory, writes go.mod from
// go.mod.in with @PACKR_GO@ replaced by a copy of the package's folder, builds it against
// an installed packr (shared, then with -tags packr_static) and runs it. It prints OK when
// the cache pattern and a compile cache round trip work.
package main

import (
	"fmt"
	"os"

	packr "github.com/packr-dev/packr/go"
)

const wat = `(module
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1))))`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
	fmt.Println("OK", packr.Version())
}

func run() error {
	// The cache pattern: compile once, keep a clone, wrap it into a runtime sharing the
	// engine, instantiate, call.
	base, err := packr.NewRuntime()
	if err != nil {
		return err
	}
	defer base.Close()
	compiled, err := base.Load([]byte(wat))
	if err != nil {
		return err
	}
	defer compiled.Close()
	cached := compiled.Clone()
	defer cached.Close()
	rt, err := packr.NewRuntimeSharingEngine(base)
	if err != nil {
		return err
	}
	defer rt.Close()
	m, err := rt.Wrap(cached)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := add(m, 2, 3); err != nil {
		return err
	}

	// A compile cache on disk: the first open compiles and stores, the second loads the
	// artifact without compiling.
	dir, err := os.MkdirTemp("", "packr-consumer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for round, want := range []packr.CacheStats{{Misses: 1, Stored: 1}, {Hits: 1}} {
		cache, err := packr.OpenCache(dir)
		if err != nil {
			return err
		}
		m, err := cache.Load(rt, []byte(wat))
		if err == nil {
			err = add(m, int32(round), 40)
			m.Close()
		}
		s := cache.Stats()
		cache.Close()
		if err != nil {
			return err
		}
		if s.Hits != want.Hits || s.Misses != want.Misses || s.Stored != want.Stored {
			return fmt.Errorf("cache round %d: stats %+v, want %d hits, %d misses, %d stored",
				round, s, want.Hits, want.Misses, want.Stored)
		}
	}
	return nil
}

// add instantiates m and checks that add(a, b) returns a+b.
func add(m *packr.Module, a, b int32) error {
	inst, err := m.Instantiate()
	if err != nil {
		return err
	}
	defer inst.Close()
	res, err := inst.Call("add", a, b)
	if err != nil {
		return err
	}
	if len(res) != 1 || res[0] != a+b {
		return fmt.Errorf("add(%d, %d) = %v", a, b, res)
	}
	return nil
}
