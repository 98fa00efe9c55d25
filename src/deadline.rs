//! Deadlines and interruption, both on wasmtime's epochs: one timer thread per engine
//! advances the epoch while a call with a deadline runs, and every store's epoch callback
//! checks its instance's stop flag and deadline.
//!
//! Every store keeps its epoch deadline at most one tick ahead of the engine's epoch (it
//! starts so, and the callback renews it so), which is what makes both stops prompt:
//! - a timeout: the timer advances the epoch every tick, so a running guest's callback runs
//!   at least once per tick and compares the clock with the call's deadline;
//! - an interrupt: it sets the instance's flag and advances the epoch itself, so the guest
//!   stops at its next function entry or loop iteration, without waiting for a tick.
//!
//! While no deadline is armed and nobody interrupts, the epoch never moves, so the callback
//! never runs and calls pay nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::{EngineWeak, UpdateDeadline};

use crate::error::{Error, Result, Stopped, PACKR_ERR_RESOURCE};

/// How many ticks the timer keeps running after the last deadline is disarmed before it
/// parks: a host making one call after another with deadlines then never pays a wake-up.
const IDLE_TICKS: u32 = 50;

/// One engine's epoch timer: a thread started on the first armed deadline, parked while
/// none is armed, stopped when the engine's last runtime, module and instance are freed
/// (this value's drop).
pub(crate) struct Ticker {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    started: AtomicBool,
}

struct Shared {
    engine: EngineWeak,
    tick: Duration,
    /// Calls with a deadline running now.
    armed: AtomicUsize,
    /// Set by the thread before it waits for an armed deadline.
    parked: AtomicBool,
    /// Whether the thread must end; the condvar's lock.
    stop: Mutex<bool>,
    wake: Condvar,
    /// Epochs advanced, for tests and statistics.
    ticks: AtomicU64,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one still holds a valid bool.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Ticker {
    pub(crate) fn new(engine: EngineWeak, tick: Duration) -> Self {
        let shared = Shared {
            engine,
            tick,
            armed: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            stop: Mutex::new(false),
            wake: Condvar::new(),
            ticks: AtomicU64::new(0),
        };
        Ticker { shared: Arc::new(shared), thread: Mutex::new(None), started: AtomicBool::new(false) }
    }

    /// Keeps the epoch advancing until the returned guard is dropped.
    #[inline]
    pub(crate) fn arm(&self) -> Result<Armed<'_>> {
        if !self.started.load(Ordering::Acquire) {
            self.start()?;
        }
        let shared = &*self.shared;
        // With the thread's `parked` store and `armed` load (both SeqCst), one of the two
        // sides sees the other: either the thread sees this deadline and does not park, or
        // this sees it parked and wakes it.
        if shared.armed.fetch_add(1, Ordering::SeqCst) == 0 && shared.parked.load(Ordering::SeqCst) {
            let _stop = locked(&shared.stop);
            shared.wake.notify_one();
        }
        Ok(Armed(shared))
    }

    #[cold]
    fn start(&self) -> Result<()> {
        let mut thread = locked(&self.thread);
        if thread.is_none() {
            let shared = Arc::clone(&self.shared);
            let handle = std::thread::Builder::new()
                .name("packr-epoch".into())
                .stack_size(64 << 10)
                .spawn(move || run(&shared))
                .map_err(|e| Error::new(PACKR_ERR_RESOURCE, format!("cannot start packr's epoch timer thread: {e}")))?;
            *thread = Some(handle);
            self.started.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Epochs this timer has advanced.
    #[cfg(test)]
    pub(crate) fn ticks(&self) -> u64 {
        self.shared.ticks.load(Ordering::Relaxed)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        *locked(&self.shared.stop) = true;
        self.shared.wake.notify_one();
        if let Some(thread) = locked(&self.thread).take() {
            // It wakes at once and ends; its only work is advancing an atomic.
            let _ = thread.join();
        }
    }
}

/// A running call's deadline; dropping it disarms it.
pub(crate) struct Armed<'a>(&'a Shared);

impl Drop for Armed<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.armed.fetch_sub(1, Ordering::Release);
    }
}

fn run(shared: &Shared) {
    let mut idle = 0;
    let mut stop = locked(&shared.stop);
    while !*stop {
        if shared.armed.load(Ordering::SeqCst) != 0 {
            idle = 0;
        } else if idle < IDLE_TICKS {
            idle += 1;
        } else {
            shared.parked.store(true, Ordering::SeqCst);
            while !*stop && shared.armed.load(Ordering::SeqCst) == 0 {
                stop = shared.wake.wait(stop).unwrap_or_else(PoisonError::into_inner);
            }
            shared.parked.store(false, Ordering::SeqCst);
            idle = 0;
            continue;
        }
        // Sleeps one tick; a stop wakes it early.
        stop = shared.wake.wait_timeout(stop, shared.tick).unwrap_or_else(PoisonError::into_inner).0;
        match shared.engine.upgrade() {
            Some(engine) => engine.increment_epoch(),
            None => break,
        }
        shared.ticks.fetch_add(1, Ordering::Relaxed);
    }
}

