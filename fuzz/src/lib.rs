//! What every fuzz target shares: packr's C ABI as a C host sees it, the contract checks made
//! on every call, a heap counter for leak checks, and the module walk that `module` and
//! `smith` both run.
//!
//! A broken contract is a `panic!`: libfuzzer-sys turns it into an abort, so libFuzzer
//! saves the input under fuzz/artifacts/TARGET. The contracts checked on every call:
//! - the status is one the function documents, and never `PACKR_ERR_PANIC`;
//! - a failure leaves a fresh message in `packr_last_error` (not the one before the call);
//! - out-parameters are untouched on failure (they start as a 0xA5 pattern and must stay so);
//! - results written on success are whole (kind set, unused payload bytes zero);
//! - repeating an input does not grow the heap (`leak_checked`).

pub mod api {
    //! Every function and type of include/packr.h, through the `extern "C"` items of the
    //! packr rlib (so each signature is the compiler's, not a hand copy of the header).
    pub use packr::artifact::*;
    pub use packr::bytes::*;
    pub use packr::cache::*;
    pub use packr::caller::*;
    pub use packr::config::*;
    pub use packr::error::*;
    pub use packr::func::*;
    pub use packr::guardrail::*;
    pub use packr::host::*;
    pub use packr::instance::*;
    pub use packr::instance_config::*;
    pub use packr::module::*;
    pub use packr::packr_version;
    pub use packr::runtime::*;
    pub use packr::types::*;
    pub use packr::val::*;
    pub use packr::wasi::*;
}

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_char, CStr};
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicIsize, Ordering};

use arbitrary::Unstructured;

use api::*;

// ---------------------------------------------------------------------------------------
// The heap counter.

/// The system allocator, counting the bytes live on the Rust heap (packr's, wasmtime's and
/// the harness's; libFuzzer's own C++ heap is not counted).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes live on the Rust heap now, after giving this thread's last-error slot a message
/// of fixed size (so a longer or shorter last message does not read as a leak).
pub fn live_bytes() -> isize {
    mark_last_error();
    LIVE.load(Ordering::SeqCst)
}

/// Runs `scenario` (one whole input: every handle it makes, it frees) and fails the input if
/// the heap grows on each of three repeats after a warm-up run. Caches warmed by the first
/// run (wasmtime's per-thread state, a runtime kept across inputs) stop growing; a leak
/// grows on every run.
pub fn leak_checked(mut scenario: impl FnMut()) {
    scenario();
    let mut before = live_bytes();
    let mut grew = Vec::new();
    for _ in 0..3 {
        scenario();
        let after = live_bytes();
        if after <= before {
            return;
        }
        grew.push(after - before);
        before = after;
    }
    panic!("leak: the heap grew on each of three repeats of this input, by {grew:?} bytes");
}

// ---------------------------------------------------------------------------------------
// Statuses and messages.

/// The statuses packr.h defines (PACKR_OK through PACKR_ERR_LIMIT).
pub const KNOWN: std::ops::RangeInclusive<packr_status> = PACKR_OK..=PACKR_ERR_ARTIFACT;

/// The message a failed call left on this thread.
pub fn last_error() -> String {
    // SAFETY: packr_last_error never returns NULL; the string lives until the next call.
    unsafe { CStr::from_ptr(packr_last_error()) }.to_string_lossy().into_owned()
}

/// The message `mark_last_error` leaves: a call that fails this way names `config_out`.
const MARK: &str = "`config_out` is NULL";

/// Makes this thread's last error a known message, so a later failure that forgot to set
/// its own is caught (a successful call does not clear the message).
pub fn mark_last_error() {
    let status = unsafe { packr_config_new(ptr::null_mut()) };
    assert_eq!(status, PACKR_ERR_NULL_POINTER, "packr_config_new(NULL) must fail");
}

pub fn status_name(status: packr_status) -> String {
    unsafe { CStr::from_ptr(packr_status_name(status)) }.to_string_lossy().into_owned()
}

/// Runs one packr call `what` and checks its status against `allowed` (PACKR_OK is always
/// allowed only if listed), and that a failure left a fresh message naming its cause.
#[track_caller]
pub fn check(what: &str, allowed: &[packr_status], call: impl FnOnce() -> packr_status) -> packr_status {
    mark_last_error();
    let status = call();
    verify(what, allowed, status);
    status
}

