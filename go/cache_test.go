package packr

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef") // 32 bytes
	otherKey = []byte("fedcba9876543210fedcba9876543210")
)

// wantAdd checks that m is usable: a fresh instance's add(a, 3) is a+3.
func wantAdd(t testing.TB, m *Module, a int32) {
	t.Helper()
	inst, err := op(m.Instantiate())
	mustNoErr(t, err)
	defer inst.Close()
	res, err := op(inst.Call("add", a, int32(3)))
	mustNoErr(t, err)
	if res[0] != a+3 {
		t.Fatalf("add(%d, 3) = %v", a, res)
	}
}

// serialized returns calc compiled by a fresh runtime, as an artifact (keyed when key is
// not nil).
func serialized(t testing.TB, key []byte) []byte {
	t.Helper()
	m := load(t, newTestRuntime(t), readCalc(t))
	var b []byte
	var err error
	if key == nil {
		b, err = op(m.Serialize())
	} else {
		b, err = op(m.SerializeKeyed(key))
	}
	mustNoErr(t, err)
	if len(b) <= 128 {
		t.Fatalf("artifact of %d bytes", len(b))
	}
	return b
}

func openCache(t testing.TB, dir string, opts CacheOptions) *Cache {
	t.Helper()
	c, err := op(OpenCacheWith(dir, opts))
	mustNoErr(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// cacheLoad loads src through c for rt; the test owns the module.
func cacheLoad(t testing.TB, c *Cache, rt *Runtime, src string) *Module {
	t.Helper()
	m, err := op(c.Load(rt, []byte(src)))
	mustNoErr(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// wantStats compares the counters of s with want's (BytesOnDisk only if want's is set).
func wantStats(t testing.TB, c *Cache, want CacheStats) CacheStats {
	t.Helper()
	s := c.Stats()
	got := s
	if want.BytesOnDisk == 0 {
		got.BytesOnDisk = 0
	}
	if got != want {
		t.Fatalf("stats %+v, want %+v (last problem %q)", s, want, c.LastProblem())
	}
	return s
}

// artifactFiles returns the artifacts in dir.
func artifactFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.packr"))
	mustNoErr(t, err)
	return files
}

// damage rewrites the only artifact in dir with change's result.
func damage(t testing.TB, dir string, change func([]byte) []byte) {
	t.Helper()
	files := artifactFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("artifacts %v, want one", files)
	}
	b, err := os.ReadFile(files[0])
	mustNoErr(t, err)
	mustNoErr(t, os.Chmod(files[0], 0o644)) // artifacts are written read-only
	mustNoErr(t, os.WriteFile(files[0], change(b), 0o644))
}

func flipByte(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x40
	return out
}

func TestArtifactStatus(t *testing.T) {
	if StatusArtifact != 22 || ErrArtifact.Status != 22 || ErrArtifact.StatusName != "PACKR_ERR_ARTIFACT" {
		t.Fatalf("status %d, sentinel %d %q", StatusArtifact, ErrArtifact.Status, ErrArtifact.StatusName)
	}
	err := fmt.Errorf("wrapped: %w", newError(StatusArtifact, "x"))
	if !errors.Is(err, ErrArtifact) || errors.Is(err, ErrCompile) {
		t.Fatalf("errors.Is(%v, ErrArtifact) is wrong", err)
	}
}

// TestSerializeRoundTrip: an artifact deserializes, without compiling, into a runtime with
// an engine of its own (as in another process) and into the one that made it, and the
// module behaves like a loaded one: instantiate, clone, wrap, resolve, serialize again.
func TestSerializeRoundTrip(t *testing.T) {
	b := serialized(t, nil)
	for name, rt := range map[string]*Runtime{
		"fresh engine":   newTestRuntime(t),
		"default config": newConfigRuntime(t, Config{}),
	} {
		t.Run(name, func(t *testing.T) {
			m, err := op(rt.Deserialize(b))
			mustNoErr(t, err)
			defer m.Close()
			wantAdd(t, m, 2)

			c := m.Clone()
			defer c.Close()
			mustNoErr(t, opErr(m.Close()))
			wantAdd(t, c, 7)

			shared, err := op(NewRuntimeSharingEngine(rt))
			mustNoErr(t, err)
			defer shared.Close()
			w, err := op(shared.Wrap(c))
			mustNoErr(t, err)
			defer w.Close()
			wantAdd(t, w, -1)

			add, err := op(w.Func("add"))
			mustNoErr(t, err)
			defer add.Close()
			inst := instantiate(t, c)
			sum, err := CallFunc2[int32](inst, add, int32(40), int32(2))
			mustNoErr(t, err)
			if sum != 42 {
				t.Fatalf("add = %d", sum)
			}

			again, err := op(c.Serialize())
			mustNoErr(t, err)
			m2, err := op(newTestRuntime(t).Deserialize(again))
			mustNoErr(t, err)
			defer m2.Close()
			wantAdd(t, m2, 10)
		})
	}

	// The slice is the caller's: changing it does not reach packr.
	b[len(b)/2] ^= 0x40
	_, err := op(newTestRuntime(t).Deserialize(b))
	wantErr(t, err, ErrArtifact, "artifact rejected")
}

// TestSerializeKeyed: a keyed artifact needs its key; every other key, and none, is
// ErrArtifact naming why, as is a key for an artifact written without one.
func TestSerializeKeyed(t *testing.T) {
	rt := newTestRuntime(t)
	keyed := serialized(t, testKey)
	m, err := op(rt.DeserializeKeyed(testKey, keyed))
	mustNoErr(t, err)
	defer m.Close()
	wantAdd(t, m, 2)

	_, err = op(rt.DeserializeKeyed(otherKey, keyed))
	wantErr(t, err, ErrArtifact, "artifact rejected: MAC mismatch")
	_, err = op(rt.DeserializeKeyed(testKey, flipByte(keyed, len(keyed)/2)))
	wantErr(t, err, ErrArtifact, "artifact rejected: MAC mismatch")
	_, err = op(rt.Deserialize(keyed))
	wantErr(t, err, ErrArtifact, "none was given")
	_, err = op(rt.DeserializeKeyed(testKey, serialized(t, nil)))
	wantErr(t, err, ErrArtifact, "written without a key")

	// Any key of 16 bytes or more; a shorter one is refused before anything is read.
	short := testKey[:15]
	_, err = op(m.SerializeKeyed(short))
	wantErr(t, err, ErrInvalidArgument, "16")
	_, err = op(rt.DeserializeKeyed(short, keyed))
	wantErr(t, err, ErrInvalidArgument, "16")
	_, err = op(m.SerializeKeyed(nil))
	wantErr(t, err, ErrInvalidArgument, "16")
	key16 := testKey[:16]
	b16, err := op(m.SerializeKeyed(key16))
	mustNoErr(t, err)
	m16, err := op(rt.DeserializeKeyed(key16, b16))
	mustNoErr(t, err)
	defer m16.Close()
	wantAdd(t, m16, 5)
}

// TestDeserializeDamaged: a flipped byte anywhere and every truncation are ErrArtifact.
func TestDeserializeDamaged(t *testing.T) {
	rt := newTestRuntime(t)
	b := serialized(t, nil)
	for _, tc := range []struct {
		name string
		b    []byte
		msg  string
	}{
		{"flipped payload byte", flipByte(b, len(b)/3), "artifact rejected: checksum mismatch"},
		{"flipped first byte", flipByte(b, 0), "artifact rejected: checksum mismatch"},
		{"flipped last byte", flipByte(b, len(b)-1), "artifact rejected"},
		{"flipped trailer byte", flipByte(b, len(b)-100), "artifact rejected"},
		{"one byte short", b[:len(b)-1], "artifact rejected"},
		{"half", b[:len(b)/2], "artifact rejected"},
		{"trailer only", b[len(b)-128:], "artifact rejected"},
		{"ten bytes", b[:10], "artifact rejected"},
		{"empty", nil, "artifact rejected"},
		{"one byte extra", append(bytes.Clone(b), 0), "artifact rejected"},
		{"wasm text", []byte(readCalc(t)), "artifact rejected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := op(rt.Deserialize(tc.b))
			if m != nil {
				m.Close()
			}
			wantErr(t, err, ErrArtifact, tc.msg)
		})
	}
	// The original still deserializes: the cases above changed copies.
	m, err := op(rt.Deserialize(b))
	mustNoErr(t, err)
	defer m.Close()
	wantAdd(t, m, 1)
}

// TestDeserializeOtherSettings: an engine that counts fuel compiles other code, so it
// refuses artifacts of one that does not, and the other way round.
func TestDeserializeOtherSettings(t *testing.T) {
	plain := serialized(t, nil)
	fuelRT := newConfigRuntime(t, Config{Fuel: true})
	_, err := op(fuelRT.Deserialize(plain))
	wantErr(t, err, ErrArtifact, "artifact rejected: made by an engine with other settings")

	fuelM := load(t, fuelRT, readCalc(t))
	fuelArt, err := op(fuelM.Serialize())
	mustNoErr(t, err)
	_, err = op(newTestRuntime(t).Deserialize(fuelArt))
	wantErr(t, err, ErrArtifact, "artifact rejected: made by an engine with other settings")

	m, err := op(newConfigRuntime(t, Config{Fuel: true}).Deserialize(fuelArt))
	mustNoErr(t, err)
	defer m.Close()
	wantAdd(t, m, 4)
}

// TestSerializeHosted: a module deserialized into a runtime with host functions calls
// them, and their errors travel back as for a loaded module.
func TestSerializeHosted(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(casesDir, "host.wat"))
	mustNoErr(t, err)
	base := newTestRuntime(t)
	b, err := op(load(t, caseHostRuntime(t, base), string(src)).Serialize())
	mustNoErr(t, err)

	m, err := op(caseHostRuntime(t, newTestRuntime(t)).Deserialize(b))
	mustNoErr(t, err)
	defer m.Close()
	inst := instantiate(t, m)
	res, err := op(inst.Call("use_twice", int32(20)))
	mustNoErr(t, err)
	if res[0] != int32(41) {
		t.Fatalf("use_twice(20) = %v", res)
	}
	_, err = op(inst.Call("use_fail", int32(7)))
	var refused *refusedError
	if !errors.As(err, &refused) || refused.n != 7 {
		t.Fatalf("use_fail: %v", err)
	}
}

