//! Instances: a store, its memories and globals, and calls into the guest.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use wasmtime::{Extern, Func, Memory, Store, TypedFunc};

use crate::boundary::{arg, guard, guard_value, slice, slice_mut, utf8, ArcHandle, BoxHandle, Out};
use crate::call::call_checked_raw;
use crate::exclusive::{Claim, Exclusive};
use crate::bytes::packr_bytes;
use crate::deadline::{Deadline, Interrupt};
use crate::error::{
    packr_status, Error, Phase, Result, PACKR_ERR_BUSY, PACKR_ERR_INVALID_ARGUMENT, PACKR_ERR_NOT_FOUND, PACKR_ERR_TYPE_MISMATCH,
};
use crate::limits::Limiter;
use crate::stack;
use crate::instance_config::{packr_instance_config, InstanceSettings};
use crate::memory;
use crate::module::packr_module;
use crate::store::{new_store, HostData, StoreData};
use crate::pack;
use crate::types::{packr_func_signature, Exports};
use crate::wasi::{self, Captures, WasiSettings};
use crate::val::{kind_name, packr_val};

struct Live {
    store: Store<StoreData>,
    instance: wasmtime::Instance,
    /// Function exports already looked up, by position in the export table: wasmtime's
    /// lookup registers a new handle in the store each time, so calls look up once.
    funcs: Vec<Option<Func>>,
    /// The pack convention, set up on the first pack call.
    pack: Option<Pack>,
    /// Where the last call found enough stack (see `stack::Room`).
    room: stack::Room,
}

impl Live {
    /// The function export at `position` of `exports`, looked up once.
    #[inline]
    fn func(&mut self, exports: &Exports, position: usize) -> Result<Func> {
        if let Some(Some(func)) = self.funcs.get(position) {
            return Ok(*func);
        }
        let export = &exports.list()[position];
        let Some(Extern::Func(func)) = self.instance.get_module_export(&mut self.store, &export.index) else {
            return Err(Error::new(PACKR_ERR_NOT_FOUND, format!("the instance has no function named `{}`", export.name())));
        };
        if self.funcs.len() <= position {
            self.funcs.resize(exports.list().len(), None);
        }
        self.funcs[position] = Some(func);
        Ok(func)
    }

    /// A pack call of the export at `position`, whose type the caller checked: the pack
    /// exports and the export's typed entry are looked up once and kept (building a typed
    /// entry costs more than the wasm calls of a small pack call).
    fn call_bytes(&mut self, exports: &Exports, layout: &pack::Layout, position: usize, input: &[u8]) -> Result<Vec<u8>> {
        if self.pack.is_none() {
            let (alloc, free) = (self.func(exports, layout.alloc)?, self.func(exports, layout.free)?);
            let Some(Extern::Memory(memory)) = self.instance.get_module_export(&mut self.store, &exports.list()[layout.memory].index) else {
                return Err(Error::new(PACKR_ERR_NOT_FOUND, "the instance has no memory named `memory`"));
            };
            // SAFETY: `layout` checked the types of both functions.
            let funcs = unsafe { pack::Funcs::new(&self.store, memory, alloc, free) };
            self.pack = Some(Pack { funcs, exports: Vec::new() });
        }
        if !matches!(self.pack.as_ref().and_then(|p| p.exports.get(position)), Some(Some(_))) {
            let func = self.func(exports, position)?;
            // SAFETY: the caller checked the export's type (`pack::expect_shape`).
            let typed = unsafe { TypedFunc::new_unchecked(&self.store, func) };
            let pack = self.pack.as_mut().expect("made above");
            if pack.exports.len() <= position {
                pack.exports.resize(exports.list().len(), None);
            }
            pack.exports[position] = Some(typed);
        }
        let pack = self.pack.as_ref().expect("made above");
        let export = pack.exports[position].as_ref().expect("made above");
        pack::call(&mut self.store, &pack.funcs, export, exports.list()[position].name(), input)
    }
}

