//! One user at a time, never waiting: the try-lock every instance call takes. A call that
//! finds the value in use fails at once (`PACKR_ERR_BUSY`) instead of blocking, so it costs
//! one atomic swap to enter and a plain store to leave, which is all the call path can
//! afford (a `Mutex` adds a second atomic on the way out and a poison check).

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct Exclusive<T> {
    busy: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is reached only through a `Claim`, and at most one exists at a time.
unsafe impl<T: Send> Sync for Exclusive<T> {}

impl<T> Exclusive<T> {
    pub(crate) fn new(value: T) -> Self {
        Exclusive { busy: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// The value, or `None` while another claim on it lives (on any thread).
    #[inline]
    pub(crate) fn try_claim(&self) -> Option<Claim<'_, T>> {
        if self.busy.swap(true, Ordering::Acquire) { None } else { Some(Claim(self)) }
    }
}

/// Exclusive access until dropped; dropping it (also while unwinding) releases the value.
pub(crate) struct Claim<'a, T>(&'a Exclusive<T>);

impl<T> Deref for Claim<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this claim is the only access while it lives.
        unsafe { &*self.0.value.get() }
    }
}

impl<T> DerefMut for Claim<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`.
        unsafe { &mut *self.0.value.get() }
    }
}

impl<T> Drop for Claim<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_at_a_time_across_threads() {
        let cell = Exclusive::new(1);
        let mut claim = cell.try_claim().unwrap();
        *claim += 1;
        std::thread::scope(|s| s.spawn(|| assert!(cell.try_claim().is_none())).join().unwrap());
        assert!(cell.try_claim().is_none(), "not re-entrant either");
        drop(claim);
        assert_eq!(*cell.try_claim().unwrap(), 2);
        // A panic while claimed releases the claim.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _claim = cell.try_claim().unwrap();
            panic!("inside");
        }));
        assert!(result.is_err());
        assert!(cell.try_claim().is_some());
    }
}
