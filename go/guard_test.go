package packr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// A generous bound for calls that a guardrail must stop: they take milliseconds, and only a
// guardrail that never fires would take this long (the test fails instead of hanging).
const stopBound = 5 * time.Second

// spinWat's guest calls env.started before it spins, so a test knows the guest is running.
// Every way into the guest has a spinning export: spin (Call, CallFunc), spin_bytes (pack
// calls) and _start while the global spin_start is set (Run).
const spinWat = `(module
  (import "env" "started" (func $started))
  (memory (export "memory") 1)
  (global $spin_start (export "spin_start") (mut i32) (i32.const 0))
  (func (export "spin") (call $started) (loop $l (br $l)))
  (func (export "one") (result i32) (i32.const 1))
  (func (export "__pack_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "__pack_free") (param i32 i32))
  (func (export "spin_bytes") (param i32 i32 i32 i32) (result i32)
    (call $started) (loop $l (br $l)) (i32.const 0))
  (func (export "empty_bytes") (param i32 i32 i32 i32) (result i32)
    (i32.store (local.get 2) (i32.const 0)) (i32.store (local.get 3) (i32.const 0)) (i32.const 0))
  (func (export "_start")
    (if (global.get $spin_start) (then (call $started) (loop $l (br $l))))))`

// spinner is an instance of spinWat; started receives once per call that reached the
// guest's env.started, and onStart (if set) runs inside it.
type spinner struct {
	*Instance
	module  *Module
	started chan struct{}
	onStart func()
}

// reset forgets that an earlier call reached env.started.
func (s *spinner) reset() {
	select {
	case <-s.started:
	default:
	}
}

func newSpinner(t *testing.T, cfg InstanceConfig) *spinner {
	t.Helper()
	return spinnerOn(t, newTestRuntime(t), cfg)
}

// spinnerOn is newSpinner on a runtime sharing base's engine.
func spinnerOn(t *testing.T, base *Runtime, cfg InstanceConfig) *spinner {
	t.Helper()
	s := &spinner{started: make(chan struct{}, 1)}
	h := newTestHost(t)
	define(t, h, "env", "started", func() {
		if s.onStart != nil {
			s.onStart()
		}
		select {
		case s.started <- struct{}{}:
		default:
		}
	})
	rt, err := op(NewRuntimeWithHost(base, h))
	mustNoErr(t, err)
	t.Cleanup(func() { rt.Close() })
	m := load(t, rt, spinWat)
	inst, err := op(m.InstantiateWith(cfg))
	mustNoErr(t, err)
	t.Cleanup(func() { inst.Close() })
	s.Instance, s.module = inst, m
	return s
}

// background runs call on a goroutine of its own and returns its error's channel.
func background(call func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	return done
}

// wait returns what done delivers, failing the test if nothing comes within stopBound.
func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(stopBound):
		t.Fatalf("the call was not stopped within %v", stopBound)
		return nil
	}
}

func readGuard(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../tests/cases/guard.wat")
	mustNoErr(t, err)
	return string(b)
}

// wantOne checks that inst is usable: its export one returns 1.
func wantOne(t *testing.T, inst *Instance) {
	t.Helper()
	res, err := op(inst.Call("one"))
	mustNoErr(t, err)
	if res[0] != int32(1) {
		t.Fatalf("one = %v", res)
	}
}

func TestGuardStatuses(t *testing.T) {
	for _, tc := range []struct {
		sentinel *Error
		status   int32
		number   int32
		name     string
	}{
		{ErrTimeout, StatusTimeout, 18, "PACKR_ERR_TIMEOUT"},
		{ErrInterrupted, StatusInterrupted, 19, "PACKR_ERR_INTERRUPTED"},
		{ErrOutOfFuel, StatusOutOfFuel, 20, "PACKR_ERR_OUT_OF_FUEL"},
		{ErrLimit, StatusLimit, 21, "PACKR_ERR_LIMIT"},
	} {
		if tc.status != tc.number || tc.sentinel.Status != tc.number || tc.sentinel.StatusName != tc.name {
			t.Fatalf("%s: status %d, sentinel %d %q", tc.name, tc.status, tc.sentinel.Status, tc.sentinel.StatusName)
		}
		err := fmt.Errorf("wrapped: %w", newError(tc.status, "x"))
		if !errors.Is(err, tc.sentinel) || errors.Is(err, ErrTrap) {
			t.Fatalf("errors.Is(%v, %v) is wrong", err, tc.sentinel)
		}
	}
}

