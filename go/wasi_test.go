package packr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// readGuest reads a guest built by guest/build.sh (build/guest, or $PACKR_GUESTS). A
// missing guest fails the test: they are part of the build, not optional.
func readGuest(t testing.TB, name string) []byte {
	t.Helper()
	dir := os.Getenv("PACKR_GUESTS")
	if dir == "" {
		dir = "../build/guest"
	}
	wasm, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is missing: run `make guest`", filepath.Join(dir, name))
	}
	mustNoErr(t, err)
	return wasm
}

// wasiRuntime is a runtime whose host serves WASI (and whatever define adds).
func wasiRuntime(t testing.TB, define func(h *Host)) *Runtime {
	t.Helper()
	h := newTestHost(t)
	mustNoErr(t, opErr(h.DefineWASI()))
	if define != nil {
		define(h)
	}
	return hostRuntime(t, h)
}

func loadGuest(t testing.TB, rt *Runtime, name string) *Module {
	t.Helper()
	m, err := op(rt.Load(readGuest(t, name)))
	mustNoErr(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// runResult is one run of a command with both streams captured.
type runResult struct {
	code     int
	out, err string
	dropped  uint64
}

// runCommand instantiates m with cfg (stdout and stderr captured on top of it) and runs it.
func runCommand(t testing.TB, m *Module, cfg WASIConfig) runResult {
	t.Helper()
	cfg.Stdout, cfg.Stderr = WASICapture, WASICapture
	inst, err := op(m.InstantiateWith(InstanceConfig{WASI: &cfg}))
	mustNoErr(t, err)
	defer inst.Close()
	code, err := op(inst.Run())
	mustNoErr(t, err)
	out, err := op(inst.Stdout())
	mustNoErr(t, err)
	errOut, err := op(inst.Stderr())
	mustNoErr(t, err)
	dropped, err := op(inst.StdoutDropped())
	mustNoErr(t, err)
	return runResult{code: code, out: string(out), err: string(errOut), dropped: dropped}
}

// TestWASIProbe runs one compiled wasi_probe.wasm with a config per mode.
func TestWASIProbe(t *testing.T) {
	probe := loadGuest(t, wasiRuntime(t, nil), "wasi_probe.wasm")
	tests := []struct {
		name    string
		cfg     WASIConfig
		code    int
		out     string
		errText string // "-": not checked
	}{
		{"args", WASIConfig{Args: []string{"probe", "args", "two words", "ü"}}, 0, "probe\nargs\ntwo words\nü\n", ""},
		{"env keeps order", WASIConfig{Args: []string{"probe", "env"}, Env: []string{"ZED=last=1", "ALPHA=two", "EMPTY="}}, 0, "ZED=last=1\nALPHA=two\nEMPTY=\n", ""},
		{"env empty by default", WASIConfig{Args: []string{"probe", "env"}}, 0, "", ""},
		{"stdin", WASIConfig{Args: []string{"probe", "stdin"}, Stdin: []byte("hello\n")}, 0, "hello\n", "read 6 bytes\n"},
		{"stdin empty", WASIConfig{Args: []string{"probe", "stdin"}}, 0, "", "read 0 bytes\n"},
		{"streams", WASIConfig{Args: []string{"probe", "streams"}}, 0, "to stdout\n", "to stderr\n"},
		{"clock", WASIConfig{Args: []string{"probe", "clock"}}, 0, "realtime ok\nmonotonic ok\n", ""},
		{"random", WASIConfig{Args: []string{"probe", "random"}}, 0, "random ok\n", ""},
		{"exit 7", WASIConfig{Args: []string{"probe", "exit", "7"}}, 7, "", ""},
		{"exit 0", WASIConfig{Args: []string{"probe", "exit", "0"}}, 0, "", ""},
		{"exit 125", WASIConfig{Args: []string{"probe", "exit", "125"}}, 125, "", ""},
		{"return", WASIConfig{Args: []string{"probe", "return"}}, 0, "done\n", ""},
		{"unknown mode", WASIConfig{Args: []string{"probe"}}, 2, "", "unknown mode\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCommand(t, probe, tt.cfg)
			if r.code != tt.code || r.out != tt.out || (tt.errText != "-" && r.err != tt.errText) {
				t.Fatalf("got exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.out, r.err, tt.code, tt.out, tt.errText)
			}
		})
	}

	// One config serves many instances; each reads its own stdin from the start.
	cfg := WASIConfig{Args: []string{"probe", "stdin"}, Stdin: []byte("again\n")}
	for range 3 {
		if r := runCommand(t, probe, cfg); r.out != "again\n" {
			t.Fatalf("stdout %q", r.out)
		}
	}
}

func TestWASIFiles(t *testing.T) {
	probe := loadGuest(t, wasiRuntime(t, nil), "wasi_probe.wasm")
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	mustNoErr(t, os.Mkdir(dir, 0o700))
	mustNoErr(t, os.WriteFile(filepath.Join(dir, "in.txt"), []byte("from the host\n"), 0o600))
	mustNoErr(t, os.WriteFile(filepath.Join(parent, "outside.txt"), []byte("secret\n"), 0o600))
	args := []string{"probe", "files", "/data"}
	outPath := filepath.Join(dir, "out.txt")

	r := runCommand(t, probe, WASIConfig{Args: args, Preopens: []Preopen{{HostPath: dir, GuestPath: "/data", Writable: true}}})
	want := "from the host\nentry: in.txt\nentry: out.txt\nrefused: /data/../outside.txt\nrefused: /etc/passwd\n"
	if r.code != 0 || r.out != want {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	written, err := os.ReadFile(outPath)
	mustNoErr(t, err)
	if string(written) != "written by wasm\n" {
		t.Fatalf("out.txt holds %q", written)
	}
	mustNoErr(t, os.Remove(outPath))

	// Read-only: reading works, writing is refused, nothing appears on the host.
	r = runCommand(t, probe, WASIConfig{Args: args, Preopens: []Preopen{{HostPath: dir, GuestPath: "/data"}}})
	if r.code != 1 || !strings.HasPrefix(r.out, "from the host\n") || !strings.Contains(r.err, "out.txt") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	if _, err := os.Stat(outPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only preopen let the guest write: %v", err)
	}

	// Without the preopen the guest sees no files at all.
	r = runCommand(t, probe, WASIConfig{Args: args})
	if r.code != 1 || r.out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}

	// Preopens packr refuses, named.
	tests := []struct {
		path     string
		sentinel *Error
		msg      string
	}{
		{filepath.Join(parent, "no-such-dir"), ErrNotFound, "no-such-dir"},
		{filepath.Join(dir, "in.txt"), ErrInvalidArgument, "not a directory"},
	}
	for _, tt := range tests {
		_, err := op(probe.InstantiateWith(InstanceConfig{WASI: &WASIConfig{Preopens: []Preopen{{HostPath: tt.path, GuestPath: "/x"}}}}))
		wantErr(t, err, tt.sentinel, tt.msg)
	}
}

func TestWASICapture(t *testing.T) {
	probe := loadGuest(t, wasiRuntime(t, nil), "wasi_probe.wasm")

	// A guest that prints 3 MB keeps the host at the capture limit and says what it dropped.
	limit := uint64(1000)
	r := runCommand(t, probe, WASIConfig{Args: []string{"probe", "flood", "3000000"}, CaptureLimit: &limit})
	if r.code != 0 || len(r.out) != 1000 || strings.Trim(r.out, "x") != "" || r.dropped != 3000000-1000 {
		t.Fatalf("exit %d, %d bytes kept, %d dropped", r.code, len(r.out), r.dropped)
	}
	// 0 keeps nothing and counts everything.
	zero := uint64(0)
	r = runCommand(t, probe, WASIConfig{Args: []string{"probe", "flood", "5000"}, CaptureLimit: &zero})
	if r.out != "" || r.dropped != 5000 {
		t.Fatalf("%d bytes kept, %d dropped", len(r.out), r.dropped)
	}
	// The default limit (1 MiB) keeps a smaller flood whole.
	r = runCommand(t, probe, WASIConfig{Args: []string{"probe", "flood", "300000"}})
	if len(r.out) != 300000 || r.dropped != 0 {
		t.Fatalf("%d bytes kept, %d dropped", len(r.out), r.dropped)
	}

	// Stdout takes out: the second take has only what came after the first.
	inst, err := op(probe.InstantiateWith(InstanceConfig{WASI: &WASIConfig{Args: []string{"probe", "return"}, Stdout: WASICapture, Stderr: WASIDiscard}}))
	mustNoErr(t, err)
	defer inst.Close()
	_, err = op(inst.Run())
	mustNoErr(t, err)
	out, err := op(inst.Stdout())
	mustNoErr(t, err)
	again, err := op(inst.Stdout())
	mustNoErr(t, err)
	if string(out) != "done\n" || again == nil || len(again) != 0 {
		t.Fatalf("first take %q, second %q", out, again)
	}
	// A stream not captured has nothing to take, and says how to capture it.
	_, err = op(inst.Stderr())
	wantErr(t, err, ErrInvalidArgument, "set WASICapture in its WASIConfig")
	_, err = op(inst.StderrDropped())
	wantErr(t, err, ErrInvalidArgument, "not captured")

	mustNoErr(t, inst.Close())
	for _, f := range []func() error{
		func() error { _, err := inst.Stdout(); return err },
		func() error { _, err := inst.StdoutDropped(); return err },
		func() error { _, err := inst.Run(); return err },
	} {
		if err := f(); !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: %v, want ErrClosed", err)
		}
	}
}

// TestExitThroughCall: proc_exit reached through Call (not Run) is an *ExitError.
func TestExitThroughCall(t *testing.T) {
	probe := loadGuest(t, wasiRuntime(t, nil), "wasi_probe.wasm")
	start, err := op(probe.Func("_start"))
	mustNoErr(t, err)
	defer start.Close()
	for _, code := range []int{3, 0, 125} {
		inst, err := op(probe.InstantiateWith(InstanceConfig{WASI: &WASIConfig{Args: []string{"probe", "exit", fmt.Sprint(code)}}}))
		mustNoErr(t, err)
		for _, call := range []func() error{
			func() error { _, err := inst.Call("_start"); return err },
			func() error { _, err := inst.CallFunc(start); return err },
			func() error { _, err := CallFunc0[NoResult](inst, start); return err },
		} {
			err := call()
			var exit *ExitError
			if !errors.As(err, &exit) || exit.Code != code {
				t.Fatalf("got %v, want an *ExitError with code %d", err, code)
			}
			e := wantErr(t, err, ErrExit, fmt.Sprintf("the guest exited with code %d", code))
			if e.StatusName != "PACKR_ERR_EXIT" || errors.Is(err, ErrTrap) {
				t.Fatalf("error %v", e)
			}
		}
		inst.Close()
	}
	// wasmtime's WASI refuses codes from 126 on: a trap, not an exit.
	inst, err := op(probe.InstantiateWith(InstanceConfig{WASI: &WASIConfig{Args: []string{"probe", "exit", "200"}}}))
	mustNoErr(t, err)
	defer inst.Close()
	_, err = op(inst.Run())
	wantErr(t, err, ErrTrap, "outside of [0..126)")

	if e := (&ExitError{Code: 4}); e.Error() != "packr: PACKR_ERR_EXIT: the guest exited with code 4" || !errors.Is(e, ErrExit) {
		t.Fatalf("a zero ExitError: %v", e)
	}
}

func TestWASIReactor(t *testing.T) {
	rt := wasiRuntime(t, nil)
	reactor := loadGuest(t, rt, "wasi_reactor.wasm")
	inst, err := op(reactor.InstantiateWith(InstanceConfig{WASI: &WASIConfig{Stdout: WASICapture}}))
	mustNoErr(t, err)
	defer inst.Close()
	res, err := op(inst.Call("reactor_get"))
	mustNoErr(t, err)
	if res[0] != int32(41) {
		t.Fatalf("reactor_get = %v: _initialize did not run", res)
	}
	_, err = op(inst.Call("reactor_hello"))
	mustNoErr(t, err)
	out, err := op(inst.Stdout())
	mustNoErr(t, err)
	if string(out) != "hello from reactor\n" {
		t.Fatalf("stdout %q", out)
	}
	_, err = op(inst.Run())
	wantErr(t, err, ErrNotFound, "not a WASI command")

	// Without WASIConfig, a WASI runtime's instance still gets a (default) context.
	plain := instantiate(t, reactor)
	res, err = op(plain.Call("reactor_get"))
	mustNoErr(t, err)
	if res[0] != int32(41) {
		t.Fatalf("reactor_get = %v", res)
	}
	_, err = op(plain.Stdout())
	wantErr(t, err, ErrInvalidArgument, "not captured")
}

func TestWASIRefused(t *testing.T) {
	wasiRT := wasiRuntime(t, nil)
	probe := loadGuest(t, wasiRT, "wasi_probe.wasm")

	// A runtime whose host does not serve WASI refuses WASI options, and the module, naming
	// the fix in this package's terms.
	plain, err := op(NewRuntimeSharingEngine(wasiRT))
	mustNoErr(t, err)
	defer plain.Close()
	wrapped, err := op(plain.Wrap(probe))
	mustNoErr(t, err)
	defer wrapped.Close()
	_, err = op(wrapped.InstantiateWith(InstanceConfig{WASI: &WASIConfig{Args: []string{"x"}}}))
	wantErr(t, err, ErrInvalidArgument, "call Host.DefineWASI on the host")
	_, err = op(wrapped.Instantiate())
	e := wantErr(t, err, ErrLink, "wasi_snapshot_preview1::fd_write")
	if !strings.Contains(e.Message, "a host serves WASI with Host.DefineWASI") {
		t.Fatalf("message %q", e.Message)
	}

	tests := []struct {
		name     string
		cfg      WASIConfig
		sentinel *Error
		msg      string
	}{
		{"nul in arg", WASIConfig{Args: []string{"ok", "a\x00b"}}, ErrInvalidArgument, "WASIConfig.Args[1]"},
		{"arg not utf-8", WASIConfig{Args: []string{"\xff"}}, ErrInvalidArgument, "WASIConfig.Args[0] \"\\xff\" is not valid UTF-8"},
		{"env without =", WASIConfig{Env: []string{"A=1", "B"}}, ErrInvalidArgument, "WASIConfig.Env[1] \"B\" is not NAME=value"},
		{"env with nul", WASIConfig{Env: []string{"A=\x00"}}, ErrInvalidArgument, "WASIConfig.Env[0]"},
		{"preopen nul", WASIConfig{Preopens: []Preopen{{HostPath: "/tmp", GuestPath: "/\x00"}}}, ErrInvalidArgument, "WASIConfig.Preopens[0].GuestPath"},
		{"stdout mode", WASIConfig{Stdout: WASIOutput(7)}, ErrInvalidArgument, "unknown WASI output mode 7; use WASIInherit, WASIDiscard or WASICapture"},
		{"stderr mode", WASIConfig{Stderr: WASIOutput(9)}, ErrInvalidArgument, "unknown WASI output mode 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := op(probe.InstantiateWith(InstanceConfig{WASI: &tt.cfg}))
			wantErr(t, err, tt.sentinel, tt.msg)
		})
	}

	h := newTestHost(t)
	mustNoErr(t, h.Close())
	if err := h.DefineWASI(); !errors.Is(err, ErrClosed) {
		t.Fatalf("DefineWASI after Close: %v", err)
	}
	if s := WASICapture.String() + WASIOutput(5).String(); s != "captureWASIOutput(5)" {
		t.Fatalf("String: %q", s)
	}
}

