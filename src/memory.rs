//! Linear-memory access shared by instances (`packr_instance_memory_*`) and host callbacks
//! (`packr_caller_memory_*`): names, bounds checks, copies.

use std::ffi::c_char;

use crate::boundary::utf8;
use crate::error::{Error, Result, PACKR_ERR_OUT_OF_BOUNDS};

/// A memory name from the host; NULL means `"memory"`.
///
/// # Safety
/// A non-NULL `ptr` must point to a NUL-terminated string that outlives the result.
pub(crate) unsafe fn name_arg<'a>(ptr: *const c_char) -> Result<&'a str> {
    if ptr.is_null() { Ok("memory") } else { unsafe { utf8(ptr, "memory_name") } }
}

/// The range `offset..offset + len` of a memory of `size` bytes, or `PACKR_ERR_OUT_OF_BOUNDS`.
fn range(offset: u64, len: usize, size: usize, name: &str, verb: &str) -> Result<std::ops::Range<usize>> {
    let start = usize::try_from(offset).ok();
    let end = start.and_then(|s| s.checked_add(len));
    match (start, end) {
        (Some(start), Some(end)) if end <= size => Ok(start..end),
        _ => Err(Error::new(
            PACKR_ERR_OUT_OF_BOUNDS,
            format!("cannot {verb} {len} bytes at offset {offset}: memory `{name}` is {size} bytes"),
        )),
    }
}

/// Copies `buf.len()` bytes at `offset` of `memory` (named `name`) into `buf`, all or nothing.
pub(crate) fn read(memory: &[u8], name: &str, offset: u64, buf: &mut [u8]) -> Result<()> {
    buf.copy_from_slice(&memory[range(offset, buf.len(), memory.len(), name, "read")?]);
    Ok(())
}

/// Copies `buf` into `memory` (named `name`) at `offset`, all or nothing.
pub(crate) fn write(memory: &mut [u8], name: &str, offset: u64, buf: &[u8]) -> Result<()> {
    let range = range(offset, buf.len(), memory.len(), name, "write")?;
    memory[range].copy_from_slice(buf);
    Ok(())
}
