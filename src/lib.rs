//! packr: a C ABI over wasmtime for hosts that compile WebAssembly once and spawn
//! instances from a cache.
//!
//! The shape of the API: a runtime compiles a module (`packr_module_load`); the host keeps
//! the module in its own cache as a cheap clone (`packr_module_clone`); on a cache hit it
//! binds the module to a runtime (`packr_runtime_wrap_module`, which refuses modules from an
//! engine the runtime does not share) and instantiates it (`packr_module_instantiate`), then
//! calls exports (`packr_instance_call`).
//!
//! Host functions: a `packr_host` collects functions served by host callbacks; a runtime made
//! with `packr_runtime_new_with_host` links instances' imports against a copy of them.
//! Func handles (`packr_module_func`) resolve an export once for calls on every instance.
//!
//! Layout: `boundary` holds every FFI helper (panic guard, pointer checks, handle casts);
//! each other module is one concept, plain Rust with thin `extern "C"` shells on top.

#![allow(non_camel_case_types)]
// Each export's doc states its pointer contract in the terms the header uses (NULL, ownership,
// lifetime); a Rust-style `# Safety` section would repeat it in the C manual.
#![allow(clippy::missing_safety_doc)]

// In this order in the header: basics first, then runtime, module, instance. The
// dependencies point down this list: `store` (per-instance state) uses only `deadline` and
// `limits`, below it.
mod boundary;
pub mod error;
pub mod bytes;
pub mod val;
pub mod types;
mod deadline;
mod limits;
mod stack;
mod store;
mod memory;
mod call;
mod exclusive;
mod pack;
pub mod wasi;
pub mod config;
mod engine;
pub mod host;
pub mod caller;
pub mod runtime;
pub mod module;
pub mod instance_config;
pub mod instance;
pub mod guardrail;
pub mod func;
pub mod artifact;
pub mod cache;

#[cfg(test)]
mod testutil;

use std::ffi::c_char;

/// The version of packr, such as `"0.1.0"`. Never NULL; the string lives for the whole
/// program.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn packr_version() -> *const c_char {
    boundary::guard_value(c"".as_ptr(), || Ok(concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()))
}