// TestTimeout: a 10 ms timeout stops a loop with ErrTimeout, on every way into the guest,
// and the instance stays usable; SetTimeout changes it for later calls.
func TestTimeout(t *testing.T) {
	t.Run("no host functions", func(t *testing.T) {
		m := load(t, newTestRuntime(t), readGuard(t))
		inst, err := op(m.InstantiateWith(InstanceConfig{Timeout: 10 * time.Millisecond}))
		mustNoErr(t, err)
		defer inst.Close()
		start := time.Now()
		_, err = op(inst.Call("spin"))
		wantErr(t, err, ErrTimeout, "the call was stopped by its timeout of 10 ms")
		if d := time.Since(start); d > stopBound {
			t.Fatalf("the timeout took %v", d)
		}
		wantOne(t, inst)
		spin, err := op(m.Func("spin"))
		mustNoErr(t, err)
		_, err = op(CallFunc0[NoResult](inst, spin))
		wantErr(t, err, ErrTimeout, "10 ms")
		_, err = op(inst.CallFunc(spin))
		wantErr(t, err, ErrTimeout, "10 ms")
	})
	t.Run("every way in", func(t *testing.T) {
		s := newSpinner(t, InstanceConfig{Timeout: 10 * time.Millisecond})
		_, err := op(s.Call("spin"))
		wantErr(t, err, ErrTimeout, "10 ms")
		_, err = op(s.CallBytes("spin_bytes", []byte("x")))
		wantErr(t, err, ErrTimeout, "10 ms")
		mustNoErr(t, opErr(s.SetGlobal("spin_start", ValueI32(1))))
		_, err = op(s.Run())
		wantErr(t, err, ErrTimeout, "10 ms")
		wantOne(t, s.Instance)
	})
	t.Run("SetTimeout", func(t *testing.T) {
		s := newSpinner(t, InstanceConfig{})
		mustNoErr(t, opErr(s.SetTimeout(20*time.Millisecond)))
		_, err := op(s.Call("spin"))
		wantErr(t, err, ErrTimeout, "timeout of 20 ms")
		mustNoErr(t, opErr(s.SetTimeout(time.Microsecond))) // rounded up, never to none
		_, err = op(s.Call("spin"))
		wantErr(t, err, ErrTimeout, "timeout of 1 ms")
		// Removed: only an interrupt stops the loop now.
		mustNoErr(t, opErr(s.SetTimeout(0)))
		s.onStart = func() { mustNoErr(t, s.Interrupt()) }
		_, err = op(s.Call("spin"))
		wantErr(t, err, ErrInterrupted, "interrupted")
		wantErr(t, s.SetTimeout(-time.Second), ErrInvalidArgument, "timeout -1s is negative")
	})
	t.Run("start function", func(t *testing.T) {
		m := load(t, newTestRuntime(t), `(module (func $s (loop $l (br $l))) (start $s))`)
		inst, err := op(m.InstantiateWith(InstanceConfig{Timeout: 10 * time.Millisecond}))
		if inst != nil {
			inst.Close()
		}
		wantErr(t, err, ErrTimeout, "10 ms")
	})
	t.Run("negative", func(t *testing.T) {
		m := load(t, newTestRuntime(t), readGuard(t))
		_, err := op(m.InstantiateWith(InstanceConfig{Timeout: -time.Millisecond}))
		wantErr(t, err, ErrInvalidArgument, "InstanceConfig.Timeout -1ms is negative")
	})
}

