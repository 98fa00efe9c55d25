package packr

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func newTestHost(t testing.TB, opts ...HostOption) *Host {
	t.Helper()
	h, err := op(NewHost(opts...))
	mustNoErr(t, err)
	t.Cleanup(func() { h.Close() })
	return h
}

func define(t testing.TB, h *Host, module, name string, fn any) {
	t.Helper()
	mustNoErr(t, opErr(h.Define(module, name, fn)))
}

// hostRuntime is a runtime over h, sharing a fresh engine.
func hostRuntime(t testing.TB, h *Host) *Runtime {
	t.Helper()
	rt, err := op(NewRuntimeWithHost(newTestRuntime(t), h))
	mustNoErr(t, err)
	t.Cleanup(func() { rt.Close() })
	return rt
}

// catchPanic runs f and returns what it panicked with (nil if it returned).
func catchPanic(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

const kindsWat = `(module
  (import "env" "i32" (func $i32 (param i32) (result i32)))
  (import "env" "i64" (func $i64 (param i64) (result i64)))
  (import "env" "f32" (func $f32 (param f32) (result f32)))
  (import "env" "f64" (func $f64 (param f64) (result f64)))
  (import "env" "v128" (func $v128 (param v128) (result v128)))
  (import "env" "mixed" (func $mixed (param i32 i64 f32 f64) (result f64)))
  (import "env" "multi" (func $multi (param i64) (result i32 i64)))
  (import "env" "none" (func $none))
  (import "env" "untyped" (func $untyped (param i32 v128) (result i64 v128)))
  (func (export "i32") (param i32) (result i32) (call $i32 (local.get 0)))
  (func (export "i64") (param i64) (result i64) (call $i64 (local.get 0)))
  (func (export "f32") (param f32) (result f32) (call $f32 (local.get 0)))
  (func (export "f64") (param f64) (result f64) (call $f64 (local.get 0)))
  (func (export "v128") (param v128) (result v128) (call $v128 (local.get 0)))
  (func (export "mixed") (param i32 i64 f32 f64) (result f64)
    (call $mixed (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "multi") (param i64) (result i32 i64) (call $multi (local.get 0)))
  (func (export "none") (call $none))
  (func (export "untyped") (param i32 v128) (result i64 v128) (call $untyped (local.get 0) (local.get 1))))`

// TestHostKinds serves every kind, through the reflection-free adapters, the reflect path
// (mixed, multi) and DefineUntyped.
func TestHostKinds(t *testing.T) {
	h := newTestHost(t)
	var noneCalls atomic.Int32
	define(t, h, "env", "i32", func(x int32) int32 { return x * 2 })
	define(t, h, "env", "i64", func(c *Caller, x int64) (int64, error) { return x + 1<<40, nil })
	define(t, h, "env", "f32", func(x float32) (float32, error) { return x / 2, nil })
	define(t, h, "env", "f64", func(c *Caller, x float64) float64 { return math.Sqrt(x) })
	define(t, h, "env", "v128", func(v Vec128) Vec128 {
		for i := range v {
			v[i] ^= 0xff
		}
		return v
	})
	define(t, h, "env", "mixed", func(c *Caller, a int32, b int64, x float32, y float64) (float64, error) {
		return float64(a) + float64(b) + float64(x) + y, nil
	})
	define(t, h, "env", "multi", func(x int64) (int32, int64) { return int32(x), x * 3 })
	define(t, h, "env", "none", func() { noneCalls.Add(1) })
	mustNoErr(t, opErr(h.DefineUntyped("env", "untyped", []ValKind{I32, V128}, []ValKind{I64, V128},
		func(c *Caller, args, results []Value) error {
			if results[0].Kind() != I64 || results[1].Kind() != V128 {
				return fmt.Errorf("results not pre-filled with their kinds: %v", results)
			}
			v := args[1].V128()
			v[0] = byte(args[0].I32())
			results[0] = ValueI64(int64(args[0].I32()) * 10)
			results[1] = ValueV128(v)
			return nil
		})))
	inst := instantiate(t, load(t, hostRuntime(t, h), kindsWat))

	var v Vec128
	for i := range v {
		v[i] = byte(i)
	}
	var vx, vu Vec128
	for i := range vx {
		vx[i] = byte(i) ^ 0xff
	}
	vu = v
	vu[0] = 9
	for _, tc := range []struct {
		name string
		args []any
		want []any
	}{
		{"i32", []any{int32(-21)}, []any{int32(-42)}},
		{"i64", []any{int64(5)}, []any{int64(5 + 1<<40)}},
		{"f32", []any{float32(3)}, []any{float32(1.5)}},
		{"f64", []any{float64(16)}, []any{float64(4)}},
		{"v128", []any{v}, []any{vx}},
		{"mixed", []any{int32(1), int64(2), float32(0.5), float64(0.25)}, []any{3.75}},
		{"multi", []any{int64(1<<32 + 7)}, []any{int32(7), int64(3 * (1<<32 + 7))}},
		{"none", nil, []any{}},
		{"untyped", []any{int32(9), v}, []any{int64(90), vu}},
	} {
		res, err := op(inst.Call(tc.name, tc.args...))
		mustNoErr(t, err)
		if fmt.Sprintf("%#v", res) != fmt.Sprintf("%#v", tc.want) {
			t.Errorf("%s%v = %#v, want %#v", tc.name, tc.args, res, tc.want)
		}
	}
	if noneCalls.Load() != 1 {
		t.Errorf("none ran %d times", noneCalls.Load())
	}
}

func TestDefineRefused(t *testing.T) {
	h := newTestHost(t)
	for _, tc := range []struct {
		fn       any
		sentinel *Error
		msg      string
	}{
		{42, ErrTypeMismatch, "a int is not a func"},
		{func(int) {}, ErrTypeMismatch, "parameter 0 is a int"},
		{func(x int32, c *Caller) {}, ErrTypeMismatch, "parameter 1 is a *packr.Caller"},
		{func() string { return "" }, ErrTypeMismatch, "result 0 is a string"},
		{func() (error, int32) { return nil, 0 }, ErrTypeMismatch, "result 0 is a error"},
		{func(...int32) {}, ErrTypeMismatch, "variadic"},
		{(func())(nil), ErrNullPointer, "the func is nil"},
	} {
		wantErr(t, opErr(h.Define("env", "f", tc.fn)), tc.sentinel, tc.msg)
	}
	wantErr(t, opErr(h.DefineUntyped("env", "f", nil, nil, nil)), ErrNullPointer, "nil")
	define(t, h, "env", "f", func() {})
	wantErr(t, opErr(h.Define("env", "f", func() {})), ErrInvalidArgument, "env::f is already defined")
	wantErr(t, opErr(h.Define("env", "f\x00g", func() {})), ErrInvalidArgument, "NUL")
	mustNoErr(t, opErr(h.Close()))
	if err := opErr(h.Define("env", "g", func() {})); !errors.Is(err, ErrClosed) {
		t.Fatalf("Define after Close: %v", err)
	}
	if _, err := op(NewRuntimeWithHost(newTestRuntime(t), h)); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewRuntimeWithHost after Close: %v", err)
	}
}

