//! Runtime settings: the allocator (on-demand or pooling, with its limits), copy-on-write
//! memory images, compilation, and the engine's guardrails (fuel, the epoch timer's tick,
//! the guest stack, module size, signal-free traps).

use wasmtime::{Config, Enabled, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use crate::boundary::{arg, arg_mut, guard, guard_value, BoxHandle, Out};
use crate::error::{packr_status, Error, Result, PACKR_ERR_INVALID_ARGUMENT};

/// Settings for `packr_runtime_new_with_config`.
///
/// Underneath it is a `Box` the host owns. A runtime copies what it needs when it is
/// created, so the config can be changed, reused for more runtimes, or freed afterwards.
///
/// Defaults (what `packr_runtime_new` uses): on-demand allocation (no pooling), copy-on-write
/// memory images on, optimisation level 1 (speed), parallel compilation on. The pool's
/// settings below apply only once pooling is enabled; their defaults are the fastest the
/// benchmark found (1 MiB kept resident per slot, `PAGEMAP_SCAN` where available).
///
/// Thread rules: a config may move between threads but must not be changed by two threads
/// at once; reading it (creating runtimes from it) may happen on several threads at once.
pub struct packr_config {
    pub(crate) settings: Settings,
}

impl BoxHandle for packr_config {}

/// The pool's address-space budget: beyond this the reservation cannot succeed on x86-64 or
/// aarch64 Linux (47-bit user address space), so it is refused up front with a clear message.
const MAX_POOL_RESERVATION: u128 = 1 << 46;
/// Guard region after each pooled memory (wasmtime's default for 64-bit hosts).
const POOL_GUARD_BYTES: u128 = 32 << 20;
const WASM_PAGE: u64 = 64 << 10;
const MAX_WASM32_MEMORY: u64 = 4 << 30;
/// Memory mappings a pool slot takes, measured on Linux with the SQLite guest: two when the
/// pool is made, three more while an instance lives in it.
const MAPS_PER_POOL_SLOT: u64 = 5;
/// Mappings left for everything else in the process (its libraries, heaps, thread stacks).
const MAPS_HEADROOM: u64 = 8192;

/// Linux's limit on a process's memory mappings, where the system says.
fn max_map_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count").ok()?.trim().parse().ok()
}

/// wasmtime's default async stack.
const ASYNC_STACK: usize = 2 << 20;
/// wasmtime's default guest stack.
const DEFAULT_WASM_STACK: usize = 512 << 10;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Settings {
    pub pooling: bool,
    pub pool_instances: u32,
    pub pool_memories_per_instance: u32,
    pub pool_tables_per_instance: u32,
    pub pool_memory_bytes: u64,
    pub pool_table_elements: u32,
    pub memory_images: bool,
    pub opt_level: u32,
    pub parallel_compilation: bool,
    pub memory_reservation: Option<u64>,
    pub pool_keep_resident: u64,
    pub pool_pagemap_scan: bool,
    pub pool_decommit_batch: u32,
    pub fuel: bool,
    pub timer_tick_us: u64,
    pub max_wasm_stack: usize,
    pub max_module_bytes: u64,
    pub signals_based_traps: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pooling: false,
            pool_instances: 1000,
            // packr enables multi-memory, so leave room for a second memory.
            pool_memories_per_instance: 2,
            pool_tables_per_instance: 1,
            pool_memory_bytes: MAX_WASM32_MEMORY,
            pool_table_elements: 20_000,
            memory_images: true,
            opt_level: 1,
            parallel_compilation: true,
            memory_reservation: None,
            // Measured on the SQLite module (bench/): together these take a pooled spawn from
            // about 12 us to under 5 us, because a freed slot's touched pages are reset in
            // place instead of being unmapped and faulted back in on the next spawn.
            pool_keep_resident: 1 << 20,
            pool_pagemap_scan: true,
            pool_decommit_batch: 1,
            fuel: false,
            timer_tick_us: 1000,
            max_wasm_stack: DEFAULT_WASM_STACK,
            max_module_bytes: 0,
            signals_based_traps: true,
        }
    }
}