// TestInterrupt stops a running call from another goroutine and from the instance's own
// host function, and an idle instance's next call.
func TestInterrupt(t *testing.T) {
	s := newSpinner(t, InstanceConfig{})
	done := background(func() error { _, err := op(s.Call("spin")); return err })
	<-s.started // the guest is running
	mustNoErr(t, s.Interrupt())
	wantErr(t, wait(t, done), ErrInterrupted, "the call was interrupted (Instance.Interrupt, InterruptCall or a done context)")
	wantOne(t, s.Instance)

	s.onStart = func() { mustNoErr(t, s.Interrupt()) } // never waits for the call it stops
	_, err := op(s.Call("spin"))
	wantErr(t, err, ErrInterrupted, "interrupted")
	s.onStart = nil

	// Idle: the next call stops, however many interrupts came; the one after runs.
	mustNoErr(t, s.Interrupt())
	mustNoErr(t, s.Interrupt())
	_, err = op(s.Call("one"))
	wantErr(t, err, ErrInterrupted, "interrupted")
	wantOne(t, s.Instance)

	mustNoErr(t, s.Close())
	if err := s.Interrupt(); err != ErrClosed {
		t.Fatalf("Interrupt after Close: %v", err)
	}
	if err := s.SetTimeout(time.Second); err != ErrClosed {
		t.Fatalf("SetTimeout after Close: %v", err)
	}
}

// TestInterruptWithClose: Interrupt and SetTimeout may race with Close, also while Close
// waits for the very call they stop (which taking the instance's lock would deadlock).
func TestInterruptWithClose(t *testing.T) {
	for range 20 {
		s := newSpinner(t, InstanceConfig{})
		call := background(func() error { _, err := op(s.Call("spin")); return err })
		<-s.started
		closed := background(s.Close)
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for s.SetTimeout(time.Hour) == nil && s.Interrupt() == nil {
				}
			}()
		}
		wantErr(t, wait(t, call), ErrInterrupted, "interrupted")
		mustNoErr(t, wait(t, closed))
		wg.Wait() // both saw ErrClosed
	}
}

// TestCallContext: a done context interrupts the call, and the error is both the
// context's and ErrInterrupted.
func TestCallContext(t *testing.T) {
	s := newSpinner(t, InstanceConfig{})
	bothErrs := func(t *testing.T, err, ctxErr error) {
		t.Helper()
		if !errors.Is(err, ctxErr) {
			t.Fatalf("%v is not %v", err, ctxErr)
		}
		wantErr(t, err, ErrInterrupted, "interrupted")
		wantOne(t, s.Instance)
	}

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s.reset()
		done := background(func() error { _, err := op(s.CallContext(ctx, "spin")); return err })
		<-s.started
		cancel()
		bothErrs(t, wait(t, done), context.Canceled)
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := op(s.CallContext(ctx, "spin"))
		bothErrs(t, err, context.DeadlineExceeded)
	})
	t.Run("every way in", func(t *testing.T) {
		spinFunc, err := op(s.module.Func("spin"))
		mustNoErr(t, err)
		bytesFunc, err := op(s.module.Func("spin_bytes"))
		mustNoErr(t, err)
		mustNoErr(t, opErr(s.SetGlobal("spin_start", ValueI32(1))))
		defer s.SetGlobal("spin_start", ValueI32(0))
		for name, call := range map[string]func(context.Context) error{
			"CallFuncContext": func(ctx context.Context) error {
				_, err := s.CallFuncContext(ctx, spinFunc)
				return err
			},
			"CallBytesContext": func(ctx context.Context) error {
				_, err := s.CallBytesContext(ctx, "spin_bytes", []byte("x"))
				return err
			},
			"CallFuncBytesContext": func(ctx context.Context) error {
				_, err := s.CallFuncBytesContext(ctx, bytesFunc, []byte("x"))
				return err
			},
			"RunContext": func(ctx context.Context) error {
				_, err := s.RunContext(ctx)
				return err
			},
		} {
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				defer cancel()
				bothErrs(t, opErr(call(ctx)), context.DeadlineExceeded)
			})
		}
	})
	t.Run("done before", func(t *testing.T) {
		s.reset()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := op(s.CallContext(ctx, "spin"))
		if err != context.Canceled {
			t.Fatalf("got %v, want context.Canceled itself", err)
		}
		select {
		case <-s.started:
			t.Fatal("the guest was entered")
		default:
		}
	})
	t.Run("not done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for _, ctx := range []context.Context{context.Background(), ctx} {
			res, err := op(s.CallContext(ctx, "one"))
			mustNoErr(t, err)
			if res[0] != int32(1) {
				t.Fatalf("one = %v", res)
			}
		}
	})
	t.Run("timeout is not the context's", func(t *testing.T) {
		mustNoErr(t, s.SetTimeout(10*time.Millisecond))
		defer s.SetTimeout(0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := op(s.CallContext(ctx, "spin"))
		wantErr(t, err, ErrTimeout, "10 ms")
		if errors.Is(err, context.Canceled) {
			t.Fatalf("%v is context.Canceled", err)
		}
	})
}

