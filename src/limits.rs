//! Per-instance memory and table limits: the `ResourceLimiter` every store carries.
//!
//! Growth past a limit fails the way the spec lets it (`memory.grow` and `table.grow`
//! return -1); an instance whose memories or tables start above a limit is not made at all,
//! with `PACKR_ERR_LIMIT` naming the limit. The limits hold for 32- and 64-bit memories
//! alike, and on top of a pooled runtime's own slot sizes.

use wasmtime::ResourceLimiter;

use crate::error::LimitExceeded;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Limits {
    /// The most bytes each linear memory may have; `None` for wasm's own limits.
    pub(crate) memory_bytes: Option<u64>,
    /// The most elements each table may have.
    pub(crate) table_elements: Option<u64>,
}

/// The limits as one store applies them.
pub(crate) struct Limiter {
    limits: Limits,
    /// True until instantiation ends: a refusal then fails the instantiation with a status
    /// of its own instead of returning -1 to a guest that is not running yet.
    pub(crate) instantiating: bool,
}

impl Limiter {
    pub(crate) fn new(limits: Limits) -> Self {
        Limiter { limits, instantiating: true }
    }

    fn allow(&self, desired: usize, limit: Option<u64>, what: &str, unit: &str, setter: &str) -> wasmtime::Result<bool> {
        match limit {
            Some(limit) if desired as u64 > limit => {
                if self.instantiating {
                    Err(LimitExceeded(format!(
                        "a {what} starts at {desired} {unit}, above the instance's limit of {limit} ({setter})"
                    ))
                    .into())
                } else {
                    Ok(false)
                }
            }
            _ => Ok(true),
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.allow(desired, self.limits.memory_bytes, "memory", "bytes", "packr_instance_config_set_memory_limit")
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.allow(desired, self.limits.table_elements, "table", "elements", "packr_instance_config_set_table_limit")
    }
}