fn invalid(message: String) -> Error {
    Error::new(PACKR_ERR_INVALID_ARGUMENT, message)
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(setting: &str, value: T, min: T, max: T) -> Result<T> {
    if value < min || value > max {
        Err(invalid(format!("{setting} must be between {min} and {max}, not {value}")))
    } else {
        Ok(value)
    }
}

impl Settings {
    /// The wasmtime configuration: upstream packr's `AsyncRuntime` engine (multi-memory,
    /// epoch interruption) plus these settings. Checks the combination first.
    pub(crate) fn to_wasmtime(&self) -> Result<Config> {
        let mut config = Config::new();
        config.wasm_multi_memory(true);
        config.epoch_interruption(true);
        config.consume_fuel(self.fuel);
        config.max_wasm_stack(self.max_wasm_stack);
        // wasmtime requires the async stack (unused by packr's synchronous calls, but
        // checked) to hold the guest's: keep it above, or a guest stack over its 2 MiB
        // default could not make an engine (found by the `config` fuzzer).
        config.async_stack_size(ASYNC_STACK.max(self.max_wasm_stack + (256 << 10)));
        if !self.signals_based_traps {
            config.signals_based_traps(false);
            // wasmtime requires these off without signals: they rely on a fault at address 0.
            // SAFETY: both are documented Cranelift settings taking a boolean.
            unsafe {
                config.cranelift_flag_set("enable_heap_access_spectre_mitigation", "false");
                config.cranelift_flag_set("enable_table_access_spectre_mitigation", "false");
            }
        }
        config.memory_init_cow(self.memory_images);
        config.parallel_compilation(self.parallel_compilation);
        config.cranelift_opt_level(match self.opt_level {
            0 => OptLevel::None,
            1 => OptLevel::Speed,
            _ => OptLevel::SpeedAndSize,
        });
        if let Some(bytes) = self.memory_reservation {
            config.memory_reservation(bytes);
        }
        if self.pooling {
            // A pool slot is as large as the reservation: size it to what a memory may reach.
            config.memory_reservation(self.memory_reservation.unwrap_or(self.pool_memory_bytes));
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(self.pool()?));
        }
        Ok(config)
    }

    fn pool(&self) -> Result<PoolingAllocationConfig> {
        if let Some(reservation) = self.memory_reservation.filter(|r| *r < self.pool_memory_bytes) {
            return Err(invalid(format!(
                "memory_reservation ({reservation}) is below pool_memory_bytes ({}): a pool slot must hold the \
                 largest memory it allows; raise memory_reservation or lower pool_memory_bytes",
                self.pool_memory_bytes
            )));
        }
        let instances = self.pool_instances;
        let memories = u128::from(instances) * u128::from(self.pool_memories_per_instance);
        let slot = self.memory_reservation.unwrap_or(self.pool_memory_bytes).max(self.pool_memory_bytes);
        let reservation = memories * (u128::from(slot) + POOL_GUARD_BYTES);
        if reservation > MAX_POOL_RESERVATION {
            return Err(invalid(format!(
                "the pool would reserve {} GiB of address space (pool_instances {instances} x \
                 pool_memories_per_instance {} x pool_memory_bytes {} plus guards); the limit is {} GiB",
                reservation >> 30,
                self.pool_memories_per_instance,
                self.pool_memory_bytes,
                MAX_POOL_RESERVATION >> 30
            )));
        }
        if let Some(allowed) = max_map_count() {
            let needed = u64::from(instances) * MAPS_PER_POOL_SLOT + MAPS_HEADROOM;
            if needed > allowed {
                let fits = allowed.saturating_sub(MAPS_HEADROOM) / MAPS_PER_POOL_SLOT;
                return Err(invalid(format!(
                    "a pool of {instances} instances needs about {needed} memory mappings once full, more than this \
                     system's vm.max_map_count ({allowed}) allows; set pool_instances to at most {fits}, or raise the \
                     limit (sysctl -w vm.max_map_count=N)"
                )));
            }
        }
        let total = |per: u32| u32::try_from(u64::from(instances) * u64::from(per)).unwrap_or(u32::MAX);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(instances)
            .total_memories(total(self.pool_memories_per_instance))
            .total_tables(total(self.pool_tables_per_instance))
            .total_stacks(instances)
            .total_gc_heaps(instances)
            .max_memories_per_module(self.pool_memories_per_instance)
            .max_tables_per_module(self.pool_tables_per_instance)
            .max_memory_size(usize::try_from(self.pool_memory_bytes).unwrap_or(usize::MAX))
            .table_elements(self.pool_table_elements as usize)
            .linear_memory_keep_resident(usize::try_from(self.pool_keep_resident).unwrap_or(usize::MAX))
            .table_keep_resident(usize::try_from(self.pool_keep_resident).unwrap_or(usize::MAX))
            .decommit_batch_size(self.pool_decommit_batch as usize)
            .pagemap_scan(if self.pool_pagemap_scan { Enabled::Auto } else { Enabled::No });
        Ok(pool)
    }
}

