//! Instances: a store, its memories and globals, and calls into the guest.

use std::ffi::c_char;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use wasmtime::{Extern, Memory, Store, Val};

use crate::boundary::{arg, guard, guard_value, slice, slice_mut, utf8, ArcHandle, BoxHandle, Out};
use crate::error::{
    cause_chain, packr_status, Error, Result, PACKR_ERR_BUSY, PACKR_ERR_INSTANTIATE, PACKR_ERR_NOT_FOUND,
    PACKR_ERR_OUT_OF_BOUNDS, PACKR_ERR_POOL_EXHAUSTED, PACKR_ERR_RESOURCE, PACKR_ERR_TYPE_MISMATCH,
};
use crate::module::{packr_func_signature, packr_module};
use crate::val::packr_val;

/// The epoch deadline every store starts with: far enough never to trip, and small enough
/// that adding the current epoch to it cannot overflow (upstream packr's choice).
pub(crate) const NEVER: u64 = u64::MAX / 2;

/// Arguments and results up to this many live on the stack during a call.
const INLINE_VALS: usize = 8;

/// Per-instance host state. Empty until host functions arrive.
#[derive(Default)]
pub(crate) struct StoreData {}

struct Live {
    store: Store<StoreData>,
    instance: wasmtime::Instance,
}

/// A live instance: its own store, memories and globals, made by `packr_module_instantiate`.
///
/// Underneath it is a `Box` the host owns; it keeps its module (and so the runtime's engine)
/// alive, so the module and runtime handles may be freed first.
///
/// Thread rules: an instance may move between threads, but is used by one at a time. A call
/// that finds it in use on another thread (or re-entered from a host function) fails with
/// `PACKR_ERR_BUSY` instead of waiting; it is never undefined behaviour.
pub struct packr_instance {
    module: Arc<packr_module>,
    live: Mutex<Live>,
}

impl BoxHandle for packr_instance {}

/// Two value buffers for one call: on the stack when small, on the heap otherwise.
fn with_vals<R>(n: usize, body: impl FnOnce(&mut [Val]) -> R) -> R {
    if n <= INLINE_VALS {
        let mut inline = [Val::I32(0); INLINE_VALS];
        body(&mut inline[..n])
    } else {
        body(&mut vec![Val::I32(0); n])
    }
}

