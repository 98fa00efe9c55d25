package packr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const casesDir = "../tests/cases"

// runCases runs tests/cases/cases.tsv, the table every binding shares (format in its
// header comment). Rows with `bad:` arguments need raw kinds Go cannot express; skipped.
// The case host is defined with Host.Define (typed funcs) and Host.DefineBytes.
func runCases(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(casesDir, "cases.tsv"))
	mustNoErr(t, err)
	rows := 0
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 9 {
			t.Fatalf("malformed row: %q", line)
		}
		rows++
		name, file, kind, export, args, nres, status, results, msg := f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]
		t.Run(name, func(t *testing.T) {
			if strings.Contains(args, "bad:") {
				t.Skip("raw valkind cases are for C/C++")
			}
			switch kind {
			case "bytes":
				out, err := runBytesCase(t, file, export, parseBytes(t, args))
				checkStatus(t, err, status, msg)
				checkCause(t, name, status, err)
				if err == nil && !bytes.Equal(out, parseBytes(t, results)) {
					t.Fatalf("output %.80q (%d bytes), want %.80s", out, len(out), results)
				}
			case "run":
				code, out, err := runRunCase(t, file, args)
				checkStatus(t, err, status, msg)
				if err == nil {
					wantExit, wantOut, _ := strings.Cut(results, " ")
					if got := fmt.Sprintf("exit:%d", code); got != wantExit {
						t.Fatalf("%s, want %s", got, wantExit)
					}
					if want := parseBytes(t, strings.Replace(wantOut, "out:", "str:", 1)); !bytes.Equal(out, want) {
						t.Fatalf("stdout %q, want %q", out, want)
					}
				}
			default:
				got, err := runCase(t, file, kind, export, parseVals(t, args), atoi(t, nres))
				checkStatus(t, err, status, msg)
				checkCause(t, name, status, err)
				if err == nil && fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", parseVals(t, results)) {
					t.Fatalf("results %#v, want %s", got, results)
				}
			}
		})
	}
	if rows < 53 {
		t.Fatalf("only %d rows", rows)
	}
}

func runCase(t *testing.T, file, kind, export string, args []any, nresults int) ([]any, error) {
	wasm, err := os.ReadFile(filepath.Join(casesDir, file))
	mustNoErr(t, err)
	var rt *Runtime
	var cfg InstanceConfig // the guardrail ops' settings
	switch kind {
	case "hostcall", "instantiate_host":
		rt = caseHostRuntime(t, newTestRuntime(t))
	case "timeout":
		rt, cfg.Timeout = newTestRuntime(t), 10*time.Millisecond
	case "fuel":
		fuel := uint64(10_000)
		rt, cfg.Fuel = newConfigRuntime(t, Config{Fuel: true}), &fuel
	case "limit":
		rt, cfg.MemoryLimit, cfg.TableLimit = newTestRuntime(t), 262_144, 10
	default:
		rt = newTestRuntime(t)
	}
	m, err := op(rt.Load(wasm))
	if err != nil || kind == "load" {
		return []any{}, err
	}
	defer m.Close()
	spawn := m.Instantiate
	if kind == "timeout" || kind == "fuel" || kind == "limit" {
		spawn = func() (*Instance, error) { return m.InstantiateWith(cfg) }
	}
	inst, err := op(spawn())
	if err != nil || kind == "instantiate" || kind == "instantiate_host" || export == "-" {
		return []any{}, err
	}
	defer inst.Close()
	switch kind {
	case "call", "hostcall", "timeout", "fuel", "limit":
		return op(inst.call(export, args, nresults))
	case "global_get":
		v, err := op(inst.GetGlobal(export))
		return []any{v.Interface()}, err
	case "global_set":
		if len(args) != 1 {
			t.Fatalf("global_set takes one arg, got %v", args)
		}
		var v Value
		mustNoErr(t, setValue(&v, args[0], 0, &funcSig{}))
		if err := opErr(inst.SetGlobal(export, v)); err != nil {
			return nil, err
		}
		v, err = op(inst.GetGlobal(export))
		return []any{v.Interface()}, err
	}
	t.Fatalf("unknown op %q", kind)
	return nil, nil
}

