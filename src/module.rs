//! Modules: compiled code bound to a runtime. Loading compiles; cloning and wrapping never do.

use std::ffi::c_char;
use std::sync::{Arc, OnceLock};

use wasmtime::{Engine, InstancePre};

use crate::boundary::{arg, guard, guard_value, slice, utf8, ArcHandle, Out};
use crate::error::{packr_status, Error, Phase, Result, PACKR_ERR_ENGINE_MISMATCH, PACKR_ERR_LIMIT, PACKR_ERR_OUT_OF_BOUNDS};
use crate::pack;
use crate::runtime::packr_runtime;
use crate::stack;
use crate::store::StoreData;
use crate::types::{extern_kind, packr_externkind, packr_func_signature, Exports, Name};
use crate::val::packr_valkind;

/// One export of a module, as `packr_module_export_get` describes it.
///
/// `name` points to `name_len` bytes of UTF-8 followed by a NUL (a name that itself holds a
/// NUL reads short as a C string; `name_len` is the true length). The bytes belong to the
/// module and stay valid while any handle to it (its clones, wraps and instances) lives.
#[repr(C)]
pub struct packr_export_desc {
    pub name: *const c_char,
    pub name_len: usize,
    pub kind: packr_externkind,
}

/// One import of a module, as `packr_module_import_get` describes it. The strings follow the
/// same rules as `packr_export_desc.name`.
#[repr(C)]
pub struct packr_import_desc {
    pub module: *const c_char,
    pub module_len: usize,
    pub name: *const c_char,
    pub name_len: usize,
    pub kind: packr_externkind,
}

struct Import {
    module: Name,
    name: Name,
    kind: packr_externkind,
}

/// What compilation produced, shared by every handle to the module whatever runtime it is
/// bound to: the code, and the export table looked up once so calls find exports by index.
pub(crate) struct Compiled {
    pub(crate) module: wasmtime::Module,
    /// BLAKE3 of the bytes it was compiled from: what names it in an artifact and a cache.
    pub(crate) wasm_hash: [u8; 32],
    pub(crate) exports: Arc<Exports>,
    imports: Vec<Import>,
    /// The pack convention's exports, checked on the first pack call.
    pack: OnceLock<Result<pack::Layout>>,
}

impl Compiled {
    fn new(module: wasmtime::Module, wasm_hash: [u8; 32]) -> Self {
        let exports = Arc::new(Exports::of(&module));
        let imports = module
            .imports()
            .map(|i| Import { module: Name::new(i.module()), name: Name::new(i.name()), kind: extern_kind(&i.ty()) })
            .collect();
        Compiled { module, wasm_hash, exports, imports, pack: OnceLock::new() }
    }

    /// Where the pack convention's exports are, or why the module cannot take pack calls.
    pub(crate) fn pack_layout(&self) -> Result<pack::Layout> {
        self.pack.get_or_init(|| pack::Layout::of(&self.exports)).clone()
    }
}

/// A compiled module bound to a runtime: what `packr_module_load` and
/// `packr_runtime_wrap_module` return, and what `packr_module_instantiate` instantiates.
///
/// Underneath it is an atomically reference-counted value: `packr_module_clone` adds a count
/// and `packr_module_free` drops one; the compiled code is shared by every clone and every
/// wrap, whatever runtime they are bound to. A module keeps its runtime's engine and host
/// definitions alive, so the runtime handle may be freed first.
///
/// Thread rules: a module may be used by any number of threads at once (clone, wrap,
/// instantiate and inspect concurrently).
pub struct packr_module {
    pub(crate) compiled: Arc<Compiled>,
    pub(crate) runtime: Arc<packr_runtime>,
    /// Imports resolved against the runtime once, on first instantiation.
    pre: OnceLock<Result<InstancePre<StoreData>>>,
}

impl ArcHandle for packr_module {}

