//! Runtimes: an engine (compiled code's home) plus what instances get linked against.

use std::sync::Arc;

use wasmtime::{Engine, Linker};

use crate::boundary::{arg, guard, guard_value, ArcHandle, Out};
use crate::config::{packr_config, settings, Settings};
use crate::error::{cause_chain, packr_status, Error, Result, PACKR_ERR_RESOURCE};
use crate::instance::StoreData;

/// A runtime: a wasmtime engine and the set of host definitions instances are linked
/// against (empty for now: modules with imports fail to instantiate with `PACKR_ERR_LINK`).
///
/// Underneath it is an atomically reference-counted value. Modules and instances made from
/// a runtime keep what they need of it alive, so the runtime handle can be freed at any
/// time, before or after them.
///
/// Thread rules: a runtime may be used by any number of threads at once.
pub struct packr_runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<StoreData>,
}

impl ArcHandle for packr_runtime {}

impl packr_runtime {
    pub(crate) fn new(settings: &Settings) -> Result<Self> {
        let engine = Engine::new(&settings.to_wasmtime()?).map_err(|e| {
            Error::new(PACKR_ERR_RESOURCE, format!("cannot create the engine: {}", cause_chain(&e)))
        })?;
        Ok(Self::with_engine(engine))
    }

    pub(crate) fn with_engine(engine: Engine) -> Self {
        let linker = Linker::new(&engine);
        packr_runtime { engine, linker }
    }
}

/// Creates a runtime with default settings and its own engine.
///
/// On success writes a new runtime to `*runtime_out`; the caller owns it and frees it with
/// `packr_runtime_free`.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER` if `runtime_out` is NULL, or
/// `PACKR_ERR_RESOURCE` if the engine cannot be created.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_runtime_new(runtime_out: *mut *mut packr_runtime) -> packr_status {
    guard(|| {
        let out = Out::new(runtime_out, "runtime_out")?;
        let runtime = packr_runtime::new(&Settings::default())?;
        out.write(ArcHandle::into_raw(Arc::new(runtime)).cast_mut());
        Ok(())
    })
}

/// Creates a runtime with its own engine, configured by `config` (see `packr_config`). The
/// runtime copies what it needs: `config` stays the caller's, unchanged, and may be freed or
/// reused at once.
///
/// On success writes a new runtime to `*runtime_out`; the caller owns it and frees it with
/// `packr_runtime_free`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` if `config` or `runtime_out` is NULL;
/// `PACKR_ERR_INVALID_ARGUMENT` if the settings cannot work together (the message names
/// them); `PACKR_ERR_RESOURCE` if the engine cannot be created, for example when a pool's
/// address space cannot be reserved under `ulimit -v`.
///
/// Thread-safe, as long as no thread changes `config` meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_runtime_new_with_config(
    config: *const packr_config,
    runtime_out: *mut *mut packr_runtime,
) -> packr_status {
    guard(|| {
        let settings = unsafe { settings(config) }?;
        let out = Out::new(runtime_out, "runtime_out")?;
        let runtime = packr_runtime::new(settings)?;
        out.write(ArcHandle::into_raw(Arc::new(runtime)).cast_mut());
        Ok(())
    })
}

/// Creates a separate runtime that shares `base`'s engine, so modules compiled or wrapped
/// by either can be wrapped into the other (`packr_runtime_wrap_module`) without
/// recompiling. The new runtime has its own host definitions; `base` is not changed.
///
/// On success writes a new runtime to `*runtime_out`; the caller owns it and frees it with
/// `packr_runtime_free`. `base` stays the caller's and may be freed first.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER` if `base` or `runtime_out` is NULL.
///
/// Thread-safe: `base` may be in use on other threads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_runtime_new_sharing_engine(
    base: *const packr_runtime,
    runtime_out: *mut *mut packr_runtime,
) -> packr_status {
    guard(|| {
        let base = unsafe { arg(base, "base") }?;
        let out = Out::new(runtime_out, "runtime_out")?;
        let runtime = packr_runtime::with_engine(base.engine.clone());
        out.write(ArcHandle::into_raw(Arc::new(runtime)).cast_mut());
        Ok(())
    })
}

/// Frees a runtime handle. Modules and instances made from it stay valid and keep working.
///
/// NULL is a no-op. Must not be called twice for the same handle, nor while another thread
/// is inside a call that uses this handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_runtime_free(runtime: *mut packr_runtime) {
    guard_value((), || {
        unsafe { ArcHandle::free_raw(runtime.cast_const()) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{PACKR_ERR_NULL_POINTER, PACKR_OK};
    use crate::testutil::last_error;
    use std::ptr;

    #[test]
    fn new_and_free() {
        let mut rt = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_new(&mut rt) }, PACKR_OK);
        assert!(!rt.is_null());
        let mut shared = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_new_sharing_engine(rt, &mut shared) }, PACKR_OK);
        let (a, b) = unsafe { (&*rt, &*shared) };
        assert!(Engine::same(&a.engine, &b.engine));
        unsafe { packr_runtime_free(rt) };
        unsafe { packr_runtime_free(shared) };
        unsafe { packr_runtime_free(ptr::null_mut()) };
    }

    #[test]
    fn null_arguments() {
        assert_eq!(unsafe { packr_runtime_new(ptr::null_mut()) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(last_error(), "`runtime_out` is NULL");
        let mut out = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_new_sharing_engine(ptr::null(), &mut out) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(last_error(), "`base` is NULL");
        assert!(out.is_null());
    }
}
