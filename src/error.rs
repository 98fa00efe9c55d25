//! Statuses and the crate's error type.
//!
//! Every fallible call returns a `packr_status`. The numbers are part of the ABI: they are
//! explicit, stable, and never reused. A retired number stays here as a comment.

use std::borrow::Cow;
use std::ffi::{c_char, CStr};
use std::fmt::{self, Write as _};

use crate::boundary::{guard_value, last_error_ptr};

/// The result of a packr call: `PACKR_OK` (0) on success, one of the `PACKR_ERR_*` numbers
/// otherwise. On failure, `packr_last_error()` on the same thread returns a message that
/// names the problem.
///
/// The numbers are stable across releases and never reused. A host that receives a number
/// it does not know must treat it as an unknown failure (`packr_status_name` returns
/// `"UNKNOWN"` for it).
#[allow(non_camel_case_types)]
pub type packr_status = i32;

/// Success.
pub const PACKR_OK: packr_status = 0;
/// A required pointer argument was NULL.
pub const PACKR_ERR_NULL_POINTER: packr_status = 1;
/// An argument was malformed: a string that is not UTF-8, a length that does not fit, an
/// unknown constant.
pub const PACKR_ERR_INVALID_ARGUMENT: packr_status = 2;
/// The bytes are not a valid WebAssembly module (binary or text), or compilation failed.
pub const PACKR_ERR_COMPILE: packr_status = 3;
/// The module was compiled by an engine that the runtime does not share.
pub const PACKR_ERR_ENGINE_MISMATCH: packr_status = 4;
/// An import of the module is missing or has the wrong type; the message names it.
pub const PACKR_ERR_LINK: packr_status = 5;
/// The module or instance has no export of that name.
pub const PACKR_ERR_NOT_FOUND: packr_status = 6;
/// Argument or result kinds or counts do not match the export's signature, the export is
/// of another kind than asked for, or its signature uses a type packr values cannot carry.
pub const PACKR_ERR_TYPE_MISMATCH: packr_status = 7;
/// WebAssembly trapped; the message starts with the trap reason and may be followed by a
/// wasm backtrace on the next lines. The instance stays usable.
pub const PACKR_ERR_TRAP: packr_status = 8;
/// A memory access fell outside the memory's current size.
pub const PACKR_ERR_OUT_OF_BOUNDS: packr_status = 9;
/// The instance is in use by a call on another thread (or further up this thread's stack).
pub const PACKR_ERR_BUSY: packr_status = 10;
/// packr panicked internally; the panic was caught at the boundary. Please report it.
pub const PACKR_ERR_PANIC: packr_status = 11;
/// Instantiation failed for a reason other than linking or a trap, for example when the
/// memory or address space for the instance could not be reserved.
pub const PACKR_ERR_INSTANTIATE: packr_status = 12;
/// A pooled runtime has as many live instances (or memories, tables) as its pool holds; the
/// message names the limit. Instantiation succeeds again once an instance is freed.
pub const PACKR_ERR_POOL_EXHAUSTED: packr_status = 13;
/// The operating system refused memory or address space, for example a pooled runtime's
/// up-front reservation where virtual memory is limited (`ulimit -v`). Its message is
/// formatted only if the memory for it can be had (a fixed text otherwise), and the
/// thread's last-error buffer keeps 1 KiB so that recording it allocates nothing.
///
/// What packr cannot turn into a status: a failed allocation of the process's own heap
/// inside packr or wasmtime (compiling, instantiating, a call's bookkeeping) aborts the
/// process, as Rust's standard library does and as wasmtime's own C API does; Rust offers
/// no stable way to catch it. A host that must survive memory pressure bounds what guests
/// can take (`packr_instance_config_set_memory_limit`, pool sizes,
/// `packr_config_set_max_module_bytes`) so that the heap itself never runs out.
pub const PACKR_ERR_RESOURCE: packr_status = 14;
/// A host function failed (its callback returned a status other than `PACKR_OK`, or wrote
/// results of the wrong kind), so the guest trapped. The message's first line is
/// `host function MODULE::NAME failed: ` and the callback's message (see
/// `packr_caller_set_error`), or the status name it returned; a wasm backtrace may follow on
/// the next lines. The instance stays usable.
pub const PACKR_ERR_HOST: packr_status = 15;
/// The guest called WASI's `proc_exit` outside `packr_instance_run` (which reports it as
/// an exit code instead). The message is `the guest exited with code N`;
/// `packr_instance_exit_code` returns N.
pub const PACKR_ERR_EXIT: packr_status = 16;
/// A pack call's guest returned an error (-1): the message is the guest's own, after
/// `the guest's EXPORT failed: `. Also a guest that broke the pack convention (an unknown
/// return code, a failed `__pack_alloc`); the message says which.
pub const PACKR_ERR_GUEST: packr_status = 17;
/// The call ran past the instance's timeout (`packr_instance_config_set_timeout_ms`,
/// `packr_instance_set_timeout_ms`) and was stopped; the message names the timeout. The
/// instance stays usable.
pub const PACKR_ERR_TIMEOUT: packr_status = 18;
/// The call was stopped by `packr_instance_interrupt` (or an interrupter). The instance
/// stays usable.
pub const PACKR_ERR_INTERRUPTED: packr_status = 19;
/// The guest used up its fuel (`packr_instance_config_set_fuel`); `packr_instance_add_fuel`
/// gives it more. The instance stays usable.
pub const PACKR_ERR_OUT_OF_FUEL: packr_status = 20;
/// A limit packr enforces was reached: a module larger than
/// `packr_config_set_max_module_bytes`, or an instance whose initial memory or table is
/// larger than its config's limit. The message names the limit.
pub const PACKR_ERR_LIMIT: packr_status = 21;
/// A serialized module (an artifact of `packr_module_serialize` or a cache file) failed
/// verification before wasmtime read any of it: damaged, truncated, not an artifact, made by
/// an engine with other settings or another version, or not signed with the expected key.
/// The message names the check that failed.
pub const PACKR_ERR_ARTIFACT: packr_status = 22;