impl packr_instance {
    pub(crate) fn new(module: Arc<packr_module>) -> Result<Self> {
        let pre = module.pre()?;
        let mut store = Store::new(&module.runtime.engine, StoreData::default());
        store.set_epoch_deadline(NEVER);
        let instance = pre.instantiate(&mut store).map_err(|e| instantiation_error(&e))?;
        Ok(packr_instance { module, live: Mutex::new(Live { store, instance }) })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Live>> {
        match self.live.try_lock() {
            Ok(live) => Ok(live),
            Err(TryLockError::WouldBlock) => {
                Err(Error::new(PACKR_ERR_BUSY, "the instance is in use by another call"))
            }
            // A panic unwound through a call; the store itself is still consistent.
            Err(TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner()),
        }
    }

    pub(crate) fn call(&self, name: &str, args: &[packr_val], results: &mut [packr_val]) -> Result<()> {
        let export = self.module.compiled.export(name)?;
        let signature = export.callable()?;
        let (params, result_kinds) = (signature.params(), signature.results());
        if args.len() != params.len() || results.len() != result_kinds.len() {
            return Err(Error::new(
                PACKR_ERR_TYPE_MISMATCH,
                format!(
                    "`{name}` takes {} arguments and returns {} results; the call passed {} and {}",
                    params.len(),
                    result_kinds.len(),
                    args.len(),
                    results.len()
                ),
            ));
        }
        let mut live = self.lock()?;
        let Live { store, instance } = &mut *live;
        let Some(Extern::Func(func)) = instance.get_module_export(&mut *store, &export.index) else {
            return Err(Error::new(PACKR_ERR_NOT_FOUND, format!("the instance has no function named `{name}`")));
        };
        with_vals(args.len(), |wasm_args| {
            for (i, ((slot, arg), kind)) in wasm_args.iter_mut().zip(args).zip(params).enumerate() {
                *slot = arg.to_wasm(*kind, i)?;
            }
            with_vals(results.len(), |wasm_results| {
                func.call(&mut *store, wasm_args, wasm_results).map_err(|e| Error::from_execution(&e))?;
                let mut converted = [packr_val::default(); INLINE_VALS];
                // Convert everything before writing anything: results are out-parameters.
                if results.len() <= INLINE_VALS {
                    for (slot, val) in converted.iter_mut().zip(wasm_results.iter()) {
                        *slot = packr_val::from_wasm(val)?;
                    }
                    results.copy_from_slice(&converted[..results.len()]);
                } else {
                    let all = wasm_results.iter().map(packr_val::from_wasm).collect::<Result<Vec<_>>>()?;
                    results.copy_from_slice(&all);
                }
                Ok(())
            })
        })
    }

    /// Runs `body` with the named memory (`"memory"` when `name` is `None`).
    fn with_memory<R>(&self, name: Option<&str>, body: impl FnOnce(&mut Store<StoreData>, Memory, &str) -> Result<R>) -> Result<R> {
        let name = name.unwrap_or("memory");
        let export = self.module.compiled.export(name)?;
        export.expect_memory()?;
        let mut live = self.lock()?;
        let Live { store, instance } = &mut *live;
        let Some(Extern::Memory(memory)) = instance.get_module_export(&mut *store, &export.index) else {
            return Err(Error::new(PACKR_ERR_NOT_FOUND, format!("the instance has no memory named `{name}`")));
        };
        body(store, memory, name)
    }
}

fn instantiation_error(err: &wasmtime::Error) -> Error {
    if err.downcast_ref::<wasmtime::Trap>().is_some() {
        return Error::from_execution(err);
    }
    if let Some(full) = err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
        return Error::new(
            PACKR_ERR_POOL_EXHAUSTED,
            format!("the instance pool is exhausted: {full}; free an instance, or raise the pool's limits"),
        );
    }
    // wasmtime reports a refused mmap as rustix's errno, which is not a public type here;
    // ENOMEM's text is what tells it apart from other failures.
    if err.root_cause().to_string().contains(&format!("(os error {})", libc::ENOMEM)) {
        return Error::new(
            PACKR_ERR_RESOURCE,
            format!(
                "cannot instantiate module: {}; where virtual memory is limited, a smaller \
                 packr_config_set_memory_reservation or a pooled runtime helps",
                cause_chain(err)
            ),
        );
    }
    Error::new(PACKR_ERR_INSTANTIATE, format!("cannot instantiate module: {}", cause_chain(err)))
}

/// The range `offset..offset + len` of a memory of `size` bytes, or `PACKR_ERR_OUT_OF_BOUNDS`.
fn range(offset: u64, len: usize, size: usize, name: &str, verb: &str) -> Result<std::ops::Range<usize>> {
    let start = usize::try_from(offset).ok();
    let end = start.and_then(|s| s.checked_add(len));
    match (start, end) {
        (Some(start), Some(end)) if end <= size => Ok(start..end),
        _ => Err(Error::new(
            PACKR_ERR_OUT_OF_BOUNDS,
            format!("cannot {verb} {len} bytes at offset {offset}: memory `{name}` is {size} bytes"),
        )),
    }
}

/// Optional memory name: NULL means `"memory"`.
unsafe fn optional_memory_name<'a>(ptr: *const c_char) -> Result<Option<&'a str>> {
    if ptr.is_null() { Ok(None) } else { unsafe { utf8(ptr, "memory_name") }.map(Some) }
}