const failWat = `(module
  (import "env" "fail" (func $fail (param i32) (result i32)))
  (global $n (mut i32) (i32.const 0))
  (func (export "call_fail") (param i32) (result i32) (call $fail (local.get 0)))
  (func (export "count") (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))`

type codeError struct{ code int32 }

func (e *codeError) Error() string { return fmt.Sprintf("code %d", e.code) }

// TestHostErrorsAndPanics: an error reaches the caller wrapped, a panic is re-raised with
// its value, and the instance keeps working after either.
func TestHostErrorsAndPanics(t *testing.T) {
	h := newTestHost(t)
	panicErr := errors.New("a panic value that is an error")
	define(t, h, "env", "fail", func(x int32) (int32, error) {
		switch x {
		case 1:
			return 0, &codeError{x}
		case 2:
			return 0, fmt.Errorf("wrapped: %w", io.ErrUnexpectedEOF)
		case 3:
			panic("boom")
		case 4:
			panic(panicErr)
		case 5:
			var m map[string]int
			m["x"] = 1 // a runtime error
		case 6:
			return 0, errors.New("bad\x00byte \xff")
		}
		return x, nil
	})
	inst := instantiate(t, load(t, hostRuntime(t, h), failWat))
	count := func(want int32) {
		t.Helper()
		res, err := op(inst.Call("count"))
		mustNoErr(t, err)
		if res[0] != want {
			t.Fatalf("count = %v, want %d: the instance is not usable", res, want)
		}
	}

	_, err := op(inst.Call("call_fail", int32(1)))
	e := wantErr(t, err, ErrHost, "host function env::fail failed: code 1")
	if e.StatusName != "PACKR_ERR_HOST" || !strings.HasPrefix(e.Message, "host function env::fail failed: code 1") {
		t.Fatalf("error %q", e)
	}
	var ce *codeError
	if !errors.As(err, &ce) || ce.code != 1 {
		t.Fatalf("errors.As does not reach the *codeError: %v", err)
	}
	if errors.Is(err, ErrTrap) {
		t.Fatal("a host failure is not ErrTrap")
	}
	count(1)

	_, err = op(inst.Call("call_fail", int32(2)))
	wantErr(t, err, ErrHost, "wrapped: unexpected EOF")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("errors.Is does not reach io.ErrUnexpectedEOF through the chain: %v", err)
	}
	count(2)

	if r := catchPanic(func() { inst.Call("call_fail", int32(3)) }); r != "boom" {
		t.Fatalf("re-raised %#v, want \"boom\"", r)
	}
	count(3)
	if r := catchPanic(func() { inst.Call("call_fail", int32(4)) }); r != panicErr {
		t.Fatalf("re-raised %#v, want the same error value", r)
	}
	r := catchPanic(func() { inst.Call("call_fail", int32(5)) })
	if re, ok := r.(interface{ RuntimeError() }); !ok {
		t.Fatalf("re-raised %#v, want the runtime error", r)
	} else if !strings.Contains(fmt.Sprint(re), "nil map") {
		t.Fatalf("re-raised %v", re)
	}
	count(4)

	_, err = op(inst.Call("call_fail", int32(6)))
	wantErr(t, err, ErrHost, `failed: bad\x00byte `+"\uFFFD")

	// A success after failures carries no stale cause.
	res, err := op(inst.Call("call_fail", int32(7)))
	mustNoErr(t, err)
	if res[0] != int32(7) {
		t.Fatalf("call_fail(7) = %v", res)
	}
	count(5)
}

