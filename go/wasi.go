package packr

// None of these can call back into Go, but Instance.Run (below, not listed).

// #cgo noescape packr_go_instance_config_new
// #cgo nocallback packr_go_instance_config_new
// #cgo noescape packr_go_instance_config_set_wasi_args
// #cgo nocallback packr_go_instance_config_set_wasi_args
// #cgo noescape packr_go_instance_config_set_wasi_env
// #cgo nocallback packr_go_instance_config_set_wasi_env
// #cgo noescape packr_go_instance_config_set_wasi_stdin
// #cgo nocallback packr_go_instance_config_set_wasi_stdin
// #cgo noescape packr_go_instance_config_set_wasi_stdout
// #cgo nocallback packr_go_instance_config_set_wasi_stdout
// #cgo noescape packr_go_instance_config_set_wasi_stderr
// #cgo nocallback packr_go_instance_config_set_wasi_stderr
// #cgo noescape packr_go_instance_config_set_wasi_capture_limit
// #cgo nocallback packr_go_instance_config_set_wasi_capture_limit
// #cgo noescape packr_go_instance_config_wasi_preopen_dir
// #cgo nocallback packr_go_instance_config_wasi_preopen_dir
// #cgo nocallback packr_instance_config_free
// #cgo noescape packr_go_instance_wasi_output
// #cgo nocallback packr_go_instance_wasi_output
// #cgo noescape packr_go_instance_wasi_dropped
// #cgo nocallback packr_go_instance_wasi_dropped
// #cgo noescape packr_instance_exit_code
// #cgo nocallback packr_instance_exit_code
// #cgo noescape packr_bytes_free
// #cgo nocallback packr_bytes_free
// #cgo noescape packr_go_host_define_wasi
// #cgo nocallback packr_go_host_define_wasi
// #include "shim.h"
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// DefineWASI makes runtimes made from the host after this call serve WASI preview 1
// (wasi_snapshot_preview1, and its older name wasi_unstable) to their instances, each with
// a WASI context of its own made from its InstanceConfig.WASI. Functions the host defines
// itself under those module names replace WASI's. Calling it again is a no-op.
func (h *Host) DefineWASI() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ptr == nil {
		return ErrClosed
	}
	var msg *C.char
	err := check(C.packr_go_host_define_wasi(h.ptr, &msg), msg)
	runtime.KeepAlive(h)
	return err
}

// WASIOutput says where a WASI instance's stdout or stderr goes. The zero value is
// WASIInherit.
type WASIOutput uint32

// The output modes, as in packr.h.
const (
	// WASIInherit writes to this process's own stream.
	WASIInherit WASIOutput = C.PACKR_WASI_INHERIT
	// WASIDiscard drops what the guest writes (its writes succeed).
	WASIDiscard WASIOutput = C.PACKR_WASI_DISCARD
	// WASICapture keeps what the guest writes in the instance, up to
	// WASIConfig.CaptureLimit, for Instance.Stdout or Stderr to take out. Bytes written
	// while the capture is full are dropped and counted (Instance.StdoutDropped); the
	// guest's writes succeed either way.
	WASICapture WASIOutput = C.PACKR_WASI_CAPTURE
)

func (o WASIOutput) String() string {
	switch o {
	case WASIInherit:
		return "inherit"
	case WASIDiscard:
		return "discard"
	case WASICapture:
		return "capture"
	}
	return "WASIOutput(" + strconv.FormatUint(uint64(o), 10) + ")"
}

// Preopen gives a WASI guest one host directory.
type Preopen struct {
	HostPath  string // an existing directory on the host
	GuestPath string // where the guest sees it, such as "/data"
	Writable  bool   // whether the guest may create, write and remove files in it
}

