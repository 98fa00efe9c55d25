//! Arbitrary sequences of `packr_config_*` and `packr_instance_config_*` setter calls, with
//! each status predicted from the ranges packr.h documents; then a runtime from the config
//! (with a host serving WASI or not, trapping unknown imports or not), a tiny module loaded
//! and instantiated (up to one past a pool's capacity), its exports called under the
//! configured guardrails, and every handle freed in an arbitrary order.
//!
//! Clamped by the harness (after the setter call itself, with the fuzzed value, was
//! checked): pool_instances to 8 (also its default of 1,000), pool memories and tables per instance to 4,
//! pool_table_elements to 100,000 and pool_keep_resident to 4 MiB, so a runtime never
//! reserves more than about 0.5 TiB of address space (pool_instances x memories x a
//! reservation of up to 16 GiB) nor resets more than a few MiB per slot.

#![no_main]

use std::ffi::{c_char, CString};
use std::ptr;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use packr_fuzz::api::*;
use packr_fuzz::*;

const TINY: &str = r#"(module
  (memory (export "memory") 1)
  (table (export "table") 1 funcref)
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "spin") (loop $l (br $l))))"#;

const IMPORTS_H: &str = r#"(module
  (import "env" "h" (func $h (param i32) (result i32)))
  (func (export "use_h") (param i32) (result i32) (call $h (local.get 0))))"#;

/// A number: raw, small, or near a power of two (where the ranges' edges are).
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Num {
    Raw(u64),
    Small(u16),
    Pow2 { shift: u8, delta: i8 },
}

impl Num {
    fn get(self) -> u64 {
        match self {
            Num::Raw(v) => v,
            Num::Small(v) => u64::from(v),
            Num::Pow2 { shift, delta } => (1u64 << (shift % 64)).wrapping_add_signed(i64::from(delta)),
        }
    }
    fn u32(self) -> u32 {
        self.get() as u32
    }
}

#[derive(Arbitrary, Debug)]
enum Set {
    Pooling(bool),
    PoolInstances(Num),
    PoolMemories(Num),
    PoolTables(Num),
    PoolMemoryBytes(Num),
    PoolTableElements(Num),
    MemoryImages(bool),
    OptLevel(Num),
    Parallel(bool),
    MemoryReservation(Num),
    KeepResident(Num),
    PagemapScan(bool),
    DecommitBatch(Num),
    Fuel(bool),
    TimerTick(Num),
    MaxWasmStack(Num),
    MaxModuleBytes(Num),
    SignalsBasedTraps(bool),
}

/// A string for a WASI setter: NULL, or bytes (a NUL inside reads short).
#[derive(Arbitrary, Debug, Clone)]
enum Str {
    Null,
    Text(String),
    Bytes(Vec<u8>),
}

