//! Per-instance options: what `packr_module_instantiate_with` applies to one instance.

use std::ffi::c_char;

use crate::boundary::{arg_mut, guard, guard_value, slice, utf8, BoxHandle, Out};
use crate::error::{packr_status, Result};
use crate::limits::Limits;
use crate::wasi::{packr_wasi_output, Output, Preopen, WasiSettings};

/// Options for `packr_module_instantiate_with`; an empty config gives what
/// `packr_module_instantiate` gives. The WASI options take effect in runtimes whose host
/// serves WASI (`packr_host_define_wasi`); instantiating with WASI options in another
/// runtime fails with `PACKR_ERR_INVALID_ARGUMENT`, so a forgotten `packr_host_define_wasi`
/// never goes unnoticed.
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
pub(crate) struct InstanceSettings {
    pub(crate) wasi: WasiSettings,
    /// Milliseconds each call may run; 0 for no timeout.
    pub(crate) timeout_ms: u64,
    /// The fuel the instance starts with, on engines that consume fuel.
    pub(crate) fuel: Option<u64>,
    pub(crate) limits: Limits,
}

/// Runs `body` on the config's settings behind the boundary guard.
fn with_config(config: *mut packr_instance_config, body: impl FnOnce(&mut InstanceSettings) -> Result<()>) -> packr_status {
    guard(|| body(&mut unsafe { arg_mut(config, "config") }?.settings))
}

/// `count` C strings from `strings`, each checked, named `what[i]` in errors.
unsafe fn strings(strings: *const *const c_char, count: usize, what: &str) -> Result<Vec<String>> {
    let pointers = unsafe { slice(strings, count, what) }?;
    pointers.iter().enumerate().map(|(i, p)| unsafe { utf8(*p, &format!("{what}[{i}]")) }.map(str::to_owned)).collect()
}

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

/// Sets the WASI program's arguments to the `argc` UTF-8 strings of `argv`, replacing any
/// set before; `argv[0]` is, by convention, the program's name. The default is none. The
/// strings are copied; `argv` may be NULL when `argc` is 0.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` (naming the NULL element);
/// `PACKR_ERR_INVALID_ARGUMENT` if one is not UTF-8. Thread rules: see
/// `packr_instance_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_set_wasi_args(
    config: *mut packr_instance_config,
    argv: *const *const c_char,
    argc: usize,
) -> packr_status {
    with_config(config, |settings| {
        settings.wasi.args = unsafe { strings(argv, argc, "argv") }?;
        Ok(())
    })
}

/// Sets the WASI program's environment to `count` variables, `names[i]`=`values[i]`,
/// replacing any set before. The default is an empty environment (the host's own is never
/// passed on by itself). The strings are copied; the arrays may be NULL when `count` is 0.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if a string is
/// not UTF-8. Thread rules: see `packr_instance_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_set_wasi_env(
    config: *mut packr_instance_config,
    names: *const *const c_char,
    values: *const *const c_char,
    count: usize,
) -> packr_status {
    with_config(config, |settings| {
        let names = unsafe { strings(names, count, "names") }?;
        let values = unsafe { strings(values, count, "values") }?;
        settings.wasi.env = names.into_iter().zip(values).collect();
        Ok(())
    })
}

/// Sets what the WASI program reads from stdin: a copy of `bytes[0..len]`, then end of
/// file. The default is empty. `bytes` may be NULL when `len` is 0. Each instance reads its
/// own copy from the start.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread rules: see `packr_instance_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_set_wasi_stdin(
    config: *mut packr_instance_config,
    bytes: *const u8,
    len: usize,
) -> packr_status {
    with_config(config, |settings| {
        settings.wasi.stdin = bytes::Bytes::copy_from_slice(unsafe { slice(bytes, len, "bytes") }?);
        Ok(())
    })
}

/// Sets where the WASI program's stdout goes (see `packr_wasi_output`); the default is
/// `PACKR_WASI_INHERIT`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` for an unknown
/// mode. Thread rules: see `packr_instance_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_set_wasi_stdout(config: *mut packr_instance_config, mode: packr_wasi_output) -> packr_status {
    with_config(config, |settings| {
        settings.wasi.stdout = Output::from_raw(mode)?;
        Ok(())
    })
}

/// Sets where the WASI program's stderr goes, as `packr_instance_config_set_wasi_stdout`
/// does for stdout.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_set_wasi_stderr(config: *mut packr_instance_config, mode: packr_wasi_output) -> packr_status {
    with_config(config, |settings| {
        settings.wasi.stderr = Output::from_raw(mode)?;
        Ok(())
    })
}