// runBytesCase makes a pack call of export on a fresh instance of file on the case host.
func runBytesCase(t *testing.T, file, export string, in []byte) ([]byte, error) {
	wasm, err := os.ReadFile(filepath.Join(casesDir, file))
	mustNoErr(t, err)
	rt := caseHostRuntime(t, newTestRuntime(t))
	m, err := op(rt.Load(wasm))
	if err != nil {
		return nil, err
	}
	defer m.Close()
	inst, err := op(m.Instantiate())
	if err != nil {
		return nil, err
	}
	defer inst.Close()
	return op(inst.CallBytes(export, in))
}

// runRunCase runs file's _start on the case host with the arguments "case" and args, and
// stdout captured: the exit code and all of stdout.
func runRunCase(t *testing.T, file, args string) (int, []byte, error) {
	wasm, err := os.ReadFile(filepath.Join(casesDir, file))
	mustNoErr(t, err)
	rt := caseHostRuntime(t, newTestRuntime(t))
	argv := []string{"case"}
	if args != "-" {
		for _, a := range strings.Fields(args) {
			argv = append(argv, string(parseBytes(t, a)))
		}
	}
	m, err := op(rt.Load(wasm))
	if err != nil {
		return 0, nil, err
	}
	defer m.Close()
	inst, err := op(m.InstantiateWith(InstanceConfig{WASI: &WASIConfig{Args: argv, Stdout: WASICapture}}))
	if err != nil {
		return 0, nil, err
	}
	defer inst.Close()
	code, err := op(inst.Run())
	out, oerr := op(inst.Stdout())
	mustNoErr(t, oerr)
	return code, out, err
}

// parseBytes turns a BYTES value (str:TEXT with \n for a newline, or rep:N:C) into bytes;
// "-" is empty.
func parseBytes(t *testing.T, s string) []byte {
	t.Helper()
	if s == "-" {
		return []byte{}
	}
	kind, v, _ := strings.Cut(s, ":")
	switch kind {
	case "str":
		return []byte(strings.ReplaceAll(v, `\n`, "\n"))
	case "rep":
		n, c, ok := strings.Cut(v, ":")
		if !ok || len(c) != 1 {
			t.Fatalf("malformed %q", s)
		}
		return bytes.Repeat([]byte(c), atoi(t, n))
	}
	t.Fatalf("not BYTES: %q", s)
	return nil
}

// refusedError is what the case host's fail returns, so a row can check that the error
// returned by the call reaches it.
type refusedError struct{ n int32 }

func (e *refusedError) Error() string { return fmt.Sprintf("refused %d", e.n) }

var errTransformRefused = errors.New("transform refused")

// transform is the case host's bytes function.
func transform(_ *Caller, in []byte) ([]byte, error) {
	switch string(in) {
	case "guest-error":
		return nil, ErrGuest
	case "host-error":
		return nil, errTransformRefused
	}
	return bytes.ToUpper(in), nil
}

// caseHostRuntime returns a runtime sharing base's engine whose imports are served by
// "the case host" (cases.tsv's header), defined through the typed API.
func caseHostRuntime(t *testing.T, base *Runtime) *Runtime {
	t.Helper()
	host, err := op(NewHost())
	mustNoErr(t, err)
	defer host.Close() // the runtime keeps the definitions
	defs := map[string]any{
		"add": func(a, b int32) int32 { return a + b },
		"fail": func(n int32) (int32, error) {
			return 0, &refusedError{n}
		},
		"peek": func(c *Caller, addr int32) (int32, error) {
			b, err := c.ReadMemory("memory", uint64(uint32(addr)), 1)
			if err != nil {
				return 0, err // the read's own message
			}
			return int32(b[0]), nil
		},
		"twice": func(c *Caller, x int32) (int32, error) {
			res, err := c.Call("double", x)
			if err != nil {
				return 0, err
			}
			return res[0].(int32) + 1, nil
		},
		"swap": func(v Vec128) Vec128 {
			var out Vec128
			copy(out[:8], v[8:])
			copy(out[8:], v[:8])
			return out
		},
	}
	for name, fn := range defs {
		mustNoErr(t, opErr(host.Define("host", name, fn)))
	}
	mustNoErr(t, opErr(host.DefineBytes("host", "transform", transform)))
	mustNoErr(t, opErr(host.DefineWASI()))
	rt, err := op(NewRuntimeWithHost(base, host))
	mustNoErr(t, err)
	t.Cleanup(func() { rt.Close() })
	return rt
}

