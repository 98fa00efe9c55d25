//! Inside a host callback: the calling instance's host data, memories and exports.

use std::ffi::{c_char, c_void};

use wasmtime::{Caller, Extern, Memory};

use crate::boundary::{arg_mut, guard, guard_value, slice, slice_mut, utf8, Out};
use crate::call::call_checked_raw;
use crate::error::{packr_status, Error, Result, Stopped, PACKR_ERR_INVALID_ARGUMENT, PACKR_ERR_NOT_FOUND};
use crate::memory;
use crate::pack;
use crate::store::StoreData;
use crate::types::{packr_func_signature, Exports};
use crate::val::packr_val;

/// The instance calling a host function, as its callback sees it.
///
/// Made by packr for each host call and valid only until the callback returns; never
/// stored, freed or used on another thread by the host. While a `packr_caller_call` made
/// through it runs, a nested callback uses its own caller, never the outer one. Every
/// `packr_caller_*` function takes it; NULL gives `PACKR_ERR_NULL_POINTER` (or NULL from
/// `packr_caller_data`).
///
/// When a `packr_caller_*` call fails, its message also becomes the callback's message (as
/// if by `packr_caller_set_error`, which may still replace it): a callback that returns the
/// failing status makes the outer call fail with `PACKR_ERR_HOST` naming the cause.
pub struct packr_caller {
    /// The wasmtime caller, lifetime erased: valid for the callback's duration only.
    caller: *mut Caller<'static, StoreData>,
    /// The message `packr_caller_set_error` left for a failing callback.
    error: Option<String>,
    /// Whether the callback serves a pack-convention import (`packr_host_define_bytes`).
    serves_bytes: bool,
    /// What such a callback gave its guest with `packr_caller_return_bytes`.
    returned: Option<pack::Returned>,
    /// The code of a `proc_exit` that ended a `packr_caller_call`.
    exit_code: Option<i32>,
    /// Why packr stopped one of the callback's calls into the guest (a timeout, an
    /// interrupt, fuel), so passing that status on ends the outer call the same way.
    stopped: Option<Stopped>,
}

impl packr_caller {
    pub(crate) fn new(caller: &mut Caller<'_, StoreData>) -> Self {
        packr_caller { caller: (caller as *mut Caller<'_, StoreData>).cast(), error: None, serves_bytes: false, returned: None, exit_code: None, stopped: None }
    }

    /// The caller of a pack-convention callback.
    pub(crate) fn serving_bytes(caller: &mut Caller<'_, StoreData>) -> Self {
        packr_caller { serves_bytes: true, ..packr_caller::new(caller) }
    }

    pub(crate) fn take_returned(&mut self) -> pack::Returned {
        self.returned.take().unwrap_or_default()
    }

    pub(crate) fn take_error(&mut self) -> Option<String> {
        self.error.take()
    }

    /// The stop that ended one of the callback's calls into the guest.
    pub(crate) fn stopped(&self) -> Option<Stopped> {
        self.stopped
    }

    /// The code of a `proc_exit` that ended one of the callback's calls into the guest.
    pub(crate) fn exit_code(&self) -> Option<i32> {
        self.exit_code
    }

    fn wasmtime(&mut self) -> &mut Caller<'static, StoreData> {
        // SAFETY: `new` took a caller that outlives the callback, and the callback is the
        // only place a `packr_caller` can be reached from.
        unsafe { &mut *self.caller }
    }

    /// The calling instance's export table. It lives as long as the store, and the store
    /// outlives the callback, so it is not tied to the borrow of the caller (no count taken).
    fn exports<'a>(&mut self) -> &'a Exports {
        let exports: *const Exports = &*self.wasmtime().data().exports;
        // SAFETY: `StoreData::exports` is set once when the store is made and never replaced.
        unsafe { &*exports }
    }

    /// The memory the calling instance exports as `name`.
    fn memory(&mut self, name: &str) -> Result<Memory> {
        self.exports().get(name)?.expect_memory()?;
        let caller = self.wasmtime();
        match caller.get_export(name) {
            Some(Extern::Memory(memory)) => Ok(memory),
            _ => Err(Error::new(PACKR_ERR_NOT_FOUND, format!("the instance has no memory named `{name}`"))),
        }
    }

    fn call(&mut self, name: &str, args: &[packr_val], results: &mut [packr_val]) -> Result<()> {
        let signature = self.exports().get(name)?.callable()?;
        signature.check_call(name, args, results.len())?;
        let caller = self.wasmtime();
        let Some(Extern::Func(func)) = caller.get_export(name) else {
            return Err(Error::new(PACKR_ERR_NOT_FOUND, format!("the instance has no function named `{name}`")));
        };
        call_checked_raw(caller, &func, signature, args, results)
    }
}

/// Runs `body` on the caller behind the boundary guard. A failure's message also becomes the
/// callback's message (as if by `packr_caller_set_error`), so a callback that returns the
/// failing status reports the cause in its own `PACKR_ERR_HOST`.
fn with_caller(caller: *mut packr_caller, body: impl FnOnce(&mut packr_caller) -> Result<()>) -> packr_status {
    guard(|| {
        // SAFETY: a non-NULL `caller` is the one packr passed to the running callback.
        let caller = unsafe { arg_mut(caller, "caller") }?;
        // The first line only: the backtrace that may follow is the inner call's, and the
        // outer failure reports its own.
        body(caller).inspect_err(|e| {
            caller.error = Some(e.message.lines().next().unwrap_or_default().to_owned());
            caller.exit_code = caller.exit_code.or(e.exit_code);
            caller.stopped = caller.stopped.or(e.stopped);
        })
    })
}

/// The host data of the calling instance: the `data` given to
/// `packr_module_instantiate_with` (NULL for `packr_module_instantiate`), or NULL if
/// `caller` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_caller_data(caller: *const packr_caller) -> *mut c_void {
    guard_value(std::ptr::null_mut(), || {
        let Some(caller) = (unsafe { caller.as_ref() }) else { return Ok(std::ptr::null_mut()) };
        // SAFETY: see `packr_caller::wasmtime`; only shared access is needed.
        Ok(unsafe { &*caller.caller }.data().data.0)
    })
}

