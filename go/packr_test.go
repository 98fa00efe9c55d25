package packr

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestVersion(t *testing.T) {
	if v := Version(); v == "" {
		t.Fatal("empty version")
	}
}

// TestCachePattern is the server shape: load once, keep a clone in a cache, and per
// connection wrap it into a runtime sharing the engine, instantiate, call, close.
func TestCachePattern(t *testing.T) {
	base := newTestRuntime(t)
	src := readCalc(t)
	var (
		mu    sync.Mutex
		cache = map[string]*Module{}
		loads atomic.Int32
	)
	defer func() {
		for _, m := range cache {
			m.Close()
		}
	}()
	// get returns a module handle the caller owns.
	get := func(rt *Runtime, key string) (*Module, error) {
		mu.Lock()
		defer mu.Unlock()
		if cached, ok := cache[key]; ok {
			return op(rt.Wrap(cached))
		}
		loads.Add(1)
		m, err := op(rt.Load([]byte(src)))
		if err != nil {
			return nil, err
		}
		cache[key] = m.Clone()
		gc()
		return m, nil
	}

	serveConnections(t, base, 32, 20, func(rt *Runtime) (*Module, error) { return get(rt, "calc") })
	if n := loads.Load(); n != 1 {
		t.Fatalf("compiled %d times, want 1", n)
	}
}

func TestEngineMismatch(t *testing.T) {
	rt1, rt2 := newTestRuntime(t), newTestRuntime(t)
	m := load(t, rt1, readCalc(t))
	_, err := op(rt2.Wrap(m))
	e := wantErr(t, err, ErrEngineMismatch, "engine mismatch")
	if !strings.HasSuffix(e.Message, "create the runtime with NewRuntimeSharingEngine") {
		t.Fatalf("message %q does not name NewRuntimeSharingEngine", e.Message)
	}
	if e.StatusName != "PACKR_ERR_ENGINE_MISMATCH" {
		t.Fatalf("status name %q", e.StatusName)
	}
}

func TestSharingEngine(t *testing.T) {
	rt1 := newTestRuntime(t)
	m := load(t, rt1, readCalc(t))
	rt2, err := op(NewRuntimeSharingEngine(rt1))
	mustNoErr(t, err)
	defer rt2.Close()
	mustNoErr(t, opErr(rt1.Close())) // handles are freed in any order
	w, err := op(rt2.Wrap(m))
	mustNoErr(t, err)
	defer w.Close()
	mustNoErr(t, opErr(m.Close()))
	inst := instantiate(t, w)
	res, err := op(inst.Call("add64", int64(1)<<40, 2))
	mustNoErr(t, err)
	if res[0] != int64(1)<<40+2 {
		t.Fatalf("add64 = %v", res)
	}
}

func TestTrapLeavesInstanceUsable(t *testing.T) {
	inst := instantiate(t, load(t, newTestRuntime(t), readCalc(t)))
	_, err := op(inst.Call("count"))
	mustNoErr(t, err)
	_, err = op(inst.Call("div", int32(1), int32(0)))
	e := wantErr(t, err, ErrTrap, "")
	if !strings.HasPrefix(e.Message, "wasm trap: integer divide by zero") {
		t.Fatalf("message %q", e.Message)
	}
	res, err := op(inst.Call("count"))
	mustNoErr(t, err)
	if res[0] != int32(2) {
		t.Fatalf("count after trap = %v, want 2", res)
	}
}

