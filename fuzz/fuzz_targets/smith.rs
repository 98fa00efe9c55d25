//! Valid modules from wasm-smith, within the proposals packr's engine enables and bounded
//! in size, importing only what `standard_host` serves: each must compile, and is then
//! instantiated under the guardrails and walked with arbitrary arguments.

#![no_main]

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use packr_fuzz::api::*;
use packr_fuzz::*;

static RUNTIME: OnceLock<Shared<packr_runtime>> = OnceLock::new();
static IMPORTS: OnceLock<Vec<u8>> = OnceLock::new();

/// A wasm-smith config: the proposals wasmtime 48 enables by default (WebAssembly 3.0 less
/// threads, which packr's wasmtime is built without), some switched off by the input, and
/// sizes small enough to compile in milliseconds. Memories and tables may start above the
/// guardrails' limits, so PACKR_ERR_LIMIT comes up too.
fn config(u: &mut Unstructured) -> Result<wasm_smith::Config> {
    let flags: u16 = u.arbitrary()?;
    let bit = |n: u32| flags & (1 << n) != 0;
    let mut c = wasm_smith::Config::default();
    c.available_imports = Some(IMPORTS.get_or_init(|| wat::parse_str(STANDARD_IMPORTS).unwrap()).clone());
    c.max_imports = 5;
    c.max_funcs = 12;
    c.max_instructions = 150;
    c.max_exports = 24;
    c.max_globals = 12;
    c.max_types = 24;
    c.max_type_size = 200;
    c.max_memories = if bit(0) { 2 } else { 1 };
    c.max_memory32_bytes = 4 << 20;
    c.max_memory64_bytes = 4 << 20;
    c.max_tables = 2;
    c.max_table_elements = 1500;
    c.max_data_segments = 8;
    c.max_element_segments = 8;
    c.max_elements = 32;
    c.max_tags = 4;
    c.max_nesting_depth = 8;
    c.export_everything = bit(1);
    c.allow_start_export = bit(2);
    c.canonicalize_nans = bit(3);
    c.disallow_traps = bit(4);
    c.simd_enabled = !bit(5);
    c.relaxed_simd_enabled = c.simd_enabled && !bit(6);
    c.gc_enabled = !bit(7);
    c.exceptions_enabled = !bit(8);
    c.memory64_enabled = !bit(9);
    c.tail_call_enabled = !bit(10);
    c.allow_floats = !bit(11);
    // Not enabled in packr's engine.
    c.threads_enabled = false;
    c.shared_everything_threads_enabled = false;
    c.wide_arithmetic_enabled = false;
    c.custom_page_sizes_enabled = false;
    c.custom_descriptors_enabled = false;
    c.compact_imports_enabled = false;
    Ok(c)
}

fuzz_target!(|data: &[u8]| {
    let runtime = RUNTIME.get_or_init(|| Shared(standard_runtime(0))).0;
    let mut u = Unstructured::new(data);
    let Ok(config) = config(&mut u) else { return };
    let Ok(module) = wasm_smith::Module::new(config, &mut u) else { return };
    let wasm = module.to_bytes();
    let rest = u.take_rest();
    leak_checked(|| {
        let module = make("packr_module_load of a wasm-smith module", &[PACKR_OK], |out| unsafe {
            packr_module_load(runtime, wasm.as_ptr(), wasm.len(), out)
        });
        let module = module.unwrap_or_else(|| panic!("a valid module did not compile: {}", last_error()));
        let mut args = Unstructured::new(rest);
        walk(module, &HOSTILE, Args::From(&mut args));
        unsafe { packr_module_free(module) };
    });
});