/// Creates a fresh instance of `module` in the runtime the module is bound to: its own
/// store, memories and globals, with the module's imports resolved against that runtime's
/// host definitions. Runs the module's start function, if any.
///
/// On success writes the instance to `*instance_out`; the caller owns it and frees it with
/// `packr_instance_free`. `module` stays the caller's and may be freed first.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_LINK` if an import is missing
/// or has the wrong type (the message names it); `PACKR_ERR_TRAP` if the start function
/// trapped; `PACKR_ERR_POOL_EXHAUSTED` if the runtime is pooled and its pool is full (the
/// message names the limit; it succeeds again once an instance is freed);
/// `PACKR_ERR_RESOURCE` if the operating system refused memory or address space (see
/// `packr_config_set_memory_reservation`); `PACKR_ERR_INSTANTIATE` for other failures.
///
/// Thread-safe: any number of threads may instantiate the same module at once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_instantiate(
    module: *const packr_module,
    instance_out: *mut *mut packr_instance,
) -> packr_status {
    guard(|| {
        unsafe { arg(module, "module") }?;
        let out = Out::new(instance_out, "instance_out")?;
        let module = unsafe { ArcHandle::to_arc(module) };
        out.write(packr_instance::new(module)?.into_raw());
        Ok(())
    })
}

/// Calls the exported function `export_name` with `nargs` arguments from `args`, and writes
/// its `nresults` results to `results`. The counts must equal the function's parameter and
/// result counts, and each argument's `kind` must match its parameter. `args` (or
/// `results`) may be NULL when its count is 0. The results are written only on success.
///
/// Blocks until the call returns. A trap leaves the instance usable, with its memories and
/// globals as the trap left them.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the name
/// is not UTF-8; `PACKR_ERR_NOT_FOUND` if there is no such export;
/// `PACKR_ERR_TYPE_MISMATCH` if the export is not a function, uses types packr cannot
/// carry, or the counts or kinds do not match; `PACKR_ERR_TRAP` with the trap reason;
/// `PACKR_ERR_BUSY` if the instance is in use by another call.
///
/// Thread rules: see `packr_instance`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_call(
    instance: *mut packr_instance,
    export_name: *const c_char,
    args: *const packr_val,
    nargs: usize,
    results: *mut packr_val,
    nresults: usize,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let name = unsafe { utf8(export_name, "export_name") }?;
        let args = unsafe { slice(args, nargs, "args") }?;
        let results = unsafe { slice_mut(results, nresults, "results") }?;
        instance.call(name, args, results)
    })
}

/// Writes the current size in bytes of the memory exported as `memory_name` (NULL means
/// `"memory"`) to `*size_out`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` if `instance` or `size_out` is NULL;
/// `PACKR_ERR_NOT_FOUND` if there is no such export; `PACKR_ERR_TYPE_MISMATCH` if it is not
/// a memory; `PACKR_ERR_BUSY` if the instance is in use by another call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_memory_size(
    instance: *mut packr_instance,
    memory_name: *const c_char,
    size_out: *mut u64,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let name = unsafe { optional_memory_name(memory_name) }?;
        let out = Out::new(size_out, "size_out")?;
        let size = instance.with_memory(name, |store, memory, _| Ok(memory.data_size(&*store)))?;
        out.write(size as u64);
        Ok(())
    })
}

/// Copies `len` bytes of the memory exported as `memory_name` (NULL means `"memory"`),
/// starting at `offset`, into `buf`. `buf` may be NULL when `len` is 0. Nothing is copied
/// unless the whole range is inside the memory.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_OUT_OF_BOUNDS` if the range is
/// not inside the memory; `PACKR_ERR_NOT_FOUND`; `PACKR_ERR_TYPE_MISMATCH`;
/// `PACKR_ERR_BUSY`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_memory_read(
    instance: *mut packr_instance,
    memory_name: *const c_char,
    offset: u64,
    buf: *mut u8,
    len: usize,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let name = unsafe { optional_memory_name(memory_name) }?;
        let buf = unsafe { slice_mut(buf, len, "buf") }?;
        instance.with_memory(name, |store, memory, name| {
            let data = memory.data(&*store);
            buf.copy_from_slice(&data[range(offset, len, data.len(), name, "read")?]);
            Ok(())
        })
    })
}

