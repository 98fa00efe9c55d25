//! Runtimes: an engine (compiled code's home) plus the host definitions instances are
//! linked against.

use std::sync::Arc;

use wasmtime::{Engine, ExternType, InstancePre, Linker};

use crate::boundary::{arg, guard, guard_value, ArcHandle, Out};
use crate::config::{packr_config, settings, Settings};
use crate::engine::EngineState;
use crate::error::{packr_status, Error, Phase, Result, PACKR_ERR_LINK};
use crate::host::{packr_host, HostDefs};
use crate::store::StoreData;
use crate::types::Signature;
use crate::val::{kind_name, kind_of};
use crate::wasi;

/// A runtime: a wasmtime engine and the host definitions instances are linked against
/// (none for `packr_runtime_new`: modules with imports then fail to instantiate with
/// `PACKR_ERR_LINK`; see `packr_runtime_new_with_host`).
///
/// Underneath it is an atomically reference-counted value. Modules and instances made from
/// a runtime keep what they need of it alive, so the runtime handle can be freed at any
/// time, before or after them. A runtime never changes once made.
///
/// Thread rules: a runtime may be used by any number of threads at once.
pub struct packr_runtime {
    /// The engine and its timer, shared with every runtime sharing the engine.
    pub(crate) shared: Arc<EngineState>,
    linker: Linker<StoreData>,
    host: HostDefs,
}

impl ArcHandle for packr_runtime {}

impl packr_runtime {
    pub(crate) fn new(settings: &Settings) -> Result<Self> {
        Self::with_engine(Arc::new(EngineState::new(settings)?), HostDefs::default())
    }

    pub(crate) fn with_engine(shared: Arc<EngineState>, host: HostDefs) -> Result<Self> {
        let linker = host.linker(&shared.engine)?;
        Ok(packr_runtime { shared, linker, host })
    }

    #[inline]
    pub(crate) fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// Whether instances of this runtime get a WASI context.
    pub(crate) fn serves_wasi(&self) -> bool {
        self.host.wasi
    }

    /// `module` linked against this runtime's definitions. Every import that cannot be
    /// satisfied is named in one `PACKR_ERR_LINK`, with the type the module expects.
    pub(crate) fn resolve(&self, module: &wasmtime::Module) -> Result<InstancePre<StoreData>> {
        let mut unmet = Vec::new();
        for import in module.imports() {
            let (m, n, ty) = (import.module(), import.name(), import.ty());
            let problem = match (&ty, self.host.find(m, n)) {
                (ExternType::Func(f), Some(def)) => {
                    let wanted = Signature::of(f);
                    (wanted != *def.signature()).then(|| format!("the module expects {wanted}, the host defines {}", def.signature()))
                }
                // wasmtime checks these against WASI's own definitions when it links.
                (ExternType::Func(_), None) if self.host.wasi && wasi::serves(m) => None,
                (ExternType::Func(_), None) if self.host.trap_unknown_imports => None,
                (ExternType::Func(f), None) => Some(format!("not defined; the module expects {}", Signature::of(f))),
                (ExternType::Global(g), _) => Some(format!("not defined; the module expects a global {}", kind_name(kind_of(g.content())))),
                (ExternType::Memory(_), _) => Some("not defined; the module expects a memory".to_string()),
                (ExternType::Table(_), _) => Some("not defined; the module expects a table".to_string()),
                (ExternType::Tag(_), _) => Some("not defined; the module expects a tag".to_string()),
            };
            if let Some(problem) = problem {
                unmet.push(format!("{m}::{n} ({problem})"));
            }
        }
        if !unmet.is_empty() {
            let count = if unmet.len() == 1 { "1 import".to_string() } else { format!("{} imports", unmet.len()) };
            let hint = if !self.host.wasi && module.imports().any(|i| wasi::serves(i.module())) {
                "; a host serves WASI with packr_host_define_wasi"
            } else {
                ""
            };
            return Err(Error::new(PACKR_ERR_LINK, format!("cannot link module: {count} unmet: {}{hint}", unmet.join("; "))));
        }
        let pre = if self.host.trap_unknown_imports && module.imports().next().is_some() {
            let mut linker = self.linker.clone();
            linker.define_unknown_imports_as_traps(module).map_err(|e| Error::wasmtime(Phase::Link, &e))?;
            linker.instantiate_pre(module)
        } else {
            self.linker.instantiate_pre(module)
        };
        pre.map_err(|e| Error::wasmtime(Phase::Link, &e))
    }
}

fn publish(runtime: packr_runtime, out: Out<*mut packr_runtime>) {
    out.write(ArcHandle::into_raw(Arc::new(runtime)).cast_mut());
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
        publish(packr_runtime::new(&Settings::default())?, out);
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
        publish(packr_runtime::new(settings)?, out);
        Ok(())
    })
}

/// Creates a separate runtime that shares `base`'s engine, so modules compiled or wrapped
/// by either can be wrapped into the other (`packr_runtime_wrap_module`) without
/// recompiling. The new runtime has no host definitions; `base` is not changed.
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
        publish(packr_runtime::with_engine(Arc::clone(&base.shared), HostDefs::default())?, out);
        Ok(())
    })
}

/// Creates a runtime that shares `base`'s engine (as `packr_runtime_new_sharing_engine`
/// does, so modules wrap between them without recompiling) and whose instances' imports are
/// served by `host`'s definitions as they are at this call: later changes to `host` do not
/// reach it, and `host` may be freed at once. `base`'s own definitions are not carried over.
///
/// Imports are resolved once per module bound to the new runtime, on its first
/// instantiation; a module whose imports the definitions cannot satisfy fails then with
/// `PACKR_ERR_LINK`, naming every unmet import.
///
/// On success writes a new runtime to `*runtime_out`; the caller owns it and frees it with
/// `packr_runtime_free`.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
///
/// Thread-safe: `base` may be in use on other threads; `host` must not be changed by
/// another thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_runtime_new_with_host(
    base: *const packr_runtime,
    host: *const packr_host,
    runtime_out: *mut *mut packr_runtime,
) -> packr_status {
    guard(|| {
        let base = unsafe { arg(base, "base") }?;
        let host = unsafe { arg(host, "host") }?;
        let out = Out::new(runtime_out, "runtime_out")?;
        publish(packr_runtime::with_engine(Arc::clone(&base.shared), host.defs().clone())?, out);
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
        assert!(Engine::same(a.engine(), b.engine()));
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