/// An instance's stop flags, shared by the instance, its store and its interrupters.
pub(crate) struct Interrupt {
    /// Stop the running call, or the next one (`packr_instance_interrupt`).
    requested: AtomicBool,
    /// The instance's calls into the guest, counted twice each: odd while one runs. Written
    /// only by the thread holding the instance, so plain stores do.
    calls: AtomicU64,
    /// The `calls` value of the one call to stop (`packr_instance_interrupt_call`): a value
    /// no later call has, so a request that comes too late never stops another call.
    stop_call: AtomicU64,
    engine: EngineWeak,
}

impl Interrupt {
    pub(crate) fn new(engine: EngineWeak) -> Arc<Self> {
        Arc::new(Interrupt { requested: AtomicBool::new(false), calls: AtomicU64::new(0), stop_call: AtomicU64::new(0), engine })
    }

    /// Stops the running call, or the next one. Async-signal-safe: atomic operations only
    /// (the engine lookup included).
    pub(crate) fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Stops the call running now, if one is; never a later one.
    pub(crate) fn request_call(&self) {
        let call = self.calls.load(Ordering::Acquire);
        if call % 2 == 1 {
            self.stop_call.store(call, Ordering::Release);
            self.wake();
        }
    }

    /// Makes every running store of the engine look at its flags now.
    fn wake(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if let Some(engine) = self.engine.upgrade() {
            engine.increment_epoch();
        }
    }

    /// A call into the guest begins, and ends when the returned guard drops; only the
    /// instance's holder calls this.
    #[inline]
    pub(crate) fn running(&self) -> Running<'_> {
        self.count_call();
        Running(self)
    }

    #[inline]
    fn count_call(&self) {
        self.calls.store(self.calls.load(Ordering::Relaxed).wrapping_add(1), Ordering::Release);
    }

    /// Whether `request_call` asked to stop the call running now (on the thread running it).
    fn stopping_this_call(&self) -> bool {
        let call = self.calls.load(Ordering::Relaxed);
        call % 2 == 1 && self.stop_call.load(Ordering::Acquire) == call
    }
}

/// A running call, as `Interrupt::request_call` sees it; dropping it ends the call.
pub(crate) struct Running<'a>(&'a Interrupt);

impl Drop for Running<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.count_call();
    }
}

/// A call's deadline, as the epoch callback sees it.
#[derive(Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) ms: u64,
}

impl Deadline {
    pub(crate) fn after(ms: u64) -> Self {
        // A timeout too long for the clock is as good as none.
        let at = Instant::now().checked_add(Duration::from_millis(ms)).unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 40));
        Deadline { at, ms }
    }
}

/// The epoch callback: stop for an interrupt or a passed deadline, else look again next tick.
pub(crate) fn check(interrupt: &Interrupt, deadline: Option<Deadline>) -> wasmtime::Result<UpdateDeadline> {
    if interrupt.requested.swap(false, Ordering::AcqRel)
        || interrupt.stopping_this_call()
    {
        return Err(Stopped::Interrupted.into());
    }
    if let Some(deadline) = deadline {
        if Instant::now() >= deadline.at {
            return Err(Stopped::Timeout(deadline.ms).into());
        }
    }
    Ok(UpdateDeadline::Continue(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timer_ticks_only_while_armed_and_ends_with_its_engine() {
        let engine = wasmtime::Engine::default();
        let ticker = Ticker::new(engine.weak(), Duration::from_micros(200));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(ticker.ticks(), 0, "no thread before the first deadline");
        let armed = ticker.arm().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(ticker.ticks() >= 5, "{} ticks in 20 ms at 200 us", ticker.ticks());
        drop(armed);
        // It parks IDLE_TICKS ticks after the last deadline: 10 ms here.
        std::thread::sleep(Duration::from_millis(60));
        let parked = ticker.ticks();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(ticker.ticks(), parked, "no ticks while parked");
        let again = ticker.arm().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(ticker.ticks() > parked, "an armed deadline wakes it");
        drop(again);
        let thread = locked(&ticker.thread).as_ref().map(|t| t.thread().id());
        assert!(thread.is_some());
        // Dropping the ticker joins the thread, so it is gone when drop returns.
        drop(ticker);
    }
}
