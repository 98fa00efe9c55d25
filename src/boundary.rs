//! The FFI boundary: the panic guard, the thread's last error, pointer and string checks,
//! and the handle casts. Every `extern "C"` function is a thin shell over these.

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::error::{packr_status, Error, Result, PACKR_ERR_INVALID_ARGUMENT, PACKR_ERR_NULL_POINTER, PACKR_ERR_PANIC, PACKR_OK};

/// Room the last-error buffer keeps from its first use: most messages fit, so recording one
/// reuses the buffer instead of allocating (which matters when memory is short).
const LAST_ERROR_ROOM: usize = 1024;

thread_local! {
    /// This thread's last error: NUL-terminated bytes, empty for none.
    static LAST_ERROR: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Records `message` as this thread's last error, in place.
fn set_last_error(message: &str) {
    // During thread teardown the slot may be gone; losing the message then is harmless.
    let _ = LAST_ERROR.try_with(|slot| {
        let mut text = slot.borrow_mut();
        text.clear();
        // Where even this fails, the message is cut to what fits rather than abort.
        let message = match text.try_reserve(LAST_ERROR_ROOM.max(message.len() + 1)) {
            Ok(()) => message,
            Err(_) => &message[..message.floor_char_boundary(text.capacity().saturating_sub(1))],
        };
        // Interior NULs would cut the C string short; nothing in a message needs them.
        for piece in message.split('\0').enumerate() {
            if piece.0 > 0 {
                text.extend_from_slice("\u{fffd}".as_bytes());
            }
            text.extend_from_slice(piece.1.as_bytes());
        }
        text.push(0);
    });
}

/// The pointer `packr_last_error` hands out: valid until this thread's next failing call.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| {
            let text = slot.borrow();
            if text.is_empty() { c"".as_ptr() } else { text.as_ptr().cast() }
        })
        .unwrap_or(c"".as_ptr())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    format!("packr panicked (a bug; please report it): {detail}")
}

/// Runs `body`, turning its `Result` into a status and catching any panic so none crosses
/// into the host. On failure the message becomes this thread's last error.
pub(crate) fn guard(body: impl FnOnce() -> Result<()>) -> packr_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => PACKR_OK,
        Ok(Err(err)) => {
            set_last_error(&err.message);
            err.status
        }
        Err(payload) => {
            set_last_error(&panic_message(payload.as_ref()));
            PACKR_ERR_PANIC
        }
    }
}

/// Like `guard` for functions that return a value rather than a status (`_clone`, `_free`):
/// a failure or panic gives `fallback` and still records the message.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> Result<T>) -> T {
    let mut value = None;
    guard(|| {
        value = Some(body()?);
        Ok(())
    });
    value.unwrap_or(fallback)
}

fn null(what: &str) -> Error {
    Error::new(PACKR_ERR_NULL_POINTER, format!("`{what}` is NULL"))
}

/// A shared reference from a pointer the host passed in, or `PACKR_ERR_NULL_POINTER` naming it.
///
/// # Safety
/// A non-NULL `ptr` must point to a live `T` for the returned lifetime.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T, what: &str) -> Result<&'a T> {
    unsafe { ptr.as_ref() }.ok_or_else(|| null(what))
}

/// A unique reference from a pointer the host passed in, or `PACKR_ERR_NULL_POINTER`.
///
/// # Safety
/// A non-NULL `ptr` must point to a live `T` that nothing else uses for the returned lifetime.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T> {
    unsafe { ptr.as_mut() }.ok_or_else(|| null(what))
}

/// An out-parameter, checked for NULL before any work is done and written only on success.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    pub(crate) fn new(ptr: *mut T, what: &str) -> Result<Self> {
        if ptr.is_null() { Err(null(what)) } else { Ok(Out(ptr)) }
    }

    pub(crate) fn write(self, value: T) {
        // SAFETY: checked non-NULL in `new`; the host promises it points to writable memory.
        unsafe { self.0.write(value) }
    }
}

/// `len` bytes at `ptr`; NULL is allowed only for an empty slice.
///
/// # Safety
/// A non-NULL `ptr` must point to `len` readable bytes that outlive the returned slice.
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null(what));
    }
    check_len::<T>(len, what)?;
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Like `slice`, writable.
///
/// # Safety
/// A non-NULL `ptr` must point to `len` writable elements, not aliased during the borrow.
pub(crate) unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize, what: &str) -> Result<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(null(what));
    }
    check_len::<T>(len, what)?;
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