/// Runs `change` on the config's settings behind the usual checks.
fn set(config: *mut packr_config, change: impl FnOnce(&mut Settings) -> Result<()>) -> packr_status {
    guard(|| {
        // The host promises a live config that no other thread uses meanwhile.
        let config = unsafe { arg_mut(config, "config") }?;
        change(&mut config.settings)
    })
}

/// Creates a config with the default settings (see `packr_config`).
///
/// On success writes it to `*config_out`; the caller owns it and frees it with
/// `packr_config_free`.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_new(config_out: *mut *mut packr_config) -> packr_status {
    guard(|| {
        let out = Out::new(config_out, "config_out")?;
        out.write(packr_config { settings: Settings::default() }.into_raw());
        Ok(())
    })
}

/// Frees a config. Runtimes created from it are unaffected.
///
/// NULL is a no-op. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_free(config: *mut packr_config) {
    guard_value((), || {
        unsafe { BoxHandle::free_raw(config) };
        Ok(())
    })
}

/// Turns the pooling allocator on or off (default off).
///
/// With pooling, a runtime reserves address space for a fixed number of instances when it is
/// created (so `packr_runtime_new_with_config` may fail with `PACKR_ERR_RESOURCE` where
/// virtual memory is limited), and spawns reuse warm slots: several times faster per spawn.
/// Instantiating beyond the pool's capacity fails with `PACKR_ERR_POOL_EXHAUSTED` until an
/// instance is freed.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_pooling(config: *mut packr_config, enabled: bool) -> packr_status {
    set(config, |s| {
        s.pooling = enabled;
        Ok(())
    })
}

/// The most instances a pooled runtime (and every runtime sharing its engine) can have alive
/// at once: 1 to 1,000,000, default 1,000, and no more than the system's limit on memory
/// mappings allows: a pool slot takes about 5 mappings once in use, so on Linux
/// `packr_runtime_new_with_config` refuses pools above (vm.max_map_count - 8192) / 5 with
/// `PACKR_ERR_INVALID_ARGUMENT` naming the limit (11,467 instances with Linux's default
/// of 65,530). Past the mapping limit every allocation of the process would start failing,
/// so the limit is checked up front.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT` naming the
/// setting.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_pool_instances(config: *mut packr_config, max_instances: u32) -> packr_status {
    set(config, |s| {
        s.pool_instances = in_range("pool_instances", max_instances, 1, 1_000_000)?;
        Ok(())
    })
}

/// The most linear memories one pooled instance may have: 1 to 100, default 2.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_pool_memories_per_instance(config: *mut packr_config, memories: u32) -> packr_status {
    set(config, |s| {
        s.pool_memories_per_instance = in_range("pool_memories_per_instance", memories, 1, 100)?;
        Ok(())
    })
}