// TestNestedPanicIsTheInnermost: a panic deep in nested calls is what the outermost call
// re-raises, not a later panic of an outer level.
func TestNestedPanicIsTheInnermost(t *testing.T) {
	h := newTestHost(t)
	define(t, h, "env", "fail", func(c *Caller, x int32) int32 {
		if x == 0 {
			panic("first")
		}
		// Reach the inner failure's packr error through a nested call and inspect it.
		_, err := c.Call("call_fail", int32(0))
		panic(fmt.Sprintf("inner said %v", err))
	})
	inst := instantiate(t, load(t, hostRuntime(t, h), failWat))
	r := catchPanic(func() { inst.Call("call_fail", int32(1)) })
	s, _ := r.(string)
	if s != "first" {
		// The nested call re-raised "first" inside the outer callback, which then
		// re-raised it again here: never the outer's own panic.
		t.Fatalf("re-raised %#v, want \"first\"", r)
	}
}

const nestWat = `(module
  (import "env" "down" (func $down (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "down") (param i32) (result i32) (call $down (local.get 0)))
  (func (export "leaf") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1000))))`

// TestNestedCallerCall recurses host -> guest -> host through Caller.Call, and checks that
// each level's failure is the one its caller sees.
func TestNestedCallerCall(t *testing.T) {
	h := newTestHost(t)
	depthErr := errors.New("depth error")
	define(t, h, "env", "down", func(c *Caller, n int32) (int32, error) {
		gc() // with PACKR_TEST_GC=1, a collection with packr's frames on the stack
		switch {
		case n == 0:
			res, err := c.Call("leaf", int32(7))
			if err != nil {
				return 0, err
			}
			return res[0].(int32), nil
		case n == -1:
			return 0, depthErr
		case n == -2:
			panic("deep panic")
		case n == -3:
			// The inner call fails; this level handles it and succeeds.
			_, err := c.Call("down", int32(-1))
			if !errors.Is(err, depthErr) || !errors.Is(err, ErrHost) {
				return 0, fmt.Errorf("inner error %v", err)
			}
			return 33, nil
		case n >= 100:
			// Fail at the bottom of 5 levels: every level returns the error up.
			if n == 105 {
				return 0, depthErr
			}
			res, err := c.Call("down", n+1)
			if err != nil {
				return 0, err
			}
			return res[0].(int32), nil
		case n <= -100:
			if n == -105 {
				panic("bottom")
			}
			res, err := c.Call("down", n-1)
			if err != nil {
				return 0, err
			}
			return res[0].(int32), nil
		}
		res, err := c.Call("down", n-1)
		if err != nil {
			return 0, err
		}
		return res[0].(int32) + 1, nil
	})
	inst := instantiate(t, load(t, hostRuntime(t, h), nestWat))

	res, err := op(inst.Call("down", int32(50)))
	mustNoErr(t, err)
	if res[0] != int32(1007+50) {
		t.Fatalf("down(50) = %v", res)
	}
	res, err = op(inst.Call("down", int32(-3)))
	mustNoErr(t, err)
	if res[0] != int32(33) {
		t.Fatalf("down(-3) = %v", res)
	}

	_, err = op(inst.Call("down", int32(100)))
	e := wantErr(t, err, ErrHost, "host function env::down failed: packr: PACKR_ERR_HOST: host function env::down failed: ")
	if !errors.Is(err, depthErr) {
		t.Fatalf("the bottom error is not reached: %v", err)
	}
	if n := strings.Count(e.Message, "host function env::down failed"); n != 6 {
		t.Fatalf("%d levels in the message, want 6: %q", n, e.Message)
	}
	// Each level's cause is the next level's *Error, down to depthErr.
	levels := 0
	for cur := error(e); cur != nil; cur = errors.Unwrap(cur) {
		levels++
	}
	if levels != 7 {
		t.Fatalf("%d errors in the chain, want 6 *Error and depthErr", levels)
	}

	if r := catchPanic(func() { inst.Call("down", int32(-100)) }); r != "bottom" {
		t.Fatalf("re-raised %#v, want \"bottom\"", r)
	}
	if r := catchPanic(func() { inst.Call("down", int32(-2)) }); r != "deep panic" {
		t.Fatalf("re-raised %#v", r)
	}
	res, err = op(inst.Call("down", int32(0)))
	mustNoErr(t, err)
	if res[0] != int32(1007) {
		t.Fatalf("down(0) after failures = %v", res)
	}
}