/// Every status with its name, in number order. The single source for `packr_status_name`.
const NAMES: &[(packr_status, &CStr)] = &[
    (PACKR_OK, c"PACKR_OK"),
    (PACKR_ERR_NULL_POINTER, c"PACKR_ERR_NULL_POINTER"),
    (PACKR_ERR_INVALID_ARGUMENT, c"PACKR_ERR_INVALID_ARGUMENT"),
    (PACKR_ERR_COMPILE, c"PACKR_ERR_COMPILE"),
    (PACKR_ERR_ENGINE_MISMATCH, c"PACKR_ERR_ENGINE_MISMATCH"),
    (PACKR_ERR_LINK, c"PACKR_ERR_LINK"),
    (PACKR_ERR_NOT_FOUND, c"PACKR_ERR_NOT_FOUND"),
    (PACKR_ERR_TYPE_MISMATCH, c"PACKR_ERR_TYPE_MISMATCH"),
    (PACKR_ERR_TRAP, c"PACKR_ERR_TRAP"),
    (PACKR_ERR_OUT_OF_BOUNDS, c"PACKR_ERR_OUT_OF_BOUNDS"),
    (PACKR_ERR_BUSY, c"PACKR_ERR_BUSY"),
    (PACKR_ERR_PANIC, c"PACKR_ERR_PANIC"),
    (PACKR_ERR_INSTANTIATE, c"PACKR_ERR_INSTANTIATE"),
    (PACKR_ERR_POOL_EXHAUSTED, c"PACKR_ERR_POOL_EXHAUSTED"),
    (PACKR_ERR_RESOURCE, c"PACKR_ERR_RESOURCE"),
    (PACKR_ERR_HOST, c"PACKR_ERR_HOST"),
    (PACKR_ERR_EXIT, c"PACKR_ERR_EXIT"),
    (PACKR_ERR_GUEST, c"PACKR_ERR_GUEST"),
    (PACKR_ERR_TIMEOUT, c"PACKR_ERR_TIMEOUT"),
    (PACKR_ERR_INTERRUPTED, c"PACKR_ERR_INTERRUPTED"),
    (PACKR_ERR_OUT_OF_FUEL, c"PACKR_ERR_OUT_OF_FUEL"),
    (PACKR_ERR_LIMIT, c"PACKR_ERR_LIMIT"),
    (PACKR_ERR_ARTIFACT, c"PACKR_ERR_ARTIFACT"),
];