// WASIConfig is an instance's WASI preview 1 context (InstanceConfig.WASI). Its zero value
// is packr's defaults: no arguments, an empty environment, empty stdin, stdout and stderr
// inherited from this process, no directories.
//
// Strings must be valid UTF-8 without NUL bytes; a string that is not is
// ErrInvalidArgument naming the field. The guest reaches nothing of the host's file system
// outside its Preopens: ".." and absolute paths elsewhere are refused by WASI.
type WASIConfig struct {
	// Args are the program's arguments; Args[0] is, by convention, its name.
	Args []string
	// Env is the program's environment, in order, each entry "NAME=value" (split at the
	// first '='), as in os/exec's Cmd.Env. The host's own environment is never passed on by
	// itself: pass os.Environ() for that.
	Env []string
	// Stdin is what the program reads from stdin, then end of file. Each instance reads its
	// own copy from the start.
	Stdin []byte
	// Stdout and Stderr say where the program's output goes.
	Stdout, Stderr WASIOutput
	// CaptureLimit is how many bytes each captured stream holds before it drops what comes
	// after (until taken out with Instance.Stdout or Stderr). nil keeps packr's default
	// (1 MiB); 0 is a setting of its own (keep nothing, count everything as dropped).
	CaptureLimit *uint64
	// Preopens are the host directories the program may use, in order.
	Preopens []Preopen
}

// validate checks the strings here, so errors name the Go fields.
func (c *WASIConfig) validate() error {
	bad := func(field, s string) error {
		if strings.IndexByte(s, 0) >= 0 {
			return newError(StatusInvalidArgument, fmt.Sprintf("WASIConfig.%s %q contains a NUL byte", field, s))
		}
		if !utf8.ValidString(s) {
			return newError(StatusInvalidArgument, fmt.Sprintf("WASIConfig.%s %q is not valid UTF-8", field, s))
		}
		return nil
	}
	for k, a := range c.Args {
		if err := bad(fmt.Sprintf("Args[%d]", k), a); err != nil {
			return err
		}
	}
	for k, e := range c.Env {
		if !strings.Contains(e, "=") {
			return newError(StatusInvalidArgument, fmt.Sprintf("WASIConfig.Env[%d] %q is not NAME=value", k, e))
		}
		if err := bad(fmt.Sprintf("Env[%d]", k), e); err != nil {
			return err
		}
	}
	for k, p := range c.Preopens {
		if err := bad(fmt.Sprintf("Preopens[%d].HostPath", k), p.HostPath); err != nil {
			return err
		}
		if err := bad(fmt.Sprintf("Preopens[%d].GuestPath", k), p.GuestPath); err != nil {
			return err
		}
	}
	return nil
}

func (c *WASIConfig) apply(cfg *C.packr_instance_config) error {
	var msg *C.char
	if len(c.Args) > 0 {
		argv, free := cStrings(c.Args)
		st := C.packr_go_instance_config_set_wasi_args(cfg, argv, C.size_t(len(c.Args)), &msg)
		free()
		if err := check(st, msg); err != nil {
			return err
		}
	}
	if len(c.Env) > 0 {
		names, values := make([]string, len(c.Env)), make([]string, len(c.Env))
		for k, e := range c.Env {
			names[k], values[k], _ = strings.Cut(e, "=")
		}
		cn, freeNames := cStrings(names)
		cv, freeValues := cStrings(values)
		st := C.packr_go_instance_config_set_wasi_env(cfg, cn, cv, C.size_t(len(c.Env)), &msg)
		freeNames()
		freeValues()
		if err := check(st, msg); err != nil {
			return err
		}
	}
	if len(c.Stdin) > 0 {
		st := C.packr_go_instance_config_set_wasi_stdin(cfg, (*C.uint8_t)(unsafe.Pointer(&c.Stdin[0])), C.size_t(len(c.Stdin)), &msg)
		if err := check(st, msg); err != nil {
			return err
		}
	}
	if c.Stdout != WASIInherit {
		if err := check(C.packr_go_instance_config_set_wasi_stdout(cfg, C.packr_wasi_output(c.Stdout), &msg), msg); err != nil {
			return err
		}
	}
	if c.Stderr != WASIInherit {
		if err := check(C.packr_go_instance_config_set_wasi_stderr(cfg, C.packr_wasi_output(c.Stderr), &msg), msg); err != nil {
			return err
		}
	}
	if c.CaptureLimit != nil {
		limit := C.size_t(min(*c.CaptureLimit, uint64(math.MaxUint)))
		if err := check(C.packr_go_instance_config_set_wasi_capture_limit(cfg, limit, &msg), msg); err != nil {
			return err
		}
	}
	for _, p := range c.Preopens {
		ch, cg := C.CString(p.HostPath), C.CString(p.GuestPath)
		st := C.packr_go_instance_config_wasi_preopen_dir(cfg, ch, cg, C.bool(p.Writable), &msg)
		C.free(unsafe.Pointer(ch))
		C.free(unsafe.Pointer(cg))
		if err := check(st, msg); err != nil {
			return err
		}
	}
	return nil
}

