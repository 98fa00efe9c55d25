//! Host definitions: functions the host serves to guests' imports, collected in a builder
//! that runtimes copy when they are made (`packr_runtime_new_with_host`).

use std::ffi::{c_char, c_void};
use std::mem::MaybeUninit;
use std::sync::Arc;

use wasmtime::{Caller, Engine, Linker, ValRaw};

use crate::boundary::{arg_mut, guard, guard_value, slice, utf8, BoxHandle, Out};
use crate::caller::packr_caller;
use crate::error::{
    packr_status, status_name, Error, HostFailure, Result, PACKR_ERR_EXIT, PACKR_ERR_GUEST, PACKR_ERR_INVALID_ARGUMENT, PACKR_ERR_NULL_POINTER,
    PACKR_ERR_TYPE_MISMATCH, PACKR_OK,
};
use crate::{pack, wasi};
use crate::store::StoreData;
use crate::types::Signature;
use crate::val::{is_carried, kind_name, packr_val, packr_val_union, packr_valkind};

/// A host function's implementation, called each time a guest calls the import it serves.
///
/// `env` is the pointer given to `packr_host_define_func`. `caller` gives access to the
/// calling instance (its host data, memories and exports) and is valid only until the
/// callback returns. `args` holds `nargs` arguments of the kinds the definition declared.
/// `results` holds `nresults` slots, pre-filled with zeros of the declared kinds; write
/// each result's value (and keep its kind).
///
/// Return `PACKR_OK` when the results are written. Any other status makes the guest trap
/// and the call that entered wasm fail with `PACKR_ERR_HOST` (see
/// `packr_caller_set_error` for the message). Results of the wrong kind do the same. The
/// exception: passing on `PACKR_ERR_EXIT` from a `packr_caller_call` in which the guest
/// called WASI's `proc_exit` ends the outer call as that exit (`PACKR_ERR_EXIT`, with the
/// guest's code in `packr_instance_exit_code`).
///
/// Thread rules: called on the thread that called into the instance (or, when that thread
/// has too little stack left for the guest, on the thread packr runs the call on: see
/// `packr_config_set_max_wasm_stack`); a function shared by many instances may be called on
/// several threads at once. A callback must not unwind
/// (throw a C++ exception, `longjmp`) out of itself.
pub type packr_host_callback = Option<
    unsafe extern "C" fn(
        env: *mut c_void,
        caller: *mut packr_caller,
        args: *const packr_val,
        nargs: usize,
        results: *mut packr_val,
        nresults: usize,
    ) -> packr_status,
>;

/// The callback of a defined function (a `packr_host_callback` known not to be NULL).
type Callback = unsafe extern "C" fn(*mut c_void, *mut packr_caller, *const packr_val, usize, *mut packr_val, usize) -> packr_status;

/// A pack-convention host function's implementation (see `packr_host_define_bytes`), called
/// each time a guest calls the import it serves.
///
/// `input` holds `input_len` bytes, a copy of the guest's input that is valid until the
/// callback returns (NULL when `input_len` is 0). To return bytes to the guest, call
/// `packr_caller_return_bytes` before returning `PACKR_OK`; returning without it gives the
/// guest an empty result.
///
/// Return `PACKR_OK` for success; `PACKR_ERR_GUEST` to have the import return -1 to the
/// guest (an error the guest handles; nothing is returned with it); any other status makes
/// the guest trap and the call that entered wasm fail with `PACKR_ERR_HOST`, as for
/// `packr_host_callback`. The thread rules are `packr_host_callback`'s.
pub type packr_bytes_callback =
    Option<unsafe extern "C" fn(env: *mut c_void, caller: *mut packr_caller, input: *const u8, input_len: usize) -> packr_status>;

type BytesCallback = unsafe extern "C" fn(*mut c_void, *mut packr_caller, *const u8, usize) -> packr_status;

/// How a host function is served.
#[derive(Clone, Copy)]
enum Serve {
    /// Values in, values out.
    Vals(Callback),
    /// The pack convention: bytes in, bytes out.
    Bytes(BytesCallback),
}

/// Runs once with a host function's `env` when nothing can call the function any more (see
/// `packr_host_define_func`). May be NULL where a finalizer is optional.
pub type packr_finalizer = Option<unsafe extern "C" fn(env: *mut c_void)>;

/// One defined host function. Shared (as an `Arc`) by the host and every runtime, linker,
/// module and store that can call it; the finalizer runs when the last of them lets go.
pub(crate) struct HostFunc {
    module: Box<str>,
    name: Box<str>,
    signature: Signature,
    callback: Serve,
    env: *mut c_void,
    finalizer: packr_finalizer,
}

// SAFETY: packr passes `env` only to the host's callback and finalizer, which the header
// requires to be callable from any thread.
unsafe impl Send for HostFunc {}
unsafe impl Sync for HostFunc {}

impl Drop for HostFunc {
    fn drop(&mut self) {
        if let Some(finalizer) = self.finalizer {
            // SAFETY: the host gave this finalizer for this env; it runs exactly once, here.
            unsafe { finalizer(self.env) };
        }
    }
}