func TestSerializeClosed(t *testing.T) {
	rt := newTestRuntime(t)
	m := load(t, rt, readCalc(t))
	b, err := op(m.Serialize())
	mustNoErr(t, err)
	mustNoErr(t, m.Close())
	if _, err := m.Serialize(); err != ErrClosed {
		t.Fatalf("Serialize after Close: %v", err)
	}
	if _, err := m.SerializeKeyed(testKey); err != ErrClosed {
		t.Fatalf("SerializeKeyed after Close: %v", err)
	}
	mustNoErr(t, rt.Close())
	if _, err := rt.Deserialize(b); err != ErrClosed {
		t.Fatalf("Deserialize after Close: %v", err)
	}
	if _, err := rt.DeserializeKeyed(testKey, b); err != ErrClosed {
		t.Fatalf("DeserializeKeyed after Close: %v", err)
	}
}

var artifactName = regexp.MustCompile(`^[0-9a-f]{32}-[0-9a-f]{16}(-k[0-9a-f]{8})?\.packr$`)

// TestCacheMissThenHit: the first load compiles and stores, later ones (this handle, a new
// handle, a runtime with an engine of its own) load the artifact.
func TestCacheMissThenHit(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, CacheOptions{})
	if c.Dir() != dir {
		t.Fatalf("Dir() = %q, want %q", c.Dir(), dir)
	}
	wantStats(t, c, CacheStats{})
	if p := c.LastProblem(); p != "" {
		t.Fatalf("last problem %q", p)
	}

	rt := newTestRuntime(t)
	wantAdd(t, cacheLoad(t, c, rt, readCalc(t)), 1)
	s := wantStats(t, c, CacheStats{Misses: 1, Stored: 1, Files: 1})
	files := artifactFiles(t, dir)
	if len(files) != 1 || !artifactName.MatchString(filepath.Base(files[0])) {
		t.Fatalf("artifacts %v", files)
	}
	fi, err := os.Stat(files[0])
	mustNoErr(t, err)
	if uint64(fi.Size()) != s.BytesOnDisk || fi.Mode().Perm() != 0o444 {
		t.Fatalf("artifact of %d bytes, mode %v; stats say %d bytes", fi.Size(), fi.Mode(), s.BytesOnDisk)
	}

	wantAdd(t, cacheLoad(t, c, rt, readCalc(t)), 2)
	wantStats(t, c, CacheStats{Hits: 1, Misses: 1, Stored: 1, Files: 1, BytesOnDisk: s.BytesOnDisk})

	// As in the next process: a new handle, a new engine with the same settings.
	c2 := openCache(t, dir, CacheOptions{})
	wantAdd(t, cacheLoad(t, c2, newTestRuntime(t), readCalc(t)), 3)
	wantStats(t, c2, CacheStats{Hits: 1, Files: 1, BytesOnDisk: s.BytesOnDisk})

	// The artifact is the module's: a runtime deserializes it directly.
	b, err := os.ReadFile(files[0])
	mustNoErr(t, err)
	m, err := op(newTestRuntime(t).Deserialize(b))
	mustNoErr(t, err)
	defer m.Close()
	wantAdd(t, m, 4)

	// A missing directory is created.
	nested := filepath.Join(dir, "a", "b")
	c3 := openCache(t, nested, CacheOptions{})
	wantAdd(t, cacheLoad(t, c3, rt, readCalc(t)), 5)
	wantStats(t, c3, CacheStats{Misses: 1, Stored: 1, Files: 1})
}

