package packr

// Guardrails: an instance's limits, interrupts, timeouts, fuel, and calls bounded by a
// context. None of the functions listed can call back into Go.

// #cgo noescape packr_go_instance_config_set_timeout_ms
// #cgo nocallback packr_go_instance_config_set_timeout_ms
// #cgo noescape packr_go_instance_config_set_fuel
// #cgo nocallback packr_go_instance_config_set_fuel
// #cgo noescape packr_go_instance_config_set_memory_limit
// #cgo nocallback packr_go_instance_config_set_memory_limit
// #cgo noescape packr_go_instance_config_set_table_limit
// #cgo nocallback packr_go_instance_config_set_table_limit
// #cgo noescape packr_instance_interrupt
// #cgo nocallback packr_instance_interrupt
// #cgo noescape packr_instance_interrupt_call
// #cgo nocallback packr_instance_interrupt_call
// #cgo noescape packr_instance_set_timeout_ms
// #cgo nocallback packr_instance_set_timeout_ms
// #cgo noescape packr_go_instance_add_fuel
// #cgo nocallback packr_go_instance_add_fuel
// #cgo noescape packr_go_instance_fuel
// #cgo nocallback packr_go_instance_fuel
// #include "shim.h"
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// cConfig builds packr's instance config for c, or returns nil when c sets nothing packr
// reads (Data is the binding's); the caller frees it.
func (c *InstanceConfig) cConfig() (*C.packr_instance_config, error) {
	if c.WASI == nil && c.Timeout == 0 && c.Fuel == nil && c.MemoryLimit == 0 && c.TableLimit == 0 {
		return nil, nil
	}
	if c.Timeout < 0 {
		return nil, newError(StatusInvalidArgument, fmt.Sprintf("InstanceConfig.Timeout %v is negative", c.Timeout))
	}
	if c.WASI != nil {
		if err := c.WASI.validate(); err != nil {
			return nil, err
		}
	}
	var cfg *C.packr_instance_config
	var msg *C.char
	if err := check(C.packr_go_instance_config_new(&cfg, &msg), msg); err != nil {
		return nil, err
	}
	if err := c.apply(cfg); err != nil {
		C.packr_instance_config_free(cfg)
		return nil, err
	}
	return cfg, nil
}

func (c *InstanceConfig) apply(cfg *C.packr_instance_config) error {
	if c.WASI != nil {
		if err := c.WASI.apply(cfg); err != nil {
			return err
		}
	}
	// Each setter only stores its value (packr checks them at instantiation); the first
	// failure wins.
	st := C.packr_status(C.PACKR_OK)
	var msg *C.char
	ok := func(set bool) bool { return set && st == C.PACKR_OK }
	if ok(c.Timeout != 0) {
		st = C.packr_go_instance_config_set_timeout_ms(cfg, C.uint64_t(roundUp(c.Timeout, time.Millisecond)), &msg)
	}
	if ok(c.Fuel != nil) {
		st = C.packr_go_instance_config_set_fuel(cfg, C.uint64_t(*c.Fuel), &msg)
	}
	if ok(c.MemoryLimit != 0) {
		st = C.packr_go_instance_config_set_memory_limit(cfg, C.uint64_t(c.MemoryLimit), &msg)
	}
	if ok(c.TableLimit != 0) {
		st = C.packr_go_instance_config_set_table_limit(cfg, C.uint64_t(c.TableLimit), &msg)
	}
	return check(st, msg)
}

// Interrupt stops the call running on the instance with ErrInterrupted or, when none is
// running, the next call to enter the guest, whoever makes it (several interrupts before a
// call stops count as one). The guest stops at its next function call or loop iteration;
// a host function running at the time finishes first. The instance stays usable. To stop
// only a running call, use InterruptCall; to bound a call by a context, CallContext and
// its siblings.
//
// It may be called from any goroutine at any time, also during a call, concurrently with
// Close, and from the instance's own host functions; it never waits for a call. After
// Close it returns ErrClosed and does nothing.
func (i *Instance) Interrupt() error {
	if !i.interrupt(false) {
		return ErrClosed
	}
	return nil
}

// InterruptCall stops the call running on the instance at this moment with
// ErrInterrupted, as Interrupt does, but never a later call: on an idle instance, or when
// the call returns before the request lands, it does nothing. Whether a call that starts
// or returns at about the same moment is stopped is a race, so it suits a watchdog that
// stops whatever runs now; CallContext bounds one call for certain.
//
// Its thread rules and its ErrClosed are Interrupt's.
func (i *Instance) InterruptCall() error {
	if !i.interrupt(true) {
		return ErrClosed
	}
	return nil
}

// interrupt requests an interrupt of the running call (callOnly) or else of the running or
// next call, unless the instance is closed (false). Close clears i.ptr under i.ptrMu
// before freeing it, so the handle used here is never freed.
func (i *Instance) interrupt(callOnly bool) bool {
	i.ptrMu.Lock()
	defer i.ptrMu.Unlock()
	if i.ptr == nil {
		return false
	}
	if callOnly {
		C.packr_instance_interrupt_call(i.ptr)
	} else {
		C.packr_instance_interrupt(i.ptr)
	}
	runtime.KeepAlive(i)
	return true
}

// SetTimeout sets the timeout of the instance's later calls, as InstanceConfig.Timeout
// does at instantiation (rounded up to whole milliseconds); 0 removes it, and a negative
// d is ErrInvalidArgument. A call already running keeps the deadline it started with. Like
// Interrupt, it may be called from any goroutine at any time and never waits for a call.
func (i *Instance) SetTimeout(d time.Duration) error {
	if d < 0 {
		return newError(StatusInvalidArgument, fmt.Sprintf("timeout %v is negative", d))
	}
	i.ptrMu.Lock()
	defer i.ptrMu.Unlock()
	if i.ptr == nil {
		return ErrClosed
	}
	C.packr_instance_set_timeout_ms(i.ptr, C.uint64_t(roundUp(d, time.Millisecond)))
	runtime.KeepAlive(i)
	return nil
}