/// The most tables one pooled instance may have: 1 to 100, default 1.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_pool_tables_per_instance(config: *mut packr_config, tables: u32) -> packr_status {
    set(config, |s| {
        s.pool_tables_per_instance = in_range("pool_tables_per_instance", tables, 1, 100)?;
        Ok(())
    })
}

/// The largest size, in bytes, a pooled linear memory may grow to: a multiple of 64 KiB
/// from 64 KiB to 4 GiB, default 4 GiB. Each pool slot reserves this much address space
/// (plus a guard region), so smaller values shrink the pool's reservation; below 4 GiB
/// compiled code bounds-checks memory accesses explicitly. A module whose memory needs more
/// fails to instantiate.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_pool_memory_bytes(config: *mut packr_config, max_bytes: u64) -> packr_status {
    set(config, |s| {
        let bytes = in_range("pool_memory_bytes", max_bytes, WASM_PAGE, MAX_WASM32_MEMORY)?;
        if bytes % WASM_PAGE != 0 {
            return Err(invalid(format!("pool_memory_bytes must be a multiple of 65536, not {bytes}")));
        }
        s.pool_memory_bytes = bytes;
        Ok(())
    })
}

/// The most elements a pooled table may hold: 1 to 10,000,000, default 20,000.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_pool_table_elements(config: *mut packr_config, elements: u32) -> packr_status {
    set(config, |s| {
        s.pool_table_elements = in_range("pool_table_elements", elements, 1, 10_000_000)?;
        Ok(())
    })
}

/// Copy-on-write memory images (default on): a module's initial memory is mapped from an
/// image made once, instead of copied on every instantiation. Turning it off makes pooled
/// spawns of modules with large data segments many times slower.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_memory_images(config: *mut packr_config, enabled: bool) -> packr_status {
    set(config, |s| {
        s.memory_images = enabled;
        Ok(())
    })
}

/// Cranelift's optimisation level: 0 none (fastest compile), 1 speed (default), 2 speed and
/// size.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT` for other
/// numbers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_opt_level(config: *mut packr_config, level: u32) -> packr_status {
    set(config, |s| {
        s.opt_level = in_range("opt_level", level, 0, 2)?;
        Ok(())
    })
}

/// Compile a module's functions on several threads (default on).
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_parallel_compilation(config: *mut packr_config, enabled: bool) -> packr_status {
    set(config, |s| {
        s.parallel_compilation = enabled;
        Ok(())
    })
}

/// Without pooling: the address space reserved up front for each linear memory, in bytes
/// (wasmtime's default is 4 GiB plus guards, which lets bounds checks be elided). Where
/// virtual memory is limited (`ulimit -v`), a smaller reservation such as 64 MiB lets
/// instances fit, at some cost in speed. 0 restores the default.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT` for more
/// than 16 GiB.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_memory_reservation(config: *mut packr_config, bytes: u64) -> packr_status {
    set(config, |s| {
        s.memory_reservation = match bytes {
            0 => None,
            b => Some(in_range("memory_reservation", b, 1, 16 << 30)?),
        };
        Ok(())
    })
}

/// Bytes of each pooled memory and table that are reset in place (and kept resident) when
/// an instance is freed, instead of being returned to the kernel: 0 to 1 GiB, default 1 MiB.
/// Saves page faults on the next spawn from that slot, at the cost of resident memory for
/// idle warm slots (at most this much each).
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_pool_keep_resident(config: *mut packr_config, bytes: u64) -> packr_status {
    set(config, |s| {
        s.pool_keep_resident = in_range("pool_keep_resident", bytes, 0, 1 << 30)?;
        Ok(())
    })
}

/// On Linux 6.7 and later, find the pages a freed pooled instance actually touched with
/// the `PAGEMAP_SCAN` ioctl and reset only those (default on; ignored where the kernel
/// lacks it). With `packr_config_set_pool_keep_resident` this is what makes pooled spawns
/// fastest: about 2.5x faster on the SQLite benchmark module than unmapping every slot.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_pool_pagemap_scan(config: *mut packr_config, enabled: bool) -> packr_status {
    set(config, |s| {
        s.pool_pagemap_scan = enabled;
        Ok(())
    })
}