/// Sets how many bytes each captured stream holds before it drops what comes after (until
/// the host takes them out with `packr_instance_wasi_output`); 1 MiB by default. 0 keeps
/// nothing and counts everything as dropped.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread rules: see `packr_instance_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_set_wasi_capture_limit(config: *mut packr_instance_config, bytes: usize) -> packr_status {
    with_config(config, |settings| {
        settings.wasi.capture_limit = bytes;
        Ok(())
    })
}

/// Gives the WASI program the host directory `host_path` as `guest_path` (for example
/// `"/data"`), read-only unless `writable`. Added to any preopens set before. The guest
/// reaches nothing outside it: `..` and absolute paths elsewhere are refused by WASI.
///
/// `host_path` is checked now: it must be an existing directory. It is opened afresh for
/// each instance, so one removed later fails that instantiation with
/// `PACKR_ERR_INSTANTIATE` naming it.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if a path is
/// not UTF-8 or `host_path` is not a directory; `PACKR_ERR_NOT_FOUND` if it does not exist
/// (the message names it). Thread rules: see `packr_instance_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_wasi_preopen_dir(
    config: *mut packr_instance_config,
    host_path: *const c_char,
    guest_path: *const c_char,
    writable: bool,
) -> packr_status {
    with_config(config, |settings| {
        let host = unsafe { utf8(host_path, "host_path") }?;
        let guest = unsafe { utf8(guest_path, "guest_path") }?;
        settings.wasi.preopens.push(Preopen::new(host, guest, writable)?);
        Ok(())
    })
}

/// Stops every call into the instance after `ms` milliseconds of wall-clock time with
/// `PACKR_ERR_TIMEOUT`: its start function and a reactor's `_initialize` during
/// instantiation, each export call (by name, func handle or pack call) and
/// `packr_instance_run`. 0, the default, means no timeout. Nested calls a host callback
/// makes through its caller count against the call they are part of.
///
/// The timeout is measured by the engine's epoch timer (`packr_config_set_timer_tick_us`)
/// and fires within about two ticks of its deadline. A host callback is never stopped in
/// the middle: the guest stops at its next function call or loop iteration after the
/// callback returns. The instance stays usable after a timeout, as after any trap; its
/// memory is as the guest left it. `packr_instance_set_timeout_ms` changes it later.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread rules: see
/// `packr_instance_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_set_timeout_ms(config: *mut packr_instance_config, ms: u64) -> packr_status {
    with_config(config, |settings| {
        settings.timeout_ms = ms;
        Ok(())
    })
}

/// The fuel the instance starts with; calls drain it as the guest runs, and a call that
/// runs dry stops with `PACKR_ERR_OUT_OF_FUEL` (`packr_instance_add_fuel` refills it). Only
/// for runtimes whose engine consumes fuel (`packr_config_set_fuel`): instantiating with it
/// elsewhere fails with `PACKR_ERR_INVALID_ARGUMENT`. Without this setting an instance of a
/// fuel-consuming engine starts with `UINT64_MAX`, as good as unlimited. One unit is
/// roughly one wasm instruction.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread rules: see
/// `packr_instance_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_set_fuel(config: *mut packr_instance_config, fuel: u64) -> packr_status {
    with_config(config, |settings| {
        settings.fuel = Some(fuel);
        Ok(())
    })
}

/// The most bytes each of the instance's linear memories may hold (32- and 64-bit alike),
/// and its GC heap (wasm GC objects); `UINT64_MAX`, the default, for wasm's own limits.
/// Past it `memory.grow` returns -1 to the guest, as the spec allows, and a GC allocation
/// that needs more traps (`GC heap out of memory`); a module whose memory starts larger fails to instantiate
/// with `PACKR_ERR_LIMIT` naming the limit. A pooled runtime's `pool_memory_bytes` bounds
/// memories as well: the smaller of the two holds.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread rules: see
/// `packr_instance_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_set_memory_limit(config: *mut packr_instance_config, bytes: u64) -> packr_status {
    with_config(config, |settings| {
        settings.limits.memory_bytes = (bytes != u64::MAX).then_some(bytes);
        Ok(())
    })
}

/// The most elements each of the instance's tables may hold; `UINT64_MAX`, the default,
/// for wasm's own limits. Past it `table.grow` returns -1; a module whose table starts
/// larger fails to instantiate with `PACKR_ERR_LIMIT`. A pooled runtime's
/// `pool_table_elements` bounds tables as well.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread rules: see
/// `packr_instance_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_config_set_table_limit(config: *mut packr_instance_config, elements: u64) -> packr_status {
    with_config(config, |settings| {
        settings.limits.table_elements = (elements != u64::MAX).then_some(elements);
        Ok(())
    })
}