fn status_cname(status: i32) -> &'static CStr {
    NAMES.iter().find(|(s, _)| *s == status).map_or(c"UNKNOWN", |(_, name)| name)
}

/// The static name of `status`, or `"UNKNOWN"`.
pub(crate) fn status_name(status: i32) -> &'static str {
    status_cname(status).to_str().unwrap_or("UNKNOWN")
}

/// The message of the last failed packr call on the calling thread, or `""` if none has
/// failed. The message names the problem on its first line; a trap's wasm backtrace, when
/// there is one, follows on the next lines.
///
/// The string is owned by packr and is valid until the next packr call on the same thread;
/// copy it to keep it. Never NULL. A successful call does not clear it.
///
/// Thread-safe: each thread has its own.
#[unsafe(no_mangle)]
pub extern "C" fn packr_last_error() -> *const c_char {
    // Not through `guard`: a failure here must not replace the message being asked for.
    std::panic::catch_unwind(last_error_ptr).unwrap_or(c"".as_ptr())
}

/// The static name of a status number, such as `"PACKR_ERR_TRAP"`, or `"UNKNOWN"` for any
/// number that is not a status. Never NULL; the string lives for the whole program.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn packr_status_name(status: i32) -> *const c_char {
    guard_value(c"UNKNOWN".as_ptr(), || Ok(status_cname(status).as_ptr()))
}

/// A failure below the boundary: the status the host sees and the message that names the cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: packr_status,
    /// Static where the failure may come from running out of memory, so that reporting it
    /// allocates nothing.
    pub message: Cow<'static, str>,
    /// The code a guest passed to `proc_exit`, with `PACKR_ERR_EXIT`.
    pub exit_code: Option<i32>,
    /// Why packr stopped the guest, with `PACKR_ERR_TIMEOUT`, `_INTERRUPTED` and `_OUT_OF_FUEL`:
    /// a host callback that passes such a failure on ends the outer call the same way.
    pub(crate) stopped: Option<Stopped>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(status: packr_status, message: impl Into<Cow<'static, str>>) -> Self {
        Error { status, message: message.into(), exit_code: None, stopped: None }
    }

    /// The status and message of a wasmtime error met during `phase`. The one place that
    /// turns wasmtime's errors into statuses.
    pub(crate) fn wasmtime(phase: Phase, err: &wasmtime::Error) -> Self {
        match phase {
            Phase::Engine if out_of_memory(err) => Error::new(
                PACKR_ERR_RESOURCE,
                short_of_memory(
                    "cannot create the engine: ",
                    err,
                    "",
                    "cannot create the engine: the operating system refused memory or address space (ENOMEM)",
                ),
            ),
            Phase::Engine => Error::new(PACKR_ERR_RESOURCE, format!("cannot create the engine: {}", cause_chain(err))),
            Phase::Compile => Error::new(PACKR_ERR_COMPILE, format!("cannot compile module: {}", cause_chain(err))),
            Phase::Link => Error::new(PACKR_ERR_LINK, format!("cannot link module: {}", cause_chain(err))),
            Phase::Instantiate => instantiation_error(err),
            Phase::Call => execution_error(err),
        }
    }
}

/// Where a wasmtime error came from, which decides its status.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Phase {
    Engine,
    Compile,
    Link,
    Instantiate,
    Call,
}

/// Why a host function made its guest trap: carried inside the wasmtime error from the
/// callback to the call that entered wasm, on whatever thread that is (never in a global or
/// thread-local slot), so a later completion can carry it too.
#[derive(Debug)]
pub(crate) struct HostFailure {
    /// `MODULE::NAME` of the host function.
    pub func: String,
    /// The callback's message, or the name of the status it returned.
    pub message: String,
}

impl fmt::Display for HostFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host function {} failed: {}", self.func, self.message)
    }
}

impl std::error::Error for HostFailure {}

/// Why packr stopped a guest: carried inside the wasmtime error from the epoch callback (or
/// a host callback passing it on) to the call that entered wasm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// The call's timeout, in milliseconds, passed.
    Timeout(u64),
    Interrupted,
    OutOfFuel,
}