/// How many freed pooled slots to return to the kernel in one batch: 1 (each at once, the
/// default) to 4096. Larger batches make fewer system calls and TLB flushes.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_pool_decommit_batch(config: *mut packr_config, slots: u32) -> packr_status {
    set(config, |s| {
        s.pool_decommit_batch = in_range("pool_decommit_batch", slots, 1, 4096)?;
        Ok(())
    })
}

/// Makes the engine count fuel (default off): every instance then has a tank that the
/// guest's instructions drain, and running dry stops the call with `PACKR_ERR_OUT_OF_FUEL`
/// (see `packr_instance_config_set_fuel`). Counting costs guest speed: measured here, the
/// SQLite guest's queries take about 1.17x as long (the benchmark's guard mode); calls that
/// spend their time in the host pay less. For wall-clock bounds a timeout costs nothing.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_fuel(config: *mut packr_config, enabled: bool) -> packr_status {
    set(config, |s| {
        s.fuel = enabled;
        Ok(())
    })
}

/// How often the engine's epoch timer ticks while a call with a timeout runs, in
/// microseconds: 100 to 1,000,000, default 1,000 (1 ms). A timeout fires within about two
/// ticks of its deadline; a shorter tick is more precise and wakes the timer thread more
/// often. The timer is one thread per engine, started by the first call with a timeout;
/// it parks 50 ticks after the last such call ends and ends with the engine.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_timer_tick_us(config: *mut packr_config, microseconds: u64) -> packr_status {
    set(config, |s| {
        s.timer_tick_us = in_range("timer_tick_us", microseconds, 100, 1_000_000)?;
        Ok(())
    })
}

/// The most stack a guest's frames may use in one call, in bytes: 16 KiB to 64 MiB, default
/// 512 KiB (wasmtime's). Deeper recursion traps (`PACKR_ERR_TRAP`, "call stack exhausted").
///
/// A call runs on the calling thread when that thread has this much stack left plus 256 KiB
/// for the host's frames; otherwise packr runs it on a thread of its own with enough stack,
/// and the caller waits (host callbacks of that call then run on packr's thread). So calls
/// trap cleanly on any thread, also one with a 128 KiB stack; a thread with too little
/// stack only pays a thread start per call (about 30-60 us). Compiling likewise moves to a
/// thread of packr's when the caller has less than 2 MiB of stack left.
///
/// Returns `PACKR_OK`, `PACKR_ERR_NULL_POINTER`, or `PACKR_ERR_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_max_wasm_stack(config: *mut packr_config, bytes: usize) -> packr_status {
    set(config, |s| {
        s.max_wasm_stack = in_range("max_wasm_stack", bytes, 16 << 10, 64 << 20)?;
        Ok(())
    })
}

/// The largest module `packr_module_load` accepts, in bytes of wasm (or text); 0, the
/// default, for no limit. A larger one is refused before any compiling with
/// `PACKR_ERR_LIMIT`. Compiling takes time and memory roughly in proportion to the code's
/// size (1.2 MB of generated wasm took 4.5 s and 1.7 GB here), so hosts compiling modules
/// they did not write should set it.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_max_module_bytes(config: *mut packr_config, bytes: u64) -> packr_status {
    set(config, |s| {
        s.max_module_bytes = bytes;
        Ok(())
    })
}

/// Whether traps use signal handlers (default on, wasmtime's default). With it on, wasmtime
/// installs process-wide handlers for SIGSEGV, SIGBUS, SIGILL and SIGFPE when the first
/// engine is made, and a host that later installs its own handler for them (a crash
/// reporter, another language's runtime) must pass on the signals it does not own to the
/// handler it replaced, or every trap crashes the process. Turning it off makes the
/// compiled code check bounds and divisions explicitly instead and never relies on a
/// signal: measured here, the SQLite guest's queries take about 1.6x as long (the
/// benchmark's guard mode). Off is for hosts that cannot chain handlers. Engines made with it off still
/// share the process with those made with it on, whose handlers stay installed.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_config_set_signals_based_traps(config: *mut packr_config, enabled: bool) -> packr_status {
    set(config, |s| {
        s.signals_based_traps = enabled;
        Ok(())
    })
}

