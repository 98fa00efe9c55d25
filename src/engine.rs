//! An engine and what packr keeps per engine: its epoch timer and the settings every runtime
//! sharing it shares (fuel, the module size limit, the stack a call needs).

use std::time::Duration;

use wasmtime::Engine;

use crate::config::Settings;
use crate::deadline::Ticker;
use crate::error::{Error, Phase, Result};
use crate::stack;

/// Shared by every runtime made from one engine (`packr_runtime_new_sharing_engine`,
/// `packr_runtime_new_with_host`), and kept alive by their modules and instances; dropping
/// the last one stops the timer.
pub(crate) struct EngineState {
    pub(crate) engine: Engine,
    pub(crate) ticker: Ticker,
    /// Whether the engine consumes fuel (`packr_config_set_fuel`).
    pub(crate) fuel: bool,
    /// The largest module `packr_module_load` compiles; 0 for no limit.
    pub(crate) max_module_bytes: u64,
    /// The stack a call needs on the calling thread to run there: the guest's own
    /// (`max_wasm_stack`) plus room for the host's frames around and inside it.
    pub(crate) call_stack: usize,
}

impl EngineState {
    pub(crate) fn new(settings: &Settings) -> Result<Self> {
        let config = settings.to_wasmtime()?;
        let engine = Engine::new(&config).map_err(|e| Error::wasmtime(Phase::Engine, &e))?;
        let ticker = Ticker::new(engine.weak(), Duration::from_micros(settings.timer_tick_us));
        Ok(EngineState {
            engine,
            ticker,
            fuel: settings.fuel,
            max_module_bytes: settings.max_module_bytes,
            call_stack: settings.max_wasm_stack + stack::HOST_ROOM,
        })
    }
}