/// Writes the current size in bytes of the calling instance's memory exported as
/// `memory_name` (NULL means `"memory"`) to `*size_out`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the name
/// is not UTF-8; `PACKR_ERR_NOT_FOUND` if there is no such export; `PACKR_ERR_TYPE_MISMATCH`
/// if it is not a memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_caller_memory_size(
    caller: *mut packr_caller,
    memory_name: *const c_char,
    size_out: *mut u64,
) -> packr_status {
    with_caller(caller, |caller| {
        let name = unsafe { memory::name_arg(memory_name) }?;
        let out = Out::new(size_out, "size_out")?;
        let memory = caller.memory(name)?;
        out.write(memory.data_size(caller.wasmtime()) as u64);
        Ok(())
    })
}

/// Copies `len` bytes of the calling instance's memory `memory_name` (NULL means
/// `"memory"`), from `offset`, into `buf`; the same rules as `packr_instance_memory_read`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_OUT_OF_BOUNDS` if the range is
/// not inside the memory (nothing is copied); `PACKR_ERR_NOT_FOUND`;
/// `PACKR_ERR_TYPE_MISMATCH`; `PACKR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_caller_memory_read(
    caller: *mut packr_caller,
    memory_name: *const c_char,
    offset: u64,
    buf: *mut u8,
    len: usize,
) -> packr_status {
    with_caller(caller, |caller| {
        let name = unsafe { memory::name_arg(memory_name) }?;
        let buf = unsafe { slice_mut(buf, len, "buf") }?;
        let memory = caller.memory(name)?;
        memory::read(memory.data(caller.wasmtime()), name, offset, buf)
    })
}

/// Copies `len` bytes from `buf` into the calling instance's memory `memory_name` (NULL
/// means `"memory"`) at `offset`; the same rules as `packr_instance_memory_write`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_OUT_OF_BOUNDS` (nothing is
/// written); `PACKR_ERR_NOT_FOUND`; `PACKR_ERR_TYPE_MISMATCH`; `PACKR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_caller_memory_write(
    caller: *mut packr_caller,
    memory_name: *const c_char,
    offset: u64,
    buf: *const u8,
    len: usize,
) -> packr_status {
    with_caller(caller, |caller| {
        let name = unsafe { memory::name_arg(memory_name) }?;
        let buf = unsafe { slice(buf, len, "buf") }?;
        let memory = caller.memory(name)?;
        memory::write(memory.data_mut(caller.wasmtime()), name, offset, buf)
    })
}

/// Zero-copy access to the calling instance's memory `memory_name` (NULL means
/// `"memory"`): writes its base address to `*data_out` and its size in bytes to
/// `*size_out`. The host may read and write `[data, data + size)` directly. The pointer is
/// valid until the callback returns or the guest grows that memory (for example through
/// `packr_caller_call`), whichever comes first; take it again after either.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_NOT_FOUND`;
/// `PACKR_ERR_TYPE_MISMATCH`; `PACKR_ERR_INVALID_ARGUMENT`. Both outputs are written only
/// on success.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_caller_memory_data(
    caller: *mut packr_caller,
    memory_name: *const c_char,
    data_out: *mut *mut u8,
    size_out: *mut u64,
) -> packr_status {
    with_caller(caller, |caller| {
        let name = unsafe { memory::name_arg(memory_name) }?;
        let (data, size) = (Out::new(data_out, "data_out")?, Out::new(size_out, "size_out")?);
        let memory = caller.memory(name)?;
        let store = caller.wasmtime();
        size.write(memory.data_size(&*store) as u64);
        data.write(memory.data_ptr(&*store));
        Ok(())
    })
}

