package packr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const casesDir = "../tests/cases"

// runCases runs tests/cases/cases.tsv, the table every binding shares (format in its
// header comment). Rows with `bad:` arguments need raw kinds Go cannot express; skipped.
func runCases(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(casesDir, "cases.tsv"))
	mustNoErr(t, err)
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 9 {
			t.Fatalf("malformed row: %q", line)
		}
		name, file, kind, export, args, nres, status, results, msg := f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]
		t.Run(name, func(t *testing.T) {
			if strings.Contains(args, "bad:") {
				t.Skip("raw valkind cases are for C/C++")
			}
			got, err := runCase(t, file, kind, export, parseVals(t, args), atoi(t, nres))
			checkStatus(t, err, status, msg)
			if err == nil && fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", parseVals(t, results)) {
				t.Fatalf("results %#v, want %s", got, results)
			}
		})
	}
}

func runCase(t *testing.T, file, kind, export string, args []any, nresults int) ([]any, error) {
	wasm, err := os.ReadFile(filepath.Join(casesDir, file))
	mustNoErr(t, err)
	rt := newTestRuntime(t)
	m, err := op(rt.Load(wasm))
	if err != nil || kind == "load" {
		return []any{}, err
	}
	defer m.Close()
	inst, err := op(m.Instantiate())
	if err != nil || kind == "instantiate" {
		return []any{}, err
	}
	defer inst.Close()
	if kind != "call" {
		t.Fatalf("unknown op %q", kind)
	}
	return op(inst.call(export, args, nresults))
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