impl Stopped {
    pub(crate) fn status(self) -> packr_status {
        match self {
            Stopped::Timeout(_) => PACKR_ERR_TIMEOUT,
            Stopped::Interrupted => PACKR_ERR_INTERRUPTED,
            Stopped::OutOfFuel => PACKR_ERR_OUT_OF_FUEL,
        }
    }

    fn error(self) -> Error {
        Error { stopped: Some(self), ..Error::new(self.status(), self.to_string()) }
    }
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stopped::Timeout(ms) => write!(f, "the call was stopped by its timeout of {ms} ms"),
            Stopped::Interrupted => f.write_str("the call was interrupted (packr_instance_interrupt)"),
            Stopped::OutOfFuel => f.write_str("the guest ran out of fuel; packr_instance_add_fuel gives it more"),
        }
    }
}

impl std::error::Error for Stopped {}

/// A memory or table an instance starts with is larger than its config allows.
#[derive(Debug)]
pub(crate) struct LimitExceeded(pub String);

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitExceeded {}

/// A failure while running guest code (a call or a start function): the cause first
/// (`wasm trap: integer divide by zero`, `host function env::f failed: ...`) and the wasm
/// backtrace, when there is one, on the lines after it.
fn execution_error(err: &wasmtime::Error) -> Error {
    if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
        let mut error = Error::new(PACKR_ERR_EXIT, format!("the guest exited with code {}", exit.0));
        error.exit_code = Some(exit.0);
        return error;
    }
    if let Some(stop) = err.downcast_ref::<Stopped>() {
        return stop.error();
    }
    let (status, mut message) = match (err.downcast_ref::<HostFailure>(), err.downcast_ref::<wasmtime::Trap>()) {
        (Some(host), _) => (PACKR_ERR_HOST, host.to_string()),
        (None, Some(wasmtime::Trap::OutOfFuel)) => return Stopped::OutOfFuel.error(),
        (None, Some(trap)) => (PACKR_ERR_TRAP, trap.to_string()),
        (None, None) => (PACKR_ERR_TRAP, cause_chain(err)),
    };
    if let Some(backtrace) = err.downcast_ref::<wasmtime::WasmBacktrace>() {
        let trace = backtrace.to_string();
        if !trace.trim().is_empty() {
            message.push('\n');
            message.push_str(trace.trim_end());
        }
    }
    Error::new(status, message)
}

fn instantiation_error(err: &wasmtime::Error) -> Error {
    if err.downcast_ref::<wasmtime::Trap>().is_some()
        || err.downcast_ref::<HostFailure>().is_some()
        || err.downcast_ref::<Stopped>().is_some()
        || err.downcast_ref::<wasmtime_wasi::I32Exit>().is_some()
    {
        return execution_error(err);
    }
    if let Some(limit) = err.downcast_ref::<LimitExceeded>() {
        return Error::new(PACKR_ERR_LIMIT, format!("cannot instantiate module: {limit}"));
    }
    if let Some(full) = err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        return Error::new(
            PACKR_ERR_POOL_EXHAUSTED,
            format!("the instance pool is exhausted: {full}; free an instance, or raise the pool's limits"),
        );
    }
    if out_of_memory(err) {
        const HINT: &str = "; where virtual memory is limited, a smaller packr_config_set_memory_reservation or a pooled runtime helps";
        return Error::new(
            PACKR_ERR_RESOURCE,
            short_of_memory(
                "cannot instantiate module: ",
                err,
                HINT,
                "cannot instantiate module: the operating system refused memory or address space (ENOMEM); where \
                 virtual memory is limited, a smaller packr_config_set_memory_reservation or a pooled runtime helps",
            ),
        );
    }
    Error::new(PACKR_ERR_INSTANTIATE, format!("cannot instantiate module: {}", cause_chain(err)))
}

