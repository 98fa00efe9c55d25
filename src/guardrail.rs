//! Stopping and metering an instance from the host: interrupts (also from other threads,
//! through an interrupter that outlives the instance), timeouts changed after
//! instantiation, and fuel.

use std::sync::Arc;

use crate::boundary::{arg, guard, guard_value, BoxHandle, Out};
use crate::deadline::Interrupt;
use crate::error::packr_status;
use crate::instance::packr_instance;

/// A handle that interrupts one instance from anywhere: made by `packr_instance_interrupter`,
/// it stays valid after the instance is freed (interrupting is then a no-op), so a
/// watchdog thread whose lifetime the host does not control can hold one safely.
///
/// Underneath it is a `Box` the host owns, around a reference-counted flag shared with the
/// instance; it does not keep the instance, its module or its runtime alive.
///
/// Thread rules: any number of threads may use it at once; `packr_interrupter_free` must
/// not race with another use of the same handle.
pub struct packr_interrupter {
    interrupt: Arc<Interrupt>,
}

impl BoxHandle for packr_interrupter {}

/// Stops the instance's running call with `PACKR_ERR_INTERRUPTED`, or, when no call is
/// running, the next call to enter the guest. Several interrupts before a call stops count
/// as one. The guest stops at its next function call or loop iteration, without waiting
/// for the timer; a host callback running at the time finishes first. The instance stays
/// usable.
///
/// Does not touch the store and never blocks: callable from any thread at any time, also
/// while the instance is idle, and from inside the instance's own host callbacks. It only
/// does atomic operations, so it is also safe in a signal handler. It must not race with
/// `packr_instance_free` of the same instance: a thread that may outlive the instance uses
/// an interrupter (`packr_instance_interrupter`) instead.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_interrupt(instance: *const packr_instance) -> packr_status {
    guard(|| {
        unsafe { arg(instance, "instance") }?.interrupt().request();
        Ok(())
    })
}

/// Stops the instance's call running at this moment with `PACKR_ERR_INTERRUPTED`, as
/// `packr_instance_interrupt` does, but never a later call: when no call is running, or the
/// call ends before the request lands, it does nothing. For cancelling one call (a Go
/// context, a request's deadline) without the risk of stopping the instance's next call.
///
/// Callable as `packr_instance_interrupt` is: any thread, any time, never blocks,
/// async-signal-safe; must not race with `packr_instance_free`.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_interrupt_call(instance: *const packr_instance) -> packr_status {
    guard(|| {
        unsafe { arg(instance, "instance") }?.interrupt().request_call();
        Ok(())
    })
}

/// Makes an interrupter for the instance (see `packr_interrupter`). On success writes it to
/// `*interrupter_out`; the caller owns it and frees it with `packr_interrupter_free`.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Does not touch the store: callable at
/// any time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_interrupter(
    instance: *const packr_instance,
    interrupter_out: *mut *mut packr_interrupter,
) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance, "instance") }?;
        let out = Out::new(interrupter_out, "interrupter_out")?;
        out.write(packr_interrupter { interrupt: Arc::clone(instance.interrupt()) }.into_raw());
        Ok(())
    })
}

/// Interrupts the interrupter's instance as `packr_instance_interrupt` does; a no-op once
/// that instance is freed (or its engine is gone).
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe and async-signal-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_interrupter_interrupt(interrupter: *const packr_interrupter) -> packr_status {
    guard(|| {
        unsafe { arg(interrupter, "interrupter") }?.interrupt.request();
        Ok(())
    })
}

/// Stops the interrupter's instance's running call as `packr_instance_interrupt_call` does
/// (never a later call); a no-op once that instance is freed.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe and async-signal-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_interrupter_interrupt_call(interrupter: *const packr_interrupter) -> packr_status {
    guard(|| {
        unsafe { arg(interrupter, "interrupter") }?.interrupt.request_call();
        Ok(())
    })
}

/// Frees an interrupter. NULL is a no-op. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_interrupter_free(interrupter: *mut packr_interrupter) {
    guard_value((), || {
        unsafe { BoxHandle::free_raw(interrupter) };
        Ok(())
    })
}

