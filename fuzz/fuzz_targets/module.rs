//! Raw bytes (binary wasm or text) into `packr_module_load`; whatever compiles is
//! instantiated under the guardrails and walked (`packr_fuzz::walk`): every export called
//! with zeros of its signature's kinds, every global and memory probed.

#![no_main]

use std::ptr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use packr_fuzz::api::*;
use packr_fuzz::*;

/// Larger inputs must be refused with PACKR_ERR_LIMIT before any compiling (run.sh gives
/// libFuzzer a -max_len above it).
const MAX_MODULE_BYTES: u64 = 16 << 10;

static RUNTIME: OnceLock<Shared<packr_runtime>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let runtime = RUNTIME.get_or_init(|| Shared(standard_runtime(MAX_MODULE_BYTES))).0;
    leak_checked(|| {
        let allowed: &[packr_status] = if data.len() as u64 > MAX_MODULE_BYTES {
            &[PACKR_ERR_LIMIT]
        } else {
            &[PACKR_OK, PACKR_ERR_COMPILE]
        };
        let module = make("packr_module_load", allowed, |out| unsafe { packr_module_load(runtime, data.as_ptr(), data.len(), out) });
        if let Some(module) = module {
            walk(module, &HOSTILE, Args::Zero);
            unsafe { packr_module_free(module) };
        }
        // NULL bytes with a length are refused, whatever the length.
        make::<packr_module>("packr_module_load(NULL, len)", &[PACKR_ERR_NULL_POINTER], |out| unsafe {
            packr_module_load(runtime, ptr::null(), data.len().max(1), out)
        });
    });
});