/// `prefix`, the cause chain of `err` and `suffix`, formatted only if the memory for it can
/// be had (`try_reserve`, which fails instead of aborting); `fallback`, static, otherwise.
/// For errors met because memory ran short, where an allocation could abort the process.
fn short_of_memory(prefix: &str, err: &wasmtime::Error, suffix: &str, fallback: &'static str) -> Cow<'static, str> {
    /// The chain on one line, outermost first, written piece by piece.
    struct Chain<'a>(&'a wasmtime::Error);
    impl fmt::Display for Chain<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, cause) in self.0.chain().enumerate() {
                if i > 0 {
                    f.write_str(": ")?;
                }
                write!(f, "{cause}")?;
            }
            Ok(())
        }
    }
    struct Count(usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            self.0 += piece.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = write!(count, "{prefix}{}{suffix}", Chain(err));
    let mut message = String::new();
    if message.try_reserve_exact(count.0).is_err() {
        return Cow::Borrowed(fallback);
    }
    let _ = write!(message, "{prefix}{}{suffix}", Chain(err));
    Cow::Owned(message)
}

/// Whether the root cause of `err` is ENOMEM. wasmtime reports a refused mmap as rustix's
/// errno, which is not a public type here, so its text decides: scanned as it is formatted,
/// without allocating.
fn out_of_memory(err: &wasmtime::Error) -> bool {
    const NEEDLE: &[u8] = b"(os error 12)";
    const _: () = assert!(libc::ENOMEM == 12);
    /// Matches NEEDLE across the pieces `Display` writes (it has no repeated prefix, so a
    /// mismatch restarts cleanly).
    struct Scan {
        matched: usize,
        found: bool,
    }
    impl fmt::Write for Scan {
        fn write_str(&mut self, piece: &str) -> fmt::Result {
            for &b in piece.as_bytes() {
                self.matched = if b == NEEDLE[self.matched] { self.matched + 1 } else { usize::from(b == NEEDLE[0]) };
                if self.matched == NEEDLE.len() {
                    self.found = true;
                    self.matched = 0;
                }
            }
            Ok(())
        }
    }
    let mut scan = Scan { matched: 0, found: false };
    let _ = write!(scan, "{}", err.root_cause());
    scan.found
}

/// The chain of an error on one line, outermost context first, without the wasm backtrace
/// (which `execution_error` puts on lines of its own).
pub(crate) fn cause_chain(err: &wasmtime::Error) -> String {
    let backtrace = err.downcast_ref::<wasmtime::WasmBacktrace>().map(|b| b.to_string());
    err.chain()
        .map(|e| e.to_string())
        .filter(|text| Some(text) != backtrace.as_ref())
        .collect::<Vec<_>>()
        .join(": ")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", status_name(self.status), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_memory_is_found_in_the_root_cause() {
        let enomem = wasmtime::Error::new(std::io::Error::from_raw_os_error(libc::ENOMEM)).context("mmap failed");
        assert!(out_of_memory(&enomem));
        assert_eq!(Error::wasmtime(Phase::Instantiate, &enomem).status, PACKR_ERR_RESOURCE);
        assert_eq!(
            Error::wasmtime(Phase::Instantiate, &enomem).message,
            "cannot instantiate module: mmap failed: Cannot allocate memory (os error 12); where virtual memory is \
             limited, a smaller packr_config_set_memory_reservation or a pooled runtime helps"
        );
        let other = wasmtime::Error::new(std::io::Error::from_raw_os_error(libc::EACCES));
        assert!(!out_of_memory(&other));
        assert!(!out_of_memory(&wasmtime::Error::msg("(os error 1) (os error 1")));
        assert!(out_of_memory(&wasmtime::Error::msg("x (os error (os error 12)")));
    }

    #[test]
    fn names_are_unique_and_in_number_order() {
        for (i, (status, name)) in NAMES.iter().enumerate() {
            assert_eq!(*status, i as i32, "{name:?} is out of order");
            assert_eq!(status_name(*status), name.to_str().unwrap());
            let c = unsafe { CStr::from_ptr(packr_status_name(*status)) };
            assert_eq!(c, *name);
        }
        assert_eq!(status_name(-1), "UNKNOWN");
        assert_eq!(status_name(NAMES.len() as i32), "UNKNOWN");
        assert_eq!(status_name(i32::MAX), "UNKNOWN");
        assert_eq!(unsafe { CStr::from_ptr(packr_status_name(i32::MIN)) }, c"UNKNOWN");
    }
}