impl packr_module {
    fn bind(compiled: Arc<Compiled>, runtime: Arc<packr_runtime>) -> Self {
        packr_module { compiled, runtime, pre: OnceLock::new() }
    }

    pub(crate) fn load(runtime: Arc<packr_runtime>, bytes: &[u8]) -> Result<Self> {
        let limit = runtime.shared.max_module_bytes;
        if limit != 0 && bytes.len() as u64 > limit {
            return Err(Error::new(
                PACKR_ERR_LIMIT,
                format!("the module is {} bytes, above this runtime's limit of {limit} (packr_config_set_max_module_bytes)", bytes.len()),
            ));
        }
        let engine = runtime.engine();
        let module = stack::with_room(stack::COMPILE_ROOM, || wasmtime::Module::new(engine, bytes))?
            .map_err(|e| Error::wasmtime(Phase::Compile, &e))?;
        Ok(Self::from_code(runtime, module, *blake3::hash(bytes).as_bytes()))
    }

    /// A module bound to `runtime` around code compiled (or deserialized) for its engine
    /// from the wasm whose BLAKE3 is `wasm_hash`.
    pub(crate) fn from_code(runtime: Arc<packr_runtime>, module: wasmtime::Module, wasm_hash: [u8; 32]) -> Self {
        Self::bind(Arc::new(Compiled::new(module, wasm_hash)), runtime)
    }

    /// This module bound to `runtime`, sharing the compiled code.
    pub(crate) fn wrap(self: &Arc<Self>, runtime: Arc<packr_runtime>) -> Result<Arc<Self>> {
        if Arc::ptr_eq(&self.runtime, &runtime) {
            // Already bound here: share the resolved imports too.
            return Ok(Arc::clone(self));
        }
        if !Engine::same(self.compiled.module.engine(), runtime.engine()) {
            return Err(Error::new(
                PACKR_ERR_ENGINE_MISMATCH,
                "engine mismatch: the module was compiled by an engine this runtime does not share; \
                 load it with this runtime, or create the runtime with packr_runtime_new_sharing_engine",
            ));
        }
        Ok(Arc::new(Self::bind(Arc::clone(&self.compiled), runtime)))
    }

    /// The module linked against its runtime's host definitions, resolved once.
    pub(crate) fn pre(&self) -> Result<&InstancePre<StoreData>> {
        self.pre
            .get_or_init(|| self.runtime.resolve(&self.compiled.module))
            .as_ref()
            .map_err(Error::clone)
    }

    pub(crate) fn signature(&self, name: &str) -> Result<packr_func_signature> {
        Ok(self.compiled.exports.get(name)?.function()?.describe())
    }
}

/// Compiles `wasm_len` bytes at `wasm`, a binary module or WebAssembly text, with
/// `runtime`'s engine. Compilation validates the module but does not resolve its imports: a
/// module whose imports this runtime cannot satisfy still loads (instantiation reports
/// `PACKR_ERR_LINK`).
///
/// On success writes a new module bound to `runtime` to `*module_out`; the caller owns it
/// and frees it with `packr_module_free`. The bytes are only read during the call.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` if `runtime` or `module_out` is NULL, or
/// `wasm` is NULL with a non-zero length; `PACKR_ERR_COMPILE` if the bytes are not a valid
/// module (the message says why); `PACKR_ERR_LIMIT` if they are more than the runtime's
/// `packr_config_set_max_module_bytes`.
///
/// Compiling needs stack: on a thread with less than 2 MiB left, packr compiles on a thread
/// of its own and waits for it.
///
/// Thread-safe: `runtime` may be in use on other threads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_load(
    runtime: *const packr_runtime,
    wasm: *const u8,
    wasm_len: usize,
    module_out: *mut *mut packr_module,
) -> packr_status {
    guard(|| {
        unsafe { arg(runtime, "runtime") }?;
        let bytes = unsafe { slice(wasm, wasm_len, "wasm") }?;
        let out = Out::new(module_out, "module_out")?;
        let runtime = unsafe { ArcHandle::to_arc(runtime) };
        let module = packr_module::load(runtime, bytes)?;
        out.write(ArcHandle::into_raw(Arc::new(module)).cast_mut());
        Ok(())
    })
}