/// An instance's pack convention, looked up on its first pack call.
struct Pack {
    funcs: pack::Funcs,
    /// Typed entries of the pack exports called so far, by position in the export table.
    exports: Vec<Option<pack::Entry>>,
}

/// `exit_code`'s value while the guest has not exited.
const NOT_EXITED: i64 = i64::MIN;

/// A live instance: its own store, memories and globals, made by `packr_module_instantiate`
/// or `packr_module_instantiate_with`.
///
/// Underneath it is a `Box` the host owns; it keeps its module (and so the runtime's engine
/// and host definitions) alive, so the module and runtime handles may be freed first.
///
/// Thread rules: an instance may move between threads, but is used by one at a time. A call
/// that finds it in use on another thread (or re-entered from one of its own host
/// functions) fails with `PACKR_ERR_BUSY` instead of waiting; it is never undefined
/// behaviour. Functions that do not touch the store (`packr_instance_data`,
/// `packr_instance_func_signature`, `packr_instance_exit_code`,
/// `packr_instance_wasi_output`, `packr_instance_wasi_dropped`,
/// `packr_instance_interrupt`, `packr_instance_interrupter`,
/// `packr_instance_set_timeout_ms`) may run at any time, also on another thread during a
/// call.
///
/// Guardrails: a call can be bounded in time (`packr_instance_config_set_timeout_ms`),
/// stopped from any thread (`packr_instance_interrupt`), metered (fuel), and its memories
/// and tables capped (`packr_instance_config_set_memory_limit`); each stop has its own
/// status and leaves the instance usable. Guest recursion traps cleanly on any host thread
/// (see `packr_config_set_max_wasm_stack`).
pub struct packr_instance {
    pub(crate) module: Arc<packr_module>,
    data: HostData,
    live: Exclusive<Live>,
    /// Captured WASI output, readable without the store.
    captures: Captures,
    /// The code of the guest's last `proc_exit`, or `NOT_EXITED`.
    exit_code: AtomicI64,
    /// The stop flag `packr_instance_interrupt` sets, shared with the store.
    interrupt: Arc<Interrupt>,
    /// Milliseconds each call may run; 0 for no timeout.
    timeout_ms: AtomicU64,
}

impl BoxHandle for packr_instance {}

impl packr_instance {
    pub(crate) fn new(module: Arc<packr_module>, settings: &InstanceSettings, data: *mut c_void) -> Result<Self> {
        if !module.runtime.serves_wasi() && settings.wasi != WasiSettings::default() {
            return Err(Error::new(
                PACKR_ERR_INVALID_ARGUMENT,
                "the instance config sets WASI options, but the runtime's host does not serve WASI; \
                 call packr_host_define_wasi on the host the runtime is made with",
            ));
        }
        let shared = &module.runtime.shared;
        if settings.fuel.is_some() && !shared.fuel {
            return Err(Error::new(
                PACKR_ERR_INVALID_ARGUMENT,
                "the instance config sets fuel, but the runtime's engine does not consume fuel; \
                 enable it with packr_config_set_fuel on the config the runtime is made with",
            ));
        }
        let pre = module.pre()?;
        let data = HostData(data);
        let exports = Arc::clone(&module.compiled.exports);
        let (wasi, captures) = if module.runtime.serves_wasi() {
            let (ctx, captures) = wasi::context(&settings.wasi)?;
            (Some(ctx), captures)
        } else {
            (None, Captures::default())
        };
        let interrupt = Interrupt::new(shared.engine.weak());
        let timeout = settings.timeout_ms;
        let store_data = StoreData {
            data,
            exports,
            wasi,
            interrupt: Arc::clone(&interrupt),
            deadline: (timeout != 0).then(|| Deadline::after(timeout)),
            limiter: Limiter::new(settings.limits),
        };
        let fuel = shared.fuel.then(|| settings.fuel.unwrap_or(u64::MAX));
        let mut store = new_store(&shared.engine, store_data, fuel).map_err(|e| Error::wasmtime(Phase::Instantiate, &e))?;
        let instance = {
            let _armed = if timeout != 0 { Some(shared.ticker.arm()?) } else { None };
            // The start function and `_initialize` are guest code: they need the stack a call does.
            stack::with_room(shared.call_stack, || {
                let instance = pre.instantiate(&mut store).map_err(|e| Error::wasmtime(Phase::Instantiate, &e))?;
                // From here on a refused growth is the guest's to handle (-1), not a failed spawn.
                store.data_mut().limiter.instantiating = false;
                initialize_reactor(&mut store, &instance, &module.compiled.exports)?;
                Ok(instance)
            })??
        };
        store.data_mut().deadline = None;
        let live = Live { store, instance, funcs: Vec::new(), pack: None, room: stack::Room::default() };
        Ok(packr_instance {
            module,
            data,
            live: Exclusive::new(live),
            captures,
            exit_code: AtomicI64::new(NOT_EXITED),
            interrupt,
            timeout_ms: AtomicU64::new(timeout),
        })
    }