/// Copies `len` bytes from `buf` into the memory exported as `memory_name` (NULL means
/// `"memory"`), starting at `offset`. `buf` may be NULL when `len` is 0. Nothing is written
/// unless the whole range is inside the memory.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_OUT_OF_BOUNDS`;
/// `PACKR_ERR_NOT_FOUND`; `PACKR_ERR_TYPE_MISMATCH`; `PACKR_ERR_BUSY`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_memory_write(
    instance: *mut packr_instance,
    memory_name: *const c_char,
    offset: u64,
    buf: *const u8,
    len: usize,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let name = unsafe { optional_memory_name(memory_name) }?;
        let buf = unsafe { slice(buf, len, "buf") }?;
        instance.with_memory(name, |store, memory, name| {
            let data = memory.data_mut(&mut *store);
            let range = range(offset, len, data.len(), name, "write")?;
            data[range].copy_from_slice(buf);
            Ok(())
        })
    })
}

/// Describes the signature of the exported function `export_name` of the instance's module
/// in `*signature_out`; the same as `packr_module_func_signature` on that module. The arrays
/// stay valid while the instance lives.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT`;
/// `PACKR_ERR_NOT_FOUND`; `PACKR_ERR_TYPE_MISMATCH`. Does not touch the store, so it never
/// returns `PACKR_ERR_BUSY` and may run while a call is in progress.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_func_signature(
    instance: *const packr_instance,
    export_name: *const c_char,
    signature_out: *mut packr_func_signature,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance, "instance") }?;
        let name = unsafe { utf8(export_name, "export_name") }?;
        let out = Out::new(signature_out, "signature_out")?;
        out.write(instance.module.signature(name)?);
        Ok(())
    })
}

