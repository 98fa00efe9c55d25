package packr

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

const callsWat = `(module
  (import "bench" "inc" (func $inc (param i32) (result i32)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "nothing"))
  (func (export "four") (param i32 i64 f32 f64) (result f64)
    (f64.add (f64.add (f64.convert_i32_s (local.get 0)) (f64.convert_i64_s (local.get 1)))
             (f64.add (f64.promote_f32 (local.get 2)) (local.get 3))))
  (func (export "three") (param f32 f32 f32) (result f32)
    (f32.mul (f32.mul (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "answer") (result i64) (i64.const 42))
  (func (export "vec") (param v128) (result v128) (i32x4.add (local.get 0) (local.get 0)))
  (func (export "many") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 9)))
  (func (export "host_loop") (param $n i32) (result i32) (local $v i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $v (call $inc (local.get $v)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $v)))`

// incHost serves bench.inc(x) = x+1 with the given func.
func incHost(t testing.TB, fn any) *Runtime {
	h := newTestHost(t)
	define(t, h, "bench", "inc", fn)
	return hostRuntime(t, h)
}

func TestFunc(t *testing.T) {
	rt := incHost(t, func(x int32) int32 { return x + 1 })
	m := load(t, rt, callsWat)
	inst := instantiate(t, m)
	add, err := op(m.Func("add"))
	mustNoErr(t, err)
	defer add.Close()
	if fmt.Sprint(add.Signature()) != "{[i32 i32] [i32]}" {
		t.Fatalf("signature %v", add.Signature())
	}

	res, err := op(inst.CallFunc(add, int32(2), 3))
	mustNoErr(t, err)
	if res[0] != int32(5) {
		t.Fatalf("CallFunc = %v", res)
	}
	sum, err := op(CallFunc2[int32](inst, add, int32(-7), int32(3)))
	mustNoErr(t, err)
	if sum != -4 {
		t.Fatalf("CallFunc2 = %d", sum)
	}
	results := make([]Value, 1)
	mustNoErr(t, opErr(inst.CallFuncValues(add, []Value{ValueI32(40), ValueI32(2)}, results)))
	if results[0] != ValueI32(42) {
		t.Fatalf("CallFuncValues = %v", results)
	}

	// Every typed helper, every kind.
	funcs := map[string]*Func{}
	for _, name := range []string{"add64", "nothing", "four", "three", "answer", "vec", "many", "host_loop"} {
		f, err := op(m.Func(name))
		mustNoErr(t, err)
		defer f.Close()
		funcs[name] = f
	}
	if r, err := op(CallFunc2[int64](inst, funcs["add64"], int64(1)<<40, int64(1))); err != nil || r != 1<<40+1 {
		t.Fatalf("add64 = %d, %v", r, err)
	}
	if _, err := op(CallFunc0[NoResult](inst, funcs["nothing"])); err != nil {
		t.Fatal(err)
	}
	if r, err := op(CallFunc4[float64](inst, funcs["four"], int32(1), int64(2), float32(0.5), 0.25)); err != nil || r != 3.75 {
		t.Fatalf("four = %v, %v", r, err)
	}
	if r, err := op(CallFunc3[float32](inst, funcs["three"], float32(2), float32(3), float32(0.5))); err != nil || r != 3 {
		t.Fatalf("three = %v, %v", r, err)
	}
	if r, err := op(CallFunc0[int64](inst, funcs["answer"])); err != nil || r != 42 {
		t.Fatalf("answer = %v, %v", r, err)
	}
	v := Vec128{1, 0, 0, 0, 2}
	if r, err := op(CallFunc1[Vec128](inst, funcs["vec"], v)); err != nil || r != (Vec128{2, 0, 0, 0, 4}) {
		t.Fatalf("vec = %v, %v", r, err)
	}
	if r, err := op(CallFunc1[int32](inst, funcs["host_loop"], int32(1000))); err != nil || r != 1000 {
		t.Fatalf("host_loop = %v, %v", r, err)
	}
	// More than 8 arguments take the heap path.
	args := []any{}
	for k := range 10 {
		args = append(args, int32(k+1))
	}
	if r, err := op(inst.CallFunc(funcs["many"], args...)); err != nil || r[0] != int32(11) {
		t.Fatalf("many = %v, %v", r, err)
	}
	if r, err := op(inst.Call("many", args...)); err != nil || r[0] != int32(11) {
		t.Fatalf("many by name = %v, %v", r, err)
	}

	// Mismatches.
	_, err = op(CallFunc2[int64](inst, add, int32(1), int32(2)))
	wantErr(t, err, ErrTypeMismatch, "the function returns i32, the call asks for i64")
	_, err = op(CallFunc2[int32](inst, add, int64(1), int32(2)))
	wantErr(t, err, ErrTypeMismatch, "argument 0 is i64, the signature wants i32")
	_, err = op(CallFunc1[int32](inst, add, int32(1)))
	wantErr(t, err, ErrTypeMismatch, "takes 2 arguments")
	_, err = op(CallFunc2[NoResult](inst, add, int32(1), int32(2)))
	wantErr(t, err, ErrTypeMismatch, "returns 1 results")
	wantErr(t, opErr(inst.CallFuncValues(add, []Value{ValueI32(1), ValueI32(2)}, nil)), ErrTypeMismatch, "returns 1 results")
	_, err = op(m.Func("nope"))
	wantErr(t, err, ErrNotFound, "nope")
	_, err = op(load(t, newTestRuntime(t), `(module (memory (export "memory") 1))`).Func("memory"))
	wantErr(t, err, ErrTypeMismatch, "is a memory, not a function")

	// Closed handles.
	mustNoErr(t, opErr(add.Close()))
	mustNoErr(t, opErr(add.Close()))
	if _, err := op(CallFunc2[int32](inst, add, int32(1), int32(2))); !errors.Is(err, ErrClosed) {
		t.Fatalf("call through a closed Func: %v", err)
	}
	if _, err := op(inst.CallFunc(add, int32(1), int32(2))); !errors.Is(err, ErrClosed) {
		t.Fatalf("call through a closed Func: %v", err)
	}
	mustNoErr(t, opErr(m.Close()))
	if _, err := op(m.Func("add")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Func of a closed module: %v", err)
	}
}