/// Checks `config` for the caller; `arg` keeps the NULL message consistent.
pub(crate) unsafe fn settings<'a>(config: *const packr_config) -> Result<&'a Settings> {
    Ok(&unsafe { arg(config, "config") }?.settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{PACKR_ERR_NULL_POINTER, PACKR_ERR_POOL_EXHAUSTED, PACKR_OK};
    use crate::instance::{packr_instance_free, packr_module_instantiate};
    use crate::module::{packr_module_free, packr_module_load};
    use crate::runtime::{packr_runtime_free, packr_runtime_new_with_config};
    use crate::testutil::last_error;
    use std::ptr;

    fn config() -> *mut packr_config {
        let mut config = ptr::null_mut();
        assert_eq!(unsafe { packr_config_new(&mut config) }, PACKR_OK);
        config
    }

    #[test]
    fn bad_values_name_the_setting() {
        let c = config();
        let cases: [(&dyn Fn() -> packr_status, &str); 9] = [
            (&|| unsafe { packr_config_set_pool_keep_resident(c, 2 << 30) }, "pool_keep_resident must be between 0 and 1073741824"),
            (&|| unsafe { packr_config_set_pool_decommit_batch(c, 0) }, "pool_decommit_batch must be between 1 and 4096, not 0"),
            (&|| unsafe { packr_config_set_pool_instances(c, 0) }, "pool_instances must be between 1 and 1000000, not 0"),
            (&|| unsafe { packr_config_set_pool_memory_bytes(c, 100_000) }, "pool_memory_bytes must be a multiple of 65536, not 100000"),
            (&|| unsafe { packr_config_set_pool_memory_bytes(c, 8 << 30) }, "pool_memory_bytes must be between"),
            (&|| unsafe { packr_config_set_pool_memories_per_instance(c, 0) }, "pool_memories_per_instance"),
            (&|| unsafe { packr_config_set_pool_table_elements(c, 0) }, "pool_table_elements"),
            (&|| unsafe { packr_config_set_opt_level(c, 3) }, "opt_level must be between 0 and 2, not 3"),
            (&|| unsafe { packr_config_set_memory_reservation(c, 1 << 40) }, "memory_reservation"),
        ];
        for (setter, message) in cases {
            assert_eq!(setter(), PACKR_ERR_INVALID_ARGUMENT);
            assert!(last_error().starts_with(message), "{} vs {message}", last_error());
        }
        assert_eq!(unsafe { &*c }.settings, Settings::default(), "refused values change nothing");
        assert_eq!(unsafe { packr_config_set_pooling(ptr::null_mut(), true) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(last_error(), "`config` is NULL");

        // Each value is fine alone; together they would need more address space than exists.
        assert_eq!(unsafe { packr_config_set_pooling(c, true) }, PACKR_OK);
        assert_eq!(unsafe { packr_config_set_pool_instances(c, 1_000_000) }, PACKR_OK);
        let mut rt = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_new_with_config(c, &mut rt) }, PACKR_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("pool_instances 1000000"), "{}", last_error());
        assert!(rt.is_null());
        assert_eq!(unsafe { packr_runtime_new_with_config(ptr::null(), &mut rt) }, PACKR_ERR_NULL_POINTER);
        unsafe { packr_config_free(c) };
        unsafe { packr_config_free(ptr::null_mut()) };
    }

    #[test]
    fn a_pool_is_refused_beyond_the_mapping_limit_and_usable_up_to_it() {
        let Some(allowed) = max_map_count() else { return };
        let fits = u32::try_from((allowed - MAPS_HEADROOM) / MAPS_PER_POOL_SLOT).unwrap().min(1_000_000);
        let c = config();
        unsafe {
            assert_eq!(packr_config_set_pooling(c, true), PACKR_OK);
            assert_eq!(packr_config_set_pool_memory_bytes(c, 1 << 16), PACKR_OK);
            assert_eq!(packr_config_set_pool_memories_per_instance(c, 1), PACKR_OK);
        }
        let mut rt = ptr::null_mut();
        if fits < 1_000_000 {
            assert_eq!(unsafe { packr_config_set_pool_instances(c, fits + 1) }, PACKR_OK);
            assert_eq!(unsafe { packr_runtime_new_with_config(c, &mut rt) }, PACKR_ERR_INVALID_ARGUMENT);
            assert!(last_error().contains(&format!("vm.max_map_count ({allowed})")), "{}", last_error());
            assert!(last_error().contains(&format!("set pool_instances to at most {fits}")), "{}", last_error());
        }
        // The largest pool allowed holds every instance at once.
        assert_eq!(unsafe { packr_config_set_pool_instances(c, fits) }, PACKR_OK);
        assert_eq!(unsafe { packr_runtime_new_with_config(c, &mut rt) }, PACKR_OK, "{}", last_error());
        unsafe { packr_config_free(c) };
        let wat = r#"(module (memory (export "memory") 1) (table 1 funcref) (data (i32.const 0) "x"))"#;
        let mut module = ptr::null_mut();
        assert_eq!(unsafe { packr_module_load(rt, wat.as_ptr(), wat.len(), &mut module) }, PACKR_OK);
        let mut live = Vec::with_capacity(fits as usize);
        for _ in 0..fits {
            let mut instance = ptr::null_mut();
            assert_eq!(unsafe { packr_module_instantiate(module, &mut instance) }, PACKR_OK, "{} live: {}", live.len(), last_error());
            live.push(instance);
        }
        live.into_iter().for_each(|i| unsafe { packr_instance_free(i) });
        unsafe { packr_module_free(module) };
        unsafe { packr_runtime_free(rt) };
    }

    #[test]
    fn a_full_pool_refuses_until_an_instance_is_freed() {
        let c = config();
        unsafe {
            assert_eq!(packr_config_set_pooling(c, true), PACKR_OK);
            assert_eq!(packr_config_set_pool_instances(c, 2), PACKR_OK);
            assert_eq!(packr_config_set_pool_memory_bytes(c, 1 << 20), PACKR_OK);
            // The pool's other settings leave the count of slots as it is.
            assert_eq!(packr_config_set_pool_keep_resident(c, 0), PACKR_OK);
            assert_eq!(packr_config_set_pool_pagemap_scan(c, false), PACKR_OK);
            assert_eq!(packr_config_set_pool_decommit_batch(c, 8), PACKR_OK);
        }
        let mut rt = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_new_with_config(c, &mut rt) }, PACKR_OK, "{}", last_error());
        unsafe { packr_config_free(c) }; // the runtime copied what it needs
        let wat = r#"(module (memory (export "a") 1) (memory (export "b") 1))"#;
        let mut module = ptr::null_mut();
        assert_eq!(unsafe { packr_module_load(rt, wat.as_ptr(), wat.len(), &mut module) }, PACKR_OK);
        let (mut a, mut b, mut c) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        assert_eq!(unsafe { packr_module_instantiate(module, &mut a) }, PACKR_OK, "two memories fit: {}", last_error());
        assert_eq!(unsafe { packr_module_instantiate(module, &mut b) }, PACKR_OK);
        assert_eq!(unsafe { packr_module_instantiate(module, &mut c) }, PACKR_ERR_POOL_EXHAUSTED);
        assert!(last_error().contains("maximum concurrent limit of 2"), "{}", last_error());
        assert!(c.is_null());
        unsafe { packr_instance_free(a) };
        assert_eq!(unsafe { packr_module_instantiate(module, &mut c) }, PACKR_OK, "{}", last_error());
        unsafe {
            packr_instance_free(b);
            packr_instance_free(c);
            packr_module_free(module);
            packr_runtime_free(rt);
        }
    }
}