// TestCacheDamagedFile: an artifact damaged on disk is not an error: the load recompiles,
// counts it, says why, and replaces the file, so the next load hits.
func TestCacheDamagedFile(t *testing.T) {
	guardArt, err := op(load(t, newTestRuntime(t), readGuard(t)).Serialize())
	mustNoErr(t, err)
	for _, tc := range []struct {
		name   string
		change func([]byte) []byte
		msg    string
	}{
		{"flipped byte", func(b []byte) []byte { return flipByte(b, len(b)/2) }, "artifact rejected: checksum mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, "artifact rejected"},
		{"empty", func([]byte) []byte { return nil }, "artifact rejected"},
		// A valid artifact, under the name of another module's.
		{"other module", func([]byte) []byte { return guardArt }, "artifact rejected: compiled from other wasm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rt := newTestRuntime(t)
			cacheLoad(t, openCache(t, dir, CacheOptions{}), rt, readCalc(t))
			damage(t, dir, tc.change)

			c := openCache(t, dir, CacheOptions{})
			m := cacheLoad(t, c, rt, readCalc(t))
			wantAdd(t, m, 1)
			wantStats(t, c, CacheStats{Misses: 1, Rejected: 1, Stored: 1, Files: 1})
			if p := c.LastProblem(); !strings.Contains(p, tc.msg) {
				t.Fatalf("last problem %q, want %q", p, tc.msg)
			}

			wantAdd(t, cacheLoad(t, c, rt, readCalc(t)), 2)
			wantStats(t, c, CacheStats{Hits: 1, Misses: 1, Rejected: 1, Stored: 1, Files: 1})
		})
	}
}