impl HostFunc {
    /// A definition not yet named: owning `env` from here on, so dropping it on an error
    /// runs the finalizer.
    fn pending(callback: Serve, env: *mut c_void, finalizer: packr_finalizer) -> Self {
        HostFunc { module: "".into(), name: "".into(), signature: Signature::new(&[], &[]), callback, env, finalizer }
    }

    fn qualified(&self) -> String {
        format!("{}::{}", self.module, self.name)
    }

    pub(crate) fn signature(&self) -> &Signature {
        &self.signature
    }

    fn failure(&self, message: String) -> wasmtime::Error {
        wasmtime::Error::new(HostFailure { func: self.qualified(), message })
    }

    /// Why the callback returned `status`: an exit when it passed on `PACKR_ERR_EXIT` from
    /// a call of its own into the guest (so the guest's `proc_exit` ends the outer call as
    /// an exit with its code), the same stop when it passed on a timeout, interrupt or
    /// fuel exhaustion, else a host failure with the callback's message.
    fn failed(&self, ctx: &mut packr_caller, status: packr_status) -> wasmtime::Error {
        match (ctx.exit_code(), ctx.stopped()) {
            (Some(code), _) if status == PACKR_ERR_EXIT => wasmtime::Error::new(wasmtime_wasi::I32Exit(code)),
            (_, Some(stop)) if status == stop.status() => wasmtime::Error::new(stop),
            _ => self.failure(ctx.take_error().unwrap_or_else(|| status_name(status).to_string())),
        }
    }

    /// Serves one call from wasm: raw values to `packr_val`s, the host's callback, and back.
    #[inline]
    fn invoke(&self, mut caller: Caller<'_, StoreData>, space: &mut [MaybeUninit<ValRaw>]) -> wasmtime::Result<()> {
        let callback = match self.callback {
            Serve::Vals(callback) => callback,
            Serve::Bytes(callback) => return self.serve_bytes(callback, &mut caller, space),
        };
        let n = self.signature.params().len() + self.signature.results().len();
        if n <= SMALL {
            let mut slots = [const { MaybeUninit::<packr_val>::uninit() }; SMALL];
            self.serve(callback, &mut caller, space, &mut slots[..n])
        } else {
            self.serve(callback, &mut caller, space, &mut vec![MaybeUninit::uninit(); n])
        }
    }

    #[inline]
    fn serve(
        &self,
        callback: Callback,
        caller: &mut Caller<'_, StoreData>,
        space: &mut [MaybeUninit<ValRaw>],
        slots: &mut [MaybeUninit<packr_val>],
    ) -> wasmtime::Result<()> {
        let (params, kinds) = (self.signature.params(), self.signature.results());
        let (np, nr) = (params.len(), kinds.len());
        // One length check up front (wasmtime sizes `space` from the signature), so the
        // loops below index without checks of their own.
        let space = &mut space[..np.max(nr)];
        let slots = &mut slots[..np + nr];
        for i in 0..np {
            // SAFETY: wasmtime passes the arguments initialised, in the first slots.
            packr_val::write_to(&mut slots[i], params[i], packr_val::raw_payload(params[i], unsafe { space[i].assume_init_ref() }));
        }
        for i in 0..nr {
            packr_val::write_to(&mut slots[np + i], kinds[i], packr_val_union { v128: [0; 16] });
        }
        // SAFETY: every slot was written just above.
        let vals = unsafe { &mut *(slots as *mut [MaybeUninit<packr_val>] as *mut [packr_val]) };
        let (args, results) = vals.split_at_mut(np);
        let mut ctx = packr_caller::new(caller);
        // SAFETY: the pointers are valid for the call; the callback's contract is the host's.
        let status = unsafe { callback(self.env, &mut ctx, args.as_ptr(), np, results.as_mut_ptr(), nr) };
        if status != PACKR_OK {
            return Err(self.failed(&mut ctx, status));
        }
        for i in 0..nr {
            if let Err(e) = results[i].check(kinds[i], "result", i) {
                return Err(self.failure(e.message.into_owned()));
            }
            space[i].write(results[i].raw());
        }
        Ok(())
    }
}

impl HostFunc {
    /// Serves one pack-convention call: the input copied out of the guest, the callback, and
    /// its result (given to the guest with `__pack_alloc` by `packr_caller_return_bytes`)
    /// written into the guest's slots.
    fn serve_bytes(&self, callback: BytesCallback, caller: &mut Caller<'_, StoreData>, space: &mut [MaybeUninit<ValRaw>]) -> wasmtime::Result<()> {
        // SAFETY: wasmtime passes the four i32 arguments initialised (the pack shape).
        let arg = |i: usize| unsafe { space[i].assume_init_ref() }.get_i32();
        let (in_ptr, in_len, ptr_slot, len_slot) = (arg(0), arg(1), arg(2), arg(3));
        let input = pack::import_input(caller, in_ptr, in_len).map_err(|e| self.failure(e.message.into_owned()))?;
        let mut ctx = packr_caller::serving_bytes(caller);
        let input_ptr = if input.is_empty() { std::ptr::null() } else { input.as_ptr() };
        // SAFETY: the pointers are valid for the call; the callback's contract is the host's.
        let status = unsafe { callback(self.env, &mut ctx, input_ptr, input.len()) };
        let returned = ctx.take_returned();
        let code = match status {
            PACKR_OK => returned.code(),
            PACKR_ERR_GUEST => -1,
            _ => {
                let _ = pack::take_back(caller, returned);
                return Err(self.failed(&mut ctx, status));
            }
        };
        let returned = if code == -1 {
            pack::take_back(caller, returned).map_err(|e| self.failure(e.message.into_owned()))?;
            pack::Returned::default()
        } else {
            returned
        };
        if let Err(e) = pack::import_result(caller, ptr_slot, len_slot, returned) {
            let _ = pack::take_back(caller, returned);
            return Err(self.failure(e.message.into_owned()));
        }
        space[0].write(ValRaw::i32(code));
        Ok(())
    }
}