/// Sets the timeout of the instance's later calls, as `packr_instance_config_set_timeout_ms`
/// does at instantiation; 0 removes it. A call already running keeps the deadline it
/// started with.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Does not touch the store: callable at
/// any time, from any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_set_timeout_ms(instance: *mut packr_instance, ms: u64) -> packr_status {
    guard(|| {
        unsafe { arg(instance.cast_const(), "instance") }?.set_timeout_ms(ms);
        Ok(())
    })
}

/// Adds `fuel` to the instance's tank (saturating at `UINT64_MAX`), so a guest that ran
/// out (`PACKR_ERR_OUT_OF_FUEL`) can be called again.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the
/// runtime's engine does not consume fuel (the message names `packr_config_set_fuel`);
/// `PACKR_ERR_BUSY` during a call on the instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_add_fuel(instance: *mut packr_instance, fuel: u64) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        instance.with_fuel(|store| {
            let left = store.get_fuel()?;
            store.set_fuel(left.saturating_add(fuel))
        })
    })
}

/// Writes the fuel left in the instance's tank to `*fuel_out`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER`; `PACKR_ERR_INVALID_ARGUMENT` if the
/// runtime's engine does not consume fuel; `PACKR_ERR_BUSY` during a call on the instance.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_instance_fuel(instance: *mut packr_instance, fuel_out: *mut u64) -> packr_status {
    guard(|| {
        let instance = unsafe { arg(instance.cast_const(), "instance") }?;
        let out = Out::new(fuel_out, "fuel_out")?;
        out.write(instance.with_fuel(|store| store.get_fuel())?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;
    use crate::error::*;
    use crate::instance::{packr_instance_call, packr_module_instantiate_with};
    use crate::instance_config::*;
    use crate::module::packr_module_load;
    use crate::runtime::packr_runtime_new_with_config;
    use crate::testutil::{i32v, i64v, last_error, Host};
    use crate::val::packr_val;
    use std::ffi::CStr;
    use std::ptr;
    use std::time::{Duration, Instant};

    const LOOPS: &str = r#"(module
        (memory (export "memory") 1)
        (func (export "spin") (loop $l (br $l)))
        (func $deep (export "deep") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
                (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))))
        (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
        (func (export "one") (result i32) (i32.const 1)))"#;

    fn runtime(host: &mut Host, change: impl FnOnce(*mut packr_config)) -> *mut crate::runtime::packr_runtime {
        host.runtime_with(change)
    }

    fn instance_config(change: impl FnOnce(*mut packr_instance_config)) -> *mut packr_instance_config {
        let mut config = ptr::null_mut();
        assert_eq!(unsafe { packr_instance_config_new(&mut config) }, PACKR_OK);
        change(config);
        config
    }

    fn call(instance: *mut packr_instance, name: &CStr, args: &[packr_val], nresults: usize) -> (packr_status, Vec<packr_val>) {
        let mut results = vec![i32v(0); nresults];
        let status = unsafe { packr_instance_call(instance, name.as_ptr(), args.as_ptr(), args.len(), results.as_mut_ptr(), nresults) };
        (status, results)
    }

    fn first(results: &[packr_val]) -> i32 {
        unsafe { results[0].of.i32 }
    }

    #[test]
    fn a_timeout_stops_a_loop_and_the_instance_stays_usable() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, LOOPS);
        let config = instance_config(|c| assert_eq!(unsafe { packr_instance_config_set_timeout_ms(c, 20) }, PACKR_OK));
        let (status, instance) = host.try_instantiate_with(module, config);
        unsafe { packr_instance_config_free(config) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        for _ in 0..3 {
            let start = Instant::now();
            assert_eq!(call(instance, c"spin", &[], 0).0, PACKR_ERR_TIMEOUT);
            assert!(start.elapsed() >= Duration::from_millis(20));
            assert_eq!(last_error(), "the call was stopped by its timeout of 20 ms");
            let (status, results) = call(instance, c"one", &[], 1);
            assert_eq!((status, first(&results)), (PACKR_OK, 1), "usable after a timeout");
        }
        // Raised later, the new timeout holds for later calls; 0 removes it.
        assert_eq!(unsafe { packr_instance_set_timeout_ms(instance, 60) }, PACKR_OK);
        let start = Instant::now();
        assert_eq!(call(instance, c"spin", &[], 0).0, PACKR_ERR_TIMEOUT);
        assert!(start.elapsed() >= Duration::from_millis(60));
        assert_eq!(unsafe { packr_instance_set_timeout_ms(instance, 0) }, PACKR_OK);
        assert_eq!(call(instance, c"one", &[], 1).0, PACKR_OK);
    }

    #[test]
    fn an_interrupt_stops_the_running_call_or_the_next() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, LOOPS);
        let instance = host.instantiate(module);
        // Idle: the next call stops at once, and only that one.
        assert_eq!(unsafe { packr_instance_interrupt(instance) }, PACKR_OK);
        assert_eq!(unsafe { packr_instance_interrupt(instance) }, PACKR_OK);
        assert_eq!(call(instance, c"spin", &[], 0).0, PACKR_ERR_INTERRUPTED);
        assert_eq!(last_error(), "the call was interrupted (packr_instance_interrupt)");
        assert_eq!(call(instance, c"one", &[], 1).0, PACKR_OK);
        // Running: from another thread, through an interrupter.
        let mut interrupter = ptr::null_mut();
        assert_eq!(unsafe { packr_instance_interrupter(instance, &mut interrupter) }, PACKR_OK);
        let handle = interrupter as usize;
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(unsafe { packr_interrupter_interrupt(handle as *const packr_interrupter) }, PACKR_OK);
        });
        assert_eq!(call(instance, c"spin", &[], 0).0, PACKR_ERR_INTERRUPTED);
        stopper.join().unwrap();
        assert_eq!(call(instance, c"one", &[], 1).0, PACKR_OK);
        // After the instance is gone the interrupter is a harmless no-op.
        drop(host);
        assert_eq!(unsafe { packr_interrupter_interrupt(interrupter) }, PACKR_OK);
        unsafe { packr_interrupter_free(interrupter) };
        unsafe { packr_interrupter_free(ptr::null_mut()) };
        assert_eq!(unsafe { packr_instance_interrupt(ptr::null()) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(last_error(), "`instance` is NULL");
    }

    #[test]
    fn a_call_scoped_interrupt_stops_only_the_running_call() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, LOOPS);
        let instance = host.instantiate(module);
        // Idle: nothing to stop, and nothing left for the next call.
        assert_eq!(unsafe { packr_instance_interrupt_call(instance) }, PACKR_OK);
        assert_eq!(first(&call(instance, c"one", &[], 1).1), 1);
        let mut interrupter = ptr::null_mut();
        assert_eq!(unsafe { packr_instance_interrupter(instance, &mut interrupter) }, PACKR_OK);
        let handle = interrupter as usize;
        for _ in 0..3 {
            let stopper = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                assert_eq!(unsafe { packr_interrupter_interrupt_call(handle as *const packr_interrupter) }, PACKR_OK);
            });
            assert_eq!(call(instance, c"spin", &[], 0).0, PACKR_ERR_INTERRUPTED);
            stopper.join().unwrap();
            assert_eq!(first(&call(instance, c"one", &[], 1).1), 1, "the next call runs");
        }
        // Many requests racing the end of short calls never stop a later call.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hammer = {
            let done = std::sync::Arc::clone(&done);
            std::thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    unsafe { packr_interrupter_interrupt_call(handle as *const packr_interrupter) };
                }
            })
        };
        let mut stopped = 0;
        for _ in 0..20_000 {
            match call(instance, c"deep", &[i32v(50)], 1).0 {
                PACKR_OK => {}
                PACKR_ERR_INTERRUPTED => stopped += 1,
                other => panic!("{other}: {}", last_error()),
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        hammer.join().unwrap();
        // Whatever landed, it landed inside the call it was aimed at: an idle request now
        // leaves nothing behind.
        assert_eq!(first(&call(instance, c"one", &[], 1).1), 1);
        println!("{stopped} of 20000 short calls stopped by racing requests");
        unsafe { packr_interrupter_free(interrupter) };
    }

    #[test]
    fn fuel_runs_out_and_refills() {
        let mut host = Host::default();
        let rt = runtime(&mut host, |c| assert_eq!(unsafe { packr_config_set_fuel(c, true) }, PACKR_OK));
        let module = host.load(rt, LOOPS);
        let config = instance_config(|c| assert_eq!(unsafe { packr_instance_config_set_fuel(c, 10_000) }, PACKR_OK));
        let (status, instance) = host.try_instantiate_with(module, config);
        unsafe { packr_instance_config_free(config) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        let mut fuel = 0;
        assert_eq!(unsafe { packr_instance_fuel(instance, &mut fuel) }, PACKR_OK);
        assert_eq!(fuel, 10_000);
        assert_eq!(call(instance, c"spin", &[], 0).0, PACKR_ERR_OUT_OF_FUEL);
        assert!(last_error().starts_with("the guest ran out of fuel"), "{}", last_error());
        assert_eq!(unsafe { packr_instance_fuel(instance, &mut fuel) }, PACKR_OK);
        assert_eq!(fuel, 0);
        assert_eq!(call(instance, c"one", &[], 1).0, PACKR_ERR_OUT_OF_FUEL);
        assert_eq!(unsafe { packr_instance_add_fuel(instance, 100) }, PACKR_OK);
        assert_eq!(call(instance, c"one", &[], 1).0, PACKR_OK);
        assert_eq!(unsafe { packr_instance_fuel(instance, &mut fuel) }, PACKR_OK);
        assert!(fuel < 100 && fuel > 90, "a tiny call costs a few units: {fuel}");
        assert_eq!(unsafe { packr_instance_add_fuel(instance, u64::MAX) }, PACKR_OK);
        assert_eq!(unsafe { packr_instance_fuel(instance, &mut fuel) }, PACKR_OK);
        assert!(fuel > u64::MAX / 4, "saturates: {fuel}");
        // Without a setting, a fuel engine's instance is as good as unlimited.
        let unlimited = host.instantiate(module);
        assert_eq!(call(unlimited, c"deep", &[i32v(1000)], 1).0, PACKR_OK);
    }

    #[test]
    fn fuel_on_an_engine_without_it_names_the_fix() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, LOOPS);
        let config = instance_config(|c| assert_eq!(unsafe { packr_instance_config_set_fuel(c, 1) }, PACKR_OK));
        let (status, _) = host.try_instantiate_with(module, config);
        unsafe { packr_instance_config_free(config) };
        assert_eq!(status, PACKR_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("packr_config_set_fuel"), "{}", last_error());
        let instance = host.instantiate(module);
        assert_eq!(unsafe { packr_instance_add_fuel(instance, 1) }, PACKR_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("packr_config_set_fuel"), "{}", last_error());
        let mut fuel = 7;
        assert_eq!(unsafe { packr_instance_fuel(instance, &mut fuel) }, PACKR_ERR_INVALID_ARGUMENT);
        assert_eq!(fuel, 7, "not written on failure");
    }

    #[test]
    fn memory_and_table_limits_refuse_growth_and_oversized_starts() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, LOOPS);
        let config = instance_config(|c| assert_eq!(unsafe { packr_instance_config_set_memory_limit(c, 4 << 16) }, PACKR_OK));
        let (status, instance) = host.try_instantiate_with(module, config);
        assert_eq!(status, PACKR_OK, "{}", last_error());
        assert_eq!(first(&call(instance, c"grow", &[i32v(3)], 1).1), 1, "to 4 pages: allowed");
        assert_eq!(first(&call(instance, c"grow", &[i32v(1)], 1).1), -1, "a fifth page: refused");
        assert_eq!(first(&call(instance, c"grow", &[i32v(0)], 1).1), 4);
        // A module that starts above the limit is not made.
        let big = host.load(rt, r#"(module (memory 5))"#);
        let (status, _) = host.try_instantiate_with(big, config);
        assert_eq!(status, PACKR_ERR_LIMIT);
        assert_eq!(
            last_error(),
            "cannot instantiate module: a memory starts at 327680 bytes, above the instance's limit of 262144 \
             (packr_instance_config_set_memory_limit)"
        );
        // 64-bit memories count too.
        let wide = host.load(rt, r#"(module (memory i64 1) (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0))))"#);
        let (status, wide) = host.try_instantiate_with(wide, config);
        assert_eq!(status, PACKR_OK, "{}", last_error());
        let mut out = [i64v(0)];
        let arg = [i64v(1 << 20)];
        assert_eq!(unsafe { packr_instance_call(wide, c"grow".as_ptr(), arg.as_ptr(), 1, out.as_mut_ptr(), 1) }, PACKR_OK);
        assert_eq!(unsafe { out[0].of.i64 }, -1, "64 GiB refused");
        unsafe { packr_instance_config_free(config) };
        // Tables.
        let tables = host.load(
            rt,
            r#"(module (table $t 2 funcref)
                 (func (export "grow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0))))"#,
        );
        let config = instance_config(|c| assert_eq!(unsafe { packr_instance_config_set_table_limit(c, 10) }, PACKR_OK));
        let (status, t) = host.try_instantiate_with(tables, config);
        assert_eq!(status, PACKR_OK, "{}", last_error());
        assert_eq!(first(&call(t, c"grow", &[i32v(8)], 1).1), 2);
        assert_eq!(first(&call(t, c"grow", &[i32v(1)], 1).1), -1);
        let wide_table = host.load(rt, r#"(module (table 11 funcref))"#);
        assert_eq!(host.try_instantiate_with(wide_table, config).0, PACKR_ERR_LIMIT);
        assert!(last_error().contains("a table starts at 11 elements, above the instance's limit of 10"), "{}", last_error());
        unsafe { packr_instance_config_free(config) };
    }

    #[test]
    fn gc_heaps_and_pools_are_bounded_too() {
        let mut host = Host::default();
        let rt = host.runtime();
        // Arrays of 1 MiB of i8, kept alive in a table, until allocation fails.
        let module = host.load(
            rt,
            r#"(module
                (type $bytes (array (mut i8)))
                (table $keep 1000 (ref null $bytes))
                (func (export "hoard") (param i32) (result i32) (local $i i32)
                  (loop $l
                    (table.set $keep (local.get $i) (array.new_default $bytes (i32.const 1048576)))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $l (i32.lt_u (local.get $i) (local.get 0))))
                  (local.get $i)))"#,
        );
        let config = instance_config(|c| assert_eq!(unsafe { packr_instance_config_set_memory_limit(c, 16 << 20) }, PACKR_OK));
        let (status, instance) = host.try_instantiate_with(module, config);
        unsafe { packr_instance_config_free(config) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        assert_eq!(first(&call(instance, c"hoard", &[i32v(4)], 1).1), 4, "4 MiB fit");
        assert_eq!(call(instance, c"hoard", &[i32v(100)], 1).0, PACKR_ERR_TRAP, "100 MiB do not");
        assert!(last_error().contains("GC heap out of memory"), "{}", last_error());
        let unlimited = host.instantiate(module);
        assert_eq!(first(&call(unlimited, c"hoard", &[i32v(100)], 1).1), 100, "without the limit they do");
        // A pool's slot size bounds memories below the instance's own limit.
        let pooled = runtime(&mut host, |c| unsafe {
            assert_eq!(packr_config_set_pooling(c, true), PACKR_OK);
            assert_eq!(packr_config_set_pool_instances(c, 4), PACKR_OK);
            assert_eq!(packr_config_set_pool_memory_bytes(c, 4 << 16), PACKR_OK);
        });
        let module = host.load(pooled, LOOPS);
        let config = instance_config(|c| assert_eq!(unsafe { packr_instance_config_set_memory_limit(c, 100 << 16) }, PACKR_OK));
        let (status, instance) = host.try_instantiate_with(module, config);
        unsafe { packr_instance_config_free(config) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        assert_eq!(first(&call(instance, c"grow", &[i32v(3)], 1).1), 1);
        assert_eq!(first(&call(instance, c"grow", &[i32v(1)], 1).1), -1, "the pool's 4 pages hold");
    }

    #[test]
    fn deep_recursion_traps_on_small_host_stacks() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, LOOPS);
        let instance = host.instantiate(module) as usize;
        for stack in [128 << 10, 256 << 10, 512 << 10] {
            let (status, message) = std::thread::Builder::new()
                .stack_size(stack)
                .spawn(move || {
                    let instance = instance as *mut packr_instance;
                    let (status, _) = call(instance, c"deep", &[i32v(10_000_000)], 1);
                    let message = last_error();
                    let (ok, results) = call(instance, c"deep", &[i32v(100)], 1);
                    assert_eq!((ok, unsafe { results[0].of.i32 }), (PACKR_OK, 100));
                    (status, message)
                })
                .unwrap()
                .join()
                .unwrap();
            assert_eq!(status, PACKR_ERR_TRAP, "{stack}: {message}");
            assert!(message.starts_with("wasm trap: call stack exhausted"), "{message}");
        }
    }

    #[test]
    fn compiling_works_on_a_small_stack() {
        let mut host = Host::default();
        let rt = host.runtime() as usize;
        // A function with deeply nested blocks makes cranelift recurse.
        let mut wat = String::from("(module (func (export \"f\") (result i32) ");
        wat.push_str(&"(block (result i32) ".repeat(2000));
        wat.push_str("(i32.const 7)");
        wat.push_str(&")".repeat(2000));
        wat.push_str("))");
        let module = std::thread::Builder::new()
            .stack_size(128 << 10)
            .spawn(move || {
                let mut module = ptr::null_mut();
                let status = unsafe { packr_module_load(rt as *const _, wat.as_ptr(), wat.len(), &mut module) };
                assert_eq!(status, PACKR_OK, "{}", last_error());
                module as usize
            })
            .unwrap()
            .join()
            .unwrap();
        let module = host.keep_module(module as *mut _);
        let instance = host.instantiate(module);
        assert_eq!(first(&call(instance, c"f", &[], 1).1), 7);
    }

    #[test]
    fn engine_limits_and_incompatible_settings() {
        let mut host = Host::default();
        let rt = runtime(&mut host, |c| assert_eq!(unsafe { packr_config_set_max_module_bytes(c, 64) }, PACKR_OK));
        let mut module = ptr::null_mut();
        let wat = LOOPS;
        assert_eq!(unsafe { packr_module_load(rt, wat.as_ptr(), wat.len(), &mut module) }, PACKR_ERR_LIMIT);
        assert!(last_error().starts_with(&format!("the module is {} bytes, above this runtime's limit of 64", wat.len())));
        assert!(module.is_null());
        let mut config = ptr::null_mut();
        assert_eq!(unsafe { packr_config_new(&mut config) }, PACKR_OK);
        unsafe {
            packr_config_set_pooling(config, true);
            packr_config_set_pool_instances(config, 4);
            packr_config_set_pool_memory_bytes(config, 16 << 20);
            packr_config_set_memory_reservation(config, 1 << 20);
        }
        let mut rt = ptr::null_mut();
        assert_eq!(unsafe { packr_runtime_new_with_config(config, &mut rt) }, PACKR_ERR_INVALID_ARGUMENT);
        assert!(last_error().starts_with("memory_reservation (1048576) is below pool_memory_bytes (16777216)"), "{}", last_error());
        assert_eq!(unsafe { packr_config_set_timer_tick_us(config, 10) }, PACKR_ERR_INVALID_ARGUMENT);
        assert_eq!(last_error(), "timer_tick_us must be between 100 and 1000000, not 10");
        assert_eq!(unsafe { packr_config_set_max_wasm_stack(config, 1024) }, PACKR_ERR_INVALID_ARGUMENT);
        assert_eq!(last_error(), "max_wasm_stack must be between 16384 and 67108864, not 1024");
        // The whole documented range makes engines (above 2 MiB it once did not).
        for bytes in [16 << 10, (2 << 20) + 1, 64 << 20] {
            let mut config = ptr::null_mut();
            assert_eq!(unsafe { packr_config_new(&mut config) }, PACKR_OK);
            assert_eq!(unsafe { packr_config_set_max_wasm_stack(config, bytes) }, PACKR_OK);
            let mut rt = ptr::null_mut();
            assert_eq!(unsafe { packr_runtime_new_with_config(config, &mut rt) }, PACKR_OK, "{bytes}: {}", last_error());
            unsafe { crate::runtime::packr_runtime_free(rt) };
            unsafe { packr_config_free(config) };
        }
        unsafe { packr_config_free(config) };
    }

    #[test]
    fn traps_without_signals() {
        let mut host = Host::default();
        let rt = runtime(&mut host, |c| assert_eq!(unsafe { packr_config_set_signals_based_traps(c, false) }, PACKR_OK));
        let module = host.load(
            rt,
            r#"(module (memory 1)
                (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
                (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))"#,
        );
        let instance = host.instantiate(module);
        assert_eq!(call(instance, c"div", &[i32v(0)], 1).0, PACKR_ERR_TRAP);
        assert!(last_error().starts_with("wasm trap: integer divide by zero"), "{}", last_error());
        assert_eq!(call(instance, c"load", &[i32v(70_000)], 1).0, PACKR_ERR_TRAP);
        assert!(last_error().starts_with("wasm trap: out of bounds memory access"), "{}", last_error());
        assert_eq!(first(&call(instance, c"div", &[i32v(1)], 1).1), 1);
    }

    #[test]
    fn a_start_function_is_bounded_too() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, r#"(module (func $s (loop $l (br $l))) (start $s))"#);
        let config = instance_config(|c| assert_eq!(unsafe { packr_instance_config_set_timeout_ms(c, 10) }, PACKR_OK));
        let mut instance = ptr::null_mut();
        let status = unsafe { packr_module_instantiate_with(module, config, ptr::null_mut(), &mut instance) };
        unsafe { packr_instance_config_free(config) };
        assert_eq!(status, PACKR_ERR_TIMEOUT, "{}", last_error());
        assert!(instance.is_null());
    }

    unsafe extern "C" fn spin_through_caller(
        _env: *mut std::ffi::c_void,
        caller: *mut crate::caller::packr_caller,
        _args: *const packr_val,
        _nargs: usize,
        _results: *mut packr_val,
        _nresults: usize,
    ) -> packr_status {
        // Passes on whatever stopped the nested call.
        unsafe { crate::caller::packr_caller_call(caller, c"spin".as_ptr(), ptr::null(), 0, ptr::null_mut(), 0) }
    }

    #[test]
    fn a_stop_inside_a_callbacks_own_call_ends_the_outer_call_the_same_way() {
        let mut host = Host::default();
        let mut defs = ptr::null_mut();
        assert_eq!(unsafe { crate::host::packr_host_new(&mut defs) }, PACKR_OK);
        let status = unsafe {
            crate::host::packr_host_define_func(
                defs, c"env".as_ptr(), c"nested".as_ptr(), ptr::null(), 0, ptr::null(), 0, Some(spin_through_caller), ptr::null_mut(), None,
            )
        };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        let rt = host.runtime_serving(defs);
        unsafe { crate::host::packr_host_free(defs) };
        let module = host.load(
            rt,
            r#"(module (import "env" "nested" (func $nested))
                (func (export "spin") (loop $l (br $l)))
                (func (export "outer") (call $nested)))"#,
        );
        let config = instance_config(|c| assert_eq!(unsafe { packr_instance_config_set_timeout_ms(c, 10) }, PACKR_OK));
        let (status, instance) = host.try_instantiate_with(module, config);
        unsafe { packr_instance_config_free(config) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        assert_eq!(call(instance, c"outer", &[], 0).0, PACKR_ERR_TIMEOUT, "{}", last_error());
        assert_eq!(last_error(), "the call was stopped by its timeout of 10 ms");
        assert_eq!(unsafe { packr_instance_set_timeout_ms(instance, 0) }, PACKR_OK);
        let target = instance as usize;
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            unsafe { packr_instance_interrupt(target as *const packr_instance) };
        });
        assert_eq!(call(instance, c"outer", &[], 0).0, PACKR_ERR_INTERRUPTED, "{}", last_error());
        stopper.join().unwrap();
    }
}
