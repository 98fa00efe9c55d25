package packr

import (
	"errors"
	"fmt"
	"testing"
)

// A small pool: two slots of 1 MiB memories keep the up-front reservation small.
var smallPool = Config{Pooling: true, PoolInstances: 2, PoolMemoryBytes: 1 << 20}

func newConfigRuntime(t testing.TB, cfg Config) *Runtime {
	t.Helper()
	rt, err := op(NewRuntimeWithConfig(cfg))
	mustNoErr(t, err)
	t.Cleanup(func() { rt.Close() })
	return rt
}

func TestConfigZeroIsDefault(t *testing.T) {
	inst := instantiate(t, load(t, newConfigRuntime(t, Config{}), readCalc(t)))
	res, err := op(inst.Call("add", 2, 3))
	mustNoErr(t, err)
	if res[0] != int32(5) {
		t.Fatalf("add = %v", res)
	}
}

func TestConfigEverySetting(t *testing.T) {
	for name, cfg := range map[string]Config{
		"pooled": {Pooling: true, PoolInstances: 4, PoolMemoriesPerInstance: 1, PoolTablesPerInstance: 1,
			PoolMemoryBytes: 1 << 20, PoolTableElements: 100, DisableMemoryImages: true,
			OptLevel: OptSpeedAndSize, SerialCompilation: true},
		"on-demand": {OptLevel: OptNone, SerialCompilation: true, MemoryReservation: 64 << 20},
	} {
		t.Run(name, func(t *testing.T) {
			inst := instantiate(t, load(t, newConfigRuntime(t, cfg), readCalc(t)))
			res, err := op(inst.Call("add64", int64(1)<<40, 2))
			mustNoErr(t, err)
			if res[0] != int64(1)<<40+2 {
				t.Fatalf("add64 = %v", res)
			}
		})
	}
}

func TestConfigInvalid(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		msg string
	}{
		{Config{Pooling: true, PoolMemoryBytes: 100000}, "pool_memory_bytes must be a multiple of 65536"},
		{Config{PoolInstances: 1_000_001}, "pool_instances"},
		{Config{PoolMemoriesPerInstance: 101}, "pool_memories_per_instance"},
		{Config{PoolTablesPerInstance: 101}, "pool_tables_per_instance"},
		{Config{PoolTableElements: 10_000_001}, "pool_table_elements"},
		{Config{OptLevel: OptSpeedAndSize + 1}, "opt_level"},
		{Config{MemoryReservation: 1 << 40}, "memory_reservation"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			rt, err := op(NewRuntimeWithConfig(tc.cfg))
			if rt != nil {
				rt.Close()
			}
			e := wantErr(t, err, ErrInvalidArgument, tc.msg)
			if e.StatusName != "PACKR_ERR_INVALID_ARGUMENT" {
				t.Fatalf("status name %q", e.StatusName)
			}
		})
	}
}

// TestPoolResetSettings: keep-resident 0, no PAGEMAP_SCAN and batched decommits still
// give fresh instances from reused slots, and out-of-range values are rejected by name.
func TestPoolResetSettings(t *testing.T) {
	none := uint64(0)
	cfg := smallPool
	cfg.PoolKeepResident, cfg.DisablePoolPagemapScan, cfg.PoolDecommitBatch = &none, true, 8
	m := load(t, newConfigRuntime(t, cfg), readCalc(t))
	for i := range 5 { // more spawns than slots: each reuses a freed one
		inst, err := op(m.Instantiate())
		mustNoErr(t, err)
		res, err := op(inst.Call("count"))
		if err == nil && res[0] != int32(1) {
			err = fmt.Errorf("count in spawn %d = %v, want 1", i, res)
		}
		inst.Close()
		mustNoErr(t, err)
	}

	tooMuch := uint64(2 << 30)
	for _, tc := range []struct {
		cfg Config
		msg string
	}{
		{Config{Pooling: true, PoolDecommitBatch: 5000}, "pool_decommit_batch must be between 1 and 4096, not 5000"},
		{Config{Pooling: true, PoolKeepResident: &tooMuch}, "pool_keep_resident must be between 0 and 1073741824"},
	} {
		rt, err := op(NewRuntimeWithConfig(tc.cfg))
		if rt != nil {
			rt.Close()
		}
		if e := wantErr(t, err, ErrInvalidArgument, tc.msg); e.StatusName != "PACKR_ERR_INVALID_ARGUMENT" {
			t.Fatalf("status name %q", e.StatusName)
		}
	}
}