/// Frees an instance and its store, memories and globals.
///
/// NULL is a no-op. Must not be called twice, nor while a call on the instance is in
/// progress on another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_free(instance: *mut packr_instance) {
    guard_value((), || {
        unsafe { BoxHandle::free_raw(instance) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{PACKR_ERR_INVALID_ARGUMENT, PACKR_ERR_LINK, PACKR_ERR_NULL_POINTER, PACKR_ERR_TRAP, PACKR_OK};
    use crate::testutil::{last_error, Host};
    use crate::val::{packr_val_union, PACKR_F32, PACKR_F64, PACKR_I32, PACKR_I64};
    use std::ptr;

    const COUNTER: &str = r#"(module
        (memory (export "memory") 1)
        (memory (export "scratch") 0)
        (global $n (mut i32) (i32.const 0))
        (func (export "bump") (result i32)
            (global.set $n (i32.add (global.get $n) (i32.const 1)))
            (global.get $n))
        (func (export "bump_then_divide") (param i32) (result i32)
            (global.set $n (i32.add (global.get $n) (i32.const 1)))
            (i32.div_s (i32.const 1) (local.get 0)))
        (func (export "mix") (param i32 i64 f32 f64) (result f64 i64)
            (f64.add (f64.promote_f32 (local.get 2)) (local.get 3))
            (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
        (func (export "many") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
            (i32.add (local.get 0) (local.get 9)))
        (func (export "v") (param v128))
        (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))"#;

    fn i32v(v: i32) -> packr_val {
        packr_val { kind: PACKR_I32, of: packr_val_union { i32: v } }
    }

    fn call(instance: *mut packr_instance, name: &std::ffi::CStr, args: &[packr_val], nresults: usize) -> (packr_status, Vec<packr_val>) {
        let mut results = vec![packr_val { kind: 99, of: packr_val_union { i64: -1 } }; nresults];
        let status = unsafe { packr_instance_call(instance, name.as_ptr(), args.as_ptr(), args.len(), results.as_mut_ptr(), nresults) };
        (status, results)
    }

    fn result_i32(instance: *mut packr_instance, name: &std::ffi::CStr, args: &[packr_val]) -> i32 {
        let (status, results) = call(instance, name, args, 1);
        assert_eq!(status, PACKR_OK, "{}", last_error());
        assert_eq!(results[0].kind, PACKR_I32);
        unsafe { results[0].of.i32 }
    }

    #[test]
    fn instances_are_isolated() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, COUNTER);
        let (a, b) = (host.instantiate(module), host.instantiate(module));
        assert_eq!(result_i32(a, c"bump", &[]), 1);
        assert_eq!(result_i32(a, c"bump", &[]), 2);
        assert_eq!(result_i32(b, c"bump", &[]), 1, "b has its own globals");
        assert_eq!(call(a, c"store", &[i32v(10), i32v(42)], 0).0, PACKR_OK);
        let mut byte = [0u8; 1];
        assert_eq!(unsafe { packr_instance_memory_read(b, ptr::null(), 10, byte.as_mut_ptr(), 1) }, PACKR_OK);
        assert_eq!(byte, [0], "b has its own memory");
    }

    #[test]
    fn a_trap_names_its_cause_first_and_leaves_the_instance_usable() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, COUNTER);
        let instance = host.instantiate(module);
        let (status, results) = call(instance, c"bump_then_divide", &[i32v(0)], 1);
        assert_eq!(status, PACKR_ERR_TRAP);
        assert_eq!(results[0].kind, 99, "results untouched on failure");
        let message = last_error();
        assert_eq!(message.lines().next(), Some("wasm trap: integer divide by zero"), "{message}");
        assert!(message.contains("wasm backtrace"), "backtrace follows: {message}");
        // The global kept the increment made before the trap, and calls go on.
        assert_eq!(result_i32(instance, c"bump_then_divide", &[i32v(1)]), 1);
        assert_eq!(result_i32(instance, c"bump", &[]), 3);
    }

    #[test]
    fn values_of_every_kind_round_trip() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, COUNTER);
        let instance = host.instantiate(module);
        let args = [
            i32v(-5),
            packr_val { kind: PACKR_I64, of: packr_val_union { i64: 1 << 40 } },
            packr_val { kind: PACKR_F32, of: packr_val_union { f32: 1.5 } },
            packr_val { kind: PACKR_F64, of: packr_val_union { f64: 0.25 } },
        ];
        let (status, results) = call(instance, c"mix", &args, 2);
        assert_eq!(status, PACKR_OK, "{}", last_error());
        assert_eq!((results[0].kind, unsafe { results[0].of.f64 }), (PACKR_F64, 1.75));
        assert_eq!((results[1].kind, unsafe { results[1].of.i64 }), (PACKR_I64, (1 << 40) - 5));
        let ten: Vec<_> = (1..=10).map(i32v).collect();
        assert_eq!(result_i32(instance, c"many", &ten), 11, "more arguments than fit inline");
    }

    #[test]
    fn mismatches_are_refused_before_the_call() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, COUNTER);
        let instance = host.instantiate(module);
        let cases: [(&std::ffi::CStr, Vec<packr_val>, usize, packr_status, &str); 6] = [
            (c"bump", vec![i32v(1)], 1, PACKR_ERR_TYPE_MISMATCH, "`bump` takes 0 arguments and returns 1 results; the call passed 1 and 1"),
            (c"bump", vec![], 2, PACKR_ERR_TYPE_MISMATCH, "`bump` takes 0 arguments and returns 1 results; the call passed 0 and 2"),
            (c"bump_then_divide", vec![packr_val { kind: PACKR_I64, of: packr_val_union { i64: 1 } }], 1, PACKR_ERR_TYPE_MISMATCH, "argument 0 is i64, the signature wants i32"),
            (c"bump_then_divide", vec![packr_val { kind: 99, of: packr_val_union { i64: 1 } }], 1, PACKR_ERR_TYPE_MISMATCH, "argument 0 is unknown kind 99, the signature wants i32"),
            (c"v", vec![], 0, PACKR_ERR_TYPE_MISMATCH, "export `v` uses type v128, which packr values cannot carry"),
            (c"absent", vec![], 0, PACKR_ERR_NOT_FOUND, "the module has no export named `absent`"),
        ];
        for (name, args, nresults, status, message) in cases {
            assert_eq!(call(instance, name, &args, nresults).0, status, "{name:?}");
            assert_eq!(last_error(), message);
        }
        assert_eq!(call(instance, c"memory", &[], 0).0, PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(last_error(), "export `memory` is a memory, not a function");
        assert_eq!(result_i32(instance, c"bump", &[]), 1, "no refused call ran");
        let mut results = [packr_val::default()];
        let null = |i, n, a, r| unsafe { packr_instance_call(i, n, a, 1, r, 1) };
        assert_eq!(null(ptr::null_mut(), c"bump".as_ptr(), ptr::null(), results.as_mut_ptr()), PACKR_ERR_NULL_POINTER);
        assert_eq!(null(instance, ptr::null(), ptr::null(), results.as_mut_ptr()), PACKR_ERR_NULL_POINTER);
        assert_eq!(last_error(), "`export_name` is NULL");
        assert_eq!(null(instance, c"bump".as_ptr(), ptr::null(), results.as_mut_ptr()), PACKR_ERR_NULL_POINTER);
        assert_eq!(last_error(), "`args` is NULL");
        assert_eq!(unsafe { packr_instance_call(instance, c"\xff".as_ptr(), ptr::null(), 0, ptr::null_mut(), 0) }, PACKR_ERR_INVALID_ARGUMENT);
    }

    #[test]
    fn memory_access_is_bounds_checked() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, COUNTER);
        let instance = host.instantiate(module);
        let mut size = 0;
        assert_eq!(unsafe { packr_instance_memory_size(instance, ptr::null(), &mut size) }, PACKR_OK);
        assert_eq!(size, 65536);
        assert_eq!(unsafe { packr_instance_memory_size(instance, c"scratch".as_ptr(), &mut size) }, PACKR_OK);
        assert_eq!(size, 0, "a second memory (multi-memory is on)");
        let data = *b"hello";
        assert_eq!(unsafe { packr_instance_memory_write(instance, ptr::null(), 65531, data.as_ptr(), 5) }, PACKR_OK);
        let mut back = [0u8; 5];
        assert_eq!(unsafe { packr_instance_memory_read(instance, c"memory".as_ptr(), 65531, back.as_mut_ptr(), 5) }, PACKR_OK);
        assert_eq!(&back, b"hello");
        let mut fresh = [7u8; 6];
        assert_eq!(unsafe { packr_instance_memory_read(instance, ptr::null(), 65531, fresh.as_mut_ptr(), 6) }, PACKR_ERR_OUT_OF_BOUNDS);
        assert_eq!(last_error(), "cannot read 6 bytes at offset 65531: memory `memory` is 65536 bytes");
        assert_eq!(fresh, [7u8; 6], "nothing copied on failure");
        assert_eq!(unsafe { packr_instance_memory_write(instance, ptr::null(), u64::MAX, data.as_ptr(), 1) }, PACKR_ERR_OUT_OF_BOUNDS);
        assert_eq!(unsafe { packr_instance_memory_write(instance, c"scratch".as_ptr(), 0, data.as_ptr(), 1) }, PACKR_ERR_OUT_OF_BOUNDS);
        assert_eq!(unsafe { packr_instance_memory_read(instance, ptr::null(), 65536, ptr::null_mut(), 0) }, PACKR_OK);
        assert_eq!(unsafe { packr_instance_memory_size(instance, c"bump".as_ptr(), &mut size) }, PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(unsafe { packr_instance_memory_size(instance, c"nope".as_ptr(), &mut size) }, PACKR_ERR_NOT_FOUND);
        assert_eq!(unsafe { packr_instance_memory_size(instance, ptr::null(), ptr::null_mut()) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(unsafe { packr_instance_memory_read(instance, ptr::null(), 0, ptr::null_mut(), 1) }, PACKR_ERR_NULL_POINTER);
    }

    #[test]
    fn an_instance_in_use_is_busy_not_undefined() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, COUNTER);
        let instance = host.instantiate(module);
        let held = unsafe { &*instance }.live.lock().unwrap();
        let from_other_thread = std::thread::scope(|s| {
            let ptr = instance as usize;
            s.spawn(move || {
                let (status, _) = call(ptr as *mut packr_instance, c"bump", &[], 1);
                (status, last_error())
            })
            .join()
            .unwrap()
        });
        assert_eq!(from_other_thread, (PACKR_ERR_BUSY, "the instance is in use by another call".to_string()));
        let mut size = 0;
        assert_eq!(unsafe { packr_instance_memory_size(instance, ptr::null(), &mut size) }, PACKR_ERR_BUSY);
        drop(held);
        assert_eq!(result_i32(instance, c"bump", &[]), 1);
    }

    #[test]
    fn start_traps_and_missing_imports_fail_instantiation() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, "(module (func $s unreachable) (start $s))");
        let mut instance = ptr::null_mut();
        assert_eq!(unsafe { packr_module_instantiate(module, &mut instance) }, PACKR_ERR_TRAP);
        assert!(last_error().starts_with("wasm trap: wasm `unreachable` instruction executed"), "{}", last_error());
        let module = host.load(rt, r#"(module (import "host" "mem" (memory 1)))"#);
        assert_eq!(unsafe { packr_module_instantiate(module, &mut instance) }, PACKR_ERR_LINK);
        assert!(last_error().contains("host::mem"), "{}", last_error());
        assert!(instance.is_null());
        assert_eq!(unsafe { packr_module_instantiate(ptr::null(), &mut instance) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(unsafe { packr_module_instantiate(module, ptr::null_mut()) }, PACKR_ERR_NULL_POINTER);
    }

    #[test]
    fn handles_free_in_any_order() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, COUNTER);
        let instance = host.instantiate(module);
        // Free the runtime and module first; the instance and a clone keep working.
        let clone = unsafe { crate::module::packr_module_clone(module) };
        host.take_runtimes_and_modules();
        assert_eq!(result_i32(instance, c"bump", &[]), 1);
        let mut second = ptr::null_mut();
        assert_eq!(unsafe { packr_module_instantiate(clone, &mut second) }, PACKR_OK);
        unsafe { crate::module::packr_module_free(clone) };
        assert_eq!(result_i32(second, c"bump", &[]), 1);
        unsafe { packr_instance_free(second) };
        unsafe { packr_instance_free(ptr::null_mut()) };
    }

    #[test]
    fn signatures_through_the_instance() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, COUNTER);
        let instance = host.instantiate(module);
        let mut sig = packr_func_signature { params: ptr::null(), nparams: 0, results: ptr::null(), nresults: 0 };
        assert_eq!(unsafe { packr_instance_func_signature(instance, c"mix".as_ptr(), &mut sig) }, PACKR_OK);
        assert_eq!((sig.nparams, sig.nresults), (4, 2));
        assert_eq!(unsafe { packr_instance_func_signature(instance, c"memory".as_ptr(), &mut sig) }, PACKR_ERR_TYPE_MISMATCH);
    }
}