// TestCacheConcurrent: goroutines, each with an engine of its own, load the same module
// at once; one compiles, the others wait for it and load its artifact.
func TestCacheConcurrent(t *testing.T) {
	const n = 16
	c := openCache(t, t.TempDir(), CacheOptions{})
	src := []byte(readCalc(t))
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				rt, err := op(NewRuntime())
				if err != nil {
					return err
				}
				defer rt.Close()
				<-start
				m, err := op(c.Load(rt, src))
				if err != nil {
					return err
				}
				defer m.Close()
				c.Stats() // concurrently with the loads
				inst, err := op(m.Instantiate())
				if err != nil {
					return err
				}
				defer inst.Close()
				res, err := op(inst.Call("add", int32(g), int32(1000)))
				if err == nil && res[0] != int32(g+1000) {
					err = fmt.Errorf("add(%d, 1000) = %v", g, res)
				}
				return err
			}()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		mustNoErr(t, err)
	}
	wantStats(t, c, CacheStats{Hits: n - 1, Misses: 1, Stored: 1, Files: 1})
}

// TestCacheEviction: with room for one of two modules, storing the second evicts the
// first, and loading the first again compiles it.
func TestCacheEviction(t *testing.T) {
	calc, guard := readCalc(t), readGuard(t)
	// Measure the two artifacts in an unbounded cache.
	measure := openCache(t, t.TempDir(), CacheOptions{})
	rt := newTestRuntime(t)
	cacheLoad(t, measure, rt, calc)
	a := measure.Stats().BytesOnDisk
	cacheLoad(t, measure, rt, guard)
	b := measure.Stats().BytesOnDisk - a
	limit := max(a, b) + min(a, b)/2 // each fits, both do not
	if a == 0 || b == 0 {
		t.Fatalf("artifacts of %d and %d bytes", a, b)
	}

	dir := t.TempDir()
	c := openCache(t, dir, CacheOptions{MaxBytes: limit})
	wantAdd(t, cacheLoad(t, c, rt, calc), 1)
	wantStats(t, c, CacheStats{Misses: 1, Stored: 1, Files: 1, BytesOnDisk: a})
	wantOne(t, instantiate(t, cacheLoad(t, c, rt, guard)))
	wantStats(t, c, CacheStats{Misses: 2, Stored: 2, Evicted: 1, Files: 1, BytesOnDisk: b})

	// The evicted module compiles again (and evicts the other); the loaded ones still work.
	m := cacheLoad(t, c, rt, calc)
	wantAdd(t, m, 2)
	s := wantStats(t, c, CacheStats{Misses: 3, Stored: 3, Evicted: 2, Files: 1, BytesOnDisk: a})
	if s.BytesOnDisk > limit {
		t.Fatalf("%d bytes on disk, above the limit of %d", s.BytesOnDisk, limit)
	}
	wantAdd(t, cacheLoad(t, c, rt, calc), 3)
	wantStats(t, c, CacheStats{Hits: 1, Misses: 3, Stored: 3, Evicted: 2, Files: 1, BytesOnDisk: a})
}