/// The checks of `check` for a status already returned (for calls made where the last
/// error cannot be marked first, such as inside a callback after other calls).
#[track_caller]
pub fn verify(what: &str, allowed: &[packr_status], status: packr_status) {
    if status == PACKR_ERR_PANIC {
        panic!("{what}: PACKR_ERR_PANIC: {}", last_error());
    }
    if !KNOWN.contains(&status) {
        panic!("{what}: returned {status}, a number packr.h does not define (last error: {})", last_error());
    }
    if !allowed.contains(&status) {
        let names: Vec<String> = allowed.iter().map(|s| status_name(*s)).collect();
        panic!("{what}: returned {} where only {names:?} fit; last error: {}", status_name(status), last_error());
    }
    if status != PACKR_OK {
        let message = last_error();
        assert!(!message.is_empty(), "{what}: failed with {} but packr_last_error() is empty", status_name(status));
        assert!(message != MARK, "{what}: failed with {} without setting packr_last_error()", status_name(status));
    }
}

/// Panics if `status` (returned by `what`) is not PACKR_OK.
#[track_caller]
pub fn ok(what: &str, status: packr_status) {
    verify(what, &[PACKR_OK], status);
}

// ---------------------------------------------------------------------------------------
// Out-parameters.

const SENTINEL: u8 = 0xA5;

/// An out-parameter slot that starts filled with 0xA5 bytes, so a failed call can be checked
/// to have left it alone.
pub struct Out<T> {
    slot: MaybeUninit<T>,
}

impl<T> Default for Out<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Out<T> {
    pub fn new() -> Self {
        let mut slot = MaybeUninit::<T>::uninit();
        // SAFETY: the slot is size_of::<T>() writable bytes.
        unsafe { ptr::write_bytes(slot.as_mut_ptr().cast::<u8>(), SENTINEL, size_of::<T>()) };
        Out { slot }
    }

    pub fn ptr(&mut self) -> *mut T {
        self.slot.as_mut_ptr()
    }

    /// Whether every byte is still the sentinel.
    pub fn untouched(&self) -> bool {
        // SAFETY: every byte was initialised by `new`.
        let bytes = unsafe { std::slice::from_raw_parts(self.slot.as_ptr().cast::<u8>(), size_of::<T>()) };
        bytes.iter().all(|b| *b == SENTINEL)
    }

    /// The value a successful call wrote.
    ///
    /// # Safety
    /// The call succeeded and wrote a valid `T`.
    pub unsafe fn get(self) -> T {
        unsafe { self.slot.assume_init() }
    }
}

/// Runs `call` with a fresh out-slot: checks the status like `check`, that a failure left
/// the slot untouched, and returns the value on success.
#[track_caller]
pub fn with_out<T>(what: &str, allowed: &[packr_status], call: impl FnOnce(*mut T) -> packr_status) -> (packr_status, Option<T>) {
    let mut out = Out::<T>::new();
    let status = check(what, allowed, || call(out.ptr()));
    if status == PACKR_OK {
        // SAFETY: success wrote a valid value.
        (status, Some(unsafe { out.get() }))
    } else {
        assert!(out.untouched(), "{what}: failed with {} but wrote its out-parameter", status_name(status));
        (status, None)
    }
}

/// A `*mut T` handle out-parameter: on success it must be non-NULL.
#[track_caller]
pub fn make<T>(what: &str, allowed: &[packr_status], call: impl FnOnce(*mut *mut T) -> packr_status) -> Option<*mut T> {
    let (_, handle) = with_out(what, allowed, call);
    if let Some(h) = handle {
        assert!(!h.is_null(), "{what}: succeeded but wrote a NULL handle");
    }
    handle
}

// ---------------------------------------------------------------------------------------
// Values.

pub fn carried(kind: packr_valkind) -> bool {
    kind <= PACKR_V128
}

pub fn zero(kind: packr_valkind) -> packr_val {
    packr_val { kind, of: packr_val_union { v128: [0; 16] } }
}

/// A value of `kind` with an arbitrary payload (the bytes past the kind's width zero).
pub fn arbitrary_val(u: &mut Unstructured, kind: packr_valkind) -> packr_val {
    let mut v = zero(kind);
    let width = payload_width(kind);
    let mut bytes = [0u8; 16];
    let _ = u.fill_buffer(&mut bytes[..width]);
    v.of.v128 = bytes;
    v
}

/// How many payload bytes a kind uses.
pub fn payload_width(kind: packr_valkind) -> usize {
    match kind {
        PACKR_I32 | PACKR_F32 => 4,
        PACKR_I64 | PACKR_F64 => 8,
        _ => 16,
    }
}

/// Payload bytes of a value.
pub fn payload(v: &packr_val) -> [u8; 16] {
    // SAFETY: every bit pattern is a valid [u8; 16].
    unsafe { v.of.v128 }
}