// TestCallContextNoLeak: contexts that are never done, done during calls and done after
// them leave no goroutine behind.
func TestCallContextNoLeak(t *testing.T) {
	s := newSpinner(t, InstanceConfig{})
	round := func() {
		for range 50 {
			ctx, cancel := context.WithCancel(context.Background())
			_, err := s.CallContext(ctx, "one")
			mustNoErr(t, err)
			cancel() // after the call: nothing left to stop
		}
		for range 5 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			_, err := s.CallContext(ctx, "spin")
			cancel()
			wantErr(t, err, ErrInterrupted, "interrupted")
		}
	}
	round() // starts whatever the runtime starts once
	before := runtime.NumGoroutine()
	round()
	// context.AfterFunc's goroutines end just after the interrupts they make; wait for
	// them as goleak does, with a bound.
	deadline := time.Now().Add(stopBound)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// TestInterruptCall: InterruptCall stops a running call, from another goroutine or the
// instance's own host function, and leaves nothing for the next call of an idle instance.
func TestInterruptCall(t *testing.T) {
	s := newSpinner(t, InstanceConfig{})
	done := background(func() error { _, err := op(s.Call("spin")); return err })
	<-s.started
	mustNoErr(t, s.InterruptCall())
	wantErr(t, wait(t, done), ErrInterrupted, "interrupted")
	wantOne(t, s.Instance)

	s.onStart = func() { mustNoErr(t, s.InterruptCall()) }
	_, err := op(s.Call("spin"))
	wantErr(t, err, ErrInterrupted, "interrupted")
	s.onStart = nil

	mustNoErr(t, s.InterruptCall()) // idle: nothing to stop
	wantOne(t, s.Instance)

	mustNoErr(t, s.Close())
	if err := s.InterruptCall(); err != ErrClosed {
		t.Fatalf("InterruptCall after Close: %v", err)
	}
}

// lateWat's bump counts its runs in n, calls env.tick (a host function, on instances that
// have host functions) and recurses d deep: a few microseconds of guest code with
// interrupt checks, then returns that check nothing.
const lateWat = `(module
  (import "env" "tick" (func $tick)) ;; host
  (global $n (export "n") (mut i32) (i32.const 0))
  (func $deep (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))))
  (func (export "bump") (param $d i32) (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (call $tick) ;; host
    (drop (call $deep (local.get $d)))
    (global.get $n)))`

// TestLateContextInterrupt: a context done as its call runs or returns stops that call
// at most, never the instance's next call, and no call runs twice (n counts bump's runs).
// The race is real: cancel runs on another goroutine while bump runs for a few
// microseconds, started either before the call or from inside it (env.tick), so many
// cancels land as the call returns, while the next call starts.
func TestLateContextInterrupt(t *testing.T) {
	t.Run("no host functions", func(t *testing.T) {
		var plain []string
		for _, line := range strings.Split(lateWat, "\n") {
			if !strings.HasSuffix(line, ";; host") {
				plain = append(plain, line)
			}
		}
		inst := instantiate(t, load(t, newTestRuntime(t), strings.Join(plain, "\n")))
		lateContextRounds(t, inst, nil)
	})
	t.Run("host functions", func(t *testing.T) {
		var tick func()
		h := newTestHost(t)
		define(t, h, "env", "tick", func() { tick() })
		rt, err := op(NewRuntimeWithHost(newTestRuntime(t), h))
		mustNoErr(t, err)
		t.Cleanup(func() { rt.Close() })
		lateContextRounds(t, instantiate(t, load(t, rt, lateWat)), &tick)
	})
}