// TestWASIConcurrent runs one compiled command on many goroutines at once, each instance
// with its own arguments, stdin and captured output.
func TestWASIConcurrent(t *testing.T) {
	probe := loadGuest(t, wasiRuntime(t, nil), "wasi_probe.wasm")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 10 {
				want := fmt.Sprintf("goroutine %d run %d\n", g, k)
				inst, err := op(probe.InstantiateWith(InstanceConfig{WASI: &WASIConfig{
					Args: []string{"probe", "stdin"}, Stdin: []byte(want), Stdout: WASICapture, Stderr: WASIDiscard,
				}}))
				if err != nil {
					errs <- err
					return
				}
				code, err := op(inst.Run())
				out, oerr := op(inst.Stdout())
				inst.Close()
				if err = errors.Join(err, oerr); err == nil && (code != 0 || string(out) != want) {
					err = fmt.Errorf("exit %d, stdout %q, want %q", code, out, want)
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

// TestQuickJS runs a real interpreter, compiled once, with a script per instance.
func TestQuickJS(t *testing.T) {
	qjs := loadGuest(t, wasiRuntime(t, nil), "quickjs.wasm")
	r := runCommand(t, qjs, WASIConfig{Args: []string{"qjs"}, Stdin: []byte("print(1+2)")})
	if r.code != 0 || r.out != "3\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	for i := range 3 {
		script := fmt.Sprintf("let n = %d; print([1, 2, 3].map(x => x * n).join(','))", i)
		r := runCommand(t, qjs, WASIConfig{Args: []string{"qjs"}, Stdin: []byte(script)})
		if want := fmt.Sprintf("%d,%d,%d\n", i, 2*i, 3*i); r.code != 0 || r.out != want {
			t.Fatalf("exit %d, stdout %q, want %q (stderr %q)", r.code, r.out, want, r.err)
		}
	}
	r = runCommand(t, qjs, WASIConfig{Args: []string{"qjs", "-e", "throw new Error('boom')"}})
	if r.code != 1 || !strings.Contains(r.err, "boom") {
		t.Fatalf("exit %d, stderr %q", r.code, r.err)
	}
}