// cStrings copies list into one C block: the pointer array, then the NUL-terminated
// strings. free releases it.
func cStrings(list []string) (**C.char, func()) {
	ptrs := uintptr(len(list)) * unsafe.Sizeof((*C.char)(nil))
	size := ptrs
	for _, s := range list {
		size += uintptr(len(s)) + 1
	}
	block := C.malloc(C.size_t(size)) // cgo's malloc never returns NULL
	table := unsafe.Slice((**C.char)(block), len(list))
	text := unsafe.Slice((*byte)(block), size)[ptrs:]
	for k, s := range list {
		table[k] = (*C.char)(unsafe.Pointer(&text[0]))
		text = text[copy(text, s):]
		text[0] = 0
		text = text[1:]
	}
	return (**C.char)(block), func() { C.free(block) }
}

// Run runs the WASI command's _start and returns its exit code: 0 when _start returns,
// n when the guest calls proc_exit(n); both with a nil error. It works without WASI as
// well, for any module exporting a _start without parameters and results. A module without
// _start (a reactor, whose _initialize ran at instantiation) is ErrNotFound; otherwise the
// errors are Call's (traps, host functions, ErrBusy).
//
// The output of a run whose streams are captured is read afterwards with Stdout and Stderr.
func (i *Instance) Run() (int, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return 0, ErrClosed
	}
	r := C.packr_go_instance_run(i.ptr)
	runtime.KeepAlive(i)
	if r.st != C.PACKR_OK {
		return 0, i.failed(r.st, checkErr(r.st, r.err))
	}
	return int(r.code), nil
}

// failed completes a failed call on i: a proc_exit becomes an *ExitError with the guest's
// code; a failed host function gets its Go cause (see instState.finish).
func (i *Instance) failed(st C.packr_status, err *Error) error {
	if st == C.PACKR_ERR_EXIT {
		var code C.int32_t
		if C.packr_instance_exit_code(i.ptr, &code) == C.PACKR_OK {
			runtime.KeepAlive(i)
			return &ExitError{Code: int(code), err: err}
		}
	}
	return i.state.finish(st, err)
}

// Stdout takes out what the guest wrote to its captured stdout so far: the next call
// returns only what was written after this one. A stdout not captured (WASICapture) is
// ErrInvalidArgument. It does not touch the store, so it may be called while a call runs
// on another goroutine (not from the instance's own host functions).
func (i *Instance) Stdout() ([]byte, error) { return i.wasiOutput(1) }

// Stderr is Stdout for the captured stderr.
func (i *Instance) Stderr() ([]byte, error) { return i.wasiOutput(2) }

// StdoutDropped returns how many bytes the captured stdout has dropped since the instance
// was made, because the guest wrote them while the capture held WASIConfig.CaptureLimit
// bytes. 0 means every byte was kept. Its errors are Stdout's.
func (i *Instance) StdoutDropped() (uint64, error) { return i.wasiDropped(1) }

// StderrDropped is StdoutDropped for the captured stderr.
func (i *Instance) StderrDropped() (uint64, error) { return i.wasiDropped(2) }

func (i *Instance) wasiOutput(fd C.int32_t) ([]byte, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return nil, ErrClosed
	}
	var b C.packr_bytes
	var msg *C.char
	st := C.packr_go_instance_wasi_output(i.ptr, fd, &b, &msg)
	runtime.KeepAlive(i)
	if err := check(st, msg); err != nil {
		return nil, err
	}
	return takeBytes(&b), nil
}

func (i *Instance) wasiDropped(fd C.int32_t) (uint64, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.ptr == nil {
		return 0, ErrClosed
	}
	var n C.uint64_t
	var msg *C.char
	st := C.packr_go_instance_wasi_dropped(i.ptr, fd, &n, &msg)
	runtime.KeepAlive(i)
	if err := check(st, msg); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// takeBytes copies packr's bytes into Go memory, once, and frees them. Empty is []byte{}.
func takeBytes(b *C.packr_bytes) []byte {
	if b.len == 0 {
		return []byte{}
	}
	out := append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(b.data)), int(b.len))...)
	C.packr_bytes_free(b)
	return out
}