func TestPoolExhausted(t *testing.T) {
	m := load(t, newConfigRuntime(t, smallPool), readCalc(t))
	a, err := op(m.Instantiate())
	mustNoErr(t, err)
	defer a.Close()
	b, err := op(m.Instantiate())
	mustNoErr(t, err)
	defer b.Close()
	_, err = op(m.Instantiate())
	e := wantErr(t, err, ErrPoolExhausted, "maximum concurrent limit of 2")
	if e.StatusName != "PACKR_ERR_POOL_EXHAUSTED" {
		t.Fatalf("status name %q", e.StatusName)
	}
	mustNoErr(t, opErr(a.Close()))
	c := instantiate(t, m) // the freed slot is reused
	res, err := op(c.Call("count"))
	mustNoErr(t, err)
	if res[0] != int32(1) {
		t.Fatalf("count in a reused slot = %v, want 1", res)
	}
}

// TestPoolSharedWithSharingEngine: a runtime sharing a pooled engine shares its pool.
func TestPoolSharedWithSharingEngine(t *testing.T) {
	base := newConfigRuntime(t, smallPool)
	shared, err := op(NewRuntimeSharingEngine(base))
	mustNoErr(t, err)
	defer shared.Close()
	m := load(t, base, readCalc(t))
	w, err := op(shared.Wrap(m))
	mustNoErr(t, err)
	defer w.Close()
	a, err := op(m.Instantiate())
	mustNoErr(t, err)
	defer a.Close()
	b := instantiate(t, w)
	for _, mod := range []*Module{m, w} {
		_, err = op(mod.Instantiate())
		wantErr(t, err, ErrPoolExhausted, "maximum concurrent limit of 2")
	}
	mustNoErr(t, opErr(a.Close()))
	c := instantiate(t, w)
	for _, inst := range []*Instance{b, c} {
		res, err := op(inst.Call("add", 40, 2))
		mustNoErr(t, err)
		if res[0] != int32(42) {
			t.Fatalf("add = %v", res)
		}
	}
}

// TestPooledCachePattern is TestCachePattern's shape on a pooled engine: each goroutine
// holds at most one instance, so a pool of `goroutines` slots is never exhausted.
func TestPooledCachePattern(t *testing.T) {
	const goroutines, conns = 8, 20
	base := newConfigRuntime(t, Config{Pooling: true, PoolInstances: goroutines, PoolMemoryBytes: 1 << 20})
	loaded := load(t, base, readCalc(t))
	cached := loaded.Clone()
	defer cached.Close()
	mustNoErr(t, opErr(loaded.Close()))

	serveConnections(t, base, goroutines, conns, func(rt *Runtime) (*Module, error) { return op(rt.Wrap(cached)) })
}

func TestNewStatusSentinels(t *testing.T) {
	for _, tc := range []struct {
		sentinel *Error
		status   int32
		name     string
	}{
		{ErrPoolExhausted, StatusPoolExhausted, "PACKR_ERR_POOL_EXHAUSTED"},
		{ErrResource, StatusResource, "PACKR_ERR_RESOURCE"},
		{ErrHost, StatusHost, "PACKR_ERR_HOST"},
	} {
		err := fmt.Errorf("wrapped: %w", newError(tc.status, "x"))
		if !errors.Is(err, tc.sentinel) || errors.Is(err, ErrInstantiate) {
			t.Fatalf("errors.Is(%v, %v) is wrong", err, tc.sentinel)
		}
		if tc.sentinel.StatusName != tc.name {
			t.Fatalf("status name %q, want %q", tc.sentinel.StatusName, tc.name)
		}
	}
	if StatusPoolExhausted != 13 || StatusResource != 14 || StatusHost != 15 {
		t.Fatal("status numbers changed")
	}
}