/// Calls the calling instance's exported function `export_name` from inside a host
/// callback (a guest allocator, a callback export), with the same arguments, results and
/// rules as `packr_instance_call`. Calls may nest: the export may call host functions that
/// call back again, to any depth the wasm stack allows (host frames count against it: about
/// 260 nested guest-host round trips fit wasmtime's default 512 KiB; deeper is a
/// `call stack exhausted` trap, never a crash). (`packr_instance_call` on the same
/// instance from inside its callback stays `PACKR_ERR_BUSY`: use this instead.)
///
/// A failure returns its status to the callback, with the message in `packr_last_error`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT`;
/// `PACKR_ERR_NOT_FOUND`; `PACKR_ERR_TYPE_MISMATCH`; `PACKR_ERR_TRAP`; `PACKR_ERR_HOST`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_caller_call(
    caller: *mut packr_caller,
    export_name: *const c_char,
    args: *const packr_val,
    nargs: usize,
    results: *mut packr_val,
    nresults: usize,
) -> packr_status {
    with_caller(caller, |caller| {
        let name = unsafe { utf8(export_name, "export_name") }?;
        let args = unsafe { slice(args, nargs, "args") }?;
        let results = unsafe { slice_mut(results, nresults, "results") }?;
        caller.call(name, args, results)
    })
}

/// Describes the signature of the calling instance's exported function `export_name` in
/// `*signature_out`, as `packr_instance_func_signature` does (the arrays stay valid while the
/// instance lives), so a callback can check a call before making it.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT`;
/// `PACKR_ERR_NOT_FOUND`; `PACKR_ERR_TYPE_MISMATCH` if the export is not a function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_caller_func_signature(
    caller: *mut packr_caller,
    export_name: *const c_char,
    signature_out: *mut packr_func_signature,
) -> packr_status {
    with_caller(caller, |caller| {
        let name = unsafe { utf8(export_name, "export_name") }?;
        let out = Out::new(signature_out, "signature_out")?;
        out.write(caller.exports().get(name)?.function()?.describe());
        Ok(())
    })
}

/// Sets the message a failing callback reports: when the callback then returns a status
/// other than `PACKR_OK`, the call fails with `PACKR_ERR_HOST` and the message
/// `host function MODULE::NAME failed: ` followed by `message`. A later call replaces the
/// message; it is ignored if the callback returns `PACKR_OK`. The string is copied.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if `message`
/// is not UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_caller_set_error(caller: *mut packr_caller, message: *const c_char) -> packr_status {
    // Through `with_caller`, so that a message that is not UTF-8 says so in the callback's
    // own failure too (found by the `host` fuzzer).
    with_caller(caller, |caller| {
        let message = unsafe { utf8(message, "message") }?;
        caller.error = Some(message.to_owned());
        Ok(())
    })
}


/// Returns `bytes[0..len]` to the guest as the result of the pack-convention host function
/// being served (see `packr_host_define_bytes`): packr copies them at once into a block from
/// the guest's `__pack_alloc`, which the guest frees. At most once per callback. `bytes` may
/// be NULL when `len` is 0 (an empty result, which allocates nothing).
///
/// Only for callbacks of `packr_host_define_bytes`; in others the block would never reach
/// the guest, so it is refused.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the
/// callback already returned bytes or `len` does not fit the guest; `PACKR_ERR_NOT_FOUND`
/// or `PACKR_ERR_TYPE_MISMATCH` if the guest lacks a proper `__pack_alloc`;
/// `PACKR_ERR_GUEST` if `__pack_alloc` returned 0; `PACKR_ERR_OUT_OF_BOUNDS` if it returned
/// a block outside the guest's memory; the statuses of a call if it trapped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_caller_return_bytes(caller: *mut packr_caller, bytes: *const u8, len: usize) -> packr_status {
    with_caller(caller, |caller| {
        let bytes = unsafe { slice(bytes, len, "bytes") }?;
        if !caller.serves_bytes {
            return Err(Error::new(
                PACKR_ERR_INVALID_ARGUMENT,
                "packr_caller_return_bytes is for callbacks of packr_host_define_bytes; this callback returns values",
            ));
        }
        if caller.returned.is_some() {
            return Err(Error::new(PACKR_ERR_INVALID_ARGUMENT, "the callback already returned its bytes"));
        }
        caller.returned = Some(pack::give(caller.wasmtime(), bytes)?);
        Ok(())
    })
}