// checkCause checks what the package adds to a failed row's *Error: for PACKR_ERR_HOST,
// the Go error the case host's function returned; for PACKR_ERR_EXIT, an *ExitError with
// the code the message names.
func checkCause(t *testing.T, row, status string, err error) {
	t.Helper()
	switch status {
	case "PACKR_ERR_HOST":
		checkHostCause(t, row, err)
	case "PACKR_ERR_EXIT":
		var exit *ExitError
		if !errors.As(err, &exit) || !errors.Is(err, ErrExit) {
			t.Fatalf("%v is not an *ExitError", err)
		}
		if !strings.HasSuffix(err.Error(), fmt.Sprintf("with code %d", exit.Code)) {
			t.Fatalf("code %d, message %q", exit.Code, err)
		}
	}
}

// checkHostCause checks, for rows that expect PACKR_ERR_HOST, that the error returned by
// the call (an *Error with StatusHost and packr's message, checked by checkStatus) also
// unwraps to the Go error the case host's function returned.
func checkHostCause(t *testing.T, row string, err error) {
	t.Helper()
	if !errors.Is(err, ErrHost) {
		t.Fatalf("%v is not ErrHost", err)
	}
	switch row {
	case "host_fail":
		var refused *refusedError
		if !errors.As(err, &refused) || refused.n != 7 {
			t.Fatalf("%v does not unwrap to the refusedError{7} the host function returned", err)
		}
	case "host_peek_outside":
		// peek returned the memory read's *Error: reached through the HOST error.
		var outer *Error
		errors.As(err, &outer)
		inner := outer.Unwrap()
		if !errors.Is(inner, ErrOutOfBounds) || !errors.Is(err, ErrOutOfBounds) {
			t.Fatalf("%v does not unwrap to the read's ErrOutOfBounds (cause %v)", err, inner)
		}
	case "pack_host_fails":
		if !errors.Is(err, errTransformRefused) {
			t.Fatalf("%v does not unwrap to the error transform returned", err)
		}
	default:
		t.Fatalf("row %s expects PACKR_ERR_HOST: say what its cause is", row)
	}
}

func checkStatus(t *testing.T, err error, status, msg string) {
	t.Helper()
	if status == "PACKR_OK" {
		mustNoErr(t, err)
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want %s", err, status)
	}
	if e.StatusName != status {
		t.Fatalf("got %v, want %s", err, status)
	}
	if msg != "-" && !strings.Contains(e.Message, msg) {
		t.Fatalf("message %q does not contain %q", e.Message, msg)
	}
}

// parseVals turns "i32:2 f64:1.5" into typed Go values; "-" is none.
func parseVals(t *testing.T, s string) []any {
	t.Helper()
	if s == "-" {
		return []any{}
	}
	var out []any
	for _, field := range strings.Fields(s) {
		kind, v, _ := strings.Cut(field, ":")
		var x any
		var err error
		switch kind {
		case "i32":
			var n int64
			n, err = strconv.ParseInt(v, 10, 32)
			x = int32(n)
		case "i64":
			x, err = strconv.ParseInt(v, 10, 64)
		case "f32":
			var f float64
			f, err = strconv.ParseFloat(v, 32)
			x = float32(f)
		case "f64":
			x, err = strconv.ParseFloat(v, 64)
		case "v128":
			var b []byte
			if b, err = hex.DecodeString(v); err == nil && len(b) != 16 {
				err = fmt.Errorf("%d bytes, want 16", len(b))
			}
			if err == nil {
				x = Vec128(b)
			}
		default:
			err = fmt.Errorf("unknown kind %q", kind)
		}
		if err != nil {
			t.Fatalf("value %q: %v", field, err)
		}
		out = append(out, x)
	}
	return out
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	mustNoErr(t, err)
	return n
}