// TestFuncAcrossCache: a Func resolved on the cached module works on instances of every
// clone and wrap of it, and is refused by an instance of other code.
func TestFuncAcrossCache(t *testing.T) {
	base := newTestRuntime(t)
	cached := load(t, base, callsWat)
	add, err := op(cached.Func("add"))
	mustNoErr(t, err)
	defer add.Close()

	other, err := op(NewRuntimeWithHost(base, func() *Host {
		h := newTestHost(t)
		define(t, h, "bench", "inc", func(x int32) int32 { return x + 1 })
		return h
	}()))
	mustNoErr(t, err)
	defer other.Close()
	wrapped, err := op(other.Wrap(cached))
	mustNoErr(t, err)
	defer wrapped.Close()
	clone := cached.Clone()
	defer clone.Close()
	sharing, err := op(NewRuntimeSharingEngine(base))
	mustNoErr(t, err)
	defer sharing.Close()
	wrapped2, err := op(sharing.Wrap(clone))
	mustNoErr(t, err)
	defer wrapped2.Close()
	mustNoErr(t, opErr(cached.Close())) // the Func keeps the code

	for i, m := range []*Module{wrapped, clone, wrapped2} {
		inst, err := op(m.Instantiate())
		if m != wrapped && errors.Is(err, ErrLink) {
			continue // runtimes without the host cannot instantiate callsWat
		}
		mustNoErr(t, err)
		r, err := op(CallFunc2[int32](inst, add, int32(i), int32(10)))
		mustNoErr(t, err)
		if r != int32(i+10) {
			t.Fatalf("instance %d: add = %d", i, r)
		}
		inst.Close()
	}

	// An instance of other code: packr's own ErrInvalidArgument, naming both.
	otherInst := instantiate(t, load(t, base, readCalc(t)))
	_, err = op(CallFunc2[int32](otherInst, add, int32(1), int32(2)))
	wantErr(t, err, ErrInvalidArgument, "")
	_, err = op(otherInst.CallFunc(add, int32(1), int32(2)))
	wantErr(t, err, ErrInvalidArgument, "resolve it with Module.Func on a module this instance was made from")
	// The same source compiled again is other code too.
	again := instantiate(t, load(t, other, callsWat))
	_, err = op(CallFunc2[int32](again, add, int32(1), int32(2)))
	wantErr(t, err, ErrInvalidArgument, "")
}

// TestTypedPathsDoNotAllocate proves the no-allocation claims: the typed helpers and
// CallFuncValues, and the host-call path of a reflection-free adapter without a *Caller.
func TestTypedPathsDoNotAllocate(t *testing.T) {
	if forceGC {
		t.Skip("allocation counts are meaningless with a GC after every operation")
	}
	rt := incHost(t, func(x int32) int32 { return x + 1 })
	m := load(t, rt, callsWat)
	inst := instantiate(t, m)
	add, err := m.Func("add")
	mustNoErr(t, err)
	defer add.Close()
	loop, err := m.Func("host_loop")
	mustNoErr(t, err)
	defer loop.Close()
	args := []Value{ValueI32(1), ValueI32(2)}
	results := make([]Value, 1)
	for name, f := range map[string]func(){
		"CallFunc2": func() {
			if r, err := CallFunc2[int32](inst, add, int32(1), int32(2)); err != nil || r != 3 {
				t.Fatal(r, err)
			}
		},
		"CallFuncValues": func() {
			if err := inst.CallFuncValues(add, args, results); err != nil || results[0].I32() != 3 {
				t.Fatal(results, err)
			}
		},
		"CallFuncValues on the stack": func() {
			a := [2]Value{ValueI32(1), ValueI32(2)}
			var r [1]Value
			if err := inst.CallFuncValues(add, a[:], r[:]); err != nil || r[0].I32() != 3 {
				t.Fatal(r, err)
			}
		},
		"host_loop(100)": func() {
			if r, err := CallFunc1[int32](inst, loop, int32(100)); err != nil || r != 100 {
				t.Fatal(r, err)
			}
		},
	} {
		if n := testing.AllocsPerRun(200, f); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", name, n)
		}
	}
}