/// A result packr wrote: of `kind`, with the bytes the kind does not use zero.
#[track_caller]
pub fn check_result(what: &str, v: &packr_val, kind: packr_valkind) {
    assert_eq!(v.kind, kind, "{what}: result of kind {} where the signature says {kind}", v.kind);
    let bytes = payload(v);
    assert!(
        bytes[payload_width(kind)..].iter().all(|b| *b == 0),
        "{what}: result bytes past its kind's width are not zero: {bytes:?}"
    );
}

/// Equal payloads; NaNs of a float kind count as equal whatever their bits.
pub fn same_val(a: &packr_val, b: &packr_val) -> bool {
    if a.kind != b.kind {
        return false;
    }
    unsafe {
        match a.kind {
            PACKR_I32 => a.of.i32 == b.of.i32,
            PACKR_I64 => a.of.i64 == b.of.i64,
            PACKR_F32 => a.of.f32.to_bits() == b.of.f32.to_bits() || (a.of.f32.is_nan() && b.of.f32.is_nan()),
            PACKR_F64 => a.of.f64.to_bits() == b.of.f64.to_bits() || (a.of.f64.is_nan() && b.of.f64.is_nan()),
            _ => a.of.v128 == b.of.v128,
        }
    }
}

/// A slot array for `n` results, every byte the sentinel.
pub fn result_slots(n: usize) -> Vec<packr_val> {
    let mut v: Vec<packr_val> = Vec::with_capacity(n);
    // SAFETY: packr_val is plain data; any bit pattern is a valid packr_val.
    unsafe {
        ptr::write_bytes(v.as_mut_ptr().cast::<u8>(), SENTINEL, n * size_of::<packr_val>());
        v.set_len(n);
    }
    v
}

pub fn slots_untouched(v: &[packr_val]) -> bool {
    let bytes = unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) };
    bytes.iter().all(|b| *b == SENTINEL)
}

/// A pointer for an array that may be empty: NULL when it is (as C hosts pass), else its data.
pub fn array_ptr<T>(v: &[T]) -> *const T {
    if v.is_empty() { ptr::null() } else { v.as_ptr() }
}

// ---------------------------------------------------------------------------------------
// Strings.

/// `bytes` followed by a NUL: what a C host passes for a name it holds as bytes. Bytes with
/// a NUL inside read short, as they would in C.
pub fn c_string(bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.extend_from_slice(bytes);
    v.push(0);
    v
}

/// The part of a NUL-terminated buffer packr reads as the string.
pub fn c_prefix(buf: &[u8]) -> &[u8] {
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    &buf[..end]
}

/// The bytes a packr description points at, checked to be `len` bytes followed by a NUL.
///
/// # Safety
/// `p` points to at least `len + 1` readable bytes (packr's contract for descriptions).
#[track_caller]
pub unsafe fn described<'a>(what: &str, p: *const c_char, len: usize) -> &'a [u8] {
    assert!(!p.is_null(), "{what}: a described string is NULL");
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len + 1) };
    assert_eq!(bytes[len], 0, "{what}: a described string of {len} bytes is not NUL-terminated");
    assert!(std::str::from_utf8(&bytes[..len]).is_ok(), "{what}: a described string is not UTF-8");
    &bytes[..len]
}

/// A signature's kinds as owned vectors.
///
/// # Safety
/// `sig` came from a successful packr call whose handle is still alive.
pub unsafe fn signature_kinds(sig: &packr_func_signature) -> (Vec<packr_valkind>, Vec<packr_valkind>) {
    let read = |p: *const packr_valkind, n: usize| {
        if n == 0 {
            Vec::new()
        } else {
            assert!(!p.is_null(), "a signature with {n} kinds has a NULL array");
            unsafe { std::slice::from_raw_parts(p, n) }.to_vec()
        }
    };
    let (params, results) = (read(sig.params, sig.nparams), read(sig.results, sig.nresults));
    for k in params.iter().chain(&results) {
        assert!(*k <= PACKR_OTHERREF, "a signature holds kind {k}, which packr.h does not define");
    }
    (params, results)
}

// ---------------------------------------------------------------------------------------
// Handles a target keeps for its whole run.

/// A raw handle shared across inputs (libFuzzer runs inputs on one thread; packr's
/// runtimes and modules are thread-safe anyway).
pub struct Shared<T>(pub *mut T);
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