// TestCacheKeyed: a keyed cache's artifacts carry a MAC; caches with another key or none
// have artifacts of their own in the same directory, and a tampered one is recompiled.
func TestCacheKeyed(t *testing.T) {
	dir := t.TempDir()
	rt := newTestRuntime(t)
	c := openCache(t, dir, CacheOptions{Key: testKey})
	wantAdd(t, cacheLoad(t, c, rt, readCalc(t)), 1)
	wantStats(t, c, CacheStats{Misses: 1, Stored: 1, Files: 1})
	files := artifactFiles(t, dir)
	if len(files) != 1 || !regexp.MustCompile(`-k[0-9a-f]{8}\.packr$`).MatchString(files[0]) {
		t.Fatalf("artifacts %v", files)
	}
	b, err := os.ReadFile(files[0])
	mustNoErr(t, err)
	m, err := op(rt.DeserializeKeyed(testKey, b))
	mustNoErr(t, err)
	m.Close()

	again := openCache(t, dir, CacheOptions{Key: testKey})
	wantAdd(t, cacheLoad(t, again, newTestRuntime(t), readCalc(t)), 2)
	wantStats(t, again, CacheStats{Hits: 1, Files: 1})

	for i, opts := range []CacheOptions{{}, {Key: otherKey}} {
		o := openCache(t, dir, opts)
		wantAdd(t, cacheLoad(t, o, rt, readCalc(t)), 3)
		wantStats(t, o, CacheStats{Misses: 1, Stored: 1, Files: uint64(i + 2)})
	}

	// Tampering with a keyed artifact (here: the MAC's input) makes it rejected.
	tdir := t.TempDir()
	cacheLoad(t, openCache(t, tdir, CacheOptions{Key: testKey}), rt, readCalc(t))
	damage(t, tdir, func(b []byte) []byte { return flipByte(b, len(b)/2) })
	tc := openCache(t, tdir, CacheOptions{Key: testKey})
	wantAdd(t, cacheLoad(t, tc, rt, readCalc(t)), 4)
	wantStats(t, tc, CacheStats{Misses: 1, Rejected: 1, Stored: 1, Files: 1})
	if p := tc.LastProblem(); !strings.Contains(p, "artifact rejected: MAC mismatch") {
		t.Fatalf("last problem %q", p)
	}

	_, err = op(OpenCacheWith(t.TempDir(), CacheOptions{Key: testKey[:15]}))
	wantErr(t, err, ErrInvalidArgument, "16")
}