// TestCallerRules: calling the instance itself from its callback is ErrBusy, Caller.Call
// reports the core's errors, and a Caller kept past its callback is closed.
func TestCallerRules(t *testing.T) {
	h := newTestHost(t)
	var inst *Instance
	var kept *Caller
	var errs []error
	define(t, h, "env", "down", func(c *Caller, n int32) int32 {
		kept = c
		_, err := inst.Call("leaf", int32(1))
		errs = append(errs, err)
		_, err = c.Call("nope")
		errs = append(errs, err)
		_, err = c.Call("leaf", "x")
		errs = append(errs, err)
		_, err = c.Call("memory")
		errs = append(errs, err)
		err = c.CallValues("leaf", []Value{ValueI64(1)}, make([]Value, 1))
		errs = append(errs, err)
		results := make([]Value, 1)
		err = c.CallValues("leaf", []Value{ValueI32(5)}, results)
		errs = append(errs, err)
		return results[0].I32()
	})
	inst = instantiate(t, load(t, hostRuntime(t, h), nestWat))
	res, err := op(inst.Call("down", int32(0)))
	mustNoErr(t, err)
	if res[0] != int32(1005) {
		t.Fatalf("down = %v", res)
	}
	wantErr(t, errs[0], ErrBusy, "in use")
	wantErr(t, errs[1], ErrNotFound, "no export named `nope`")
	wantErr(t, errs[2], ErrTypeMismatch, "Go string")
	wantErr(t, errs[3], ErrTypeMismatch, "is a memory, not a function")
	wantErr(t, errs[4], ErrTypeMismatch, "argument 0 is i64, the signature wants i32")
	mustNoErr(t, errs[5])
	if _, err := kept.ReadMemory("memory", 0, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("a kept Caller: %v, want ErrClosed", err)
	}
	if _, err := kept.Call("leaf", int32(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("a kept Caller: %v, want ErrClosed", err)
	}
	if kept.Data() != nil {
		t.Fatal("a kept Caller returned data")
	}
}

const memWat = `(module
  (import "env" "touch" (func $touch (param i32) (result i32)))
  (memory (export "memory") 1)
  (memory $two (export "mem2") 2)
  (global (export "not_memory") i32 (i32.const 0))
  (func (export "touch") (param i32) (result i32) (call $touch (local.get 0)))
  (func (export "load2") (param i32) (result i32) (i32.load8_u $two (local.get 0)))
  (func (export "grow2") (result i32) (memory.grow $two (i32.const 1))))`

// TestCallerMemory reads and writes two memories by name from a callback, copying and
// without copying.
func TestCallerMemory(t *testing.T) {
	h := newTestHost(t)
	var failures []error
	define(t, h, "env", "touch", func(c *Caller, addr int32) (int32, error) {
		gc()
		n1, err := c.MemorySize("memory")
		if err != nil {
			return 0, err
		}
		n2, err := c.MemorySize("mem2")
		if err != nil {
			return 0, err
		}
		if n1 != 65536 || n2 < 2*65536 {
			return 0, fmt.Errorf("sizes %d, %d", n1, n2)
		}
		if err := c.WriteMemory("mem2", uint64(addr), []byte{0xab, 0xcd}); err != nil {
			return 0, err
		}
		b, err := c.ReadMemory("mem2", uint64(addr), 2)
		if err != nil {
			return 0, err
		}
		if b[0] != 0xab || b[1] != 0xcd {
			return 0, fmt.Errorf("read back %x", b)
		}
		// Zero copy: the slice is the guest's memory.
		data, err := c.MemoryData("mem2")
		if err != nil {
			return 0, err
		}
		if uint64(len(data)) != n2 || data[addr] != 0xab {
			return 0, fmt.Errorf("MemoryData: len %d, byte %x", len(data), data[addr])
		}
		data[addr+1] = 0x5a
		mem, err := c.MemoryData("memory")
		if err != nil || len(mem) != 65536 {
			return 0, fmt.Errorf("MemoryData(memory): %d bytes, %v", len(mem), err)
		}
		// Failures, each with the core's status.
		_, err = c.ReadMemory("mem2", n2-1, 2)
		failures = append(failures, err)
		failures = append(failures, c.WriteMemory("memory", n1, []byte{1}))
		_, err = c.MemorySize("nope")
		failures = append(failures, err)
		_, err = c.MemoryData("not_memory")
		failures = append(failures, err)
		_, err = c.ReadMemory("mem\x002", 0, 1)
		failures = append(failures, err)
		_, err = c.ReadMemory("memory", 0, -1)
		failures = append(failures, err)
		return int32(b[1]), nil
	})
	inst := instantiate(t, load(t, hostRuntime(t, h), memWat))
	res, err := op(inst.Call("touch", int32(300)))
	mustNoErr(t, err)
	if res[0] != int32(0xcd) {
		t.Fatalf("touch = %v", res)
	}
	// The guest sees the zero-copy write.
	res, err = op(inst.Call("load2", int32(301)))
	mustNoErr(t, err)
	if res[0] != int32(0x5a) {
		t.Fatalf("load2(301) = %v, want 0x5a", res)
	}
	wantErr(t, failures[0], ErrOutOfBounds, "")
	wantErr(t, failures[1], ErrOutOfBounds, "")
	wantErr(t, failures[2], ErrNotFound, "nope")
	wantErr(t, failures[3], ErrTypeMismatch, "")
	wantErr(t, failures[4], ErrInvalidArgument, "NUL")
	wantErr(t, failures[5], ErrInvalidArgument, "negative")

	// The instance reaches both memories by name too.
	size, err := op(inst.MemorySizeNamed("mem2"))
	mustNoErr(t, err)
	if size != 2*65536 {
		t.Fatalf("mem2 size %d", size)
	}
	mustNoErr(t, opErr(inst.WriteMemoryNamed("mem2", size-1, []byte{0x77})))
	got, err := op(inst.ReadMemoryNamed("mem2", size-3, 3))
	mustNoErr(t, err)
	if string(got) != "\x00\x00\x77" {
		t.Fatalf("mem2 tail %q", got)
	}
	got, err = op(inst.ReadMemoryNamed("memory", 300, 2))
	mustNoErr(t, err)
	if string(got) != "\x00\x00" {
		t.Fatalf("memory was written through mem2: %q", got)
	}
	res, err = op(inst.Call("grow2"))
	mustNoErr(t, err)
	if size, _ = inst.MemorySizeNamed("mem2"); res[0] != int32(2) || size != 3*65536 {
		t.Fatalf("grow2 = %v, size %d", res, size)
	}
	_, err = op(inst.ReadMemoryNamed("nope", 0, 1))
	wantErr(t, err, ErrNotFound, "nope")
	wantErr(t, opErr(inst.WriteMemoryNamed("not_memory", 0, []byte{1})), ErrTypeMismatch, "")
	long := strings.Repeat("m", 100) // longer than the name buffer on the stack
	_, err = op(inst.MemorySizeNamed(long))
	wantErr(t, err, ErrNotFound, long)
}

const dataWat = `(module
  (import "env" "tag" (func $tag (result i32)))
  (func (export "tag") (result i32) (call $tag)))`

type connState struct {
	id    int32
	calls int
}

// TestInstanceData: each instance reaches its own data from its callbacks, also with
// many goroutines calling the same host function at once (each with its own instance).
func TestInstanceData(t *testing.T) {
	h := newTestHost(t)
	define(t, h, "env", "tag", func(c *Caller) (int32, error) {
		s, ok := c.Data().(*connState)
		if !ok {
			return 0, fmt.Errorf("data %#v", c.Data())
		}
		s.calls++
		return s.id, nil
	})
	rt := hostRuntime(t, h)
	m := load(t, rt, dataWat)
	a, err := op(m.InstantiateWith(InstanceConfig{Data: &connState{id: 1}}))
	mustNoErr(t, err)
	defer a.Close()
	b, err := op(m.InstantiateWith(InstanceConfig{Data: &connState{id: 2}}))
	mustNoErr(t, err)
	defer b.Close()
	for range 3 {
		for _, inst := range []*Instance{a, b, a} {
			res, err := op(inst.Call("tag"))
			mustNoErr(t, err)
			if res[0] != inst.Data().(*connState).id {
				t.Fatalf("tag = %v, instance data %+v", res, inst.Data())
			}
		}
	}
	if a.Data().(*connState).calls != 6 || b.Data().(*connState).calls != 3 {
		t.Fatalf("calls %+v %+v", a.Data(), b.Data())
	}
	// Without data, Caller.Data is nil, and the callback's error says so.
	plain := instantiate(t, m)
	if plain.Data() != nil {
		t.Fatalf("Data() = %v", plain.Data())
	}
	_, err = op(plain.Call("tag"))
	wantErr(t, err, ErrHost, "data <nil>")
	// InstantiateWith on a runtime without a host keeps the data too.
	noHost, err := op(load(t, newTestRuntime(t), `(module)`).InstantiateWith(InstanceConfig{Data: "x"}))
	mustNoErr(t, err)
	defer noHost.Close()
	if noHost.Data() != "x" {
		t.Fatalf("Data() = %v", noHost.Data())
	}

	// Concurrency: each goroutine its own instance and runtime (sharing the engine), the
	// same host functions; errors and panics stay with their own goroutine.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	fh := newTestHost(t)
	define(t, fh, "env", "tag", func(c *Caller) int32 {
		s := c.Data().(*connState)
		s.calls++
		if s.calls%7 == 0 {
			panic(s.id)
		}
		return s.id
	})
	define(t, fh, "env", "fail", func(c *Caller, x int32) (int32, error) {
		return 0, &codeError{c.Data().(*connState).id*1000 + x}
	})
	base := newTestRuntime(t)
	src := `(module
	  (import "env" "tag" (func $tag (result i32)))
	  (import "env" "fail" (func $fail (param i32) (result i32)))
	  (func (export "tag") (result i32) (call $tag))
	  (func (export "fail") (param i32) (result i32) (call $fail (local.get 0))))`
	cm := load(t, base, src)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				rt, err := op(NewRuntimeWithHost(base, fh))
				if err != nil {
					return err
				}
				defer rt.Close()
				m, err := op(rt.Wrap(cm))
				if err != nil {
					return err
				}
				defer m.Close()
				inst, err := op(m.InstantiateWith(InstanceConfig{Data: &connState{id: int32(g)}}))
				if err != nil {
					return err
				}
				defer inst.Close()
				for k := range 50 {
					var res []any
					r := catchPanic(func() { res, err = inst.Call("tag") })
					calls := inst.Data().(*connState).calls
					switch {
					case calls%7 == 0:
						if r != int32(g) {
							return fmt.Errorf("goroutine %d: re-raised %#v", g, r)
						}
					case r != nil || err != nil || res[0] != int32(g):
						return fmt.Errorf("goroutine %d: tag = %v, %v, %v", g, res, err, r)
					}
					_, err = op(inst.Call("fail", int32(k)))
					var ce *codeError
					if !errors.As(err, &ce) || ce.code != int32(g*1000+k) {
						return fmt.Errorf("goroutine %d: fail(%d) = %v", g, k, err)
					}
				}
				return nil
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustNoErr(t, err)
	}
}