impl Str {
    fn buffer(&self) -> Option<Vec<u8>> {
        match self {
            Str::Null => None,
            Str::Text(s) => Some(c_string(s.as_bytes())),
            Str::Bytes(b) => Some(c_string(b)),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum HostPath {
    /// A directory the harness made.
    Dir,
    /// A regular file.
    File,
    Missing,
    /// Arbitrary bytes under the harness's directory.
    Under(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum ISet {
    Timeout(Num),
    Fuel(Num),
    MemoryLimit(Num),
    TableLimit(Num),
    WasiArgs(Vec<Str>),
    WasiArgsNull(u8),
    WasiEnv(Vec<(Str, Str)>),
    WasiStdin(Vec<u8>),
    WasiStdinNull(u8),
    WasiStdout(Num),
    WasiStderr(Num),
    CaptureLimit(Num),
    Preopen { host: HostPath, guest: Str, writable: bool },
}

#[derive(Arbitrary, Debug)]
struct Input {
    sets: Vec<Set>,
    wasi: bool,
    trap_unknown: bool,
    define_h: bool,
    with_host: bool,
    isets: Vec<ISet>,
    extra_instances: u8,
    interrupt: bool,
    call_timeout: Option<Num>,
    add_fuel: Num,
    args: (i32, i32),
    free_order: Vec<u8>,
}

/// The settings as the model tracks them (only what decides an outcome).
#[derive(Clone, Debug)]
struct Settings {
    pooling: bool,
    pool_instances: u32,
    pool_memory_bytes: u64,
    memory_reservation: Option<u64>,
    fuel: bool,
    tick_us: u64,
    max_module_bytes: u64,
    max_wasm_stack: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { pooling: false, pool_instances: 8, pool_memory_bytes: 4 << 30, memory_reservation: None, fuel: false, tick_us: 1000, max_module_bytes: 0, max_wasm_stack: 512 << 10 }
    }
}

fn in_range(v: u64, lo: u64, hi: u64) -> packr_status {
    if (lo..=hi).contains(&v) { PACKR_OK } else { PACKR_ERR_INVALID_ARGUMENT }
}

/// Calls one setter, checks its status against the documented range, and applies the
/// harness's clamp when it was accepted.
fn apply(cfg: *mut packr_config, s: &mut Settings, set: &Set) {
    unsafe {
        let st = |what: &str, want: packr_status, status: packr_status| {
            verify(what, &[want], status);
            status == PACKR_OK
        };
        match *set {
            Set::Pooling(b) => {
                st("set_pooling", PACKR_OK, packr_config_set_pooling(cfg, b));
                s.pooling = b;
            }
            Set::PoolInstances(n) => {
                let v = n.u32();
                if st("set_pool_instances", in_range(v.into(), 1, 1_000_000), packr_config_set_pool_instances(cfg, v)) {
                    s.pool_instances = v.min(8);
                    ok("set_pool_instances (clamp)", packr_config_set_pool_instances(cfg, s.pool_instances));
                }
            }
            Set::PoolMemories(n) => {
                let v = n.u32();
                if st("set_pool_memories_per_instance", in_range(v.into(), 1, 100), packr_config_set_pool_memories_per_instance(cfg, v)) {
                    ok("clamp", packr_config_set_pool_memories_per_instance(cfg, v.min(4)));
                }
            }
            Set::PoolTables(n) => {
                let v = n.u32();
                if st("set_pool_tables_per_instance", in_range(v.into(), 1, 100), packr_config_set_pool_tables_per_instance(cfg, v)) {
                    ok("clamp", packr_config_set_pool_tables_per_instance(cfg, v.min(4)));
                }
            }
            Set::PoolMemoryBytes(n) => {
                let v = n.get();
                let want = if v % 65536 == 0 { in_range(v, 65536, 4 << 30) } else { PACKR_ERR_INVALID_ARGUMENT };
                if st("set_pool_memory_bytes", want, packr_config_set_pool_memory_bytes(cfg, v)) {
                    s.pool_memory_bytes = v;
                }
            }
            Set::PoolTableElements(n) => {
                let v = n.u32();
                if st("set_pool_table_elements", in_range(v.into(), 1, 10_000_000), packr_config_set_pool_table_elements(cfg, v)) {
                    ok("clamp", packr_config_set_pool_table_elements(cfg, v.min(100_000)));
                }
            }
            Set::MemoryImages(b) => {
                st("set_memory_images", PACKR_OK, packr_config_set_memory_images(cfg, b));
            }
            Set::OptLevel(n) => {
                let v = n.u32();
                st("set_opt_level", in_range(v.into(), 0, 2), packr_config_set_opt_level(cfg, v));
            }
            Set::Parallel(b) => {
                st("set_parallel_compilation", PACKR_OK, packr_config_set_parallel_compilation(cfg, b));
            }
            Set::MemoryReservation(n) => {
                let v = n.get();
                if st("set_memory_reservation", in_range(v, 0, 16 << 30), packr_config_set_memory_reservation(cfg, v)) {
                    s.memory_reservation = (v != 0).then_some(v);
                }
            }
            Set::KeepResident(n) => {
                let v = n.get();
                if st("set_pool_keep_resident", in_range(v, 0, 1 << 30), packr_config_set_pool_keep_resident(cfg, v)) {
                    ok("clamp", packr_config_set_pool_keep_resident(cfg, v.min(4 << 20)));
                }
            }
            Set::PagemapScan(b) => {
                st("set_pool_pagemap_scan", PACKR_OK, packr_config_set_pool_pagemap_scan(cfg, b));
            }
            Set::DecommitBatch(n) => {
                let v = n.u32();
                st("set_pool_decommit_batch", in_range(v.into(), 1, 4096), packr_config_set_pool_decommit_batch(cfg, v));
            }
            Set::Fuel(b) => {
                st("set_fuel", PACKR_OK, packr_config_set_fuel(cfg, b));
                s.fuel = b;
            }
            Set::TimerTick(n) => {
                let v = n.get();
                if st("set_timer_tick_us", in_range(v, 100, 1_000_000), packr_config_set_timer_tick_us(cfg, v)) {
                    s.tick_us = v;
                }
            }
            Set::MaxWasmStack(n) => {
                let v = n.get() as usize;
                if st("set_max_wasm_stack", in_range(v as u64, 16 << 10, 64 << 20), packr_config_set_max_wasm_stack(cfg, v)) {
                    s.max_wasm_stack = v;
                }
            }
            Set::MaxModuleBytes(n) => {
                let v = n.get();
                st("set_max_module_bytes", PACKR_OK, packr_config_set_max_module_bytes(cfg, v));
                s.max_module_bytes = v;
            }
            Set::SignalsBasedTraps(b) => {
                st("set_signals_based_traps", PACKR_OK, packr_config_set_signals_based_traps(cfg, b));
            }
        }
    }
}

/// What the instance config holds, as far as outcomes depend on it. Instantiating with WASI
/// settings other than the defaults needs a runtime serving WASI.
#[derive(Default)]
struct IModel {
    timeout_ms: u64,
    fuel: Option<u64>,
    memory_limit: Option<u64>,
    table_limit: Option<u64>,
    args_set: bool,
    env_set: bool,
    stdin_set: bool,
    stdout: u32,
    stderr: u32,
    capture_limit: Option<usize>,
    preopens: usize,
}

impl IModel {
    fn wasi_non_default(&self) -> bool {
        self.args_set || self.env_set || self.stdin_set || self.stdout != 0 || self.stderr != 0
            || self.capture_limit.is_some_and(|c| c != 1 << 20) || self.preopens > 0
    }
}

/// The status of a setter given strings: NULL_POINTER for any NULL, INVALID_ARGUMENT for
/// any that is not UTF-8 (either fits when both apply).
fn strings_status(bufs: &[Option<Vec<u8>>]) -> Vec<packr_status> {
    let mut allowed = Vec::new();
    if bufs.iter().any(Option::is_none) {
        allowed.push(PACKR_ERR_NULL_POINTER);
    }
    if bufs.iter().flatten().any(|b| std::str::from_utf8(c_prefix(b)).is_err()) {
        allowed.push(PACKR_ERR_INVALID_ARGUMENT);
    }
    if allowed.is_empty() {
        allowed.push(PACKR_OK);
    }
    allowed
}

fn ptrs(bufs: &[Option<Vec<u8>>]) -> Vec<*const c_char> {
    bufs.iter().map(|b| b.as_ref().map_or(ptr::null(), |b| b.as_ptr().cast())).collect()
}

struct Paths {
    dir: CString,
    file: CString,
}

static PATHS: OnceLock<Paths> = OnceLock::new();

fn paths() -> &'static Paths {
    PATHS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("packr-fuzz-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("file");
        std::fs::write(&file, b"not a directory").unwrap();
        Paths { dir: CString::new(dir.to_str().unwrap()).unwrap(), file: CString::new(file.to_str().unwrap()).unwrap() }
    })
}

fn apply_instance(cfg: *mut packr_instance_config, m: &mut IModel, set: &ISet) {
    unsafe {
        match set {
            ISet::Timeout(n) => {
                ok("set_timeout_ms", packr_instance_config_set_timeout_ms(cfg, n.get()));
                m.timeout_ms = n.get();
            }
            ISet::Fuel(n) => {
                ok("set_fuel", packr_instance_config_set_fuel(cfg, n.get()));
                m.fuel = Some(n.get());
            }
            ISet::MemoryLimit(n) => {
                ok("set_memory_limit", packr_instance_config_set_memory_limit(cfg, n.get()));
                m.memory_limit = Some(n.get());
            }
            ISet::TableLimit(n) => {
                ok("set_table_limit", packr_instance_config_set_table_limit(cfg, n.get()));
                m.table_limit = Some(n.get());
            }
            ISet::WasiArgs(args) => {
                let bufs: Vec<_> = args.iter().take(16).map(Str::buffer).collect();
                let p = ptrs(&bufs);
                let status = check("set_wasi_args", &strings_status(&bufs), || packr_instance_config_set_wasi_args(cfg, array_ptr(&p), p.len()));
                if status == PACKR_OK {
                    m.args_set = !p.is_empty();
                }
            }
            ISet::WasiArgsNull(n) => {
                let n = usize::from(*n % 4);
                let want = if n == 0 { PACKR_OK } else { PACKR_ERR_NULL_POINTER };
                check("set_wasi_args(NULL)", &[want], || packr_instance_config_set_wasi_args(cfg, ptr::null(), n));
                if n == 0 {
                    m.args_set = false;
                }
            }
            ISet::WasiEnv(vars) => {
                let names: Vec<_> = vars.iter().take(16).map(|(n, _)| n.buffer()).collect();
                let values: Vec<_> = vars.iter().take(16).map(|(_, v)| v.buffer()).collect();
                let all: Vec<_> = names.iter().chain(&values).cloned().collect();
                let (pn, pv) = (ptrs(&names), ptrs(&values));
                let status = check("set_wasi_env", &strings_status(&all), || {
                    packr_instance_config_set_wasi_env(cfg, array_ptr(&pn), array_ptr(&pv), pn.len())
                });
                if status == PACKR_OK {
                    m.env_set = !pn.is_empty();
                }
            }
            ISet::WasiStdin(bytes) => {
                ok("set_wasi_stdin", packr_instance_config_set_wasi_stdin(cfg, array_ptr(bytes), bytes.len()));
                m.stdin_set = !bytes.is_empty();
            }
            ISet::WasiStdinNull(n) => {
                let n = usize::from(*n % 4);
                let want = if n == 0 { PACKR_OK } else { PACKR_ERR_NULL_POINTER };
                check("set_wasi_stdin(NULL)", &[want], || packr_instance_config_set_wasi_stdin(cfg, ptr::null(), n));
                if n == 0 {
                    m.stdin_set = false;
                }
            }
            ISet::WasiStdout(n) | ISet::WasiStderr(n) => {
                let v = n.u32();
                let want = if v <= PACKR_WASI_CAPTURE { PACKR_OK } else { PACKR_ERR_INVALID_ARGUMENT };
                let stdout = matches!(set, ISet::WasiStdout(_));
                let status = if stdout {
                    check("set_wasi_stdout", &[want], || packr_instance_config_set_wasi_stdout(cfg, v))
                } else {
                    check("set_wasi_stderr", &[want], || packr_instance_config_set_wasi_stderr(cfg, v))
                };
                if status == PACKR_OK {
                    if stdout { m.stdout = v } else { m.stderr = v }
                }
            }
            ISet::CaptureLimit(n) => {
                ok("set_wasi_capture_limit", packr_instance_config_set_wasi_capture_limit(cfg, n.get() as usize));
                m.capture_limit = Some(n.get() as usize);
            }
            ISet::Preopen { host, guest, writable } => {
                let p = paths();
                let (host_buf, host_want): (Vec<u8>, Vec<packr_status>) = match host {
                    HostPath::Dir => (p.dir.as_bytes_with_nul().to_vec(), vec![PACKR_OK]),
                    HostPath::File => (p.file.as_bytes_with_nul().to_vec(), vec![PACKR_ERR_INVALID_ARGUMENT]),
                    HostPath::Missing => (c_string(format!("{}/missing", p.dir.to_str().unwrap()).as_bytes()), vec![PACKR_ERR_NOT_FOUND]),
                    HostPath::Under(tail) => {
                        let mut b = p.dir.as_bytes().to_vec();
                        b.push(b'/');
                        b.extend(tail.iter().take(64).filter(|c| **c != b'.'));
                        let b = c_string(&b);
                        // Only the directory itself and `file` exist under it.
                        let path = String::from_utf8(c_prefix(&b).to_vec());
                        let want = match path {
                            Err(_) => vec![PACKR_ERR_INVALID_ARGUMENT],
                            Ok(path) => match std::fs::metadata(&path) {
                                Ok(meta) if meta.is_dir() => vec![PACKR_OK],
                                Ok(_) => vec![PACKR_ERR_INVALID_ARGUMENT],
                                Err(_) => vec![PACKR_ERR_NOT_FOUND],
                            },
                        };
                        (b, want)
                    }
                };
                let guest_buf = guest.buffer();
                let mut allowed = strings_status(std::slice::from_ref(&guest_buf));
                if allowed == [PACKR_OK] {
                    allowed = host_want;
                } else if host_want != [PACKR_OK] {
                    allowed.extend(host_want);
                }
                let guest_ptr = guest_buf.as_ref().map_or(ptr::null(), |b| b.as_ptr().cast());
                let status = check("wasi_preopen_dir", &allowed, || {
                    packr_instance_config_wasi_preopen_dir(cfg, host_buf.as_ptr().cast(), guest_ptr, *writable)
                });
                if status == PACKR_OK {
                    m.preopens += 1;
                }
            }
        }
    }
}

unsafe extern "C" fn h(_: *mut std::ffi::c_void, _: *mut packr_caller, args: *const packr_val, _: usize, results: *mut packr_val, _: usize) -> packr_status {
    unsafe { (*results).of.i32 = (*args).of.i32 };
    PACKR_OK
}

/// A runtime of another engine, and a module compiled by it, which the fuzzed runtime
/// must refuse to wrap.
static FOREIGN: OnceLock<(Shared<packr_runtime>, Shared<packr_module>)> = OnceLock::new();

enum Handle {
    Runtime(*mut packr_runtime),
    Module(*mut packr_module),
    Instance(*mut packr_instance),
    Host(*mut packr_host),
    Config(*mut packr_config),
    InstanceConfig(*mut packr_instance_config),
}

fn free(h: Handle) {
    unsafe {
        match h {
            Handle::Runtime(p) => packr_runtime_free(p),
            Handle::Module(p) => packr_module_free(p),
            Handle::Instance(p) => packr_instance_free(p),
            Handle::Host(p) => packr_host_free(p),
            Handle::Config(p) => packr_config_free(p),
            Handle::InstanceConfig(p) => packr_instance_config_free(p),
        }
    }
}

fn scenario(input: &Input) {
    let foreign = FOREIGN.get_or_init(|| {
        let rt = make("packr_runtime_new", &[PACKR_OK], |out| unsafe { packr_runtime_new(out) }).unwrap();
        let module = load_text(rt, TINY);
        (Shared(rt), Shared(module))
    });
    let mut handles = Vec::new();
    let cfg = make("packr_config_new", &[PACKR_OK], |out| unsafe { packr_config_new(out) }).unwrap();
    handles.push(Handle::Config(cfg));
    // The pool's default of 1,000 instances would reserve 8 TiB of address space.
    ok("set_pool_instances", unsafe { packr_config_set_pool_instances(cfg, 8) });
    let mut s = Settings::default();
    for set in input.sets.iter().take(32) {
        apply(cfg, &mut s, set);
    }
    scenario_with(input, cfg, &s, foreign, &mut handles);
    // Free in the order the input picks: any order must work.
    let mut order = input.free_order.iter().copied().cycle();
    while !handles.is_empty() {
        let i = usize::from(order.next().unwrap_or(0)) % handles.len();
        free(handles.swap_remove(i));
    }
}

fn scenario_with(input: &Input, cfg: *mut packr_config, s: &Settings, foreign: &(Shared<packr_runtime>, Shared<packr_module>), handles: &mut Vec<Handle>) {
    // A pool slot must hold the largest memory it allows.
    let refused = s.pooling && s.memory_reservation.is_some_and(|r| r < s.pool_memory_bytes);
    // Any documented max_wasm_stack works (fuzz/regressions/config/README.md: once, above
    // 2 MiB no engine could be made).
    let want = vec![if refused { PACKR_ERR_INVALID_ARGUMENT } else { PACKR_OK }];
    trace!("config: {s:?}, runtime {want:?}");
    let Some(base) = make("packr_runtime_new_with_config", &want, |out| unsafe { packr_runtime_new_with_config(cfg, out) }) else {
        return;
    };
    handles.push(Handle::Runtime(base));

    let mut runtime = base;
    let serves_wasi = input.with_host && input.wasi;
    let mut h_defined = false;
    if input.with_host {
        let host = make("packr_host_new", &[PACKR_OK], |out| unsafe { packr_host_new(out) }).unwrap();
        handles.push(Handle::Host(host));
        unsafe {
            if input.wasi {
                ok("packr_host_define_wasi", packr_host_define_wasi(host));
            }
            ok("packr_host_set_unknown_imports_trap", packr_host_set_unknown_imports_trap(host, input.trap_unknown));
            if input.define_h {
                let k = [PACKR_I32];
                ok("packr_host_define_func", packr_host_define_func(host, c"env".as_ptr(), c"h".as_ptr(), k.as_ptr(), 1, k.as_ptr(), 1, Some(h), ptr::null_mut(), None));
                h_defined = true;
            }
        }
        runtime = make("packr_runtime_new_with_host", &[PACKR_OK], |out| unsafe { packr_runtime_new_with_host(base, host, out) }).unwrap();
        handles.push(Handle::Runtime(runtime));
    }

    // A module too large for max_module_bytes is refused before compiling.
    let too_big = |text: &str| s.max_module_bytes != 0 && text.len() as u64 > s.max_module_bytes;
    let want = if too_big(TINY) { PACKR_ERR_LIMIT } else { PACKR_OK };
    let module = make("packr_module_load", &[want], |out| unsafe { packr_module_load(runtime, TINY.as_ptr(), TINY.len(), out) });
    let Some(module) = module else { return };
    handles.push(Handle::Module(module));

    // Wraps: into a runtime sharing the engine works; from another engine is refused.
    let sharing = make("packr_runtime_new_sharing_engine", &[PACKR_OK], |out| unsafe { packr_runtime_new_sharing_engine(runtime, out) }).unwrap();
    handles.push(Handle::Runtime(sharing));
    let wrapped = make("packr_runtime_wrap_module", &[PACKR_OK], |out| unsafe { packr_runtime_wrap_module(sharing, module, out) }).unwrap();
    handles.push(Handle::Module(wrapped));
    make("packr_runtime_wrap_module (other engine)", &[PACKR_ERR_ENGINE_MISMATCH], |out| unsafe { packr_runtime_wrap_module(runtime, foreign.1.0, out) });

    // The module importing env::h: linked by the definition, by a trap, or not at all.
    let want = if too_big(IMPORTS_H) { PACKR_ERR_LIMIT } else { PACKR_OK };
    if let Some(importer) = make("packr_module_load", &[want], |out| unsafe { packr_module_load(runtime, IMPORTS_H.as_ptr(), IMPORTS_H.len(), out) }) {
        handles.push(Handle::Module(importer));
        let link = if h_defined || (input.with_host && input.trap_unknown) { PACKR_OK } else { PACKR_ERR_LINK };
        if let Some(inst) = make("packr_module_instantiate", &[link], |out| unsafe { packr_module_instantiate(importer, out) }) {
            let args = [zero(PACKR_I32)];
            let mut out = result_slots(1);
            let want = if h_defined { PACKR_OK } else { PACKR_ERR_TRAP };
            check("call use_h", &[want], || unsafe { packr_instance_call(inst, c"use_h".as_ptr(), args.as_ptr(), 1, out.as_mut_ptr(), 1) });
            unsafe { packr_instance_free(inst) };
        }
    }

    let icfg = make("packr_instance_config_new", &[PACKR_OK], |out| unsafe { packr_instance_config_new(out) }).unwrap();
    handles.push(Handle::InstanceConfig(icfg));
    let mut im = IModel::default();
    for set in input.isets.iter().take(16) {
        apply_instance(icfg, &mut im, set);
    }

    // Instantiate: the config's own refusals first, then limits, then the pool's capacity.
    let mut refusals = Vec::new();
    if im.fuel.is_some() && !s.fuel {
        refusals.push(PACKR_ERR_INVALID_ARGUMENT);
    }
    if im.wasi_non_default() && !serves_wasi {
        refusals.push(PACKR_ERR_INVALID_ARGUMENT);
    }
    if im.memory_limit.is_some_and(|l| l < 65536) || im.table_limit.is_some_and(|l| l < 1) {
        refusals.push(PACKR_ERR_LIMIT);
    }
    let count = 1 + usize::from(input.extra_instances % 10);
    let mut instances = Vec::new();
    for i in 0..count {
        let mut allowed = if refusals.is_empty() { vec![PACKR_OK] } else { refusals.clone() };
        if s.pooling && i >= s.pool_instances as usize {
            if refusals.is_empty() {
                allowed = vec![PACKR_ERR_POOL_EXHAUSTED];
            } else {
                allowed.push(PACKR_ERR_POOL_EXHAUSTED);
            }
        }
        let data = (0x1000 + i) as *mut std::ffi::c_void;
        match make("packr_module_instantiate_with", &allowed, |out| unsafe { packr_module_instantiate_with(module, icfg, data, out) }) {
            Some(inst) => {
                handles.push(Handle::Instance(inst));
                instances.push(inst);
            }
            None => break,
        }
    }
    trace!("config: {} instances of {count}, refusals {refusals:?}", instances.len());
    let Some(&inst) = instances.first() else { return };

    // Fuel: the configured tank (or UINT64_MAX), refilled saturating.
    if s.fuel {
        let (_, fuel) = with_out("packr_instance_fuel", &[PACKR_OK], |out| unsafe { packr_instance_fuel(inst, out) });
        let fuel: u64 = fuel.unwrap();
        assert_eq!(fuel, im.fuel.unwrap_or(u64::MAX), "a fresh instance's fuel");
        let add = input.add_fuel.get();
        ok("packr_instance_add_fuel", unsafe { packr_instance_add_fuel(inst, add) });
        let (_, after) = with_out("packr_instance_fuel", &[PACKR_OK], |out| unsafe { packr_instance_fuel(inst, out) });
        assert_eq!(after.unwrap(), fuel.saturating_add(add), "packr_instance_add_fuel saturates");
    } else {
        with_out::<u64>("packr_instance_fuel", &[PACKR_ERR_INVALID_ARGUMENT], |out| unsafe { packr_instance_fuel(inst, out) });
        check("packr_instance_add_fuel", &[PACKR_ERR_INVALID_ARGUMENT], || unsafe { packr_instance_add_fuel(inst, 1) });
    }
    let fuel_left = || -> Option<u64> {
        s.fuel.then(|| with_out("packr_instance_fuel", &[PACKR_OK], |out| unsafe { packr_instance_fuel(inst, out) }).1.unwrap())
    };

    let mut timeout = im.timeout_ms;
    if let Some(t) = input.call_timeout {
        ok("packr_instance_set_timeout_ms", unsafe { packr_instance_set_timeout_ms(inst, t.get()) });
        timeout = t.get();
    }
    if input.interrupt {
        ok("packr_instance_interrupt", unsafe { packr_instance_interrupt(inst) });
    }
    let args = [packr_val { kind: PACKR_I32, of: packr_val_union { i32: input.args.0 } }, packr_val { kind: PACKR_I32, of: packr_val_union { i32: input.args.1 } }];
    let mut out = result_slots(1);
    let mut allowed = vec![PACKR_OK];
    if input.interrupt {
        allowed = vec![PACKR_ERR_INTERRUPTED];
    }
    // A tank below what `add` needs, or a timeout a slow machine can exceed, may stop it.
    if fuel_left().is_some_and(|f| f < 100) {
        allowed.push(PACKR_ERR_OUT_OF_FUEL);
    }
    if timeout > 0 {
        allowed.push(PACKR_ERR_TIMEOUT);
    }
    let status = check("call add", &allowed, || unsafe { packr_instance_call(inst, c"add".as_ptr(), args.as_ptr(), 2, out.as_mut_ptr(), 1) });
    results_checked("call add", status, &out, &[PACKR_I32]);
    if status == PACKR_OK {
        assert_eq!(unsafe { out[0].of.i32 }, input.args.0.wrapping_add(input.args.1), "add");
    }

    // `spin` only where something bounds it soon: a small tank, or a short timeout with a
    // fast enough tick.
    let bounded_by_fuel = fuel_left().is_some_and(|f| f <= 10_000_000);
    let bounded_by_time = (1..=50).contains(&timeout) && s.tick_us <= 10_000;
    if bounded_by_fuel || bounded_by_time {
        let mut allowed = vec![PACKR_ERR_TIMEOUT, PACKR_ERR_OUT_OF_FUEL];
        if input.interrupt && status != PACKR_ERR_INTERRUPTED {
            allowed.push(PACKR_ERR_INTERRUPTED);
        }
        if !bounded_by_time {
            allowed.retain(|s| *s != PACKR_ERR_TIMEOUT || timeout > 0);
        }
        check("call spin", &allowed, || unsafe { packr_instance_call(inst, c"spin".as_ptr(), ptr::null(), 0, ptr::null_mut(), 0) });
    }
    for (i, inst) in instances.iter().enumerate() {
        assert_eq!(unsafe { packr_instance_data(*inst) }, (0x1000 + i) as *mut std::ffi::c_void, "packr_instance_data");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else { return };
    leak_checked(|| scenario(&input));
});
