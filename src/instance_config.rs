//! Per-instance options: what `packr_module_instantiate_with` applies to one instance.

use crate::boundary::{guard, guard_value, BoxHandle, Out};
use crate::error::packr_status;

/// Options for `packr_module_instantiate_with`. None are defined yet: an empty config gives
/// what `packr_module_instantiate` gives. Later capabilities (WASI arguments and output,
/// deadlines, fuel, memory limits) add their per-instance settings here, each with a
/// default that keeps today's behaviour.
///
/// Underneath it is a `Box` the host owns. An instance copies what it needs when it is
/// made, so a config may be reused for any number of instantiations and freed afterwards.
///
/// Thread rules: a config may move between threads but must not be changed by two threads
/// at once; several threads may instantiate with it at once while no thread changes it.
pub struct packr_instance_config {
    pub(crate) settings: InstanceSettings,
}

impl BoxHandle for packr_instance_config {}

/// The settings an instance is made with.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct InstanceSettings {}

/// Creates an instance config with every option at its default.
///
/// On success writes it to `*config_out`; the caller owns it and frees it with
/// `packr_instance_config_free`.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_new(config_out: *mut *mut packr_instance_config) -> packr_status {
    guard(|| {
        let out = Out::new(config_out, "config_out")?;
        out.write(packr_instance_config { settings: InstanceSettings::default() }.into_raw());
        Ok(())
    })
}

/// Frees an instance config. Instances made with it are not affected.
///
/// NULL is a no-op. Must not be called twice for the same handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_free(config: *mut packr_instance_config) {
    guard_value((), || {
        unsafe { BoxHandle::free_raw(config) };
        Ok(())
    })
}