/// A fresh config with the settings every long-running target wants: fuel on (so hostile
/// loops stop), compilation on the calling thread (repeatable heap counts, and the machine
/// has two cores), and `max_module_bytes`.
pub fn fuzz_config(max_module_bytes: u64) -> *mut packr_config {
    let config = make("packr_config_new", &[PACKR_OK], |out| unsafe { packr_config_new(out) }).unwrap();
    unsafe {
        ok("packr_config_set_fuel", packr_config_set_fuel(config, true));
        ok("packr_config_set_parallel_compilation", packr_config_set_parallel_compilation(config, false));
        ok("packr_config_set_max_module_bytes", packr_config_set_max_module_bytes(config, max_module_bytes));
    }
    config
}

/// The guardrails every instance of an untrusted module gets.
pub struct Guard {
    pub timeout_ms: u64,
    pub fuel: u64,
    pub memory_limit: u64,
    pub table_limit: u64,
}

/// 50 ms per call, 200,000 fuel per instance, 2 MiB per memory, 1,000 elements per table.
pub const HOSTILE: Guard = Guard { timeout_ms: 50, fuel: 200_000, memory_limit: 2 << 20, table_limit: 1000 };

pub fn instance_config(guard: &Guard) -> *mut packr_instance_config {
    let cfg = make("packr_instance_config_new", &[PACKR_OK], |out| unsafe { packr_instance_config_new(out) }).unwrap();
    unsafe {
        ok("set_timeout_ms", packr_instance_config_set_timeout_ms(cfg, guard.timeout_ms));
        ok("set_fuel", packr_instance_config_set_fuel(cfg, guard.fuel));
        ok("set_memory_limit", packr_instance_config_set_memory_limit(cfg, guard.memory_limit));
        ok("set_table_limit", packr_instance_config_set_table_limit(cfg, guard.table_limit));
    }
    cfg
}

/// Statuses a call into an untrusted guest under the guardrails may end with (besides the
/// argument errors the caller checks itself).
pub const GUEST_RUN: &[packr_status] = &[PACKR_OK, PACKR_ERR_TRAP, PACKR_ERR_HOST, PACKR_ERR_TIMEOUT, PACKR_ERR_OUT_OF_FUEL];

/// Statuses instantiating an untrusted module under the guardrails may end with.
pub const INSTANTIATE: &[packr_status] = &[
    PACKR_OK,
    PACKR_ERR_LINK,
    PACKR_ERR_TRAP,
    PACKR_ERR_HOST,
    PACKR_ERR_LIMIT,
    PACKR_ERR_TIMEOUT,
    PACKR_ERR_OUT_OF_FUEL,
    PACKR_ERR_INSTANTIATE,
    PACKR_ERR_RESOURCE,
];

// ---------------------------------------------------------------------------------------
// The module walk shared by `module` and `smith`.

/// One export as the walk sees it.
pub struct ExportInfo {
    pub name: Vec<u8>,
    /// The name with its NUL, as packr handed it out (and as it is passed back).
    pub c_name: Vec<u8>,
    pub kind: packr_externkind,
    /// Whether another export's name reads the same as a C string (a NUL inside a name):
    /// lookups by this name may then find that one.
    pub ambiguous: bool,
}

/// Describes every export and import of `module`, checking the descriptions.
pub fn describe(module: *const packr_module) -> Vec<ExportInfo> {
    let (_, count) = with_out("packr_module_export_count", &[PACKR_OK], |out| unsafe { packr_module_export_count(module, out) });
    let count = count.unwrap();
    let mut exports = Vec::with_capacity(count);
    for i in 0..count {
        let (_, desc) = with_out("packr_module_export_get", &[PACKR_OK], |out| unsafe { packr_module_export_get(module, i, out) });
        let desc: packr_export_desc = desc.unwrap();
        assert!(desc.kind <= PACKR_EXTERN_TAG, "export {i} has kind {}", desc.kind);
        let name = unsafe { described("packr_module_export_get", desc.name, desc.name_len) }.to_vec();
        exports.push(ExportInfo { c_name: c_string(&name), name, kind: desc.kind, ambiguous: false });
    }
    let (status, _) = with_out::<packr_export_desc>("packr_module_export_get past the end", &[PACKR_ERR_OUT_OF_BOUNDS], |out| unsafe {
        packr_module_export_get(module, count, out)
    });
    assert_eq!(status, PACKR_ERR_OUT_OF_BOUNDS);
    for i in 0..exports.len() {
        let short = c_prefix(&exports[i].c_name).to_vec();
        exports[i].ambiguous = short.len() != exports[i].name.len()
            || exports.iter().enumerate().any(|(j, e)| j != i && c_prefix(&e.c_name) == short.as_slice());
    }

    let (_, count) = with_out("packr_module_import_count", &[PACKR_OK], |out| unsafe { packr_module_import_count(module, out) });
    let count = count.unwrap();
    for i in 0..count {
        let (_, desc) = with_out("packr_module_import_get", &[PACKR_OK], |out| unsafe { packr_module_import_get(module, i, out) });
        let desc: packr_import_desc = desc.unwrap();
        assert!(desc.kind <= PACKR_EXTERN_TAG, "import {i} has kind {}", desc.kind);
        unsafe {
            described("packr_module_import_get module", desc.module, desc.module_len);
            described("packr_module_import_get name", desc.name, desc.name_len);
        }
    }
    with_out::<packr_import_desc>("packr_module_import_get past the end", &[PACKR_ERR_OUT_OF_BOUNDS], |out| unsafe {
        packr_module_import_get(module, count, out)
    });
    exports
}