/// Returns a new handle to the same module: O(1), a reference count, no copy of the code.
/// The caller owns the new handle and frees it with `packr_module_free`, independently of
/// `module`. The new handle is the same pointer as `module` (it is one more count of the
/// same value), so compare handles by what they do, not by address.
///
/// NULL in gives NULL out.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_clone(module: *const packr_module) -> *mut packr_module {
    guard_value(std::ptr::null_mut(), || {
        if module.is_null() {
            return Ok(std::ptr::null_mut());
        }
        let module = unsafe { ArcHandle::to_arc(module) };
        Ok(ArcHandle::into_raw(module).cast_mut())
    })
}

/// Frees one module handle. Other clones, wraps and instances of the module stay valid.
///
/// NULL is a no-op. Must not be called twice for the same handle, nor while another thread
/// is inside a call that uses this handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_free(module: *mut packr_module) {
    guard_value((), || {
        unsafe { ArcHandle::free_raw(module.cast_const()) };
        Ok(())
    })
}

/// Binds `module` to `runtime` without recompiling: the compile-cache hit. `module` may be
/// bound to any runtime that shares `runtime`'s engine (the same runtime, or one made with
/// `packr_runtime_new_sharing_engine`). Instances of the result are linked against
/// `runtime`'s host definitions.
///
/// On success writes a new module handle to `*module_out`; the caller owns it and frees it
/// with `packr_module_free`. `module` stays the caller's. When `module` is already bound to
/// `runtime`, the result is one more count of it (the same pointer) and shares its resolved
/// imports, so the cache-hit path allocates nothing; wrapping into another runtime resolves
/// imports once for the new handle, on its first instantiation.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` if any argument is NULL;
/// `PACKR_ERR_ENGINE_MISMATCH` if `module` was compiled by an engine `runtime` does not
/// share, leaving `*module_out` untouched.
///
/// Thread-safe: `runtime` and `module` may be in use on other threads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_runtime_wrap_module(
    runtime: *const packr_runtime,
    module: *const packr_module,
    module_out: *mut *mut packr_module,
) -> packr_status {
    guard(|| {
        unsafe { arg(runtime, "runtime") }?;
        unsafe { arg(module, "module") }?;
        let out = Out::new(module_out, "module_out")?;
        let module = unsafe { ArcHandle::to_arc(module) };
        let runtime = unsafe { ArcHandle::to_arc(runtime) };
        let wrapped = module.wrap(runtime)?;
        out.write(ArcHandle::into_raw(wrapped).cast_mut());
        Ok(())
    })
}

/// Writes the number of `module`'s exports to `*count_out`.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_export_count(module: *const packr_module, count_out: *mut usize) -> packr_status {
    guard(|| {
        let module = unsafe { arg(module, "module") }?;
        Out::new(count_out, "count_out")?.write(module.compiled.exports.list().len());
        Ok(())
    })
}