// TestStartFunctionHost: a start function's host call fails or panics out of Instantiate.
func TestStartFunctionHost(t *testing.T) {
	bootErr := errors.New("boot refused")
	src := `(module
	  (import "env" "boot" (func $boot (result i32)))
	  (global $g (mut i32) (i32.const 0))
	  (func $start (global.set $g (call $boot)))
	  (start $start)
	  (func (export "g") (result i32) (global.get $g)))`
	var mode atomic.Int32
	h := newTestHost(t)
	define(t, h, "env", "boot", func(c *Caller) (int32, error) {
		switch mode.Load() {
		case 1:
			return 0, bootErr
		case 2:
			panic("boot panic")
		}
		return c.Data().(int32), nil
	})
	m := load(t, hostRuntime(t, h), src)
	inst, err := op(m.InstantiateWith(InstanceConfig{Data: int32(77)}))
	mustNoErr(t, err)
	defer inst.Close()
	res, err := op(inst.Call("g"))
	mustNoErr(t, err)
	if res[0] != int32(77) {
		t.Fatalf("g = %v: the start function did not see the data", res)
	}
	mode.Store(1)
	_, err = op(m.Instantiate())
	wantErr(t, err, ErrHost, "host function env::boot failed: boot refused")
	if !errors.Is(err, bootErr) {
		t.Fatalf("%v does not unwrap to bootErr", err)
	}
	mode.Store(2)
	if r := catchPanic(func() { m.Instantiate() }); r != "boot panic" {
		t.Fatalf("re-raised %#v", r)
	}
}