/// Where the walk takes argument values from.
pub enum Args<'a, 'b> {
    Zero,
    From(&'a mut Unstructured<'b>),
}

impl Args<'_, '_> {
    fn val(&mut self, kind: packr_valkind) -> packr_val {
        match self {
            Args::Zero => zero(kind),
            Args::From(u) => arbitrary_val(u, kind),
        }
    }
}

/// The most exports the walk calls per instance, so one input stays within seconds.
pub const MAX_CALLS: usize = 40;

/// Instantiates `module` under `guard` and walks its exports: every function called (by
/// name and through a func handle) with arguments of its signature, every global read (and
/// written back when mutable), every memory sized and probed at its end, and each export
/// asked for as the kinds it is not.
pub fn walk(module: *const packr_module, guard: &Guard, mut args: Args) {
    let exports = describe(module);

    // A clone is the same handle; a wrap into the module's own runtime is too.
    let clone = unsafe { packr_module_clone(module) };
    assert_eq!(clone as *const packr_module, module, "packr_module_clone returned another pointer");
    unsafe { packr_module_free(clone) };

    let cfg = instance_config(guard);
    let data = 0x5eed_usize as *mut std::ffi::c_void;
    let instance = make("packr_module_instantiate_with", INSTANTIATE, |out| unsafe { packr_module_instantiate_with(module, cfg, data, out) });
    unsafe { packr_instance_config_free(cfg) };
    let Some(instance) = instance else { return };
    assert_eq!(unsafe { packr_instance_data(instance) }, data, "packr_instance_data is not the instantiation's data");

    let (_, fuel_start) = with_out("packr_instance_fuel", &[PACKR_OK], |out| unsafe { packr_instance_fuel(instance, out) });
    assert!(fuel_start.unwrap() <= guard.fuel, "the instance has more fuel than it was given");

    let mut calls = 0;
    for e in &exports {
        let name = e.c_name.as_ptr().cast::<c_char>();
        // Lookups of a name that reads as another export's find that one: any kind fits.
        let sure = !e.ambiguous;
        let (status, sig) = with_out("packr_module_func_signature", &[PACKR_OK, PACKR_ERR_TYPE_MISMATCH, PACKR_ERR_NOT_FOUND], |out| unsafe {
            packr_module_func_signature(module, name, out)
        });
        if sure {
            let want = if e.kind == PACKR_EXTERN_FUNC { PACKR_OK } else { PACKR_ERR_TYPE_MISMATCH };
            assert_eq!(status, want, "packr_module_func_signature of a kind-{} export", e.kind);
        }
        if e.kind != PACKR_EXTERN_MEMORY || !sure {
            let (status, _) = with_out("packr_instance_memory_size", &[PACKR_OK, PACKR_ERR_TYPE_MISMATCH, PACKR_ERR_NOT_FOUND], |out| unsafe {
                packr_instance_memory_size(instance, name, out)
            });
            assert!(!sure || status == PACKR_ERR_TYPE_MISMATCH, "memory_size of a kind-{} export gave {}", e.kind, status_name(status));
        }
        if e.kind != PACKR_EXTERN_GLOBAL && sure {
            let (status, _) = with_out::<packr_val>("packr_instance_global_get", &[PACKR_ERR_TYPE_MISMATCH], |out| unsafe {
                packr_instance_global_get(instance, name, out)
            });
            let _ = status;
        }
        match e.kind {
            PACKR_EXTERN_FUNC if sure => {
                if calls >= MAX_CALLS {
                    continue;
                }
                calls += 1;
                call_export(module, instance, e, &sig.unwrap(), &mut args);
            }
            PACKR_EXTERN_GLOBAL if sure => global(module, instance, e),
            PACKR_EXTERN_MEMORY if sure => memory(instance, e, guard.memory_limit),
            _ => {}
        }
    }

    // No WASI here: `_start` is an ordinary export, and nothing exits or is captured.
    let start = exports.iter().find(|e| e.name == b"_start" && !e.ambiguous);
    let run_allowed: &[packr_status] = match start {
        None => &[PACKR_ERR_NOT_FOUND],
        Some(e) if e.kind != PACKR_EXTERN_FUNC => &[PACKR_ERR_TYPE_MISMATCH],
        Some(_) => &[PACKR_OK, PACKR_ERR_TRAP, PACKR_ERR_HOST, PACKR_ERR_TIMEOUT, PACKR_ERR_OUT_OF_FUEL, PACKR_ERR_TYPE_MISMATCH],
    };
    if start.is_none() || calls < MAX_CALLS {
        let (status, code) = with_out("packr_instance_run", run_allowed, |out| unsafe { packr_instance_run(instance, out) });
        if status == PACKR_OK {
            assert_eq!(code, Some(0), "packr_instance_run of a non-WASI module gave a non-zero exit code");
        }
    }
    with_out::<i32>("packr_instance_exit_code", &[PACKR_ERR_NOT_FOUND], |out| unsafe { packr_instance_exit_code(instance, out) });
    with_out::<packr_bytes>("packr_instance_wasi_output", &[PACKR_ERR_INVALID_ARGUMENT], |out| unsafe { packr_instance_wasi_output(instance, 1, out) });

    // The tank only drains; a refill adds exactly what was given.
    let (_, left) = with_out("packr_instance_fuel", &[PACKR_OK], |out| unsafe { packr_instance_fuel(instance, out) });
    let left: u64 = left.unwrap();
    assert!(left <= fuel_start.unwrap(), "fuel grew from {} to {left} without a refill", fuel_start.unwrap());
    ok("packr_instance_add_fuel", unsafe { packr_instance_add_fuel(instance, 7) });
    let (_, after) = with_out("packr_instance_fuel", &[PACKR_OK], |out| unsafe { packr_instance_fuel(instance, out) });
    assert_eq!(after.unwrap(), left + 7, "packr_instance_add_fuel(7) did not add 7");

    // An interrupter outlives its instance as a no-op.
    let interrupter = make("packr_instance_interrupter", &[PACKR_OK], |out| unsafe { packr_instance_interrupter(instance, out) }).unwrap();
    unsafe { packr_instance_free(instance) };
    ok("packr_interrupter_interrupt after free", unsafe { packr_interrupter_interrupt(interrupter) });
    unsafe { packr_interrupter_free(interrupter) };
}

