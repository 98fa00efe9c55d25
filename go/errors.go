package packr

// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unsafe"
)

// Status numbers, as in packr.h. They are stable and never reused; a number this package
// does not know is reported with StatusName "UNKNOWN".
const (
	StatusOK              int32 = C.PACKR_OK
	StatusNullPointer     int32 = C.PACKR_ERR_NULL_POINTER
	StatusInvalidArgument int32 = C.PACKR_ERR_INVALID_ARGUMENT
	StatusCompile         int32 = C.PACKR_ERR_COMPILE
	StatusEngineMismatch  int32 = C.PACKR_ERR_ENGINE_MISMATCH
	StatusLink            int32 = C.PACKR_ERR_LINK
	StatusNotFound        int32 = C.PACKR_ERR_NOT_FOUND
	StatusTypeMismatch    int32 = C.PACKR_ERR_TYPE_MISMATCH
	StatusTrap            int32 = C.PACKR_ERR_TRAP
	StatusOutOfBounds     int32 = C.PACKR_ERR_OUT_OF_BOUNDS
	StatusBusy            int32 = C.PACKR_ERR_BUSY
	StatusPanic           int32 = C.PACKR_ERR_PANIC
	StatusInstantiate     int32 = C.PACKR_ERR_INSTANTIATE
	StatusPoolExhausted   int32 = C.PACKR_ERR_POOL_EXHAUSTED
	StatusResource        int32 = C.PACKR_ERR_RESOURCE
	StatusHost            int32 = C.PACKR_ERR_HOST
	StatusExit            int32 = C.PACKR_ERR_EXIT
	StatusGuest           int32 = C.PACKR_ERR_GUEST
	StatusTimeout         int32 = C.PACKR_ERR_TIMEOUT     // InstanceConfig.Timeout stopped the call
	StatusInterrupted     int32 = C.PACKR_ERR_INTERRUPTED // an interrupt or a done context stopped it
	StatusOutOfFuel       int32 = C.PACKR_ERR_OUT_OF_FUEL // the guest used up its fuel
	StatusLimit           int32 = C.PACKR_ERR_LIMIT       // a module or instance is above its limit
	StatusArtifact        int32 = C.PACKR_ERR_ARTIFACT    // a serialized module failed verification
)

// Error is a failed packr operation: the status the core returned (or the one this
// package chose for a failure it caught first) and the message naming the problem.
// A trap's message starts with the trap reason; a wasm backtrace may follow on later lines.
// Where packr's message names a C function to call or a C constant, it names this
// package's equivalent instead ("enable it with Config.Fuel", not packr_config_set_fuel).
//
// Use errors.Is with the Err* sentinels to test the status.
//
// A call that failed because a host function (a Go func defined on a Host) returned an
// error is an *Error with StatusHost whose Message is packr's ("host function env::read
// failed: " and the error's text, then the wasm backtrace), and whose Unwrap returns the
// error the Go func returned: errors.Is and errors.As reach it (and whatever it wraps)
// through the *Error.
//
// A pack call whose guest failed is an *Error with StatusGuest (ErrGuest), and one the
// guest ended with proc_exit is an *ExitError wrapping an *Error with StatusExit.
type Error struct {
	Status     int32  // a Status* constant
	StatusName string // such as "PACKR_ERR_TRAP", or "UNKNOWN"
	Message    string // empty only in the sentinels

	cause error // for StatusHost: what the host function returned
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "packr: " + e.StatusName
	}
	return "packr: " + e.StatusName + ": " + e.Message
}

// Unwrap returns the error a host function returned, for an error with StatusHost that a
// Go host function caused; nil otherwise.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same status, so that
// errors.Is(err, ErrTrap) holds for every trap whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// Sentinels for errors.Is, one per status. Compare with errors.Is, never with ==: the
// errors returned carry their own messages.
var (
	ErrNullPointer     = newError(StatusNullPointer, "")
	ErrInvalidArgument = newError(StatusInvalidArgument, "")
	ErrCompile         = newError(StatusCompile, "")
	ErrEngineMismatch  = newError(StatusEngineMismatch, "")
	ErrLink            = newError(StatusLink, "")
	ErrNotFound        = newError(StatusNotFound, "")
	ErrTypeMismatch    = newError(StatusTypeMismatch, "")
	ErrTrap            = newError(StatusTrap, "")
	ErrOutOfBounds     = newError(StatusOutOfBounds, "")
	ErrBusy            = newError(StatusBusy, "")
	ErrPanic           = newError(StatusPanic, "")
	ErrInstantiate     = newError(StatusInstantiate, "")
	ErrPoolExhausted   = newError(StatusPoolExhausted, "")
	ErrResource        = newError(StatusResource, "")
	ErrHost            = newError(StatusHost, "")
	ErrExit            = newError(StatusExit, "")  // also an *ExitError when a call ended this way
	ErrGuest           = newError(StatusGuest, "") // a pack call's guest failed; see also Host.DefineBytes

	// ErrTimeout: the call ran past its instance's timeout (InstanceConfig.Timeout,
	// Instance.SetTimeout) and was stopped; the message names the timeout. The instance
	// stays usable.
	ErrTimeout = newError(StatusTimeout, "")
	// ErrInterrupted: the call was stopped by Instance.Interrupt or InterruptCall, or by
	// its context (Instance.CallContext; the error then also matches the context's error).
	// The instance stays usable.
	ErrInterrupted = newError(StatusInterrupted, "")
	// ErrOutOfFuel: the guest used up its fuel (InstanceConfig.Fuel); Instance.AddFuel
	// gives it more. The instance stays usable.
	ErrOutOfFuel = newError(StatusOutOfFuel, "")
	// ErrLimit: a module larger than Config.MaxModuleBytes, or an instance whose memory or
	// table starts above InstanceConfig.MemoryLimit or TableLimit; the message names the
	// limit.
	ErrLimit = newError(StatusLimit, "")
	// ErrArtifact: Runtime.Deserialize or DeserializeKeyed refused the bytes: they are
	// damaged or truncated, not an artifact, made by an engine with other settings (or
	// another wasmtime or packr version), or written with another key or none. The message
	// names the check that failed, such as "artifact rejected: checksum mismatch (the
	// artifact is damaged)". A Cache never returns it: it recompiles instead.
	ErrArtifact = newError(StatusArtifact, "")
)