fn check_len<T>(len: usize, what: &str) -> Result<()> {
    let bytes = len.checked_mul(std::mem::size_of::<T>().max(1));
    match bytes {
        Some(b) if b <= isize::MAX as usize => Ok(()),
        _ => Err(Error::new(PACKR_ERR_INVALID_ARGUMENT, format!("length {len} of `{what}` is too large"))),
    }
}

/// A NUL-terminated UTF-8 string from the host.
///
/// # Safety
/// A non-NULL `ptr` must point to a NUL-terminated string that outlives the result.
pub(crate) unsafe fn utf8<'a>(ptr: *const c_char, what: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(null(what));
    }
    unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|e| {
        Error::new(PACKR_ERR_INVALID_ARGUMENT, format!("`{what}` is not valid UTF-8: {e}"))
    })
}

/// A handle the host owns as a `Box`: made by `into_raw`, ended by `free_raw`.
pub(crate) trait BoxHandle: Sized {
    fn into_raw(self) -> *mut Self {
        Box::into_raw(Box::new(self))
    }

    /// Drops the handle; NULL is a no-op.
    ///
    /// # Safety
    /// `ptr` is NULL or came from `into_raw` and has not been freed.
    unsafe fn free_raw(ptr: *mut Self) {
        if !ptr.is_null() {
            drop(unsafe { Box::from_raw(ptr) });
        }
    }
}

/// A handle the host holds as one strong count of an `Arc`: made by `into_raw`, copied by
/// `clone_raw`, ended by `free_raw`. A type is one kind of handle or the other, never both,
/// so an `Arc` handle cannot be freed as a `Box`.
pub(crate) trait ArcHandle: Sized {
    fn into_raw(this: Arc<Self>) -> *const Self {
        Arc::into_raw(this)
    }

    /// Another `Arc` to the same value, leaving the host's count as it was.
    ///
    /// # Safety
    /// `ptr` came from `into_raw` and is still live.
    unsafe fn to_arc(ptr: *const Self) -> Arc<Self> {
        unsafe { Arc::increment_strong_count(ptr) };
        unsafe { Arc::from_raw(ptr) }
    }

    /// Drops one count; NULL is a no-op.
    ///
    /// # Safety
    /// `ptr` is NULL or came from `into_raw`/`clone` and that count has not been freed.
    unsafe fn free_raw(ptr: *const Self) {
        if !ptr.is_null() {
            drop(unsafe { Arc::from_raw(ptr) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PACKR_ERR_COMPILE;

    fn last_error() -> String {
        unsafe { CStr::from_ptr(last_error_ptr()) }.to_str().unwrap().to_owned()
    }

    #[test]
    fn guard_maps_errors_and_keeps_the_message() {
        assert_eq!(guard(|| Ok(())), PACKR_OK);
        let status = guard(|| Err(Error::new(PACKR_ERR_COMPILE, "bad\0bytes")));
        assert_eq!(status, PACKR_ERR_COMPILE);
        assert_eq!(last_error(), "bad\u{fffd}bytes");
        // A later success does not erase the last failure's message.
        assert_eq!(guard(|| Ok(())), PACKR_OK);
        assert_eq!(last_error(), "bad\u{fffd}bytes");
    }

    #[test]
    fn guard_catches_panics() {
        let status = guard(|| panic!("boom {}", 7));
        assert_eq!(status, PACKR_ERR_PANIC);
        assert!(last_error().contains("boom 7"), "{}", last_error());
        assert_eq!(guard_value(5, || panic!("static")), 5);
        assert!(last_error().ends_with("static"));
    }

    #[test]
    fn pointer_checks_name_the_argument() {
        let err = unsafe { arg::<u8>(std::ptr::null(), "runtime") }.unwrap_err();
        assert_eq!((err.status, &*err.message), (PACKR_ERR_NULL_POINTER, "`runtime` is NULL"));
        assert!(unsafe { slice::<u8>(std::ptr::null(), 0, "buf") }.unwrap().is_empty());
        assert_eq!(unsafe { slice::<u8>(std::ptr::null(), 1, "buf") }.unwrap_err().status, PACKR_ERR_NULL_POINTER);
        let big = unsafe { slice::<u64>(std::ptr::dangling::<u64>(), usize::MAX / 4, "args") }.unwrap_err();
        assert_eq!(big.status, PACKR_ERR_INVALID_ARGUMENT);
        let bad = unsafe { utf8(c"\xff".as_ptr(), "export_name") }.unwrap_err();
        assert_eq!(bad.status, PACKR_ERR_INVALID_ARGUMENT);
        assert!(bad.message.contains("export_name"));
        assert!(Out::<u8>::new(std::ptr::null_mut(), "size_out").is_err());
    }
}