/// Parameters and results up to this many live on the stack during a host call.
const SMALL: usize = 8;

/// What a runtime copies from a `packr_host` when it is made.
#[derive(Clone, Default)]
pub(crate) struct HostDefs {
    funcs: Vec<Arc<HostFunc>>,
    pub(crate) trap_unknown_imports: bool,
    /// Whether the host serves WASI preview 1 (`packr_host_define_wasi`).
    pub(crate) wasi: bool,
}

impl HostDefs {
    pub(crate) fn find(&self, module: &str, name: &str) -> Option<&HostFunc> {
        self.funcs.iter().map(Arc::as_ref).find(|f| &*f.module == module && &*f.name == name)
    }

    /// A linker for `engine` serving these definitions.
    pub(crate) fn linker(&self, engine: &Engine) -> Result<Linker<StoreData>> {
        let mut linker = Linker::new(engine);
        if self.wasi {
            wasi::add_to_linker(&mut linker).map_err(|e| Error::new(PACKR_ERR_INVALID_ARGUMENT, format!("cannot define WASI: {e:#}")))?;
            // The host's own definitions replace WASI's functions of the same name.
            linker.allow_shadowing(true);
        }
        for func in &self.funcs {
            let ty = func.signature.func_type(engine);
            let served = Arc::clone(func);
            // SAFETY: `invoke` reads exactly the declared parameters and writes the declared
            // results, each of the kind `ty` declares.
            unsafe { linker.func_new_unchecked(&func.module, &func.name, ty, move |caller, space| served.invoke(caller, space)) }
                .map_err(|e| Error::new(PACKR_ERR_INVALID_ARGUMENT, format!("cannot define {}: {e}", func.qualified())))?;
        }
        Ok(linker)
    }
}

/// A set of host definitions, built up by `packr_host_define_func` and copied by
/// `packr_runtime_new_with_host`. It belongs to no engine, so one host can serve runtimes
/// of any engine.
///
/// Underneath it is a `Box` the host owns; free it with `packr_host_free` at any time:
/// runtimes made from it keep what they copied.
///
/// Thread rules: a host may move between threads but must not be changed by two threads at
/// once; making runtimes from it may happen on several threads at once while no thread
/// changes it.
pub struct packr_host {
    defs: HostDefs,
}

impl BoxHandle for packr_host {}

impl packr_host {
    pub(crate) fn defs(&self) -> &HostDefs {
        &self.defs
    }

    fn define(&mut self, func: HostFunc) -> Result<()> {
        // A refused definition is dropped on return, which runs its finalizer once, now.
        if self.defs.find(&func.module, &func.name).is_some() {
            return Err(Error::new(PACKR_ERR_INVALID_ARGUMENT, format!("{} is already defined in this host", func.qualified())));
        }
        self.defs.funcs.push(Arc::new(func));
        Ok(())
    }
}

fn checked_kinds(kinds: &[packr_valkind], what: &str, module: &str, name: &str) -> Result<()> {
    match kinds.iter().enumerate().find(|(_, k)| !is_carried(**k)) {
        None => Ok(()),
        Some((i, k)) => Err(Error::new(
            PACKR_ERR_TYPE_MISMATCH,
            format!("{what} {i} of {module}::{name} is {}, which packr values cannot carry", kind_name(*k)),
        )),
    }
}

/// Creates an empty set of host definitions.
///
/// On success writes it to `*host_out`; the caller owns it and frees it with
/// `packr_host_free`.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_host_new(host_out: *mut *mut packr_host) -> packr_status {
    guard(|| {
        Out::new(host_out, "host_out")?.write(packr_host { defs: HostDefs::default() }.into_raw());
        Ok(())
    })
}

/// Frees a host. Runtimes made from it keep their copy of its definitions; each function's
/// finalizer runs once nothing can call it any more (see `packr_host_define_func`).
///
/// NULL is a no-op. Must not be called twice for the same handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_host_free(host: *mut packr_host) {
    guard_value((), || {
        unsafe { BoxHandle::free_raw(host) };
        Ok(())
    })
}

