//! Func handles: an export resolved once on compiled code, called on any of its instances
//! without a name lookup.

use std::ffi::c_char;
use std::sync::Arc;

use crate::boundary::{arg, guard, guard_value, slice, slice_mut, utf8, BoxHandle, Out};
use crate::bytes::packr_bytes;
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
        self.check_instance(instance)?;
        instance.call_export(self.position, args, results)
    }

    #[inline]
    fn check_instance(&self, instance: &packr_instance) -> Result<()> {
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
        Ok(())
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
pub unsafe extern "C" fn packr_func_get_signature(func: *const packr_func, signature_out: *mut packr_func_signature) -> packr_status {
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

/// Makes a pack call of `func` on `instance`: `packr_instance_call_bytes` without the name
/// lookup, with the same input, output, rules and statuses.
///
/// Returns, besides `packr_instance_call_bytes`'s statuses, `PACKR_ERR_INVALID_ARGUMENT` if
/// `func` was resolved on other compiled code than `instance`'s.
///
/// Thread rules: see `packr_instance`; `func` may be used by other threads meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_call_func_bytes(
    instance: *mut packr_instance,
    func: *const packr_func,
    input: *const u8,
    input_len: usize,
    output_out: *mut packr_bytes,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let func = unsafe { arg(func, "func") }?;
        let input = unsafe { slice(input, input_len, "input") }?;
        let out = Out::new(output_out, "output_out")?;
        func.check_instance(instance)?;
        out.write(packr_bytes::from_vec(instance.call_bytes(func.position, input)?));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::*;
    use crate::module::{packr_module_clone, packr_runtime_wrap_module};
    use crate::runtime::{packr_runtime_free, packr_runtime_new_sharing_engine};
    use crate::testutil::i32v;
    use crate::testutil::{last_error, Host};
    use crate::types::packr_func_signature;
    use crate::val::{packr_val_union, PACKR_I32, PACKR_V128};
    use std::ptr;

    const CODE: &str = r#"(module
        (memory (export "memory") 1)
        (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
        (func (export "rev") (param v128) (result v128) (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0 (local.get 0) (local.get 0)))
        (func (export "r") (param externref)))"#;

    fn resolve(module: *const packr_module, name: &std::ffi::CStr) -> (packr_status, *mut packr_func) {
        let mut func = ptr::null_mut();
        (unsafe { packr_module_func(module, name.as_ptr(), &mut func) }, func)
    }


    #[test]
    fn a_func_calls_every_instance_of_its_code_and_only_those() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, CODE);
        let (status, add) = resolve(module, c"add");
        assert_eq!(status, PACKR_OK);
        // Through a clone and a wrap into a runtime sharing the engine.
        let mut shared = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_new_sharing_engine(rt, &mut shared) }, PACKR_OK);
        let mut wrapped = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_wrap_module(shared, module, &mut wrapped) }, PACKR_OK);
        host.keep_module(wrapped);
        host.keep_module(unsafe { packr_module_clone(module) });
        unsafe { packr_runtime_free(shared) };
        for m in [module, wrapped] {
            let instance = host.instantiate(m);
            let mut out = [packr_val::zero(99)];
            let status = unsafe { packr_instance_call_func(instance, add, [i32v(40), i32v(2)].as_ptr(), 2, out.as_mut_ptr(), 1) };
            assert_eq!(status, PACKR_OK, "{}", last_error());
            assert_eq!((out[0].kind, unsafe { out[0].of.i32 }), (PACKR_I32, 42));
            // Checked like any call.
            let status = unsafe { packr_instance_call_func(instance, add, [i32v(1)].as_ptr(), 1, out.as_mut_ptr(), 1) };
            assert_eq!(status, PACKR_ERR_TYPE_MISMATCH);
            assert_eq!(last_error(), "`add` takes 2 arguments and returns 1 results; the call passed 1 and 1");
        }
        // The same text compiled again is other code.
        let other = host.load(rt, CODE);
        let instance = host.instantiate(other);
        let mut out = [packr_val::zero(99)];
        let status = unsafe { packr_instance_call_func(instance, add, [i32v(1), i32v(2)].as_ptr(), 2, out.as_mut_ptr(), 1) };
        assert_eq!(status, PACKR_ERR_INVALID_ARGUMENT);
        assert!(last_error().starts_with("func `add` was resolved on other compiled code than this instance's"), "{}", last_error());
        assert_eq!(out[0].kind, 99, "results untouched");

        let mut sig = packr_func_signature { params: ptr::null(), nparams: 0, results: ptr::null(), nresults: 0 };
        assert_eq!(unsafe { packr_func_get_signature(add, &mut sig) }, PACKR_OK);
        assert_eq!((sig.nparams, sig.nresults), (2, 1));
        unsafe { packr_func_free(add) };
        unsafe { packr_func_free(ptr::null_mut()) };
    }

    #[test]
    fn v128_goes_in_and_out_and_refusals_name_the_cause() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, CODE);
        let instance = host.instantiate(module);
        let (status, rev) = resolve(module, c"rev");
        assert_eq!(status, PACKR_OK);
        let bytes: [u8; 16] = std::array::from_fn(|i| i as u8);
        let arg = packr_val { kind: PACKR_V128, of: packr_val_union { v128: bytes } };
        let mut out = [packr_val::zero(99)];
        assert_eq!(unsafe { packr_instance_call_func(instance, rev, &arg, 1, out.as_mut_ptr(), 1) }, PACKR_OK);
        let mut reversed = bytes;
        reversed.reverse();
        assert_eq!((out[0].kind, unsafe { out[0].of.v128 }), (PACKR_V128, reversed));
        unsafe { packr_func_free(rev) };

        assert_eq!(resolve(module, c"r").0, PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(last_error(), "export `r` uses type externref, which packr values cannot carry");
        assert_eq!(resolve(module, c"memory").0, PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(resolve(module, c"nope").0, PACKR_ERR_NOT_FOUND);
        assert_eq!(resolve(ptr::null(), c"add").0, PACKR_ERR_NULL_POINTER);
        assert_eq!(unsafe { packr_module_func(module, c"add".as_ptr(), ptr::null_mut()) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(unsafe { packr_instance_call_func(instance, ptr::null(), ptr::null(), 0, ptr::null_mut(), 0) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(last_error(), "`func` is NULL");
    }
}