// TestDefineFastPath: the shapes the documentation promises run without reflection.
func TestDefineFastPath(t *testing.T) {
	for _, fn := range []any{
		func() {},
		func() error { return nil },
		func(*Caller) int64 { return 0 },
		func(int32) int32 { return 0 },
		func(*Caller, int32, int64, int32) int64 { return 0 },
		func(int64, int64, int64) (int32, error) { return 0, nil },
		func(*Caller, float64, float64) (float64, error) { return 0, nil },
		func(float32) {},
		func(c *Caller, v Vec128) (Vec128, error) { return v, nil },
	} {
		if _, ok := fastAdapter(fn); !ok {
			t.Errorf("%T takes the reflect path", fn)
		}
	}
	for _, fn := range []any{
		func(int32, int32, float32) {},
		func(int32, float64) {},
		func(int32, int32, int32, int32) {},
		func() (int32, int32) { return 0, 0 },
		func(float64) float32 { return 0 },
	} {
		if _, ok := fastAdapter(fn); ok {
			t.Errorf("%T has a fast adapter the documentation does not promise", fn)
		}
	}
}

func BenchmarkCallFunc(b *testing.B) {
	m := load(b, incHost(b, func(x int32) int32 { return x + 1 }), callsWat)
	inst := instantiate(b, m)
	add, err := m.Func("add")
	mustNoErr(b, err)
	defer add.Close()
	b.Run("typed-nohost", func(b *testing.B) {
		// Without host functions, calls need not prepare for callbacks.
		m := load(b, newTestRuntime(b), `(module (func (export "add") (param i32 i32) (result i32)
			(i32.add (local.get 0) (local.get 1))))`)
		inst := instantiate(b, m)
		add, err := m.Func("add")
		mustNoErr(b, err)
		defer add.Close()
		b.ReportAllocs()
		for b.Loop() {
			if r, err := CallFunc2[int32](inst, add, int32(1), int32(2)); err != nil || r != 3 {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r, err := CallFunc2[int32](inst, add, int32(1), int32(2)); err != nil || r != 3 {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("values", func(b *testing.B) {
		b.ReportAllocs()
		args, results := []Value{ValueI32(1), ValueI32(2)}, make([]Value, 1)
		for b.Loop() {
			if err := inst.CallFuncValues(add, args, results); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("any", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := inst.CallFunc(add, int32(1), int32(2)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHostCall times one wasm-to-Go host call: host_loop(N) calls bench.inc N times.
func BenchmarkHostCall(b *testing.B) {
	const n = 10000
	for _, tc := range []struct {
		name string
		def  func(h *Host) error
	}{
		{"typed", func(h *Host) error { return h.Define("bench", "inc", func(x int32) int32 { return x + 1 }) }},
		{"typed-caller-error", func(h *Host) error {
			return h.Define("bench", "inc", func(c *Caller, x int32) (int32, error) { return x + 1, nil })
		}},
		{"untyped", func(h *Host) error {
			return h.DefineUntyped("bench", "inc", []ValKind{I32}, []ValKind{I32}, func(c *Caller, args, results []Value) error {
				results[0] = ValueI32(args[0].I32() + 1)
				return nil
			})
		}},
		{"reflect", func(h *Host) error {
			// The same func forced through the reflect path, for comparison.
			def, params, results, err := typedDef("bench", "inc", func(x int32) int32 { return x + 1 })
			if err != nil {
				return err
			}
			def.fn = reflectAdapter(reflect.ValueOf(func(x int32) int32 { return x + 1 }), false, false, results)
			return h.define("bench", "inc", params, results, def)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := newTestHost(b)
			mustNoErr(b, tc.def(h))
			m := load(b, hostRuntime(b, h), callsWat)
			inst := instantiate(b, m)
			loop, err := m.Func("host_loop")
			mustNoErr(b, err)
			defer loop.Close()
			b.ReportAllocs()
			for b.Loop() {
				if r, err := CallFunc1[int32](inst, loop, int32(n)); err != nil || r != n {
					b.Fatal(r, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/hostcall")
		})
	}
}