/// Describes export number `index` (in the module's order, from 0) in `*desc_out`. The
/// strings it points to belong to the module (see `packr_export_desc`).
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_OUT_OF_BOUNDS` if `index` is not
/// below the export count. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_export_get(
    module: *const packr_module,
    index: usize,
    desc_out: *mut packr_export_desc,
) -> packr_status {
    guard(|| {
        let module = unsafe { arg(module, "module") }?;
        let out = Out::new(desc_out, "desc_out")?;
        let exports = module.compiled.exports.list();
        let export = exports.get(index).ok_or_else(|| out_of_range("export", index, exports.len()))?;
        out.write(packr_export_desc { name: export.name.ptr(), name_len: export.name.len(), kind: export.kind });
        Ok(())
    })
}

/// Writes the number of `module`'s imports to `*count_out`.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_import_count(module: *const packr_module, count_out: *mut usize) -> packr_status {
    guard(|| {
        let module = unsafe { arg(module, "module") }?;
        Out::new(count_out, "count_out")?.write(module.compiled.imports.len());
        Ok(())
    })
}

/// Describes import number `index` (in the module's order, from 0) in `*desc_out`. The
/// strings it points to belong to the module (see `packr_import_desc`).
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_OUT_OF_BOUNDS` if `index` is not
/// below the import count. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_import_get(
    module: *const packr_module,
    index: usize,
    desc_out: *mut packr_import_desc,
) -> packr_status {
    guard(|| {
        let module = unsafe { arg(module, "module") }?;
        let out = Out::new(desc_out, "desc_out")?;
        let imports = &module.compiled.imports;
        let import = imports.get(index).ok_or_else(|| out_of_range("import", index, imports.len()))?;
        out.write(packr_import_desc {
            module: import.module.ptr(),
            module_len: import.module.len(),
            name: import.name.ptr(),
            name_len: import.name.len(),
            kind: import.kind,
        });
        Ok(())
    })
}

/// Describes the signature of the exported function `export_name` in `*signature_out`. The
/// arrays it points to belong to the module (see `packr_func_signature`).
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the name
/// is not UTF-8; `PACKR_ERR_NOT_FOUND` if there is no such export;
/// `PACKR_ERR_TYPE_MISMATCH` if the export is not a function. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_func_signature(
    module: *const packr_module,
    export_name: *const c_char,
    signature_out: *mut packr_func_signature,
) -> packr_status {
    guard(|| {
        let module = unsafe { arg(module, "module") }?;
        let name = unsafe { utf8(export_name, "export_name") }?;
        let out = Out::new(signature_out, "signature_out")?;
        out.write(module.signature(name)?);
        Ok(())
    })
}

/// Describes the global exported as `name`: its value kind in `*kind_out` (which may be one a
/// `packr_val` cannot carry, a reference) and whether it is mutable in `*mutable_out`, so a
/// host can build the value for `packr_instance_global_set` without reading the global first.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the name
/// is not UTF-8; `PACKR_ERR_NOT_FOUND` if there is no such export;
/// `PACKR_ERR_TYPE_MISMATCH` if it is not a global. Both outputs are written only on
/// success. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_global_type(
    module: *const packr_module,
    name: *const c_char,
    kind_out: *mut packr_valkind,
    mutable_out: *mut bool,
) -> packr_status {
    guard(|| {
        let module = unsafe { arg(module, "module") }?;
        let name = unsafe { utf8(name, "name") }?;
        let (kind, mutable) = (Out::new(kind_out, "kind_out")?, Out::new(mutable_out, "mutable_out")?);
        let (k, m) = module.compiled.exports.get(name)?.global()?;
        kind.write(k);
        mutable.write(m);
        Ok(())
    })
}