func TestCallConversions(t *testing.T) {
	inst := instantiate(t, load(t, newTestRuntime(t), readCalc(t)))
	for _, tc := range []struct {
		name string
		args []any
		want []any
	}{
		{"add", []any{2, -3}, []any{int32(-1)}},
		{"add64", []any{1 << 40, int64(1)}, []any{int64(1<<40 + 1)}},
		{"scale", []any{float32(0.5), 3.0}, []any{1.5}},
		{"divmod", []any{int32(7), 2}, []any{int32(3), int32(1)}},
	} {
		res, err := op(inst.Call(tc.name, tc.args...))
		mustNoErr(t, err)
		if fmt.Sprint(res) != fmt.Sprint(tc.want) || fmt.Sprintf("%T", res) != fmt.Sprintf("%T", tc.want) {
			t.Fatalf("%s%v = %#v, want %#v", tc.name, tc.args, res, tc.want)
		}
	}
	_, err := op(inst.Call("add", 1<<31, 0))
	wantErr(t, err, ErrInvalidArgument, "does not fit")
	_, err = op(inst.Call("add", "1", 0))
	wantErr(t, err, ErrTypeMismatch, "Go string")
	_, err = op(inst.Call("scale", float32(1), 2))
	wantErr(t, err, ErrTypeMismatch, "wants f64")
	_, err = op(inst.Call("add", int64(1), int32(2)))
	wantErr(t, err, ErrTypeMismatch, "argument 0 is i64")
	_, err = op(inst.Call("a\x00dd", 1, 2))
	wantErr(t, err, ErrInvalidArgument, "NUL")
	sig, err := op(inst.FuncSignature("scale"))
	mustNoErr(t, err)
	if fmt.Sprint(sig) != "{[f32 f64] [f64]}" {
		t.Fatalf("signature %v", sig)
	}
}

func TestExportsImports(t *testing.T) {
	rt := newTestRuntime(t)
	m := load(t, rt, readCalc(t))
	exports, err := op(m.Exports())
	mustNoErr(t, err)
	kinds := map[string]ExternKind{}
	for _, e := range exports {
		kinds[e.Name] = e.Kind
	}
	if kinds["add"] != ExternFunc || kinds["memory"] != ExternMemory || kinds["table"] != ExternTable {
		t.Fatalf("exports %v", exports)
	}
	sig, err := op(m.FuncSignature("simd"))
	mustNoErr(t, err)
	if fmt.Sprint(sig) != "{[v128] [v128]}" {
		t.Fatalf("simd signature %v", sig)
	}
	imports, err := op(load(t, rt, `(module (import "env" "host_log" (func (param i32))))`).Imports())
	mustNoErr(t, err)
	if want := []Import{{"env", "host_log", ExternFunc}}; fmt.Sprint(imports) != fmt.Sprint(want) {
		t.Fatalf("imports %v, want %v", imports, want)
	}
}

func TestMemory(t *testing.T) {
	inst := instantiate(t, load(t, newTestRuntime(t), readCalc(t)))
	size, err := op(inst.MemorySize())
	mustNoErr(t, err)
	if size != 65536 {
		t.Fatalf("memory size %d", size)
	}
	mustNoErr(t, opErr(inst.WriteMemory(100, []byte("hello"))))
	got, err := op(inst.ReadMemory(100, 5))
	mustNoErr(t, err)
	if string(got) != "hello" {
		t.Fatalf("read %q", got)
	}
	res, err := op(inst.Call("sum_bytes", 100, 5))
	mustNoErr(t, err)
	if res[0] != int32('h'+'e'+'l'+'l'+'o') {
		t.Fatalf("sum_bytes = %v", res)
	}
	_, err = op(inst.ReadMemory(size-2, 4))
	wantErr(t, err, ErrOutOfBounds, "")
	wantErr(t, opErr(inst.WriteMemory(size-2, []byte("abcd"))), ErrOutOfBounds, "")
	got, err = op(inst.ReadMemory(size-2, 2))
	mustNoErr(t, err)
	if string(got) != "\x00\x00" {
		t.Fatalf("an out-of-bounds write changed memory: %q", got)
	}
	_, err = op(inst.ReadMemory(0, -1))
	wantErr(t, err, ErrInvalidArgument, "negative")
	got, err = op(inst.ReadMemory(size, 0))
	mustNoErr(t, err)
	if len(got) != 0 {
		t.Fatalf("read %d bytes, want 0", len(got))
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	rt, err := op(NewRuntime())
	mustNoErr(t, err)
	m, err := op(rt.Load([]byte(readCalc(t))))
	mustNoErr(t, err)
	inst, err := op(m.Instantiate())
	mustNoErr(t, err)
	for range 2 {
		mustNoErr(t, opErr(inst.Close()))
		mustNoErr(t, opErr(m.Close()))
		mustNoErr(t, opErr(rt.Close()))
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("%s after Close: %v, want ErrClosed", what, err)
		}
	}
	_, err = op(rt.Load([]byte("(module)")))
	check("Load", err)
	_, err = op(NewRuntimeSharingEngine(rt))
	check("NewRuntimeSharingEngine", err)
	_, err = op(m.Instantiate())
	check("Instantiate", err)
	_, err = op(m.Clone().Instantiate())
	check("Instantiate of a clone", err)
	_, err = op(m.Exports())
	check("Exports", err)
	_, err = op(m.FuncSignature("add"))
	check("FuncSignature", err)
	_, err = op(inst.Call("add", 1, 2))
	check("Call", err)
	_, err = op(inst.ReadMemory(0, 1))
	check("ReadMemory", err)
	check("WriteMemory", opErr(inst.WriteMemory(0, []byte{1})))
	_, err = op(inst.MemorySize())
	check("MemorySize", err)
}

