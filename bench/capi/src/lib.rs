//! wasmtime's C API (`wasm_*` and `wasmtime_*` symbols) bundled into one static library.
//! Naming the crate is what makes rustc link it, and so export its symbols.

pub use wasmtime_c_api::*;