    /// Runs `body`, which enters the guest, with the instance to itself: under the call's
    /// deadline when it has a timeout, and on a thread with enough stack for the guest.
    #[inline]
    fn enter<R: Send>(&self, body: impl FnOnce(&mut Live) -> Result<R> + Send) -> Result<R> {
        let mut live = self.lock()?;
        let shared = &self.module.runtime.shared;
        let timeout = self.timeout_ms.load(Ordering::Relaxed);
        let armed = if timeout != 0 {
            let armed = shared.ticker.arm()?;
            live.store.data_mut().deadline = Some(Deadline::after(timeout));
            Some(armed)
        } else {
            None
        };
        let result = {
            // Counted out on drop, so that a panic unwinding through here keeps the count even.
            let _running = self.interrupt.running();
            let mut room = live.room;
            let result = stack::with_room_known(&mut room, shared.call_stack, || body(&mut live));
            live.room = room;
            result
        };
        if armed.is_some() {
            live.store.data_mut().deadline = None;
        }
        result?.inspect_err(|e| self.note_exit(e))
    }

    /// Remembers the code of a `proc_exit` that ended a call.
    #[cold]
    fn note_exit(&self, error: &Error) {
        if let Some(code) = error.exit_code {
            self.exit_code.store(code.into(), Ordering::Relaxed);
        }
    }

    /// Runs the command module's `_start`: its exit code, 0 when `_start` returns.
    fn run(&self) -> Result<i32> {
        let exports = &self.module.compiled.exports;
        let position = exports.position(START).map_err(|_| {
            Error::new(PACKR_ERR_NOT_FOUND, "the module exports no `_start`: it is not a WASI command (a reactor's `_initialize` runs at instantiation)")
        })?;
        let signature = exports.list()[position].callable()?;
        signature.check_call(START, &[], 0)?;
        let ran = self.enter(|live| {
            let func = live.func(exports, position)?;
            call_checked_raw(&mut live.store, &func, signature, &[], &mut [])
        });
        match ran {
            Ok(()) => Ok(0),
            // `enter` noted the code.
            Err(Error { exit_code: Some(code), .. }) => Ok(code),
            Err(e) => Err(e),
        }
    }

    /// Interrupts the running call, or the next one.
    pub(crate) fn interrupt(&self) -> &Arc<Interrupt> {
        &self.interrupt
    }

    /// The timeout later calls get; 0 for none.
    pub(crate) fn set_timeout_ms(&self, ms: u64) {
        self.timeout_ms.store(ms, Ordering::Relaxed);
    }

