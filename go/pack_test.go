package packr

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var errNoShouting = errors.New("no shouting")

// packRuntime is a runtime whose host serves pack.wasm's import host.transform with fn.
func packRuntime(t testing.TB, fn BytesFunc) *Runtime {
	t.Helper()
	h := newTestHost(t)
	mustNoErr(t, opErr(h.DefineBytes("host", "transform", fn)))
	return hostRuntime(t, h)
}

// goTransform upper-cases, and refuses the input "refuse" to the guest.
func goTransform(_ *Caller, in []byte) ([]byte, error) {
	switch string(in) {
	case "refuse":
		return nil, fmt.Errorf("not this one: %w", ErrGuest)
	case "fail":
		return nil, errNoShouting
	case "panic":
		panic("transform panicked")
	case "same":
		return in, nil // packr's own input buffer, given back
	}
	return bytes.ToUpper(in), nil
}

func allocCount(t testing.TB, inst *Instance) int32 {
	t.Helper()
	res, err := op(inst.Call("alloc_count"))
	mustNoErr(t, err)
	return res[0].(int32)
}

// TestPackGuest makes pack calls of build/guest/pack.wasm (C compiled with wasi-libc's
// malloc), by name and through a Func, and checks the guest gets every block back.
func TestPackGuest(t *testing.T) {
	m := loadGuest(t, packRuntime(t, goTransform), "pack.wasm")
	inst := instantiate(t, m)
	start := allocCount(t, inst)

	big := bytes.Repeat([]byte("abcdefghij"), 600_000) // 6 MB
	tests := []struct {
		name, export string
		in           []byte
		out          []byte
		sentinel     *Error // nil: success
		msg          string
	}{
		{"echo", "echo", []byte("hello"), []byte("hello"), nil, ""},
		{"echo large", "echo", big, big, nil, ""},
		{"echo empty", "echo", nil, []byte{}, nil, ""},
		{"upper", "upper", []byte("Hello, wasm!"), []byte("HELLO, WASM!"), nil, ""},
		{"upper large", "upper", big, bytes.ToUpper(big), nil, ""},
		{"size large", "size", big, []byte(strconv.Itoa(len(big))), nil, ""},
		{"size empty", "size", []byte{}, []byte("0"), nil, ""},
		{"fail", "fail", []byte("this"), nil, ErrGuest, "the guest's `fail` failed: refused: this"},
		{"fail large", "fail", big, nil, ErrGuest, "the guest's `fail` failed: refused: abcdefghij"},
		{"bad_ptr", "bad_ptr", []byte("x"), nil, ErrOutOfBounds, "outside its memory"},
		{"bad_len", "bad_len", []byte("x"), nil, ErrOutOfBounds, "2147483647 bytes"},
		{"bad_status", "bad_status", []byte("x"), nil, ErrGuest, "the guest's `bad_status` returned 7; the pack convention allows 0 (success) or -1 (error)"},
		{"wrong_shape", "wrong_shape", []byte("x"), nil, ErrTypeMismatch, "the pack convention needs func(i32, i32, i32, i32) -> (i32)"},
		{"not a function", "memory", []byte("x"), nil, ErrTypeMismatch, "memory"},
		{"no such export", "nope", []byte("x"), nil, ErrNotFound, "nope"},
		{"via_host", "via_host", []byte("shout"), []byte("SHOUT"), nil, ""},
		{"via_host large", "via_host", big, bytes.ToUpper(big), nil, ""},
		{"via_host empty", "via_host", nil, []byte{}, nil, ""},
		{"via_host same buffer", "via_host", []byte("same"), []byte("same"), nil, ""},
		{"via_host refused to the guest", "via_host", []byte("refuse"), nil, ErrGuest, "the guest's `via_host` failed: host transform failed: -1"},
		{"via_host fails", "via_host", []byte("fail"), nil, ErrHost, "host function host::transform failed: no shouting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := op(m.Func(tt.export))
			calls := map[string]func() ([]byte, error){
				"CallBytes": func() ([]byte, error) { return op(inst.CallBytes(tt.export, tt.in)) },
			}
			if err == nil {
				defer f.Close()
				calls["CallFuncBytes"] = func() ([]byte, error) { return op(inst.CallFuncBytes(f, tt.in)) }
			} else if tt.sentinel == nil {
				t.Fatal(err)
			}
			for how, call := range calls {
				out, err := call()
				if tt.sentinel == nil {
					mustNoErr(t, err)
					if !bytes.Equal(out, tt.out) || out == nil {
						t.Fatalf("%s: output %.40q (%d bytes), want %.40q (%d bytes)", how, out, len(out), tt.out, len(tt.out))
					}
					continue
				}
				if out != nil {
					t.Fatalf("%s: output %q with an error", how, out)
				}
				wantErr(t, err, tt.sentinel, tt.msg)
			}
			if n := allocCount(t, inst); n != start {
				t.Fatalf("alloc_count %d, started at %d: a block was not given back", n, start)
			}
		})
	}

	// The Go error behind a host failure is reached; a panic is re-raised; the instance
	// stays usable after both.
	_, err := op(inst.CallBytes("via_host", []byte("fail")))
	if !errors.Is(err, errNoShouting) {
		t.Fatalf("%v does not unwrap to the transform's error", err)
	}
	if r := catchPanic(func() { inst.CallBytes("via_host", []byte("panic")) }); r != "transform panicked" {
		t.Fatalf("re-raised %#v", r)
	}
	out, err := op(inst.CallBytes("echo", []byte("still here")))
	mustNoErr(t, err)
	if string(out) != "still here" {
		t.Fatalf("echo %q", out)
	}

	// A guest that cannot allocate is ErrGuest naming __pack_alloc, and recovers.
	_, err = op(inst.Call("set_alloc_fail", int32(1)))
	mustNoErr(t, err)
	_, err = op(inst.CallBytes("echo", []byte("x")))
	wantErr(t, err, ErrGuest, "__pack_alloc")
	_, err = op(inst.Call("set_alloc_fail", int32(0)))
	mustNoErr(t, err)
	out, err = op(inst.CallBytes("upper", []byte("ok")))
	mustNoErr(t, err)
	if string(out) != "OK" {
		t.Fatalf("upper %q", out)
	}
	if n := allocCount(t, inst); n != start {
		t.Fatalf("alloc_count %d, started at %d", n, start)
	}

	// A func of other code, and closed handles.
	calc := load(t, newTestRuntime(t), readCalc(t))
	add, err := op(calc.Func("add"))
	mustNoErr(t, err)
	defer add.Close()
	_, err = op(inst.CallFuncBytes(add, []byte("x")))
	wantErr(t, err, ErrInvalidArgument, "Module.Func")
	if _, err := inst.CallFuncBytes(nil, nil); !errors.Is(err, ErrNullPointer) {
		t.Fatalf("nil func: %v", err)
	}
	echo, err := op(m.Func("echo"))
	mustNoErr(t, err)
	mustNoErr(t, echo.Close())
	if _, err := inst.CallFuncBytes(echo, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed func: %v", err)
	}
	if _, err := inst.CallBytes("a\x00b", nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("NUL in name: %v", err)
	}
	mustNoErr(t, inst.Close())
	if _, err := inst.CallBytes("echo", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed instance: %v", err)
	}
}

