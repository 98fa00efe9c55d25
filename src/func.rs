//! Func handles: an export resolved once on compiled code, called on any of its instances
//! without a name lookup.

use std::ffi::c_char;
use std::sync::Arc;

use crate::boundary::{arg, guard, guard_value, slice, slice_mut, utf8, BoxHandle, Out};
use crate::error::{packr_status, Error, Result, PACKR_ERR_INVALID_ARGUMENT};
use crate::instance::packr_instance;
use crate::module::{packr_module, Compiled};
use crate::types::{packr_func_signature, Export};
use crate::val::packr_val;

/// An exported function resolved on a module's compiled code by `packr_module_func`. It
/// works on every instance of that code, made through any clone or wrap of the module, in
/// any runtime: resolve when a module enters the host's cache, call on every spawn.
///
/// Underneath it is a `Box` the host owns; it keeps the compiled code alive (not the
/// runtime), so the module may be freed first.
///
/// Thread rules: a func never changes, so any number of threads may use it at once.
pub struct packr_func {
    compiled: Arc<Compiled>,
    /// The export's position in `compiled`'s export table.
    position: usize,
}

impl BoxHandle for packr_func {}

impl packr_func {
    fn export(&self) -> &Export {
        &self.compiled.exports.list()[self.position]
    }

    fn resolve(module: &packr_module, name: &str) -> Result<Self> {
        let compiled = Arc::clone(&module.compiled);
        let position = compiled.exports.position(name)?;
        compiled.exports.list()[position].callable()?;
        Ok(packr_func { compiled, position })
    }

    #[inline]
    fn call(&self, instance: &packr_instance, args: &[packr_val], results: &mut [packr_val]) -> Result<()> {
        if !Arc::ptr_eq(&self.compiled, &instance.module.compiled) {
            return Err(Error::new(
                PACKR_ERR_INVALID_ARGUMENT,
                format!(
                    "func `{}` was resolved on other compiled code than this instance's; resolve it with \
                     packr_module_func on a module this instance was made from (or a clone or wrap of it)",
                    self.export().name()
                ),
            ));
        }
        instance.call_export(self.export(), args, results)
    }
}

/// Resolves the exported function `export_name` of `module` into a func handle, checking
/// once that packr values can carry its signature.
///
/// On success writes the func to `*func_out`; the caller owns it and frees it with
/// `packr_func_free`. The name is only read during the call.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the name
/// is not UTF-8; `PACKR_ERR_NOT_FOUND` if there is no such export;
/// `PACKR_ERR_TYPE_MISMATCH` if it is not a function or uses types packr cannot carry.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_func(
    module: *const packr_module,
    export_name: *const c_char,
    func_out: *mut *mut packr_func,
) -> packr_status {
    guard(|| {
        let module = unsafe { arg(module, "module") }?;
        let name = unsafe { utf8(export_name, "export_name") }?;
        let out = Out::new(func_out, "func_out")?;
        out.write(packr_func::resolve(module, name)?.into_raw());
        Ok(())
    })
}

/// Describes the func's signature in `*signature_out`; the arrays stay valid while the func
/// lives.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_func_signature(func: *const packr_func, signature_out: *mut packr_func_signature) -> packr_status {
    guard(|| {
        let func = unsafe { arg(func, "func") }?;
        let out = Out::new(signature_out, "signature_out")?;
        out.write(func.export().function()?.describe());
        Ok(())
    })
}

/// Frees a func handle.
///
/// NULL is a no-op. Must not be called twice, nor while another thread is calling through it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_func_free(func: *mut packr_func) {
    guard_value((), || {
        unsafe { BoxHandle::free_raw(func) };
        Ok(())
    })
}

/// Calls `func` on `instance`: `packr_instance_call` without the name lookup, with the
/// same arguments, results, rules and statuses. This is packr's fastest call path: it
/// checks kinds and counts, then enters wasm through wasmtime's raw-value entry, with no
/// heap allocation for up to 16 values.
///
/// Returns, besides `packr_instance_call`'s statuses, `PACKR_ERR_INVALID_ARGUMENT` if
/// `func` was resolved on other compiled code than `instance`'s.
///
/// Thread rules: see `packr_instance`; `func` may be used by other threads meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_call_func(
    instance: *mut packr_instance,
    func: *const packr_func,
    args: *const packr_val,
    nargs: usize,
    results: *mut packr_val,
    nresults: usize,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let func = unsafe { arg(func, "func") }?;
        let args = unsafe { slice(args, nargs, "args") }?;
        let results = unsafe { slice_mut(results, nresults, "results") }?;
        func.call(instance, args, results)
    })
}
