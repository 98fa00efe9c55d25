//! Host definitions: functions the host serves to guests' imports, collected in a builder
//! that runtimes copy when they are made (`packr_runtime_new_with_host`).

use std::ffi::{c_char, c_void};
use std::mem::MaybeUninit;
use std::sync::Arc;

use wasmtime::{Caller, Engine, Linker, ValRaw};

use crate::boundary::{arg_mut, guard, guard_value, slice, utf8, BoxHandle, Out};
use crate::caller::packr_caller;
use crate::call::with_slots;
use crate::error::{
    packr_status, status_name, Error, HostFailure, Result, PACKR_ERR_INVALID_ARGUMENT, PACKR_ERR_NULL_POINTER, PACKR_ERR_TYPE_MISMATCH,
    PACKR_OK,
};
use crate::store::StoreData;
use crate::types::Signature;
use crate::val::{is_carried, kind_name, packr_val, packr_valkind};

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
/// `packr_caller_set_error` for the message). Results of the wrong kind do the same.
///
/// Thread rules: called on the thread that called into the instance; a function shared by
/// many instances may be called on several threads at once. A callback must not unwind
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

/// Runs once with a host function's `env` when nothing can call the function any more (see
/// `packr_host_define_func`). May be NULL where a finalizer is optional.
pub type packr_finalizer = Option<unsafe extern "C" fn(env: *mut c_void)>;

/// One defined host function. Shared (as an `Arc`) by the host and every runtime, linker,
/// module and store that can call it; the finalizer runs when the last of them lets go.
pub(crate) struct HostFunc {
    module: Box<str>,
    name: Box<str>,
    signature: Signature,
    callback: Callback,
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
    fn qualified(&self) -> String {
        format!("{}::{}", self.module, self.name)
    }

    pub(crate) fn signature(&self) -> &Signature {
        &self.signature
    }

    fn failure(&self, message: String) -> wasmtime::Error {
        wasmtime::Error::new(HostFailure { func: self.qualified(), message })
    }

    /// Serves one call from wasm: raw values to `packr_val`s, the host's callback, and back.
    #[inline]
    fn invoke(&self, mut caller: Caller<'_, StoreData>, space: &mut [MaybeUninit<ValRaw>]) -> wasmtime::Result<()> {
        let (params, kinds) = (self.signature.params(), self.signature.results());
        let (np, nr) = (params.len(), kinds.len());
        with_slots::<packr_val, _>(np + nr, |slots| {
            for ((slot, kind), raw) in slots.iter_mut().zip(params).zip(space.iter()) {
                // SAFETY: wasmtime passes the arguments initialised, in the first slots.
                slot.write(packr_val::from_raw(*kind, unsafe { raw.assume_init_ref() }));
            }
            for (slot, kind) in slots[np..].iter_mut().zip(kinds) {
                slot.write(packr_val::zero(*kind));
            }
            // SAFETY: every slot was written just above.
            let vals = unsafe { &mut *(slots as *mut [MaybeUninit<packr_val>] as *mut [packr_val]) };
            let (args, results) = vals.split_at_mut(np);
            let mut ctx = packr_caller::new(&mut caller);
            // SAFETY: the pointers are valid for the call; the callback's contract is the host's.
            let status = unsafe { (self.callback)(self.env, &mut ctx, args.as_ptr(), np, results.as_mut_ptr(), nr) };
            if status != PACKR_OK {
                let message = ctx.take_error().unwrap_or_else(|| status_name(status).to_string());
                return Err(self.failure(message));
            }
            for (i, ((result, kind), raw)) in results.iter().zip(kinds).zip(space.iter_mut()).enumerate() {
                if let Err(e) = result.check(*kind, "result", i) {
                    return Err(self.failure(e.message));
                }
                raw.write(result.to_raw());
            }
            Ok(())
        })
    }
}

/// What a runtime copies from a `packr_host` when it is made.
#[derive(Clone, Default)]
pub(crate) struct HostDefs {
    funcs: Vec<Arc<HostFunc>>,
    pub(crate) trap_unknown_imports: bool,
}

impl HostDefs {
    pub(crate) fn find(&self, module: &str, name: &str) -> Option<&HostFunc> {
        self.funcs.iter().map(Arc::as_ref).find(|f| &*f.module == module && &*f.name == name)
    }

    /// A linker for `engine` serving these definitions.
    pub(crate) fn linker(&self, engine: &Engine) -> Result<Linker<StoreData>> {
        let mut linker = Linker::new(engine);
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
        // Until `func` is stored, an error drops it, and its finalizer runs: the host's env
        // is never lost. Check first, so a refused definition does not run the finalizer
        // twice in the host's eyes (it runs once, now, for the refused definition).
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
        let mut pending = HostFunc { module: "".into(), name: "".into(), signature: Signature::new(&[], &[]), callback, env, finalizer };
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