// TestCacheOtherSettings: engines with other settings share a directory, each with an
// artifact of its own; neither rejects the other's.
func TestCacheOtherSettings(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, CacheOptions{})
	cacheLoad(t, c, newTestRuntime(t), readCalc(t))
	fuelRT := newConfigRuntime(t, Config{Fuel: true})
	wantAdd(t, cacheLoad(t, c, fuelRT, readCalc(t)), 1)
	wantStats(t, c, CacheStats{Misses: 2, Stored: 2, Files: 2})
	wantAdd(t, cacheLoad(t, c, newConfigRuntime(t, Config{Fuel: true}), readCalc(t)), 2)
	wantAdd(t, cacheLoad(t, c, newConfigRuntime(t, Config{}), readCalc(t)), 3)
	wantStats(t, c, CacheStats{Hits: 2, Misses: 2, Stored: 2, Files: 2})

	// Guardrails work on a module from the cache: fuel runs out.
	m := cacheLoad(t, c, fuelRT, readGuard(t))
	fuel := uint64(1000)
	inst, err := op(m.InstantiateWith(InstanceConfig{Fuel: &fuel}))
	mustNoErr(t, err)
	defer inst.Close()
	_, err = op(inst.Call("spin"))
	wantErr(t, err, ErrOutOfFuel, "ran out of fuel")
}

// TestCacheHosted: a module from the cache, hit or miss, calls the host functions of the
// runtime it was loaded for.
func TestCacheHosted(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(casesDir, "host.wat"))
	mustNoErr(t, err)
	c := openCache(t, t.TempDir(), CacheOptions{})
	for round := range 2 {
		inst := instantiate(t, cacheLoad(t, c, caseHostRuntime(t, newTestRuntime(t)), string(src)))
		res, err := op(inst.Call("use_twice", int32(round)))
		mustNoErr(t, err)
		if res[0] != int32(2*round+1) {
			t.Fatalf("use_twice(%d) = %v", round, res)
		}
		_, err = op(inst.Call("use_fail", int32(7)))
		var refused *refusedError
		if !errors.As(err, &refused) {
			t.Fatalf("use_fail: %v", err)
		}
	}
	wantStats(t, c, CacheStats{Hits: 1, Misses: 1, Stored: 1, Files: 1})
}