    /// Runs `body` on the store of an instance whose engine consumes fuel.
    pub(crate) fn with_fuel<R>(&self, body: impl FnOnce(&mut Store<StoreData>) -> wasmtime::Result<R>) -> Result<R> {
        if !self.module.runtime.shared.fuel {
            return Err(Error::new(
                PACKR_ERR_INVALID_ARGUMENT,
                "the runtime's engine does not consume fuel; enable it with packr_config_set_fuel on the config the runtime is made with",
            ));
        }
        let mut live = self.lock()?;
        body(&mut live.store).map_err(|e| Error::new(PACKR_ERR_INVALID_ARGUMENT, crate::error::cause_chain(&e)))
    }

    #[inline]
    fn lock(&self) -> Result<Claim<'_, Live>> {
        self.live.try_claim().ok_or_else(busy)
    }

    /// A pack call of the export at `position`: `input` in, the guest's output out.
    pub(crate) fn call_bytes(&self, position: usize, input: &[u8]) -> Result<Vec<u8>> {
        let compiled = &self.module.compiled;
        let layout = compiled.pack_layout()?;
        pack::expect_shape(&compiled.exports.list()[position])?;
        self.enter(|live| live.call_bytes(&compiled.exports, &layout, position, input))
    }

    /// Calls the function export at `position` in this instance's export table.
    #[inline]
    pub(crate) fn call_export(&self, position: usize, args: &[packr_val], results: &mut [packr_val]) -> Result<()> {
        let exports = &self.module.compiled.exports;
        let export = &exports.list()[position];
        let signature = export.callable()?;
        signature.check_call(export.name(), args, results.len())?;
        self.enter(|live| {
            let func = live.func(exports, position)?;
            call_checked_raw(&mut live.store, &func, signature, args, results)
        })
    }

    pub(crate) fn call(&self, name: &str, args: &[packr_val], results: &mut [packr_val]) -> Result<()> {
        self.call_export(self.module.compiled.exports.position(name)?, args, results)
    }

    /// Runs `body` with the named memory.
    fn with_memory<R>(&self, name: &str, body: impl FnOnce(&mut Store<StoreData>, Memory) -> Result<R>) -> Result<R> {
        let export = self.module.compiled.exports.get(name)?;
        export.expect_memory()?;
        let mut live = self.lock()?;
        let Live { store, instance, .. } = &mut *live;
        let Some(Extern::Memory(memory)) = instance.get_module_export(&mut *store, &export.index) else {
            return Err(Error::new(PACKR_ERR_NOT_FOUND, format!("the instance has no memory named `{name}`")));
        };
        body(store, memory)
    }

    fn global_get(&self, name: &str) -> Result<packr_val> {
        let export = self.module.compiled.exports.get(name)?;
        export.global()?;
        let mut live = self.lock()?;
        let Live { store, instance, .. } = &mut *live;
        let Some(Extern::Global(global)) = instance.get_module_export(&mut *store, &export.index) else {
            return Err(Error::new(PACKR_ERR_NOT_FOUND, format!("the instance has no global named `{name}`")));
        };
        packr_val::from_wasm(&global.get(&mut *store)).map_err(|_| uncarried_global(name))
    }

    fn global_set(&self, name: &str, value: packr_val) -> Result<()> {
        let export = self.module.compiled.exports.get(name)?;
        let (kind, mutable) = export.global()?;
        if !mutable {
            return Err(Error::new(PACKR_ERR_TYPE_MISMATCH, format!("global `{name}` is immutable")));
        }
        if !crate::val::is_carried(kind) {
            return Err(uncarried_global(name));
        }
        let value = value.to_wasm(kind, 0).map_err(|_| {
            Error::new(
                PACKR_ERR_TYPE_MISMATCH,
                format!("global `{name}` is {}; the value is {}", kind_name(kind), kind_name(value.kind)),
            )
        })?;
        let mut live = self.lock()?;
        let Live { store, instance, .. } = &mut *live;
        let Some(Extern::Global(global)) = instance.get_module_export(&mut *store, &export.index) else {
            return Err(Error::new(PACKR_ERR_NOT_FOUND, format!("the instance has no global named `{name}`")));
        };
        global.set(&mut *store, value).map_err(|e| Error::new(PACKR_ERR_TYPE_MISMATCH, format!("cannot set global `{name}`: {e}")))
    }
}