// lateContextRounds makes 2000 rounds of a cancelled call and the next call on inst;
// with tick (env.tick's body) every other round is cancelled from inside its call.
func lateContextRounds(t *testing.T, inst *Instance, tick *func()) {
	if inst.callbacks != (tick != nil) {
		t.Fatalf("the instance's calls may run callbacks: %v", inst.callbacks)
	}
	setTick := func(f func()) {
		if tick != nil {
			*tick = f
		}
	}
	n := func() int32 {
		v, err := inst.GetGlobal("n")
		mustNoErr(t, err)
		return v.I32()
	}
	var ok, stopped, refused int
	for k := range 2000 {
		before := n()
		ctx, cancel := context.WithCancel(context.Background())
		if tick != nil && k%2 == 1 {
			*tick = func() { go cancel() } // the guest is running
		} else {
			setTick(func() {})
			go cancel()
		}
		res, err := inst.CallContext(ctx, "bump", int32(k%64*100))
		after := n()
		switch {
		case err == nil:
			ok++
			if res[0] != before+1 || after != before+1 {
				t.Fatalf("round %d: bump returned %v, n went from %d to %d", k, res, before, after)
			}
		case err == context.Canceled: // done before the call: the guest was not entered
			refused++
			if after != before {
				t.Fatalf("round %d: a call refused took n from %d to %d", k, before, after)
			}
		case errors.Is(err, context.Canceled) && errors.Is(err, ErrInterrupted):
			stopped++ // at bump's first check or later
			if after != before && after != before+1 {
				t.Fatalf("round %d: a stopped bump took n from %d to %d", k, before, after)
			}
		default:
			t.Fatalf("round %d: %v", k, err)
		}
		// The next call, as the cancel's goroutine may still run: never stopped, run once.
		setTick(func() {})
		if k%2 == 0 {
			res, err = inst.Call("bump", int32(0))
		} else {
			next, stop := context.WithCancel(context.Background())
			res, err = inst.CallContext(next, "bump", int32(0))
			stop()
		}
		if err != nil {
			t.Fatalf("round %d: the next call: %v", k, err)
		}
		if res[0] != after+1 || n() != after+1 {
			t.Fatalf("round %d: the next bump after n = %d returned %v, n = %d", k, after, res, n())
		}
		cancel()
	}
	t.Logf("%d calls returned, %d were stopped, %d were refused before entering", ok, stopped, refused)
}

// TestContextDoneAsCallStarts: a context done as its call starts still stops it, though
// the interrupt may come before packr counts the call as running. The backstop timeout
// turns a call the context missed into ErrTimeout instead of a hang.
func TestContextDoneAsCallStarts(t *testing.T) {
	backstop := InstanceConfig{Timeout: stopBound}
	plain, err := op(load(t, newTestRuntime(t), readGuard(t)).InstantiateWith(backstop))
	mustNoErr(t, err)
	t.Cleanup(func() { plain.Close() })
	s := newSpinner(t, backstop)
	for name, inst := range map[string]*Instance{"no host functions": plain, "host functions": s.Instance} {
		t.Run(name, func(t *testing.T) {
			for k := range 3000 {
				ctx, cancel := context.WithCancel(context.Background())
				go cancel()
				_, err := op(inst.CallContext(ctx, "spin"))
				if err != context.Canceled { // else done before the call: the guest was not entered
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("round %d: %v", k, err)
					}
					wantErr(t, err, ErrInterrupted, "interrupted")
				}
				cancel()
			}
			wantOne(t, inst)
		})
	}
}