// TestBytesHostFunc checks what a bytes function sees: the input, the caller's data and
// memory; and that a kept Caller is closed.
func TestBytesHostFunc(t *testing.T) {
	type conn struct{ seen []string }
	var kept *Caller
	rt := packRuntime(t, func(c *Caller, in []byte) ([]byte, error) {
		kept = c
		cn := c.Data().(*conn)
		cn.seen = append(cn.seen, string(in)) // a copy: in is valid only during the call
		size, err := c.MemorySize("memory")
		if err != nil {
			return nil, err
		}
		return fmt.Appendf(nil, "%s:%d", in, size/65536), nil
	})
	m := loadGuest(t, rt, "pack.wasm")
	cn := &conn{}
	inst, err := op(m.InstantiateWith(InstanceConfig{Data: cn}))
	mustNoErr(t, err)
	defer inst.Close()
	for _, in := range []string{"a", "bc"} {
		out, err := op(inst.CallBytes("via_host", []byte(in)))
		mustNoErr(t, err)
		if !strings.HasPrefix(string(out), in+":") {
			t.Fatalf("output %q", out)
		}
	}
	if fmt.Sprint(cn.seen) != "[a bc]" {
		t.Fatalf("the function saw %q", cn.seen)
	}
	if _, err := kept.MemorySize("memory"); !errors.Is(err, ErrClosed) {
		t.Fatalf("a kept Caller: %v", err)
	}
}

func TestDefineBytesRefused(t *testing.T) {
	h := newTestHost(t)
	if err := h.DefineBytes("host", "f", nil); !errors.Is(err, ErrNullPointer) {
		t.Fatalf("nil func: %v", err)
	}
	if err := h.DefineBytes("host", "f\x00", goTransform); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("NUL in name: %v", err)
	}
	mustNoErr(t, opErr(h.DefineBytes("host", "f", goTransform)))
	wantErr(t, opErr(h.DefineBytes("host", "f", goTransform)), ErrInvalidArgument, "host::f")
	wantErr(t, opErr(h.Define("host", "f", func() {})), ErrInvalidArgument, "host::f")

	// An import of another type than the convention's is a link error naming both.
	rt := hostRuntime(t, h)
	m := load(t, rt, `(module (import "host" "f" (func (param i32) (result i32))))`)
	_, err := op(m.Instantiate())
	wantErr(t, err, ErrLink, "host::f")

	mustNoErr(t, h.Close())
	if err := h.DefineBytes("host", "g", goTransform); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// TestPackConcurrent makes pack calls through one Func on many goroutines, each with its
// own instance of one compiled module, through a Go bytes function.
func TestPackConcurrent(t *testing.T) {
	m := loadGuest(t, packRuntime(t, goTransform), "pack.wasm")
	viaHost, err := op(m.Func("via_host"))
	mustNoErr(t, err)
	defer viaHost.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst, err := op(m.Instantiate())
			if err != nil {
				errs <- err
				return
			}
			defer inst.Close()
			for k := range 50 {
				in := fmt.Sprintf("goroutine %d call %d %s", g, k, strings.Repeat("z", k*1000))
				out, err := op(inst.CallFuncBytes(viaHost, []byte(in)))
				if err == nil && string(out) != strings.ToUpper(in) {
					err = fmt.Errorf("output %.40q, want %.40q", out, strings.ToUpper(in))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func BenchmarkCallFuncBytes(b *testing.B) {
	m := loadGuest(b, packRuntime(b, goTransform), "pack.wasm")
	inst := instantiate(b, m)
	for _, size := range []int{16, 64 << 10} {
		for _, export := range []string{"echo", "via_host"} {
			f, err := m.Func(export)
			mustNoErr(b, err)
			in := bytes.Repeat([]byte("a"), size)
			b.Run(fmt.Sprintf("%s/%d", export, size), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					if _, err := inst.CallFuncBytes(f, in); err != nil {
						b.Fatal(err)
					}
				}
			})
			f.Close()
		}
	}
}