/// The export a WASI command starts at.
const START: &str = "_start";

/// Runs a WASI reactor's `_initialize` (a module exporting it and no `_start`), as wasmtime's
/// own linker does for reactors.
fn initialize_reactor(store: &mut Store<StoreData>, instance: &wasmtime::Instance, exports: &Exports) -> Result<()> {
    let Ok(init) = exports.get("_initialize") else { return Ok(()) };
    if exports.get(START).is_ok() || init.function().map_or(true, |s| *s != crate::types::Signature::new(&[], &[])) {
        return Ok(());
    }
    let Some(Extern::Func(func)) = instance.get_module_export(&mut *store, &init.index) else { return Ok(()) };
    func.call(&mut *store, &[], &mut []).map_err(|e| Error::wasmtime(Phase::Instantiate, &e))
}

#[cold]
fn busy() -> Error {
    Error::new(PACKR_ERR_BUSY, "the instance is in use by another call")
}

fn uncarried_global(name: &str) -> Error {
    Error::new(PACKR_ERR_TYPE_MISMATCH, format!("global `{name}` holds a reference, which packr values cannot carry"))
}

fn instantiate(module: *const packr_module, settings: &InstanceSettings, data: *mut c_void, out: Out<*mut packr_instance>) -> Result<()> {
    let module = unsafe { ArcHandle::to_arc(module) };
    out.write(packr_instance::new(module, settings, data)?.into_raw());
    Ok(())
}

/// Creates a fresh instance of `module` in the runtime the module is bound to: its own
/// store, memories and globals, with the module's imports resolved against that runtime's
/// host definitions. Runs the module's start function, if any. The same as
/// `packr_module_instantiate_with(module, NULL, NULL, instance_out)`.
///
/// On success writes the instance to `*instance_out`; the caller owns it and frees it with
/// `packr_instance_free`. `module` stays the caller's and may be freed first.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_LINK` if imports cannot be
/// satisfied (the message names every one, with the type the module expects);
/// `PACKR_ERR_TRAP` if the start function trapped; `PACKR_ERR_HOST` if a host function it
/// called failed; `PACKR_ERR_POOL_EXHAUSTED` if the runtime is pooled and its pool is full
/// (the message names the limit; it succeeds again once an instance is freed);
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
        instantiate(module, &InstanceSettings::default(), std::ptr::null_mut(), out)
    })
}

/// Creates a fresh instance of `module` as `packr_module_instantiate` does, with the
/// options in `config` (NULL means every default) and the host's pointer `data`.
///
/// `data` is the instance's host data: packr hands it back from `packr_instance_data` and,
/// inside host callbacks, `packr_caller_data`; it never reads, writes or frees it, and it
/// may be NULL. What it points to must stay valid while host functions can run on the
/// instance (free it after `packr_instance_free`), and the host decides which threads may
/// touch it. `config` is only read during the call.
///
/// On success writes the instance to `*instance_out`; the caller owns it and frees it with
/// `packr_instance_free`.
///
/// Returns the statuses of `packr_module_instantiate`.
///
/// Thread-safe: any number of threads may instantiate at once, with one config or many,
/// while no thread changes a config they use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_instantiate_with(
    module: *const packr_module,
    config: *const packr_instance_config,
    data: *mut c_void,
    instance_out: *mut *mut packr_instance,
) -> packr_status {
    guard(|| {
        unsafe { arg(module, "module") }?;
        let out = Out::new(instance_out, "instance_out")?;
        let default = InstanceSettings::default();
        let settings = unsafe { config.as_ref() }.map_or(&default, |c| &c.settings);
        instantiate(module, settings, data, out)
    })
}