// TestFuel: fuel runs out, is added and read; instances without a setting start full.
func TestFuel(t *testing.T) {
	rt := newConfigRuntime(t, Config{Fuel: true})
	m := load(t, rt, readGuard(t))
	fuel := uint64(10_000)
	inst, err := op(m.InstantiateWith(InstanceConfig{Fuel: &fuel}))
	mustNoErr(t, err)
	defer inst.Close()
	left, err := op(inst.Fuel())
	mustNoErr(t, err)
	if left != 10_000 {
		t.Fatalf("starts with %d fuel", left)
	}
	_, err = op(inst.Call("spin"))
	wantErr(t, err, ErrOutOfFuel, "the guest ran out of fuel; Instance.AddFuel gives it more")
	if left, err := op(inst.Fuel()); err != nil || left != 0 {
		t.Fatalf("after running dry: %d, %v", left, err)
	}
	mustNoErr(t, opErr(inst.AddFuel(1000)))
	res, err := op(inst.Call("deep", int32(10)))
	mustNoErr(t, err)
	if res[0] != int32(10) {
		t.Fatalf("deep(10) = %v", res)
	}
	if left, err := op(inst.Fuel()); err != nil || left == 0 || left >= 1000 {
		t.Fatalf("deep(10) left %d of 1000, %v", left, err)
	}
	mustNoErr(t, opErr(inst.AddFuel(math.MaxUint64))) // saturates
	if left, _ := op(inst.Fuel()); left != math.MaxUint64 {
		t.Fatalf("after saturating: %d", left)
	}

	// 0 is a setting: not even one instruction.
	none := uint64(0)
	empty, err := op(m.InstantiateWith(InstanceConfig{Fuel: &none}))
	mustNoErr(t, err)
	defer empty.Close()
	_, err = op(empty.Call("one"))
	wantErr(t, err, ErrOutOfFuel, "ran out of fuel")

	full := instantiate(t, m) // nil: as good as unlimited
	if left, err := op(full.Fuel()); err != nil || left != math.MaxUint64 {
		t.Fatalf("default fuel %d, %v", left, err)
	}

	// The fuel methods need the store: ErrBusy during a call (here from the instance's own
	// host function), ErrClosed after Close.
	s := spinnerOn(t, rt, InstanceConfig{})
	var readBusy, addBusy error
	s.onStart = func() {
		_, readBusy = s.Fuel()
		addBusy = s.AddFuel(1)
		mustNoErr(t, s.Interrupt())
	}
	_, err = op(s.Call("spin"))
	wantErr(t, err, ErrInterrupted, "interrupted")
	wantErr(t, readBusy, ErrBusy, "")
	wantErr(t, addBusy, ErrBusy, "")
	mustNoErr(t, s.Close())
	if _, err := s.Fuel(); err != ErrClosed {
		t.Fatalf("Fuel after Close: %v", err)
	}
	if err := s.AddFuel(1); err != ErrClosed {
		t.Fatalf("AddFuel after Close: %v", err)
	}
}

// TestFuelRefused: fuel on an engine that does not count it is ErrInvalidArgument naming
// Config.Fuel.
func TestFuelRefused(t *testing.T) {
	m := load(t, newTestRuntime(t), readGuard(t))
	fuel := uint64(10)
	_, err := op(m.InstantiateWith(InstanceConfig{Fuel: &fuel}))
	wantErr(t, err, ErrInvalidArgument, "enable it with Config.Fuel")
	inst := instantiate(t, m)
	wantErr(t, inst.AddFuel(1), ErrInvalidArgument, "Config.Fuel")
	_, err = op(inst.Fuel())
	wantErr(t, err, ErrInvalidArgument, "Config.Fuel")

}

// TestLimits: growth past a memory or table limit returns -1 to the guest; a module
// whose memory starts above it does not instantiate.
func TestLimits(t *testing.T) {
	limits := InstanceConfig{MemoryLimit: 4 << 16, TableLimit: 10}
	inst, err := op(load(t, newTestRuntime(t), readGuard(t)).InstantiateWith(limits))
	mustNoErr(t, err)
	defer inst.Close()
	for _, tc := range []struct {
		export string
		arg    int32
		want   int32
	}{
		{"grow", 4, -1}, // 5 pages
		{"grow", 3, 1},  // to the limit: the old size in pages
		{"grow", 1, -1},
		{"grow_table", 9, -1}, // 11 elements
		{"grow_table", 8, 2},
		{"grow_table", 1, -1},
	} {
		res, err := op(inst.Call(tc.export, tc.arg))
		mustNoErr(t, err)
		if res[0] != tc.want {
			t.Fatalf("%s(%d) = %v, want %d", tc.export, tc.arg, res, tc.want)
		}
	}
	if size, err := op(inst.MemorySize()); err != nil || size != 4<<16 {
		t.Fatalf("memory size %d, %v", size, err)
	}

	big, err := os.ReadFile("../tests/cases/big_memory.wat")
	mustNoErr(t, err)
	_, err = op(load(t, newTestRuntime(t), string(big)).InstantiateWith(limits))
	wantErr(t, err, ErrLimit, "a memory starts at 327680 bytes, above the instance's limit of 262144 (InstanceConfig.MemoryLimit)")
	_, err = op(load(t, newTestRuntime(t), `(module (table 20 funcref))`).InstantiateWith(limits))
	wantErr(t, err, ErrLimit, "a table starts at 20 elements, above the instance's limit of 10 (InstanceConfig.TableLimit)")
}

