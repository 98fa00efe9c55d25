//! Byte buffers packr hands to the host: captured WASI output, pack-call results.

use crate::boundary::guard_value;

/// Bytes packr allocated for the host, such as a pack call's output or captured WASI output.
///
/// `data` points to `len` bytes; it is NULL when `len` is 0. The host owns the buffer once a
/// call has written it and frees it with `packr_bytes_free`, on any thread, in any order
/// relative to other handles. A `packr_bytes` the host fills in itself must never be passed
/// to `packr_bytes_free`.
#[repr(C)]
pub struct packr_bytes {
    pub data: *mut u8,
    pub len: usize,
}

impl packr_bytes {
    /// Hands `bytes` over to the host.
    pub(crate) fn from_vec(bytes: Vec<u8>) -> Self {
        if bytes.is_empty() {
            return packr_bytes { data: std::ptr::null_mut(), len: 0 };
        }
        let boxed = bytes.into_boxed_slice();
        let len = boxed.len();
        packr_bytes { data: Box::into_raw(boxed).cast(), len }
    }
}

/// Frees the buffer `bytes` describes and sets it to `{NULL, 0}`, so freeing it twice is
/// harmless. NULL `bytes`, or a `bytes` whose `data` is NULL, is a no-op.
///
/// Only for buffers packr wrote; see `packr_bytes`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_bytes_free(bytes: *mut packr_bytes) {
    guard_value((), || {
        let Some(bytes) = (unsafe { bytes.as_mut() }) else { return Ok(()) };
        if !bytes.data.is_null() {
            // SAFETY: packr made `data` from a boxed slice of exactly `len` bytes (`from_vec`).
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(bytes.data, bytes.len)) });
        }
        *bytes = packr_bytes { data: std::ptr::null_mut(), len: 0 };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_free_twice_is_harmless() {
        let mut b = packr_bytes::from_vec(b"hello".to_vec());
        assert_eq!(unsafe { std::slice::from_raw_parts(b.data, b.len) }, b"hello");
        unsafe { packr_bytes_free(&mut b) };
        assert!(b.data.is_null() && b.len == 0);
        unsafe { packr_bytes_free(&mut b) };
        unsafe { packr_bytes_free(std::ptr::null_mut()) };
        let empty = packr_bytes::from_vec(Vec::new());
        assert!(empty.data.is_null() && empty.len == 0);
    }
}