// AddFuel adds fuel to the instance's tank (saturating at the largest uint64), so a guest
// that ran out (ErrOutOfFuel) can be called again. It is ErrInvalidArgument on a runtime
// whose engine does not count fuel (Config.Fuel), and ErrBusy during a call on the
// instance (it needs the store).
func (i *Instance) AddFuel(fuel uint64) error {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return ErrClosed
	}
	var msg *C.char
	st := C.packr_go_instance_add_fuel(i.ptr, C.uint64_t(fuel), &msg)
	runtime.KeepAlive(i)
	return check(st, msg)
}

// Fuel returns the fuel left in the instance's tank. Its errors are AddFuel's.
func (i *Instance) Fuel() (uint64, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return 0, ErrClosed
	}
	var n C.uint64_t
	var msg *C.char
	st := C.packr_go_instance_fuel(i.ptr, &n, &msg)
	runtime.KeepAlive(i)
	if err := check(st, msg); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// CallContext is Call bounded by ctx: when ctx is cancelled or its deadline passes while
// the guest runs, the call is interrupted (as by InterruptCall), and the error matches
// both ctx's error and ErrInterrupted:
//
//	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
//	defer cancel()
//	res, err := inst.CallContext(ctx, "handle", req)
//	if errors.Is(err, context.DeadlineExceeded) { ... } // also errors.Is(err, packr.ErrInterrupted)
//
// A ctx already done returns its error without entering the guest. A ctx that can never
// be done (such as context.Background()) costs nothing over Call; any other costs a
// registration with ctx per call (context.AfterFunc), and a goroutine only once ctx is
// done. A host function is never stopped in the middle: the guest stops at its next
// function call or loop iteration after the host function returns, so host functions
// that block should watch the context themselves (pass it in InstanceConfig.Data).
//
// A ctx done just as the call returns, too late to stop it, leaves the call's results, and
// never stops the instance's next call. (Calls that overlap are a misuse, see Instance: a
// ctx done while its call is refused with ErrBusy may stop the call that holds the
// instance.)
func (i *Instance) CallContext(ctx context.Context, name string, args ...any) ([]any, error) {
	var res []any
	err := i.withContext(ctx, func() (err error) {
		res, err = i.call(name, args, -1)
		return err
	})
	return res, err
}

// CallFuncContext is CallFunc bounded by ctx, as CallContext is Call.
func (i *Instance) CallFuncContext(ctx context.Context, f *Func, args ...any) ([]any, error) {
	var res []any
	err := i.withContext(ctx, func() (err error) {
		res, err = i.CallFunc(f, args...)
		return err
	})
	return res, err
}

// CallBytesContext is CallBytes bounded by ctx, as CallContext is Call.
func (i *Instance) CallBytesContext(ctx context.Context, name string, in []byte) ([]byte, error) {
	var out []byte
	err := i.withContext(ctx, func() (err error) {
		out, err = i.CallBytes(name, in)
		return err
	})
	return out, err
}

// CallFuncBytesContext is CallFuncBytes bounded by ctx, as CallContext is Call.
func (i *Instance) CallFuncBytesContext(ctx context.Context, f *Func, in []byte) ([]byte, error) {
	var out []byte
	err := i.withContext(ctx, func() (err error) {
		out, err = i.CallFuncBytes(f, in)
		return err
	})
	return out, err
}

// RunContext is Run bounded by ctx, as CallContext is Call.
func (i *Instance) RunContext(ctx context.Context) (int, error) {
	var code int
	err := i.withContext(ctx, func() (err error) {
		code, err = i.Run()
		return err
	})
	return code, err
}

// withContext makes call, which enters the guest on i, interrupting it if ctx is done
// before it returns.
func (i *Instance) withContext(ctx context.Context, call func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ctx.Done() == nil { // never done
		return call()
	}
	w := &ctxWatch{inst: i}
	stop := context.AfterFunc(ctx, w.fire)
	err := call()
	if !stop() { // ctx is done: stop the watch before a later call can start
		w.end()
	}
	if err != nil && errors.Is(err, ErrInterrupted) {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w: %w", cerr, err)
		}
	}
	return err
}

// ctxWatch interrupts one call when its context is done, only while the call runs.
type ctxWatch struct {
	inst     *Instance
	mu       sync.Mutex
	returned bool          // the call has returned: a request now could stop a later one
	wake     chan struct{} // made by fire, closed by end
}

// fire runs on a goroutine of its own once the context is done (context.AfterFunc). It
// asks packr to stop the running call until the call returns, because one request may
// come too early: a ctx done as the call starts may ask before packr counts the call as
// running, and such a request does nothing (TestContextDoneAsCallStarts). A request that
// lands stops the call at its next check, so more are made only while the call is just
// starting or in a host function, at growing intervals.
func (w *ctxWatch) fire() {
	for pause := 50 * time.Microsecond; w.request(); pause = min(2*pause, 50*time.Millisecond) {
		t := time.NewTimer(pause)
		select {
		case <-w.wake:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// request interrupts the running call unless the call has returned or the instance is
// closed, and reports whether it did.
func (w *ctxWatch) request() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.returned {
		return false
	}
	if w.wake == nil {
		w.wake = make(chan struct{})
	}
	return w.inst.interrupt(true)
}

// end stops w from interrupting, waiting for a request in progress.
func (w *ctxWatch) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.returned = true
	if w.wake != nil {
		close(w.wake)
	}
}