// TestUnknownImportsTrap: with the option, an undefined import traps only when called.
func TestUnknownImportsTrap(t *testing.T) {
	src := `(module
	  (import "env" "known" (func $known (result i32)))
	  (import "env" "unknown" (func $unknown (result i32)))
	  (func (export "known") (result i32) (call $known))
	  (func (export "unknown") (result i32) (call $unknown)))`
	for _, trap := range []bool{false, true} {
		var opts []HostOption
		if trap {
			opts = append(opts, TrapUnknownImports())
		}
		h := newTestHost(t, opts...)
		define(t, h, "env", "known", func() int32 { return 5 })
		m := load(t, hostRuntime(t, h), src)
		inst, err := op(m.Instantiate())
		if !trap {
			wantErr(t, err, ErrLink, "env::unknown")
			continue
		}
		mustNoErr(t, err)
		defer inst.Close()
		res, err := op(inst.Call("known"))
		mustNoErr(t, err)
		if res[0] != int32(5) {
			t.Fatalf("known = %v", res)
		}
		_, err = op(inst.Call("unknown"))
		wantErr(t, err, ErrTrap, "")
	}
}

// TestRuntimeCopiesHost: a runtime serves the definitions made before it, not after.
func TestRuntimeCopiesHost(t *testing.T) {
	h := newTestHost(t)
	define(t, h, "env", "tag", func() int32 { return 1 })
	rt := hostRuntime(t, h)
	mustNoErr(t, opErr(h.Define("env", "late", func() int32 { return 2 })))
	m := load(t, rt, `(module (import "env" "late" (func (result i32))))`)
	_, err := op(m.Instantiate())
	wantErr(t, err, ErrLink, "env::late")
	rt2 := hostRuntime(t, h)
	_ = instantiate(t, load(t, rt2, `(module (import "env" "late" (func (result i32))))`))
}