fn call_export(module: *const packr_module, instance: *mut packr_instance, e: &ExportInfo, sig: &packr_func_signature, args: &mut Args) {
    let name = e.c_name.as_ptr().cast::<c_char>();
    let (params, results) = unsafe { signature_kinds(sig) };
    let (_, isig) = with_out("packr_instance_func_signature", &[PACKR_OK], |out| unsafe { packr_instance_func_signature(instance, name, out) });
    assert_eq!(unsafe { signature_kinds(&isig.unwrap()) }, (params.clone(), results.clone()), "the instance's signature differs from the module's");

    let callable = params.iter().chain(&results).all(|k| carried(*k));
    let vals: Vec<packr_val> = params.iter().map(|k| if carried(*k) { args.val(*k) } else { zero(PACKR_I32) }).collect();
    let mut out = result_slots(results.len());
    let allowed: &[packr_status] = if callable { GUEST_RUN } else { &[PACKR_ERR_TYPE_MISMATCH] };
    let status = check("packr_instance_call", allowed, || unsafe {
        packr_instance_call(instance, name, array_ptr(&vals), vals.len(), out.as_mut_ptr(), out.len())
    });
    results_checked("packr_instance_call", status, &out, &results);

    // The func handle: refused for types packr cannot carry, else the same call.
    let func = make("packr_module_func", &[PACKR_OK, PACKR_ERR_TYPE_MISMATCH], |out| unsafe { packr_module_func(module, name, out) });
    assert_eq!(func.is_some(), callable, "packr_module_func and the signature disagree on whether the export can be called");
    let Some(func) = func else { return };
    let (_, fsig) = with_out("packr_func_get_signature", &[PACKR_OK], |out| unsafe { packr_func_get_signature(func, out) });
    assert_eq!(unsafe { signature_kinds(&fsig.unwrap()) }, (params.clone(), results.clone()), "the func's signature differs");
    let mut out = result_slots(results.len());
    let status = check("packr_instance_call_func", GUEST_RUN, || unsafe {
        packr_instance_call_func(instance, func, array_ptr(&vals), vals.len(), out.as_mut_ptr(), out.len())
    });
    results_checked("packr_instance_call_func", status, &out, &results);
    // One argument too many is a mismatch, found before the guest runs.
    let mut more = vals.clone();
    more.push(zero(PACKR_I32));
    let mut out = result_slots(results.len());
    check("packr_instance_call_func with an extra argument", &[PACKR_ERR_TYPE_MISMATCH], || unsafe {
        packr_instance_call_func(instance, func, more.as_ptr(), more.len(), out.as_mut_ptr(), out.len())
    });
    assert!(slots_untouched(&out), "a refused call wrote its results");
    unsafe { packr_func_free(func) };
}