/// Defines the function `module`::`name` with parameters `params[0..nparams]` and results
/// `results[0..nresults]` (carried kinds only: `PACKR_I32`, `PACKR_I64`, `PACKR_F32`,
/// `PACKR_F64`, `PACKR_V128`), served by `callback` with `env`. Runtimes made from `host`
/// after this call satisfy imports of that module, name and type with it.
///
/// `finalizer` may be NULL. Otherwise it is called with `env` exactly once, when nothing can
/// call the function any more: the host, every runtime made from it, and every module and
/// instance bound to those runtimes have been freed. It runs on whichever thread frees the
/// last of them, so it must be callable from any thread. If this call fails, the finalizer
/// runs before it returns (so a host can hand over `env` unconditionally), except when the
/// failure is a NULL `host` or `callback`, where packr cannot take ownership and runs nothing.
///
/// The strings and arrays are only read during the call; `params` (or `results`) may be
/// NULL when its count is 0.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if `module`
/// or `name` is not UTF-8 or `module`::`name` is already defined in this host;
/// `PACKR_ERR_TYPE_MISMATCH` if a kind cannot be carried (the message names it).
///
/// Thread rules: see `packr_host`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_host_define_func(
    host: *mut packr_host,
    module: *const c_char,
    name: *const c_char,
    params: *const packr_valkind,
    nparams: usize,
    results: *const packr_valkind,
    nresults: usize,
    callback: packr_host_callback,
    env: *mut c_void,
    finalizer: packr_finalizer,
) -> packr_status {
    guard(|| {
        let host = unsafe { arg_mut(host, "host") }?;
        let callback = callback.ok_or_else(|| Error::new(PACKR_ERR_NULL_POINTER, "`callback` is NULL"))?;
        // From here on packr owns `env`: dropping `pending` on any error runs the finalizer.
        let mut pending = HostFunc::pending(Serve::Vals(callback), env, finalizer);
        let module = unsafe { utf8(module, "module") }?;
        let name = unsafe { utf8(name, "name") }?;
        let params = unsafe { slice(params, nparams, "params") }?;
        let results = unsafe { slice(results, nresults, "results") }?;
        checked_kinds(params, "parameter", module, name)?;
        checked_kinds(results, "result", module, name)?;
        pending.module = module.into();
        pending.name = name.into();
        pending.signature = Signature::new(params, results);
        host.define(pending)
    })
}

/// Defines the function `module`::`name` in upstream packr's pack convention: the import's
/// type is `(in_ptr, in_len, out_ptr_ptr, out_len_ptr: i32) -> i32`, and `callback` sees
/// the input as bytes and returns its result as bytes (see `packr_bytes_callback`). packr
/// copies the input out of the guest's `memory` export, and gives a result to the guest in
/// a block from its `__pack_alloc`, returning 1 so the guest frees it; an empty result
/// returns 0 with a NULL, 0-length result. A pointer or slot outside the guest's memory
/// makes the guest trap with `PACKR_ERR_HOST` naming it.
///
/// Ownership of `env` and `finalizer`, and the statuses, are those of
/// `packr_host_define_func`. Thread rules: see `packr_host`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_host_define_bytes(
    host: *mut packr_host,
    module: *const c_char,
    name: *const c_char,
    callback: packr_bytes_callback,
    env: *mut c_void,
    finalizer: packr_finalizer,
) -> packr_status {
    guard(|| {
        let host = unsafe { arg_mut(host, "host") }?;
        let callback = callback.ok_or_else(|| Error::new(PACKR_ERR_NULL_POINTER, "`callback` is NULL"))?;
        let mut pending = HostFunc::pending(Serve::Bytes(callback), env, finalizer);
        pending.module = unsafe { utf8(module, "module") }?.into();
        pending.name = unsafe { utf8(name, "name") }?.into();
        pending.signature = pack::shape();
        host.define(pending)
    })
}

/// Makes runtimes made from `host` after this call serve WASI preview 1
/// (`wasi_snapshot_preview1`, and its older name `wasi_unstable`) to their instances, each
/// with a WASI context of its own made from its instance config (see
/// `packr_instance_config_set_wasi_args` and the functions after it). Functions the host
/// defines itself under those module names replace WASI's. Calling it again is a no-op.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread rules: see `packr_host`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_host_define_wasi(host: *mut packr_host) -> packr_status {
    guard(|| {
        unsafe { arg_mut(host, "host") }?.defs.wasi = true;
        Ok(())
    })
}