// TestGlobals reads and writes globals of every kind.
func TestGlobals(t *testing.T) {
	inst := instantiate(t, load(t, newTestRuntime(t), `(module
	  (global (export "limit") i32 (i32.const 100))
	  (global (export "level") (mut i64) (i64.const 5))
	  (global (export "ratio") (mut f32) (f32.const 0.5))
	  (global (export "scale") (mut f64) (f64.const 2.5))
	  (global (export "vec") (mut v128) (v128.const i64x2 1 2))
	  (global (export "ref") (mut funcref) (ref.null func))
	  (func (export "f")))`))
	var vec Vec128
	vec[0], vec[8] = 1, 2
	for name, want := range map[string]Value{
		"limit": ValueI32(100), "level": ValueI64(5), "ratio": ValueF32(0.5), "scale": ValueF64(2.5), "vec": ValueV128(vec),
	} {
		got, err := op(inst.GetGlobal(name))
		mustNoErr(t, err)
		if got != want {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
	}
	vec[15] = 0xee
	for name, v := range map[string]Value{
		"level": ValueI64(-9), "ratio": ValueF32(-1), "scale": ValueF64(math.Inf(1)), "vec": ValueV128(vec),
	} {
		mustNoErr(t, opErr(inst.SetGlobal(name, v)))
		got, err := op(inst.GetGlobal(name))
		mustNoErr(t, err)
		if got != v {
			t.Fatalf("%s = %v after setting %v", name, got, v)
		}
	}
	wantErr(t, opErr(inst.SetGlobal("limit", ValueI32(1))), ErrTypeMismatch, "global `limit` is immutable")
	wantErr(t, opErr(inst.SetGlobal("level", ValueI32(1))), ErrTypeMismatch, "global `level` is i64")
	_, err := op(inst.GetGlobal("nope"))
	wantErr(t, err, ErrNotFound, "nope")
	_, err = op(inst.GetGlobal("f"))
	wantErr(t, err, ErrTypeMismatch, "is a function, not a global")
	_, err = op(inst.GetGlobal("ref"))
	wantErr(t, err, ErrTypeMismatch, "")
	_, err = op(inst.GetGlobal("memory"))
	wantErr(t, err, ErrNotFound, "memory")
	mustNoErr(t, opErr(inst.Close()))
	if _, err := op(inst.GetGlobal("limit")); !errors.Is(err, ErrClosed) {
		t.Fatalf("GetGlobal after Close: %v", err)
	}
	if err := opErr(inst.SetGlobal("level", ValueI64(1))); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetGlobal after Close: %v", err)
	}
}

func TestValue(t *testing.T) {
	var v Vec128
	v[0], v[15] = 1, 0xff
	for _, tc := range []struct {
		v    Value
		kind ValKind
		want any
		str  string
	}{
		{Value{}, I32, int32(0), "i32:0"},
		{ValueI32(-3), I32, int32(-3), "i32:-3"},
		{ValueI64(1 << 40), I64, int64(1 << 40), "i64:1099511627776"},
		{ValueF32(1.5), F32, float32(1.5), "f32:1.5"},
		{ValueF64(-0.25), F64, -0.25, "f64:-0.25"},
		{ValueV128(v), V128, v, "v128:010000000000000000000000000000ff"},
	} {
		if tc.v.Kind() != tc.kind || tc.v.Interface() != tc.want || tc.v.String() != tc.str {
			t.Fatalf("%v: kind %v, %#v", tc.v, tc.v.Kind(), tc.v.Interface())
		}
	}
	if r := catchPanic(func() { ValueI64(1).I32() }); r != "packr: Value.i32 called on a i64 value" {
		t.Fatalf("panic %#v", r)
	}
	nan := math.Float32frombits(0x7fc00001)
	if math.Float32bits(ValueF32(nan).F32()) != 0x7fc00001 {
		t.Fatal("the NaN payload changed")
	}
}