/// The instance's host data: the `data` given to `packr_module_instantiate_with`, or NULL
/// (also for a NULL `instance`, and for instances made by `packr_module_instantiate`).
///
/// Does not touch the store: callable at any time, also during a call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_data(instance: *const packr_instance) -> *mut c_void {
    guard_value(std::ptr::null_mut(), || Ok(unsafe { instance.as_ref() }.map_or(std::ptr::null_mut(), |i| i.data.0)))
}

/// Calls the exported function `export_name` with `nargs` arguments from `args`, and writes
/// its `nresults` results to `results`. The counts must equal the function's parameter and
/// result counts, and each argument's `kind` must match its parameter. `args` (or
/// `results`) may be NULL when its count is 0. The results are written only on success.
/// For calls on a hot path, resolve the export once with `packr_module_func` and call it
/// with `packr_instance_call_func`, which skips the name lookup.
///
/// Blocks until the call returns. A trap leaves the instance usable, with its memories and
/// globals as the trap left them.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the name
/// is not UTF-8; `PACKR_ERR_NOT_FOUND` if there is no such export;
/// `PACKR_ERR_TYPE_MISMATCH` if the export is not a function, uses types packr cannot
/// carry, or the counts or kinds do not match; `PACKR_ERR_TRAP` with the trap reason;
/// `PACKR_ERR_HOST` if a host function failed (see `PACKR_ERR_HOST`); `PACKR_ERR_BUSY` if
/// the instance is in use by another call.
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
        let name = unsafe { memory::name_arg(memory_name) }?;
        let out = Out::new(size_out, "size_out")?;
        let size = instance.with_memory(name, |store, memory| Ok(memory.data_size(&*store)))?;
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
        let name = unsafe { memory::name_arg(memory_name) }?;
        let buf = unsafe { slice_mut(buf, len, "buf") }?;
        instance.with_memory(name, |store, memory| memory::read(memory.data(&*store), name, offset, buf))
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
        let name = unsafe { memory::name_arg(memory_name) }?;
        let buf = unsafe { slice(buf, len, "buf") }?;
        instance.with_memory(name, |store, memory| memory::write(memory.data_mut(&mut *store), name, offset, buf))
    })
}

/// Reads the global exported as `name` into `*value_out` (its `kind` set to the global's).
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the name
/// is not UTF-8; `PACKR_ERR_NOT_FOUND` if there is no such export;
/// `PACKR_ERR_TYPE_MISMATCH` if it is not a global or holds a reference; `PACKR_ERR_BUSY`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_global_get(
    instance: *mut packr_instance,
    name: *const c_char,
    value_out: *mut packr_val,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let name = unsafe { utf8(name, "name") }?;
        let out = Out::new(value_out, "value_out")?;
        out.write(instance.global_get(name)?);
        Ok(())
    })
}

/// Sets the mutable global exported as `name` to `*value`, whose `kind` must be the
/// global's.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the name
/// is not UTF-8; `PACKR_ERR_NOT_FOUND`; `PACKR_ERR_TYPE_MISMATCH` if it is not a global, is
/// immutable, or holds another kind; `PACKR_ERR_BUSY`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_global_set(
    instance: *mut packr_instance,
    name: *const c_char,
    value: *const packr_val,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let name = unsafe { utf8(name, "name") }?;
        let value = *unsafe { arg(value, "value") }?;
        instance.global_set(name, value)
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