// TestConcurrentInstance misuses one instance from many goroutines while another closes
// it: every call must succeed or fail cleanly with ErrBusy or ErrClosed.
func TestConcurrentInstance(t *testing.T) {
	inst, err := op(load(t, newTestRuntime(t), readCalc(t)).Instantiate())
	mustNoErr(t, err)
	mustNoErr(t, opErr(inst.WriteMemory(0, make([]byte, 65536))))
	var wg sync.WaitGroup
	var busy, ok atomic.Int32
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, err := op(inst.Call("sum_bytes", 0, 65536))
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrBusy):
					busy.Add(1)
				case errors.Is(err, ErrClosed):
					return
				default:
					errs <- err
					return
				}
			}
		}()
	}
	for ok.Load() < 50 {
		runtime.Gosched()
	}
	mustNoErr(t, opErr(inst.Close()))
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d calls succeeded, %d got ErrBusy", ok.Load(), busy.Load())
}

// TestBusy checks the documented rule: a call overlapping another on the same instance
// fails with ErrBusy instead of waiting.
func TestBusy(t *testing.T) {
	inst := instantiate(t, load(t, newTestRuntime(t), `(module
		(func (export "spin") (param $n i32) (result i32)
			(loop $l (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if $l (local.get $n)))
			(local.get $n))
		(func (export "nop")))`))
	for range 20 {
		done := make(chan error)
		go func() {
			for {
				// Our own nop may hold the instance as spin starts (likelier with forced GC).
				_, err := op(inst.Call("spin", 100_000_000))
				if !errors.Is(err, ErrBusy) {
					done <- err
					return
				}
			}
		}()
		for {
			select {
			case err := <-done:
				mustNoErr(t, err)
			default:
				_, err := inst.Call("nop")
				if err == nil {
					continue
				}
				wantErr(t, err, ErrBusy, "in use")
				mustNoErr(t, <-done)
				return
			}
			break
		}
	}
	t.Fatal("never saw ErrBusy")
}

func TestCases(t *testing.T) { runCases(t) }

func BenchmarkSpawnAndCall(b *testing.B) {
	rt := newTestRuntime(b)
	cached := load(b, rt, `(module (func (export "add") (param i32 i32) (result i32)
		(i32.add (local.get 0) (local.get 1))))`)
	b.ReportAllocs()
	for b.Loop() {
		inst, err := cached.Instantiate()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inst.Call("add", int32(1), int32(2)); err != nil {
			b.Fatal(err)
		}
		inst.Close()
	}
}

func BenchmarkCall(b *testing.B) {
	inst := instantiate(b, load(b, newTestRuntime(b), `(module (func (export "add") (param i32 i32) (result i32)
		(i32.add (local.get 0) (local.get 1))))`))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := inst.Call("add", int32(1), int32(2)); err != nil {
			b.Fatal(err)
		}
	}
}
