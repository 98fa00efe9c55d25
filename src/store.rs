//! Per-store host state: what each instance's store carries for the host and for packr.
//! Near the bottom of the dependency order: it uses only the stop flags (`deadline`) and the
//! limiter (`limits`), which use only `error`.

use std::ffi::c_void;
use std::sync::Arc;

use wasmtime::{Engine, Store};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::deadline::{self, Deadline, Interrupt};
use crate::limits::Limiter;
use crate::types::Exports;

/// The host's per-instance pointer. packr never dereferences or frees it.
#[derive(Clone, Copy)]
pub(crate) struct HostData(pub *mut c_void);

// SAFETY: packr only hands the pointer back to the host; what it points to and which threads
// may touch it is the host's contract (documented on `packr_module_instantiate_with`).
unsafe impl Send for HostData {}
unsafe impl Sync for HostData {}

/// The state of one instance's store.
pub(crate) struct StoreData {
    /// The host's pointer, returned by `packr_caller_data` and `packr_instance_data`.
    pub(crate) data: HostData,
    /// The instance's exports, so a host function can find them by name through its caller.
    pub(crate) exports: Arc<Exports>,
    /// The WASI context, present exactly when the runtime's host serves WASI.
    pub(crate) wasi: Option<WasiP1Ctx>,
    /// The instance's stop flag, which its interrupters share.
    pub(crate) interrupt: Arc<Interrupt>,
    /// The running call's deadline, if it has one.
    pub(crate) deadline: Option<Deadline>,
    /// The instance's memory and table limits.
    pub(crate) limiter: Limiter,
}

impl StoreData {
    /// The WASI context, for the WASI functions the linker serves.
    pub(crate) fn wasi(&mut self) -> &mut WasiP1Ctx {
        // Only linkers of runtimes whose host serves WASI define WASI functions, and every
        // store of such a runtime gets a context (`packr_instance::new`).
        self.wasi.as_mut().expect("a WASI function ran in a store without a WASI context")
    }
}

/// A store for one instance, with its epoch callback, limiter and fuel (`Some` exactly
/// when the engine consumes fuel).
///
/// Its epoch deadline is one tick ahead, and the callback keeps it so (see `deadline`):
/// upstream packr's never-tripping deadline would let no timeout or interrupt through, and
/// while nothing advances the epoch this one never trips either.
pub(crate) fn new_store(engine: &Engine, data: StoreData, fuel: Option<u64>) -> wasmtime::Result<Store<StoreData>> {
    let mut store = Store::new(engine, data);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|ctx| {
        let data = ctx.data();
        deadline::check(&data.interrupt, data.deadline)
    });
    store.limiter(|data| &mut data.limiter);
    if let Some(fuel) = fuel {
        store.set_fuel(fuel)?;
    }
    Ok(store)
}