/// Calls the export `export_name` in upstream packr's pack convention: copies
/// `input[0..input_len]` into the guest (into a block from its `__pack_alloc`, which also
/// holds the two result slots), calls the export, copies its output out and frees both
/// blocks with `__pack_free`. The guest must export `memory`, `__pack_alloc(i32) -> i32`
/// and `__pack_free(i32, i32)`, and the export must have the type
/// `(in_ptr, in_len, out_ptr_ptr, out_len_ptr: i32) -> i32`. `input` may be NULL when
/// `input_len` is 0.
///
/// On success writes the output to `*output_out` (`{NULL, 0}` when empty); the caller owns
/// it and frees it with `packr_bytes_free`. For calls on a hot path, resolve the export
/// once with `packr_module_func` and use `packr_instance_call_func_bytes`.
///
/// Every pointer and length the guest returns is checked against its memory before a byte
/// is read; a guest that lies gets an error, never a read outside it.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the name is
/// not UTF-8 or the input does not fit a 32-bit guest; `PACKR_ERR_NOT_FOUND` if there is no
/// such export or the module lacks `memory`, `__pack_alloc` or `__pack_free`;
/// `PACKR_ERR_TYPE_MISMATCH` if one of them has another type (the message shows both);
/// `PACKR_ERR_GUEST` if the guest returned an error (its message follows
/// `the guest's EXPORT failed: `), returned a code other than 0 or -1, or could not
/// allocate; `PACKR_ERR_OUT_OF_BOUNDS` if the guest pointed outside its memory; and the
/// statuses of `packr_instance_call` for traps, host failures, exits and `PACKR_ERR_BUSY`.
///
/// Thread rules: see `packr_instance`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_call_bytes(
    instance: *mut packr_instance,
    export_name: *const c_char,
    input: *const u8,
    input_len: usize,
    output_out: *mut packr_bytes,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let name = unsafe { utf8(export_name, "export_name") }?;
        let input = unsafe { slice(input, input_len, "input") }?;
        let out = Out::new(output_out, "output_out")?;
        let position = instance.module.compiled.exports.position(name)?;
        out.write(packr_bytes::from_vec(instance.call_bytes(position, input)?));
        Ok(())
    })
}

/// Runs the WASI command module's `_start` and writes its exit code to `*exit_code_out`: 0
/// when `_start` returns, `n` when the guest calls `proc_exit(n)`; both are `PACKR_OK`.
/// WASI allows exit codes 0 to 125: `proc_exit` with a larger one traps (`PACKR_ERR_TRAP`,
/// `exit with invalid exit status`).
/// Arguments, environment, streams and directories come from the instance config. Works
/// without WASI as well, for any module exporting a `_start` of no parameters and results.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_NOT_FOUND` if the module
/// exports no `_start`; `PACKR_ERR_TYPE_MISMATCH` if it has parameters or results; and the
/// statuses of `packr_instance_call` for traps, host failures and `PACKR_ERR_BUSY`.
///
/// Thread rules: see `packr_instance`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_run(instance: *mut packr_instance, exit_code_out: *mut i32) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let out = Out::new(exit_code_out, "exit_code_out")?;
        out.write(instance.run()?);
        Ok(())
    })
}

/// Writes the code the guest last passed to WASI's `proc_exit` to `*exit_code_out`: after a
/// call failed with `PACKR_ERR_EXIT`, or after `packr_instance_run` reported it.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_NOT_FOUND` if the guest has not
/// exited. Does not touch the store: callable at any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_exit_code(instance: *const packr_instance, exit_code_out: *mut i32) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance, "instance") }?;
        let out = Out::new(exit_code_out, "exit_code_out")?;
        match instance.exit_code.load(Ordering::Relaxed) {
            NOT_EXITED => Err(Error::new(PACKR_ERR_NOT_FOUND, "the guest has not exited")),
            code => {
                out.write(code as i32);
                Ok(())
            }
        }
    })
}

/// Takes out what the captured stdout (`fd` 1) or stderr (`fd` 2) of the instance holds so
/// far: the next call returns only what was written after this one. On success writes the
/// bytes to `*output_out` (`{NULL, 0}` when there are none); the caller owns them and frees
/// them with `packr_bytes_free`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if `fd` is not
/// 1 or 2, or that stream is not captured (`PACKR_WASI_CAPTURE`). Does not touch the store:
/// callable at any time, also from another thread while a call runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_wasi_output(instance: *const packr_instance, fd: i32, output_out: *mut packr_bytes) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance, "instance") }?;
        let out = Out::new(output_out, "output_out")?;
        out.write(packr_bytes::from_vec(instance.captures.get(fd)?.take()));
        Ok(())
    })
}