/// On success every result is whole and of its kind; on failure no slot was written.
#[track_caller]
pub fn results_checked(what: &str, status: packr_status, out: &[packr_val], kinds: &[packr_valkind]) {
    if status == PACKR_OK {
        for (v, k) in out.iter().zip(kinds) {
            check_result(what, v, *k);
        }
    } else {
        assert!(slots_untouched(out), "{what}: failed with {} but wrote results", status_name(status));
    }
}

fn global(module: *const packr_module, instance: *mut packr_instance, e: &ExportInfo) {
    let name = e.c_name.as_ptr().cast::<c_char>();
    let mut kind = Out::<packr_valkind>::new();
    let mut mutable = Out::<bool>::new();
    ok("packr_module_global_type", unsafe { packr_module_global_type(module, name, kind.ptr(), mutable.ptr()) });
    let (kind, mutable) = unsafe { (kind.get(), mutable.get()) };
    assert!(kind <= PACKR_OTHERREF, "global of kind {kind}");
    let allowed: &[packr_status] = if carried(kind) { &[PACKR_OK] } else { &[PACKR_ERR_TYPE_MISMATCH] };
    let (_, value) = with_out("packr_instance_global_get", allowed, |out| unsafe { packr_instance_global_get(instance, name, out) });
    let Some(value) = value else { return };
    check_result("packr_instance_global_get", &value, kind);
    let allowed: &[packr_status] = if mutable { &[PACKR_OK] } else { &[PACKR_ERR_TYPE_MISMATCH] };
    check("packr_instance_global_set (same value)", allowed, || unsafe { packr_instance_global_set(instance, name, &value) });
    let wrong = zero(if kind == PACKR_I32 { PACKR_I64 } else { PACKR_I32 });
    check("packr_instance_global_set (other kind)", &[PACKR_ERR_TYPE_MISMATCH], || unsafe { packr_instance_global_set(instance, name, &wrong) });
    let (_, again) = with_out("packr_instance_global_get", &[PACKR_OK], |out| unsafe { packr_instance_global_get(instance, name, out) });
    assert!(same_val(&again.unwrap(), &value), "a global changed by a refused or same-value set");
}

fn memory(instance: *mut packr_instance, e: &ExportInfo, limit: u64) {
    let name = e.c_name.as_ptr().cast::<c_char>();
    let (_, size) = with_out("packr_instance_memory_size", &[PACKR_OK], |out| unsafe { packr_instance_memory_size(instance, name, out) });
    let size: u64 = size.unwrap();
    assert!(size <= limit, "a memory of {size} bytes is above its limit of {limit}");
    let mut byte = [SENTINEL; 1];
    if size > 0 {
        ok("packr_instance_memory_read of the last byte", unsafe { packr_instance_memory_read(instance, name, size - 1, byte.as_mut_ptr(), 1) });
        ok("packr_instance_memory_write of the last byte", unsafe { packr_instance_memory_write(instance, name, size - 1, byte.as_ptr(), 1) });
    }
    let mut past = [SENTINEL; 2];
    let at = size.saturating_sub(1);
    check("packr_instance_memory_read across the end", &[PACKR_ERR_OUT_OF_BOUNDS], || unsafe {
        packr_instance_memory_read(instance, name, at, past.as_mut_ptr(), 2)
    });
    assert_eq!(past, [SENTINEL; 2], "a refused read copied bytes");
    check("packr_instance_memory_read at u64::MAX", &[PACKR_ERR_OUT_OF_BOUNDS], || unsafe {
        packr_instance_memory_read(instance, name, u64::MAX, past.as_mut_ptr(), 2)
    });
}

// ---------------------------------------------------------------------------------------
// The host `module` and `smith` link against.

unsafe extern "C" fn add_i32(_: *mut std::ffi::c_void, _: *mut packr_caller, args: *const packr_val, _: usize, results: *mut packr_val, _: usize) -> packr_status {
    unsafe { (*results).of.i32 = (*args).of.i32.wrapping_add((*args.add(1)).of.i32) };
    PACKR_OK
}