fn out_of_range(what: &str, index: usize, count: usize) -> Error {
    Error::new(PACKR_ERR_OUT_OF_BOUNDS, format!("{what} index {index} is out of range: the module has {count}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::*;
    use crate::instance::packr_module_instantiate;
    use crate::runtime::packr_runtime_new_sharing_engine;
    use crate::testutil::{last_error, Host};
    use crate::types::*;
    use crate::val::{PACKR_I32, PACKR_I64, PACKR_V128};
    use std::ffi::CStr;
    use std::ptr;

    const ADD: &str = r#"(module
        (import "env" "log" (func (param i32)))
        (memory (export "memory") 1)
        (global (export "g") i32 (i32.const 7))
        (func (export "add") (param i32 i64) (result i64) local.get 1)
        (func (export "vec") (param v128)))"#;

    fn text(ptr: *const c_char, len: usize) -> String {
        let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
        assert_eq!(unsafe { *ptr.add(len) }, 0, "names are NUL-terminated");
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn load_rejects_bad_bytes_with_the_reason() {
        let mut host = Host::default();
        let rt = host.runtime();
        let mut module = ptr::null_mut();
        let junk = b"\0asm\x02\0\0\0";
        assert_eq!(unsafe { packr_module_load(rt, junk.as_ptr(), junk.len(), &mut module) }, PACKR_ERR_COMPILE);
        assert!(module.is_null(), "out-parameter untouched on failure");
        assert!(last_error().starts_with("cannot compile module: "), "{}", last_error());
        let bad_text = "(module (func (export \"f\") (result i32) i64.const 1))";
        assert_eq!(unsafe { packr_module_load(rt, bad_text.as_ptr(), bad_text.len(), &mut module) }, PACKR_ERR_COMPILE);
        assert!(last_error().contains("type mismatch"), "{}", last_error());
        assert_eq!(unsafe { packr_module_load(rt, ptr::null(), 4, &mut module) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(last_error(), "`wasm` is NULL");
        assert_eq!(unsafe { packr_module_load(rt, junk.as_ptr(), 0, &mut module) }, PACKR_ERR_COMPILE);
        assert_eq!(unsafe { packr_module_load(ptr::null(), junk.as_ptr(), 8, &mut module) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(unsafe { packr_module_load(rt, junk.as_ptr(), 8, ptr::null_mut()) }, PACKR_ERR_NULL_POINTER);
        assert!(module.is_null());
    }

    #[test]
    fn imports_are_resolved_at_instantiation_not_at_load() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, ADD);
        let mut wrapped = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_wrap_module(rt, module, &mut wrapped) }, PACKR_OK);
        host.keep_module(wrapped);
        let mut instance = ptr::null_mut();
        assert_eq!(unsafe { packr_module_instantiate(module, &mut instance) }, PACKR_ERR_LINK);
        assert!(instance.is_null());
        assert!(last_error().starts_with("cannot link module: "), "{}", last_error());
        assert!(last_error().contains("env::log"), "names the import: {}", last_error());
    }

    #[test]
    fn wrap_refuses_another_engine_and_shares_a_common_one() {
        let mut host = Host::default();
        let (a, b) = (host.runtime(), host.runtime());
        let module = host.load(a, "(module)");
        let mut out = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_wrap_module(b, module, &mut out) }, PACKR_ERR_ENGINE_MISMATCH);
        assert!(out.is_null(), "out-parameter untouched on mismatch");
        assert!(last_error().starts_with("engine mismatch"), "{}", last_error());

        let mut shared = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_new_sharing_engine(a, &mut shared) }, PACKR_OK);
        let mut wrapped = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_wrap_module(shared, module, &mut wrapped) }, PACKR_OK);
        host.keep_module(wrapped);
        unsafe { crate::runtime::packr_runtime_free(shared) };
        let wrapped_ref = unsafe { &*wrapped };
        assert!(Arc::ptr_eq(&wrapped_ref.compiled, &unsafe { &*module }.compiled), "no recompilation");
        host.instantiate(wrapped);

        for (rt, m, o) in [(ptr::null(), module.cast_const(), &mut out as *mut _), (a, ptr::null(), &mut out), (a, module, ptr::null_mut())] {
            assert_eq!(unsafe { packr_runtime_wrap_module(rt, m, o) }, PACKR_ERR_NULL_POINTER);
        }
    }

    #[test]
    fn clone_is_a_reference_count_and_null_safe() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, "(module (func (export \"f\")))");
        let clone = unsafe { packr_module_clone(module) };
        assert_eq!(clone, module, "the same Arc, one more count");
        unsafe { packr_module_free(clone) };
        assert!(unsafe { packr_module_clone(ptr::null()) }.is_null());
        unsafe { packr_module_free(ptr::null_mut()) };
    }

    #[test]
    fn lists_exports_imports_and_signatures() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, ADD);
        let mut count = 0;
        assert_eq!(unsafe { packr_module_export_count(module, &mut count) }, PACKR_OK);
        assert_eq!(count, 4);
        let mut seen = Vec::new();
        for i in 0..count {
            let mut desc = packr_export_desc { name: ptr::null(), name_len: 0, kind: 99 };
            assert_eq!(unsafe { packr_module_export_get(module, i, &mut desc) }, PACKR_OK);
            seen.push((text(desc.name, desc.name_len), desc.kind));
        }
        let expected = [("memory", PACKR_EXTERN_MEMORY), ("g", PACKR_EXTERN_GLOBAL), ("add", PACKR_EXTERN_FUNC), ("vec", PACKR_EXTERN_FUNC)];
        assert_eq!(seen, expected.map(|(n, k)| (n.to_string(), k)));
        let mut desc = packr_export_desc { name: ptr::null(), name_len: 0, kind: 0 };
        assert_eq!(unsafe { packr_module_export_get(module, 4, &mut desc) }, PACKR_ERR_OUT_OF_BOUNDS);
        assert!(desc.name.is_null());

        assert_eq!(unsafe { packr_module_import_count(module, &mut count) }, PACKR_OK);
        assert_eq!(count, 1);
        let mut import = packr_import_desc { module: ptr::null(), module_len: 0, name: ptr::null(), name_len: 0, kind: 9 };
        assert_eq!(unsafe { packr_module_import_get(module, 0, &mut import) }, PACKR_OK);
        assert_eq!(text(import.module, import.module_len), "env");
        assert_eq!(text(import.name, import.name_len), "log");
        assert_eq!(import.kind, PACKR_EXTERN_FUNC);

        let mut sig = packr_func_signature { params: ptr::null(), nparams: 9, results: ptr::null(), nresults: 9 };
        assert_eq!(unsafe { packr_module_func_signature(module, c"add".as_ptr(), &mut sig) }, PACKR_OK);
        let params = unsafe { std::slice::from_raw_parts(sig.params, sig.nparams) };
        let results = unsafe { std::slice::from_raw_parts(sig.results, sig.nresults) };
        assert_eq!((params, results), (&[PACKR_I32, PACKR_I64][..], &[PACKR_I64][..]));
        assert_eq!(unsafe { packr_module_func_signature(module, c"vec".as_ptr(), &mut sig) }, PACKR_OK);
        assert_eq!(unsafe { *sig.params }, PACKR_V128);
        let (mut kind, mut mutable) = (99, true);
        assert_eq!(unsafe { packr_module_global_type(module, c"g".as_ptr(), &mut kind, &mut mutable) }, PACKR_OK);
        assert_eq!((kind, mutable), (PACKR_I32, false));
        assert_eq!(unsafe { packr_module_global_type(module, c"add".as_ptr(), &mut kind, &mut mutable) }, PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(last_error(), "export `add` is a function, not a global");
        assert_eq!(unsafe { packr_module_global_type(module, c"g".as_ptr(), ptr::null_mut(), &mut mutable) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(unsafe { packr_module_func_signature(module, c"g".as_ptr(), &mut sig) }, PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(last_error(), "export `g` is a global, not a function");
        assert_eq!(unsafe { packr_module_func_signature(module, c"nope".as_ptr(), &mut sig) }, PACKR_ERR_NOT_FOUND);
        assert_eq!(last_error(), "the module has no export named `nope`");
        assert_eq!(unsafe { packr_module_func_signature(module, c"\xc3".as_ptr(), &mut sig) }, PACKR_ERR_INVALID_ARGUMENT);
        let name = unsafe { CStr::from_ptr(crate::error::packr_status_name(PACKR_ERR_INVALID_ARGUMENT)) };
        assert_eq!(name, c"PACKR_ERR_INVALID_ARGUMENT");
    }
}