// TestDeepRecursion: recursion past the guest stack traps cleanly on a goroutine, and
// Config.MaxWasmStack sets how deep is too deep.
func TestDeepRecursion(t *testing.T) {
	inst := instantiate(t, load(t, newTestRuntime(t), readGuard(t)))
	err := wait(t, background(func() error { _, err := op(inst.Call("deep", int32(100_000_000))); return err }))
	wantErr(t, err, ErrTrap, "call stack exhausted")
	res, err := op(inst.Call("deep", int32(2000)))
	mustNoErr(t, err)
	if res[0] != int32(2000) {
		t.Fatalf("deep(2000) = %v", res)
	}

	small := instantiate(t, load(t, newConfigRuntime(t, Config{MaxWasmStack: 16 << 10}), readGuard(t)))
	_, err = op(small.Call("deep", int32(2000)))
	wantErr(t, err, ErrTrap, "call stack exhausted")
	res, err = op(small.Call("deep", int32(10)))
	mustNoErr(t, err)
	if res[0] != int32(10) {
		t.Fatalf("deep(10) = %v", res)
	}
}

// TestGuardConfig: the engine-level guardrail settings take effect, and packr's refusals
// name them.
func TestGuardConfig(t *testing.T) {
	calc := readCalc(t)
	_, err := op(newConfigRuntime(t, Config{MaxModuleBytes: 100}).Load([]byte(calc)))
	wantErr(t, err, ErrLimit, fmt.Sprintf("the module is %d bytes, above this runtime's limit of 100 (Config.MaxModuleBytes)", len(calc)))
	load(t, newConfigRuntime(t, Config{MaxModuleBytes: uint64(len(calc))}), calc)

	fine := newConfigRuntime(t, Config{TimerTick: 200 * time.Microsecond})
	inst, err := op(load(t, fine, readGuard(t)).InstantiateWith(InstanceConfig{Timeout: 5 * time.Millisecond}))
	mustNoErr(t, err)
	defer inst.Close()
	_, err = op(inst.Call("spin"))
	wantErr(t, err, ErrTimeout, "5 ms")

	// Without signal handlers, traps are still traps and the instance stays usable.
	noSignals := instantiate(t, load(t, newConfigRuntime(t, Config{DisableSignalsBasedTraps: true}), calc))
	_, err = op(noSignals.Call("div", int32(1), int32(0)))
	wantErr(t, err, ErrTrap, "divide by zero")
	_, err = op(noSignals.Call("sum_bytes", int32(70_000), int32(1)))
	wantErr(t, err, ErrTrap, "out of bounds")
	res, err := op(noSignals.Call("add", 2, 3))
	mustNoErr(t, err)
	if res[0] != int32(5) {
		t.Fatalf("add = %v", res)
	}

	for _, tc := range []struct {
		cfg Config
		msg string
	}{
		{Config{TimerTick: 50 * time.Microsecond}, "timer_tick_us must be between 100 and 1000000, not 50"},
		{Config{TimerTick: 2 * time.Second}, "timer_tick_us must be between"},
		{Config{TimerTick: -time.Millisecond}, "Config.TimerTick -1ms is negative"},
		{Config{MaxWasmStack: 1 << 10}, "max_wasm_stack must be between"},
		{Config{MaxWasmStack: 1 << 30}, "max_wasm_stack must be between"},
	} {
		rt, err := op(NewRuntimeWithConfig(tc.cfg))
		if rt != nil {
			rt.Close()
		}
		wantErr(t, err, ErrInvalidArgument, tc.msg)
	}
}