unsafe extern "C" fn nop(_: *mut std::ffi::c_void, _: *mut packr_caller, _: *const packr_val, _: usize, _: *mut packr_val, _: usize) -> packr_status {
    PACKR_OK
}

unsafe extern "C" fn fail(_: *mut std::ffi::c_void, caller: *mut packr_caller, _: *const packr_val, _: usize, _: *mut packr_val, _: usize) -> packr_status {
    ok("packr_caller_set_error", unsafe { packr_caller_set_error(caller, c"refused by the fuzz host".as_ptr()) });
    PACKR_ERR_INVALID_ARGUMENT
}

/// Copies its argument to its result (any kind: each definition has one of each).
unsafe extern "C" fn identity(_: *mut std::ffi::c_void, _: *mut packr_caller, args: *const packr_val, _: usize, results: *mut packr_val, _: usize) -> packr_status {
    unsafe { (*results).of = (*args).of };
    PACKR_OK
}

/// The functions of `standard_host`, as wasm imports (for wasm-smith's `available_imports`).
pub const STANDARD_IMPORTS: &str = r#"(module
  (import "env" "add_i32" (func (param i32 i32) (result i32)))
  (import "env" "nop" (func))
  (import "env" "fail" (func))
  (import "env" "id_f64" (func (param f64) (result f64)))
  (import "env" "id_v128" (func (param v128) (result v128))))"#;

/// A host serving STANDARD_IMPORTS, whose other function imports trap.
pub fn standard_host() -> *mut packr_host {
    let host = make("packr_host_new", &[PACKR_OK], |out| unsafe { packr_host_new(out) }).unwrap();
    let define = |name: &CStr, params: &[packr_valkind], results: &[packr_valkind], cb: packr_host_callback| unsafe {
        ok(
            "packr_host_define_func",
            packr_host_define_func(host, c"env".as_ptr(), name.as_ptr(), array_ptr(params), params.len(), array_ptr(results), results.len(), cb, ptr::null_mut(), None),
        )
    };
    define(c"add_i32", &[PACKR_I32, PACKR_I32], &[PACKR_I32], Some(add_i32));
    define(c"nop", &[], &[], Some(nop));
    define(c"fail", &[], &[], Some(fail));
    define(c"id_f64", &[PACKR_F64], &[PACKR_F64], Some(identity));
    define(c"id_v128", &[PACKR_V128], &[PACKR_V128], Some(identity));
    ok("packr_host_set_unknown_imports_trap", unsafe { packr_host_set_unknown_imports_trap(host, true) });
    host
}

/// A runtime of `fuzz_config(max_module_bytes)` serving `standard_host`.
pub fn standard_runtime(max_module_bytes: u64) -> *mut packr_runtime {
    let config = fuzz_config(max_module_bytes);
    let base = make("packr_runtime_new_with_config", &[PACKR_OK], |out| unsafe { packr_runtime_new_with_config(config, out) }).unwrap();
    unsafe { packr_config_free(config) };
    let host = standard_host();
    let runtime = make("packr_runtime_new_with_host", &[PACKR_OK], |out| unsafe { packr_runtime_new_with_host(base, host, out) }).unwrap();
    unsafe {
        packr_host_free(host);
        packr_runtime_free(base);
    }
    runtime
}

/// Compiles `text` in `runtime` once; panics if it does not compile.
pub fn load_text(runtime: *const packr_runtime, text: &str) -> *mut packr_module {
    make("packr_module_load", &[PACKR_OK], |out| unsafe { packr_module_load(runtime, text.as_ptr(), text.len(), out) }).unwrap()
}

/// Whether the known packr bug `name` is to be tolerated in this run (listed, comma
/// separated, in `PACKR_FUZZ_KNOWN_BUGS`), so fuzzing can go past it to find others. By
/// default none is: its regression input fails until packr is fixed.
pub fn known_bug(name: &str) -> bool {
    static LIST: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| std::env::var("PACKR_FUZZ_KNOWN_BUGS").unwrap_or_default().split(',').map(|s| s.trim().to_owned()).collect())
        .iter()
        .any(|b| b == name)
}

/// Whether `PACKR_FUZZ_TRACE` is set: targets then print what each input did (to see, when
/// replaying a corpus, which paths it reaches).
pub fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("PACKR_FUZZ_TRACE").is_some())
}

/// Prints a trace line when `tracing()`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => {
        if $crate::tracing() {
            eprintln!("trace: {}", format_args!($($arg)*));
        }
    };
}
