package packr

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// PACKR_TEST_GC=1 forces a collection after every operation, so a missing
// runtime.KeepAlive frees a handle while C still uses it and the run crashes.
var forceGC = os.Getenv("PACKR_TEST_GC") == "1"

func gc() {
	if forceGC {
		runtime.GC()
	}
}

// TestMain checks, after every test, that no reference this package gave C is left: every
// host definition was finalized by packr and every instance state deleted, once what the
// tests closed is closed and what they dropped is collected.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(10 * time.Second)
		for liveHandles.Load() != 0 && time.Now().Before(deadline) {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		if n := liveHandles.Load(); n != 0 {
			fmt.Fprintf(os.Stderr, "FAIL: %d host definitions or instance states never released to Go\n", n)
			code = 1
		}
	}
	os.Exit(code)
}

// cFuncName matches a C API function or WASI output constant; status names such as
// PACKR_ERR_HOST are this package's too (Error.StatusName), and may be quoted.
var cFuncName = regexp.MustCompile(`\bpackr_[a-z0-9_]+\b|\bPACKR_WASI_[A-Z]+\b`)

// op and opErr wrap every operation in the tests: op(rt.Load(src)).
func op[T any](v T, err error) (T, error) {
	gc()
	return v, err
}

func opErr(err error) error {
	gc()
	return err
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newTestRuntime(t testing.TB) *Runtime {
	t.Helper()
	rt, err := op(NewRuntime())
	mustNoErr(t, err)
	t.Cleanup(func() { rt.Close() })
	return rt
}

func load(t testing.TB, rt *Runtime, src string) *Module {
	t.Helper()
	m, err := op(rt.Load([]byte(src)))
	mustNoErr(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func instantiate(t testing.TB, m *Module) *Instance {
	t.Helper()
	inst, err := op(m.Instantiate())
	mustNoErr(t, err)
	t.Cleanup(func() { inst.Close() })
	return inst
}

// wantErr checks that err is a *Error with the sentinel's status and a message containing
// msg, and that the message names no C API function or constant (this package's names
// stand in for them).
func wantErr(t testing.TB, err error, sentinel *Error, msg string) *Error {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("got %v, want %s", err, sentinel.StatusName)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not a *Error", err)
	}
	if !strings.Contains(e.Message, msg) {
		t.Fatalf("message %q does not contain %q", e.Message, msg)
	}
	if c := cFuncName.FindString(e.Message); c != "" {
		t.Fatalf("message %q names the C API's %s", e.Message, c)
	}
	return e
}

func readCalc(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../tests/cases/calc.wat")
	mustNoErr(t, err)
	return string(b)
}

// serveConnections simulates an actor host: `goroutines` goroutines, each with its own
// runtime sharing base's engine, serve `conns` connections apiece. For each connection,
// module gives a module handle the goroutine owns (a cache hit, or the first load); the
// connection gets a fresh instance, calls add(g, c), and closes what it made.
func serveConnections(t *testing.T, base *Runtime, goroutines, conns int, module func(*Runtime) (*Module, error)) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				rt, err := op(NewRuntimeSharingEngine(base))
				if err != nil {
					return err
				}
				defer rt.Close()
				for c := range conns {
					m, err := module(rt)
					if err != nil {
						return err
					}
					inst, err := op(m.Instantiate())
					m.Close()
					if err != nil {
						return err
					}
					res, err := op(inst.Call("add", g, c))
					if err == nil && res[0] != int32(g+c) {
						err = fmt.Errorf("add(%d, %d) = %v", g, c, res)
					}
					inst.Close()
					gc()
					if err != nil {
						return err
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