/// Writes to `*dropped_out` how many bytes the captured stdout (`fd` 1) or stderr (`fd` 2)
/// has dropped since the instance was made, because the guest wrote them while the capture
/// held its limit (see `PACKR_WASI_CAPTURE`). 0 means the host has seen every byte.
///
/// Returns the statuses of `packr_instance_wasi_output`. Callable at any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_wasi_dropped(instance: *const packr_instance, fd: i32, dropped_out: *mut u64) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance, "instance") }?;
        let out = Out::new(dropped_out, "dropped_out")?;
        out.write(instance.captures.get(fd)?.dropped());
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
    use crate::error::*;
    use crate::testutil::i32v;
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
        (func (export "v") (param funcref))
        (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))"#;


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
            (c"v", vec![], 0, PACKR_ERR_TYPE_MISMATCH, "export `v` uses type funcref, which packr values cannot carry"),
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
        let held = unsafe { &*instance }.live.try_claim().unwrap();
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

    #[test]
    fn globals_read_and_write_by_kind() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, r#"(module
            (global (export "pi") f64 (f64.const 3.5))
            (global (export "v") (mut v128) (v128.const i64x2 1 2))
            (global (export "r") (mut funcref) (ref.null func))
            (func (export "f")))"#);
        let instance = host.instantiate(module);
        let mut value = packr_val::zero(99);
        assert_eq!(unsafe { packr_instance_global_get(instance, c"pi".as_ptr(), &mut value) }, PACKR_OK);
        assert_eq!((value.kind, unsafe { value.of.f64 }), (PACKR_F64, 3.5));
        assert_eq!(unsafe { packr_instance_global_get(instance, c"v".as_ptr(), &mut value) }, PACKR_OK);
        assert_eq!(value.kind, crate::val::PACKR_V128);
        assert_eq!(unsafe { value.of.v128 }[..9], [1, 0, 0, 0, 0, 0, 0, 0, 2]);
        let mut bytes = [0u8; 16];
        bytes[15] = 0xff;
        let new = packr_val { kind: crate::val::PACKR_V128, of: packr_val_union { v128: bytes } };
        assert_eq!(unsafe { packr_instance_global_set(instance, c"v".as_ptr(), &new) }, PACKR_OK);
        assert_eq!(unsafe { packr_instance_global_get(instance, c"v".as_ptr(), &mut value) }, PACKR_OK);
        assert_eq!(unsafe { value.of.v128 }, bytes);
        let before = value;
        assert_eq!(unsafe { packr_instance_global_get(instance, c"r".as_ptr(), &mut value) }, PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(last_error(), "global `r` holds a reference, which packr values cannot carry");
        assert_eq!(unsafe { value.of.v128 }, unsafe { before.of.v128 }, "untouched on failure");
        assert_eq!(unsafe { packr_instance_global_set(instance, c"pi".as_ptr(), &new) }, PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(last_error(), "global `pi` is immutable");
        assert_eq!(unsafe { packr_instance_global_get(instance, c"f".as_ptr(), &mut value) }, PACKR_ERR_TYPE_MISMATCH);
        assert_eq!(unsafe { packr_instance_global_get(instance, c"nope".as_ptr(), &mut value) }, PACKR_ERR_NOT_FOUND);
        assert_eq!(unsafe { packr_instance_global_get(instance, c"pi".as_ptr(), ptr::null_mut()) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(unsafe { packr_instance_global_set(instance, c"v".as_ptr(), ptr::null()) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(last_error(), "`value` is NULL");
    }
}