// TestFinalizers: a definition's Go func is released exactly when nothing can call it,
// and an instance's state handle when the instance is closed.
func TestFinalizers(t *testing.T) {
	var mu sync.Mutex
	done := map[string]int{}
	hook := func(q string) {
		mu.Lock()
		done[q]++
		mu.Unlock()
	}
	finalized.Store(&hook)
	defer finalized.Store(nil)
	count := func(q string) int {
		mu.Lock()
		defer mu.Unlock()
		return done[q]
	}

	h, err := op(NewHost())
	mustNoErr(t, err)
	mustNoErr(t, opErr(h.Define("fin", "tag", func(c *Caller) int32 { return c.Data().(int32) })))
	// A refused definition is released at once.
	wantErr(t, opErr(h.Define("fin", "tag", func() {})), ErrInvalidArgument, "already defined")
	if count("fin::tag") != 1 {
		t.Fatalf("the refused definition was released %d times", count("fin::tag"))
	}
	base, err := op(NewRuntime())
	mustNoErr(t, err)
	rt, err := op(NewRuntimeWithHost(base, h))
	mustNoErr(t, err)
	m, err := op(rt.Load([]byte(`(module (import "fin" "tag" (func $t (result i32))) (func (export "tag") (result i32) (call $t)))`)))
	mustNoErr(t, err)
	inst, err := op(m.InstantiateWith(InstanceConfig{Data: int32(4)}))
	mustNoErr(t, err)
	stateHandle := inst.handle
	for _, c := range []io.Closer{h, base, rt, m} {
		mustNoErr(t, opErr(c.Close()))
		if count("fin::tag") != 1 {
			t.Fatalf("released while the instance can still call it (after closing a %T)", c)
		}
	}
	res, err := op(inst.Call("tag"))
	mustNoErr(t, err)
	if res[0] != int32(4) {
		t.Fatalf("tag = %v", res)
	}
	mustNoErr(t, opErr(inst.Close()))
	if count("fin::tag") != 2 {
		t.Fatalf("released %d times after the last close, want once more", count("fin::tag")-1)
	}
	if r := catchPanic(func() { cgo.Handle(stateHandle).Value() }); r == nil {
		t.Fatal("the instance's state handle is still live")
	}
	mustNoErr(t, opErr(inst.Close()))
	if count("fin::tag") != 2 {
		t.Fatal("released again")
	}
}

// TestStackGrowthInCallback: a callback that grows its goroutine's stack a lot, under
// calls whose arguments and results live on that stack.
func TestStackGrowthInCallback(t *testing.T) {
	h := newTestHost(t)
	var grow func(n int) int
	grow = func(n int) int {
		var pad [256]byte
		pad[n%256] = byte(n)
		if n == 0 {
			return int(pad[0])
		}
		return grow(n-1) + int(pad[n%256]&1)
	}
	define(t, h, "env", "down", func(c *Caller, n int32) (int32, error) {
		g := grow(20000) // about 5 MB of stack
		if n > 0 {
			res, err := c.Call("down", n-1)
			if err != nil {
				return 0, err
			}
			return res[0].(int32) + int32(g&1), nil
		}
		return int32(g), nil
	})
	m := load(t, hostRuntime(t, h), nestWat)
	inst := instantiate(t, m)
	f, err := op(m.Func("down"))
	mustNoErr(t, err)
	defer f.Close()
	want := int32(grow(20000)) + 3*int32(grow(20000)&1)
	for range 3 {
		res, err := op(inst.Call("down", int32(3)))
		mustNoErr(t, err)
		r, err := op(CallFunc1[int32](inst, f, int32(3)))
		mustNoErr(t, err)
		if res[0] != want || r != want {
			t.Fatalf("down(3) = %v, %v, want %d", res, r, want)
		}
	}
}

// TestReflectPathFailures: funcs outside the fast set fail and panic like the others.
func TestReflectPathFailures(t *testing.T) {
	h := newTestHost(t)
	fn := func(c *Caller, x int32, y float64) (int32, error) {
		if x == 1 {
			return 0, &codeError{int32(y)}
		}
		if x == 2 {
			panic(y)
		}
		return x + int32(y), nil
	}
	if _, ok := fastAdapter(fn); ok {
		t.Fatal("the test needs a shape outside the fast set")
	}
	define(t, h, "env", "mix", fn)
	inst := instantiate(t, load(t, hostRuntime(t, h), `(module
	  (import "env" "mix" (func $mix (param i32 f64) (result i32)))
	  (func (export "mix") (param i32 f64) (result i32) (call $mix (local.get 0) (local.get 1))))`))
	res, err := op(inst.Call("mix", int32(5), 2.0))
	mustNoErr(t, err)
	if res[0] != int32(7) {
		t.Fatalf("mix = %v", res)
	}
	_, err = op(inst.Call("mix", int32(1), 9.0))
	var ce *codeError
	if wantErr(t, err, ErrHost, "host function env::mix failed: code 9"); !errors.As(err, &ce) || ce.code != 9 {
		t.Fatalf("%v does not unwrap to code 9", err)
	}
	if r := catchPanic(func() { inst.Call("mix", int32(2), 0.5) }); r != 0.5 {
		t.Fatalf("re-raised %#v", r)
	}
}