/// Chooses what runtimes made from `host` do with function imports nobody defined: with
/// `enabled`, each is satisfied by a function that traps when called (`PACKR_ERR_TRAP`), so
/// a module importing more than the host serves still instantiates; by default such imports
/// fail instantiation with `PACKR_ERR_LINK`. Imports of other kinds (memories, globals,
/// tables) must always be defined.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread rules: see `packr_host`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_host_set_unknown_imports_trap(host: *mut packr_host, enabled: bool) -> packr_status {
    guard(|| {
        unsafe { arg_mut(host, "host") }?.defs.trap_unknown_imports = enabled;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::{packr_caller_call, packr_caller_data, packr_caller_memory_data, packr_caller_set_error};
    use crate::error::*;
    use crate::instance::{packr_instance, packr_instance_call, packr_instance_free, packr_module_instantiate, packr_module_instantiate_with};
    use crate::module::{packr_module_free, packr_module_load};
    use crate::runtime::{packr_runtime, packr_runtime_free, packr_runtime_new, packr_runtime_new_with_host};
    use crate::testutil::i32v;
    use crate::testutil::last_error;
    use crate::val::{packr_val_union, PACKR_FUNCREF, PACKR_I32, PACKR_I64};
    use std::ptr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const GUEST: &str = r#"(module
        (import "env" "twice" (func $twice (param i32) (result i32)))
        (import "env" "fail" (func $fail (result i32)))
        (memory (export "memory") 1)
        (global $depth (mut i32) (i32.const 0))
        (func (export "use_twice") (param i32) (result i32) (call $twice (local.get 0)))
        (func (export "use_fail") (result i32) (call $fail))
        ;; Re-enters the host through `twice` until the argument reaches 0.
        (func (export "down") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
                (then (i32.const 0))
                (else (i32.add (i32.const 1) (call $twice (i32.sub (local.get 0) (i32.const 1))))))))"#;

    static FINALIZED: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn count_finalizer(env: *mut c_void) {
        assert_eq!(env as usize, 7);
        FINALIZED.fetch_add(1, Ordering::SeqCst);
    }

    /// `env::twice`: doubles through the guest's `down` when env is 1 (re-entrancy), or
    /// doubles in the host; writes the host data's first byte into memory 0 to prove access.
    unsafe extern "C" fn twice(
        env: *mut c_void,
        caller: *mut packr_caller,
        args: *const packr_val,
        nargs: usize,
        results: *mut packr_val,
        nresults: usize,
    ) -> packr_status {
        assert_eq!((nargs, nresults), (1, 1));
        let arg = unsafe { (*args).of.i32 };
        let data = unsafe { packr_caller_data(caller) };
        if !data.is_null() {
            let (mut base, mut size) = (ptr::null_mut(), 0u64);
            assert_eq!(unsafe { packr_caller_memory_data(caller, ptr::null(), &mut base, &mut size) }, PACKR_OK);
            assert_eq!(size, 65536);
            unsafe { *base = *(data as *const u8) };
        }
        if env as usize == 1 {
            let inner = [packr_val { kind: PACKR_I32, of: packr_val_union { i32: arg } }];
            return unsafe { packr_caller_call(caller, c"down".as_ptr(), inner.as_ptr(), 1, results, 1) };
        }
        unsafe { (*results).of.i32 = arg * 2 };
        PACKR_OK
    }

    unsafe extern "C" fn fail(
        env: *mut c_void,
        caller: *mut packr_caller,
        _args: *const packr_val,
        _nargs: usize,
        results: *mut packr_val,
        _nresults: usize,
    ) -> packr_status {
        match env as usize {
            0 => {
                unsafe { packr_caller_set_error(caller, c"no such key \"x\"".as_ptr()) };
                PACKR_ERR_NOT_FOUND
            }
            1 => PACKR_ERR_INVALID_ARGUMENT,
            _ => {
                // A result of the wrong kind.
                unsafe { *results = packr_val { kind: PACKR_I64, of: packr_val_union { i64: 1 } } };
                PACKR_OK
            }
        }
    }

    /// Frees what a test made, in the order a careful host would.
    fn free_all(instance: *mut packr_instance, module: *mut crate::module::packr_module, rt: *mut packr_runtime, base: *mut packr_runtime, host: *mut packr_host) {
        unsafe {
            packr_instance_free(instance);
            packr_module_free(module);
            packr_runtime_free(rt);
            packr_runtime_free(base);
            packr_host_free(host);
        }
    }

    fn new_host() -> *mut packr_host {
        let mut host = ptr::null_mut();
        assert_eq!(unsafe { packr_host_new(&mut host) }, PACKR_OK);
        host
    }

    fn define(host: *mut packr_host, name: &std::ffi::CStr, params: &[u32], results: &[u32], cb: packr_host_callback, env: usize, fin: packr_finalizer) -> packr_status {
        unsafe {
            packr_host_define_func(host, c"env".as_ptr(), name.as_ptr(), params.as_ptr(), params.len(), results.as_ptr(), results.len(), cb, env as *mut c_void, fin)
        }
    }

    fn runtime_with(host: *const packr_host) -> (*mut packr_runtime, *mut packr_runtime) {
        let (mut base, mut rt) = (ptr::null_mut(), ptr::null_mut());
        assert_eq!(unsafe { packr_runtime_new(&mut base) }, PACKR_OK);
        assert_eq!(unsafe { packr_runtime_new_with_host(base, host, &mut rt) }, PACKR_OK, "{}", last_error());
        (base, rt)
    }

    fn call1(instance: *mut packr_instance, name: &std::ffi::CStr, args: &[packr_val]) -> (packr_status, i32) {
        let mut result = [packr_val::zero(99)];
        let status = unsafe { packr_instance_call(instance, name.as_ptr(), args.as_ptr(), args.len(), result.as_mut_ptr(), 1) };
        (status, unsafe { result[0].of.i32 })
    }


    unsafe extern "C" fn record_args(
        env: *mut c_void,
        _caller: *mut packr_caller,
        args: *const packr_val,
        nargs: usize,
        _results: *mut packr_val,
        _nresults: usize,
    ) -> packr_status {
        let seen = unsafe { &mut *(env as *mut Vec<[u8; 16]>) };
        for i in 0..nargs {
            seen.push(unsafe { (*args.add(i)).of.v128 });
        }
        PACKR_OK
    }

    #[test]
    fn callback_arguments_have_every_unused_byte_zero() {
        let host = new_host();
        let mut seen: Vec<[u8; 16]> = Vec::new();
        let kinds = [PACKR_I64, crate::val::PACKR_F32, PACKR_I32, crate::val::PACKR_F64];
        assert_eq!(define(host, c"see", &kinds, &[], Some(record_args), &mut seen as *mut _ as usize, None), PACKR_OK);
        let (base, rt) = runtime_with(host);
        // Dirty the stack slots first: a call with all-ones values, then the real one.
        let wat = r#"(module (import "env" "see" (func $see (param i64 f32 i32 f64)))
            (func (export "go")
              (call $see (i64.const -1) (f32.const -nan:0x7fffff) (i32.const -1) (f64.const -1))
              (call $see (i64.const -1) (f32.const 1.5) (i32.const 7) (f64.const 2.5))))"#;
        let mut module = ptr::null_mut();
        assert_eq!(unsafe { packr_module_load(rt, wat.as_ptr(), wat.len(), &mut module) }, PACKR_OK);
        let mut instance = ptr::null_mut();
        assert_eq!(unsafe { packr_module_instantiate(module, &mut instance) }, PACKR_OK, "{}", last_error());
        assert_eq!(unsafe { packr_instance_call(instance, c"go".as_ptr(), ptr::null(), 0, ptr::null_mut(), 0) }, PACKR_OK);
        assert_eq!(seen.len(), 8);
        let [a, b, c, d] = [seen[4], seen[5], seen[6], seen[7]];
        assert_eq!(a, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(b[..4], 1.5f32.to_le_bytes());
        assert_eq!(c[..4], 7i32.to_le_bytes());
        assert_eq!(d[..8], 2.5f64.to_le_bytes());
        for (arg, width) in [(b, 4), (c, 4), (d, 8), (seen[1], 4), (seen[2], 4)] {
            assert!(arg[width..].iter().all(|&x| x == 0), "bytes past the kind's width: {arg:?}");
        }
        free_all(instance, module, rt, base, host);
    }

    #[test]
    fn callbacks_serve_imports_fail_with_their_message_and_finalize_once() {
        let host = new_host();
        let before = FINALIZED.load(Ordering::SeqCst);
        assert_eq!(define(host, c"twice", &[PACKR_I32], &[PACKR_I32], Some(twice), 7, Some(count_finalizer)), PACKR_OK);
        assert_eq!(define(host, c"fail", &[], &[PACKR_I32], Some(fail), 0, None), PACKR_OK);
        // The same name again is refused, and the refused definition's finalizer runs now.
        assert_eq!(define(host, c"twice", &[], &[], Some(twice), 7, Some(count_finalizer)), PACKR_ERR_INVALID_ARGUMENT);
        assert_eq!(last_error(), "env::twice is already defined in this host");
        assert_eq!(FINALIZED.load(Ordering::SeqCst), before + 1);

        let (base, rt) = runtime_with(host);
        unsafe { packr_host_free(host) };
        let mut module = ptr::null_mut();
        assert_eq!(unsafe { packr_module_load(rt, GUEST.as_ptr(), GUEST.len(), &mut module) }, PACKR_OK);
        let mut plain = ptr::null_mut();
        assert_eq!(unsafe { packr_module_load(base, GUEST.as_ptr(), GUEST.len(), &mut plain) }, PACKR_OK);
        let mut instance = ptr::null_mut();
        assert_eq!(unsafe { packr_module_instantiate(plain, &mut instance) }, PACKR_ERR_LINK);
        assert!(last_error().contains("2 imports unmet: env::twice (not defined; the module expects func(i32) -> (i32)); env::fail"), "{}", last_error());

        let data = 0xabu8;
        assert_eq!(unsafe { packr_module_instantiate_with(module, ptr::null(), &data as *const u8 as *mut c_void, &mut instance) }, PACKR_OK);
        unsafe { packr_runtime_free(rt) };
        unsafe { packr_module_free(module) };
        assert_eq!(call1(instance, c"use_twice", &[i32v(21)]), (PACKR_OK, 42));
        let mut byte = 0u8;
        assert_eq!(unsafe { crate::instance::packr_instance_memory_read(instance, ptr::null(), 0, &mut byte, 1) }, PACKR_OK);
        assert_eq!(byte, 0xab, "the callback saw the instance's data and wrote through zero-copy memory");

        assert_eq!(call1(instance, c"use_fail", &[]).0, PACKR_ERR_HOST);
        let message = last_error();
        assert_eq!(message.lines().next(), Some("host function env::fail failed: no such key \"x\""), "{message}");
        assert!(message.contains("wasm backtrace"), "{message}");
        assert_eq!(call1(instance, c"use_twice", &[i32v(1)]), (PACKR_OK, 2), "usable after a failing callback");
        // Every handle but the instance is freed: the function is still callable, so not finalized.
        assert_eq!(FINALIZED.load(Ordering::SeqCst), before + 1);
        unsafe { packr_instance_free(instance) };
        unsafe { packr_module_free(plain) };
        unsafe { packr_runtime_free(base) };
        assert_eq!(FINALIZED.load(Ordering::SeqCst), before + 2, "finalized once the last user went");
    }

    #[test]
    fn failures_without_a_message_name_the_status_and_bad_results_fail() {
        for (env, expected) in [
            (1, "host function env::fail failed: PACKR_ERR_INVALID_ARGUMENT"),
            (2, "host function env::fail failed: result 0 is i64, the signature wants i32"),
        ] {
            let host = new_host();
            assert_eq!(define(host, c"twice", &[PACKR_I32], &[PACKR_I32], Some(twice), 0, None), PACKR_OK);
            assert_eq!(define(host, c"fail", &[], &[PACKR_I32], Some(fail), env, None), PACKR_OK);
            let (base, rt) = runtime_with(host);
            let mut module = ptr::null_mut();
            assert_eq!(unsafe { packr_module_load(rt, GUEST.as_ptr(), GUEST.len(), &mut module) }, PACKR_OK);
            let mut instance = ptr::null_mut();
            assert_eq!(unsafe { packr_module_instantiate(module, &mut instance) }, PACKR_OK);
            assert_eq!(call1(instance, c"use_fail", &[]).0, PACKR_ERR_HOST);
            assert_eq!(last_error().lines().next(), Some(expected));
            free_all(instance, module, rt, base, host);
        }
    }

    #[test]
    fn callbacks_reenter_the_instance_through_the_caller() {
        let host = new_host();
        assert_eq!(define(host, c"twice", &[PACKR_I32], &[PACKR_I32], Some(twice), 1, None), PACKR_OK);
        assert_eq!(define(host, c"fail", &[], &[PACKR_I32], Some(fail), 0, None), PACKR_OK);
        let (base, rt) = runtime_with(host);
        let mut module = ptr::null_mut();
        assert_eq!(unsafe { packr_module_load(rt, GUEST.as_ptr(), GUEST.len(), &mut module) }, PACKR_OK);
        let mut instance = ptr::null_mut();
        assert_eq!(unsafe { packr_module_instantiate(module, &mut instance) }, PACKR_OK);
        // down(n) -> twice -> down(n-1) -> ...: 2n+1 frames alternating guest and host (host
        // frames count against the wasm stack limit; unoptimised test builds have large ones).
        assert_eq!(call1(instance, c"down", &[i32v(30)]), (PACKR_OK, 30), "{}", last_error());
        // Too deep: the stack limit is a trap, and every level's failure names the cause.
        assert_eq!(call1(instance, c"down", &[i32v(100_000)]).0, PACKR_ERR_HOST);
        assert!(last_error().starts_with("host function env::twice failed: host function env::twice failed: "), "{}", last_error());
        assert!(last_error().contains("call stack exhausted"), "{}", last_error());
        assert_eq!(call1(instance, c"down", &[i32v(3)]), (PACKR_OK, 3), "usable after");
        free_all(instance, module, rt, base, host);
    }

    #[test]
    fn definitions_are_checked_and_unknown_imports_can_trap() {
        let host = new_host();
        assert_eq!(define(host, c"f", &[PACKR_FUNCREF], &[], Some(twice), 0, None), PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(last_error(), "parameter 0 of env::f is funcref, which packr values cannot carry");
        assert_eq!(define(host, c"f", &[], &[99], Some(twice), 0, None), PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(last_error(), "result 0 of env::f is unknown kind 99, which packr values cannot carry");
        assert_eq!(define(host, c"f", &[], &[], None, 0, None), PACKR_ERR_NULL_POINTER);
        assert_eq!(last_error(), "`callback` is NULL");
        assert_eq!(define(ptr::null_mut(), c"f", &[], &[], Some(twice), 0, None), PACKR_ERR_NULL_POINTER);
        let bad = unsafe {
            packr_host_define_func(host, c"\xff".as_ptr(), c"f".as_ptr(), ptr::null(), 0, ptr::null(), 0, Some(twice), ptr::null_mut(), None)
        };
        assert_eq!(bad, PACKR_ERR_INVALID_ARGUMENT);
        assert_eq!(unsafe { packr_host_new(ptr::null_mut()) }, PACKR_ERR_NULL_POINTER);

        // Only `fail` is defined: `twice` is satisfied by a trapping function.
        assert_eq!(define(host, c"fail", &[], &[PACKR_I32], Some(fail), 0, None), PACKR_OK);
        assert_eq!(unsafe { packr_host_set_unknown_imports_trap(host, true) }, PACKR_OK);
        assert_eq!(unsafe { packr_host_set_unknown_imports_trap(ptr::null_mut(), true) }, PACKR_ERR_NULL_POINTER);
        let (base, rt) = runtime_with(host);
        let mut module = ptr::null_mut();
        assert_eq!(unsafe { packr_module_load(rt, GUEST.as_ptr(), GUEST.len(), &mut module) }, PACKR_OK);
        let mut instance = ptr::null_mut();
        assert_eq!(unsafe { packr_module_instantiate(module, &mut instance) }, PACKR_OK, "{}", last_error());
        assert_eq!(call1(instance, c"use_twice", &[i32v(1)]).0, PACKR_ERR_TRAP);
        assert!(last_error().contains("env::twice"), "{}", last_error());
        assert_eq!(call1(instance, c"use_fail", &[]).0, PACKR_ERR_HOST);
        let mut out = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_new_with_host(base, ptr::null(), &mut out) }, PACKR_ERR_NULL_POINTER);
        assert!(out.is_null());
        free_all(instance, module, rt, base, host);
        unsafe { packr_host_free(ptr::null_mut()) };
    }

    /// `env::twice` that calls `packr_instance_call` on its own instance (through the data).
    unsafe extern "C" fn reenter_by_handle(
        _env: *mut c_void,
        caller: *mut packr_caller,
        _args: *const packr_val,
        _nargs: usize,
        results: *mut packr_val,
        _nresults: usize,
    ) -> packr_status {
        let instance = unsafe { *(packr_caller_data(caller) as *const *mut packr_instance) };
        let mut inner = [packr_val::zero(PACKR_I32)];
        let status = unsafe { packr_instance_call(instance, c"use_fail".as_ptr(), ptr::null(), 0, inner.as_mut_ptr(), 1) };
        unsafe { (*results).of.i32 = status };
        PACKR_OK
    }

    #[test]
    fn the_instance_itself_is_busy_inside_its_callback() {
        let host = new_host();
        assert_eq!(define(host, c"twice", &[PACKR_I32], &[PACKR_I32], Some(reenter_by_handle), 0, None), PACKR_OK);
        assert_eq!(define(host, c"fail", &[], &[PACKR_I32], Some(fail), 0, None), PACKR_OK);
        let (base, rt) = runtime_with(host);
        let mut module = ptr::null_mut();
        assert_eq!(unsafe { packr_module_load(rt, GUEST.as_ptr(), GUEST.len(), &mut module) }, PACKR_OK);
        let mut slot: *mut packr_instance = ptr::null_mut();
        let mut instance = ptr::null_mut();
        let data = &mut slot as *mut *mut packr_instance as *mut c_void;
        assert_eq!(unsafe { packr_module_instantiate_with(module, ptr::null(), data, &mut instance) }, PACKR_OK);
        slot = instance;
        assert_eq!(unsafe { crate::instance::packr_instance_data(instance) }, data);
        assert_eq!(call1(slot, c"use_twice", &[i32v(0)]), (PACKR_OK, PACKR_ERR_BUSY));
        free_all(instance, module, rt, base, host);
    }

    unsafe extern "C" fn sum(
        _env: *mut c_void,
        _caller: *mut packr_caller,
        args: *const packr_val,
        nargs: usize,
        results: *mut packr_val,
        nresults: usize,
    ) -> packr_status {
        let args = unsafe { std::slice::from_raw_parts(args, nargs) };
        let results = unsafe { std::slice::from_raw_parts_mut(results, nresults) };
        let total: i64 = args.iter().map(|a| unsafe { a.of.i32 } as i64).sum();
        for (i, r) in results.iter_mut().enumerate() {
            r.of.i64 = total + i as i64;
        }
        PACKR_OK
    }

    #[test]
    fn many_parameters_and_results_take_the_heap_path() {
        let host = new_host();
        let params = [PACKR_I32; 10];
        let results = [PACKR_I64; 3];
        assert_eq!(define(host, c"sum", &params, &results, Some(sum), 0, None), PACKR_OK);
        let (base, rt) = runtime_with(host);
        let wat = r#"(module
            (import "env" "sum" (func $sum (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i64 i64 i64)))
            (func (export "f") (result i64)
                (call $sum (i32.const 1) (i32.const 2) (i32.const 3) (i32.const 4) (i32.const 5)
                           (i32.const 6) (i32.const 7) (i32.const 8) (i32.const 9) (i32.const 10))
                i64.add i64.add))"#;
        let mut module = ptr::null_mut();
        assert_eq!(unsafe { packr_module_load(rt, wat.as_ptr(), wat.len(), &mut module) }, PACKR_OK, "{}", last_error());
        let mut instance = ptr::null_mut();
        assert_eq!(unsafe { packr_module_instantiate(module, &mut instance) }, PACKR_OK);
        let mut out = [packr_val::zero(99)];
        assert_eq!(unsafe { packr_instance_call(instance, c"f".as_ptr(), ptr::null(), 0, out.as_mut_ptr(), 1) }, PACKR_OK);
        assert_eq!((out[0].kind, unsafe { out[0].of.i64 }), (PACKR_I64, 55 * 3 + 3));
        free_all(instance, module, rt, base, host);
    }
}
