//! The calling thread's stack: how much is left, and running work that needs more on a
//! thread of packr's own.
//!
//! wasmtime bounds a guest's stack at `max_wasm_stack` below the point where the call
//! entered wasm, and cranelift recurses deeply on large functions; neither looks at how much
//! stack the host's thread really has. On a thread with less (a 128 KiB musl or
//! `pthread_attr_setstacksize` thread), deep recursion would run past the thread's guard page
//! and kill the process instead of trapping. So packr measures what is left first (once per
//! thread, then a subtraction per call) and, when it is too little, runs the work on a
//! thread it starts with enough stack, blocking the caller until it is done. Host callbacks
//! of such a call run on that thread.

use std::cell::Cell;

use crate::error::{Error, Result, PACKR_ERR_RESOURCE};

/// Stack reserved beyond the guest's own for the host's frames: packr's and wasmtime's
/// entry, and host callbacks, which run below the guest's frames on the same stack.
pub(crate) const HOST_ROOM: usize = 256 << 10;
/// What compiling needs on the calling thread; cranelift's deepest recursion on large
/// generated functions was measured below this.
pub(crate) const COMPILE_ROOM: usize = 2 << 20;
/// The stack of the thread packr starts for work that needs more than the caller has,
/// beyond what the work needs.
const SPARE: usize = 1 << 20;

thread_local! {
    /// This thread's usable stack, [low (above its guard), top), or `None` until known;
    /// `Some((0, usize::MAX))` where the system cannot say (then packr assumes there is room).
    static BOUNDS: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

#[cold]
fn measure() -> (usize, usize) {
    // SAFETY: plain queries of the calling thread's attributes, into locals.
    unsafe {
        let mut attr = std::mem::zeroed::<libc::pthread_attr_t>();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, usize::MAX);
        }
        let (mut addr, mut size, mut guard) = (std::ptr::null_mut(), 0usize, 0usize);
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0 && libc::pthread_attr_getguardsize(&attr, &mut guard) == 0;
        libc::pthread_attr_destroy(&mut attr);
        if ok { (addr as usize + guard, addr as usize + size) } else { (0, usize::MAX) }
    }
}

/// Roughly the stack pointer: the address of a local.
#[inline(always)]
fn here() -> usize {
    // A local, not a literal: `&0u8` would be promoted to a static.
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

fn bounds() -> (usize, usize) {
    BOUNDS
        .try_with(|bounds| {
            bounds.get().unwrap_or_else(|| {
                let measured = measure();
                bounds.set(Some(measured));
                measured
            })
        })
        .unwrap_or((0, usize::MAX))
}

/// Bytes of stack left below this point on the calling thread.
#[cfg(test)]
fn room() -> usize {
    here().saturating_sub(bounds().0)
}

/// Where on some thread's stack there is enough room: calls whose stack pointer lies in
/// [from, top) have it. Stacks never overlap, so a match also says the thread is the one
/// measured, and an instance keeps the last one to check its calls without a thread-local
/// lookup (which costs a `__tls_get_addr` call in a shared library).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Room {
    from: usize,
    top: usize,
}

/// Runs `work` here when at least `need` bytes of stack are left, else on a new thread with
/// `need` and some to spare, waiting for it. A panic in `work` resumes on the caller's
/// thread. `known` is where room was found last; it is updated when this thread has room.
#[inline]
pub(crate) fn with_room_known<R: Send>(known: &mut Room, need: usize, work: impl FnOnce() -> R + Send) -> Result<R> {
    let sp = here();
    if sp >= known.from && sp < known.top {
        return Ok(work());
    }
    let (low, top) = bounds();
    if sp.saturating_sub(low) >= need {
        *known = Room { from: low.saturating_add(need), top };
        Ok(work())
    } else {
        elsewhere(need, work)
    }
}

/// `with_room_known` without a memory of where room was.
#[inline]
pub(crate) fn with_room<R: Send>(need: usize, work: impl FnOnce() -> R + Send) -> Result<R> {
    with_room_known(&mut Room::default(), need, work)
}

#[cold]
fn elsewhere<R: Send>(need: usize, work: impl FnOnce() -> R + Send) -> Result<R> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("packr-stack".into())
            .stack_size(need + SPARE)
            .spawn_scoped(scope, work)
            .map_err(|e| Error::new(PACKR_ERR_RESOURCE, format!("cannot start a thread with {} KiB of stack for this call: {e}", (need + SPARE) >> 10)))?;
        Ok(thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_reflects_the_thread() {
        let small = std::thread::Builder::new().stack_size(256 << 10).spawn(room).unwrap().join().unwrap();
        assert!(small < 256 << 10 && small > 128 << 10, "{small}");
        let big = std::thread::Builder::new().stack_size(16 << 20).spawn(room).unwrap().join().unwrap();
        assert!(big > 15 << 20, "{big}");
    }

    #[test]
    fn work_needing_more_runs_elsewhere() {
        let here = std::thread::current().id();
        let ran_on = std::thread::Builder::new()
            .stack_size(128 << 10)
            .spawn(move || with_room(1 << 20, move || (std::thread::current().id(), room())).unwrap())
            .unwrap()
            .join()
            .unwrap();
        assert_ne!(ran_on.0, here);
        assert!(ran_on.1 >= 1 << 20, "{}", ran_on.1);
        let panicked = std::panic::catch_unwind(|| with_room(room() + (1 << 20), || panic!("inside")));
        assert!(panicked.is_err(), "a panic reaches the caller");
    }
}