// TestCacheErrors: compile errors are Runtime.Load's and store nothing; closed handles
// are ErrClosed; a directory that cannot be used fails to open.
func TestCacheErrors(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, CacheOptions{})
	rt := newTestRuntime(t)
	bad, err := os.ReadFile(filepath.Join(casesDir, "not_wasm.txt"))
	mustNoErr(t, err)
	_, err = op(c.Load(rt, bad))
	wantErr(t, err, ErrCompile, "")
	if s := c.Stats(); s.Stored != 0 || s.Files != 0 || s.Hits != 0 {
		t.Fatalf("stats after compile errors: %+v", s)
	}
	_, err = op(c.Load(nil, bad))
	wantErr(t, err, ErrNullPointer, "runtime is nil")

	_, err = op(OpenCache("bad\x00dir"))
	wantErr(t, err, ErrInvalidArgument, "NUL")
	_, err = op(OpenCache(""))
	wantErr(t, err, ErrInvalidArgument, "empty")

	// A directory that cannot be made is no error: every load compiles, and the cache
	// says why it stores nothing.
	file := filepath.Join(dir, "file")
	mustNoErr(t, os.WriteFile(file, []byte("x"), 0o644))
	unusable := openCache(t, file, CacheOptions{})
	if p := unusable.LastProblem(); !strings.Contains(p, "cannot create the cache directory") {
		t.Fatalf("last problem %q", p)
	}
	for a := range int32(2) {
		wantAdd(t, cacheLoad(t, unusable, rt, readCalc(t)), a)
	}
	if s := unusable.Stats(); s.Misses != 2 || s.Hits != 0 || s.Stored != 0 || s.Files != 0 || s.Errors < 3 {
		t.Fatalf("stats of an unusable directory: %+v", s)
	}
	if p := unusable.LastProblem(); !strings.Contains(p, "cannot") || !strings.Contains(p, file) {
		t.Fatalf("last problem %q", p)
	}

	m := cacheLoad(t, c, rt, readCalc(t))
	closed := newTestRuntime(t)
	mustNoErr(t, closed.Close())
	if _, err := c.Load(closed, []byte(readCalc(t))); err != ErrClosed {
		t.Fatalf("Load with a closed runtime: %v", err)
	}
	mustNoErr(t, c.Close())
	mustNoErr(t, c.Close()) // idempotent
	if _, err := c.Load(rt, []byte(readCalc(t))); err != ErrClosed {
		t.Fatalf("Load after Close: %v", err)
	}
	if s := c.Stats(); s != (CacheStats{}) {
		t.Fatalf("Stats after Close: %+v", s)
	}
	if p := c.LastProblem(); p != "" {
		t.Fatalf("LastProblem after Close: %q", p)
	}
	if c.Dir() != dir {
		t.Fatalf("Dir after Close: %q", c.Dir())
	}
	wantAdd(t, m, 1) // modules outlive the cache
	if len(artifactFiles(t, dir)) != 1 {
		t.Fatalf("artifacts after Close: %v", artifactFiles(t, dir))
	}
}

// TestCacheAcrossProcesses: what one process compiled, the next loads: this test runs
// itself again as a child process on the same directory, which must hit.
func TestCacheAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("PACKR_TEST_CACHE_CHILD"); dir != "" {
		c := openCache(t, dir, CacheOptions{})
		wantAdd(t, cacheLoad(t, c, newTestRuntime(t), readCalc(t)), 1)
		wantStats(t, c, CacheStats{Hits: 1, Files: 1})
		return
	}
	dir := t.TempDir()
	c := openCache(t, dir, CacheOptions{})
	cacheLoad(t, c, newTestRuntime(t), readCalc(t))
	wantStats(t, c, CacheStats{Misses: 1, Stored: 1, Files: 1})

	child := exec.Command(os.Args[0], "-test.run=^TestCacheAcrossProcesses$", "-test.count=1")
	child.Env = append(os.Environ(), "PACKR_TEST_CACHE_CHILD="+dir)
	out, err := child.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	wantStats(t, c, CacheStats{Misses: 1, Stored: 1, Files: 1}) // the child stored nothing
}