// ErrClosed is returned by any method of a Runtime, Module, Instance, Host or Func after
// its Close, and by a Caller's methods once its callback has returned.
var ErrClosed = errors.New("packr: handle is closed")

func newError(status int32, msg string) *Error {
	return &Error{Status: status, StatusName: C.GoString(C.packr_status_name(C.int32_t(status))), Message: msg}
}

// check turns a shim's status and malloc'd message into an error, freeing the message.
func check(st C.packr_status, msg *C.char) error {
	if st == C.PACKR_OK {
		return nil
	}
	return checkErr(st, msg)
}

// checkErr is check's failure path, kept out of line so check inlines into hot calls.
func checkErr(st C.packr_status, msg *C.char) *Error {
	m := "(no message)"
	if msg != nil {
		m = C.GoString(msg)
		C.free(unsafe.Pointer(msg))
	}
	switch st {
	case C.PACKR_ERR_INVALID_ARGUMENT, C.PACKR_ERR_LINK, C.PACKR_ERR_LIMIT, C.PACKR_ERR_ENGINE_MISMATCH,
		C.PACKR_ERR_RESOURCE:
		m = goMessage(m)
	case C.PACKR_ERR_INTERRUPTED, C.PACKR_ERR_OUT_OF_FUEL:
		// packr's own first line; a wasm backtrace naming guest functions may follow.
		first, rest, more := strings.Cut(m, "\n")
		if m = goMessage(first); more {
			m += "\n" + rest
		}
	}
	return newError(int32(st), m)
}

// goMessage rewrites the C API names in one of packr's messages into this package's
// names, whole words only; a name without a Go equivalent stays. Only the statuses
// checkErr lists get it: other messages may quote guest or host-function text.
func goMessage(m string) string {
	if !strings.Contains(m, "packr_") && !strings.Contains(m, "PACKR_") {
		return m
	}
	m = goPhrases.Replace(m)
	return cAPIName.ReplaceAllStringFunc(m, func(name string) string {
		if g, ok := goNames[name]; ok {
			return g
		}
		return name
	})
}

// cAPIName matches a C function or constant name as a whole word.
var cAPIName = regexp.MustCompile(`\b(?:packr|PACKR)_[A-Za-z0-9_]+\b`)

// goNames maps every C name packr's messages mention (grep src/ for them) to what a Go
// user calls or sets instead.
var goNames = map[string]string{
	"packr_runtime_new_sharing_engine":       "NewRuntimeSharingEngine",
	"packr_config_set_fuel":                  "Config.Fuel",
	"packr_config_set_memory_reservation":    "Config.MemoryReservation",
	"packr_config_set_max_module_bytes":      "Config.MaxModuleBytes",
	"packr_instance_config_set_memory_limit": "InstanceConfig.MemoryLimit",
	"packr_instance_config_set_table_limit":  "InstanceConfig.TableLimit",
	"packr_instance_interrupt":               "Instance.Interrupt, InterruptCall or a done context",
	"packr_instance_add_fuel":                "Instance.AddFuel",
	"packr_host_define_wasi":                 "Host.DefineWASI",
	"packr_host_define_bytes":                "Host.DefineBytes",
	"packr_module_func":                      "Module.Func",
	"PACKR_WASI_INHERIT":                     "WASIInherit",
	"PACKR_WASI_DISCARD":                     "WASIDiscard",
	"PACKR_WASI_CAPTURE":                     "WASICapture",
}

// goPhrases rewrites the advice whose C wording does not fit Go once the names change.
var goPhrases = strings.NewReplacer(
	"set PACKR_WASI_CAPTURE on its instance config", "set WASICapture in its WASIConfig",
)

// ExitError is the error of a call that ended because the guest called WASI's proc_exit
// (outside Instance.Run, which returns the code instead): Code is what the guest passed.
// It unwraps to an *Error with StatusExit (message "the guest exited with code N"), so
// errors.Is(err, ErrExit) holds, and errors.As reaches both:
//
//	var exit *packr.ExitError
//	if errors.As(err, &exit) { log.Printf("guest exited with %d", exit.Code) }
//
// Instantiation that exits (a start function or a reactor's _initialize calling
// proc_exit), and Caller.Call from inside a host function, give a plain *Error with
// StatusExit instead: packr reports no code there.
type ExitError struct {
	Code int
	err  *Error
}

func (e *ExitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("packr: PACKR_ERR_EXIT: the guest exited with code %d", e.Code)
	}
	return e.err.Error()
}

// Unwrap returns the *Error with StatusExit.
func (e *ExitError) Unwrap() error {
	if e.err == nil {
		return ErrExit
	}
	return e.err
}
