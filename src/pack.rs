//! Upstream packr's "pack" calling convention: bytes in, bytes out.
//!
//! A guest exports `memory`, `__pack_alloc(size: i32) -> i32` (0 = failure) and
//! `__pack_free(ptr: i32, len: i32)`. A pack export has the type
//! `(in_ptr, in_len, out_ptr_ptr, out_len_ptr: i32) -> i32`: it reads its input, writes its
//! output's pointer and length into the two slots, and returns 0, or -1 with a UTF-8 error
//! message as the output; the host frees the output with `__pack_free`. Imports have the
//! same type in the other direction and return `< 0` for an error, 1 for a result the host
//! allocated with `__pack_alloc` (the guest frees it), or 0 for a result the guest must not
//! free. Every pointer and length a guest hands over is checked against its memory before a
//! byte is read.

use std::ops::Range;

use wasmtime::{AsContextMut, Caller, Extern, Func, Memory, TypedFunc};

use crate::error::{Error, Phase, Result, PACKR_ERR_GUEST, PACKR_ERR_INVALID_ARGUMENT, PACKR_ERR_NOT_FOUND, PACKR_ERR_OUT_OF_BOUNDS, PACKR_ERR_TYPE_MISMATCH};
use crate::store::StoreData;
use crate::types::{Export, Exports, Signature};
use crate::val::PACKR_I32;

pub(crate) const ALLOC: &str = "__pack_alloc";
pub(crate) const FREE: &str = "__pack_free";
pub(crate) const MEMORY: &str = "memory";

/// A pack export's typed entry.
pub(crate) type Entry = TypedFunc<(i32, i32, i32, i32), i32>;

/// The type of a pack export or import.
pub(crate) fn shape() -> Signature {
    Signature::new(&[PACKR_I32; 4], &[PACKR_I32])
}

/// Where a module's pack exports stand in its export table, checked once per module.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub(crate) memory: usize,
    pub(crate) alloc: usize,
    pub(crate) free: usize,
}

impl Layout {
    pub(crate) fn of(exports: &Exports) -> Result<Self> {
        let find = |name: &str| {
            exports.position(name).map_err(|_| {
                Error::new(PACKR_ERR_NOT_FOUND, format!("the module does not export `{name}`, which pack calls need"))
            })
        };
        let (memory, alloc, free) = (find(MEMORY)?, find(ALLOC)?, find(FREE)?);
        exports.list()[memory].expect_memory()?;
        expect(&exports.list()[alloc], &Signature::new(&[PACKR_I32], &[PACKR_I32]))?;
        expect(&exports.list()[free], &Signature::new(&[PACKR_I32; 2], &[]))?;
        Ok(Layout { memory, alloc, free })
    }
}

fn expect(export: &Export, wanted: &Signature) -> Result<()> {
    let found = export.function()?;
    if found != wanted {
        return Err(Error::new(
            PACKR_ERR_TYPE_MISMATCH,
            format!("export `{}` is {found}; the pack convention needs {wanted}", export.name()),
        ));
    }
    Ok(())
}

/// Checks that `export` has the pack shape (on every pack call, so without allocating).
#[inline]
pub(crate) fn expect_shape(export: &Export) -> Result<()> {
    match export.function() {
        Ok(sig) if sig.params() == [PACKR_I32; 4] && sig.results() == [PACKR_I32] => Ok(()),
        _ => expect(export, &shape()),
    }
}

/// An instance's pack exports, looked up once.
#[derive(Clone)]
pub(crate) struct Funcs {
    pub(crate) memory: Memory,
    pub(crate) alloc: TypedFunc<i32, i32>,
    pub(crate) free: TypedFunc<(i32, i32), ()>,
}

impl Funcs {
    /// # Safety
    /// The funcs must have the types `Layout::of` checked.
    pub(crate) unsafe fn new(store: impl wasmtime::AsContext, memory: Memory, alloc: Func, free: Func) -> Self {
        let store = store.as_context();
        // SAFETY: the caller checked the types against the module's (see `Layout::of`).
        unsafe { Funcs { memory, alloc: TypedFunc::new_unchecked(&store, alloc), free: TypedFunc::new_unchecked(&store, free) } }
    }

    /// The pack exports of the instance calling a host function.
    fn of_caller(caller: &mut Caller<'_, StoreData>) -> Result<Self> {
        // Checks the types, which makes the unchecked typed funcs below sound.
        Layout::of(&caller.data().exports)?;
        let get = |caller: &mut Caller<'_, StoreData>, name: &str| caller.get_export(name);
        let (Some(Extern::Memory(memory)), Some(Extern::Func(alloc)), Some(Extern::Func(free))) =
            (get(caller, MEMORY), get(caller, ALLOC), get(caller, FREE))
        else {
            return Err(Error::new(PACKR_ERR_NOT_FOUND, "the calling instance lacks its pack exports"));
        };
        // SAFETY: `Layout::of` checked the types just above.
        Ok(unsafe { Funcs::new(&*caller, memory, alloc, free) })
    }

    fn alloc(&self, mut store: impl AsContextMut, len: usize) -> Result<Range<usize>> {
        let size = i32::try_from(len).map_err(|_| {
            Error::new(PACKR_ERR_INVALID_ARGUMENT, format!("{len} bytes do not fit a 32-bit guest's memory"))
        })?;
        let ptr = self.alloc.call(&mut store, size).map_err(|e| Error::wasmtime(Phase::Call, &e))?;
        if ptr == 0 {
            return Err(Error::new(PACKR_ERR_GUEST, format!("{ALLOC}({size}) returned 0: the guest could not allocate")));
        }
        let memory_size = self.memory.data_size(&store);
        range(memory_size, ptr, size).ok_or_else(|| {
            Error::new(PACKR_ERR_OUT_OF_BOUNDS, format!("{ALLOC}({size}) returned {:#x}, outside the guest's memory of {memory_size} bytes", ptr as u32))
        })
    }

    fn free(&self, store: impl AsContextMut, ptr: i32, len: i32) -> Result<()> {
        self.free.call(store, (ptr, len)).map_err(|e| Error::wasmtime(Phase::Call, &e))
    }
}

/// `ptr..ptr + len` as a range of a memory of `size` bytes, if it lies inside it; the
/// i32s are the guest's unsigned addresses.
fn range(size: usize, ptr: i32, len: i32) -> Option<Range<usize>> {
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    let end = start.checked_add(len)?;
    (end <= size).then_some(start..end)
}

fn read_i32(data: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(data[at..at + 4].try_into().expect("four bytes"))
}

/// Calls the pack export `export` (named `name`) with `input` and returns its output: the
/// input and the two result slots go into one block from `__pack_alloc`, freed afterwards
/// with the output, on every path where the guest's pointers can be trusted.
pub(crate) fn call(
    mut store: impl AsContextMut,
    funcs: &Funcs,
    export: &Entry,
    name: &str,
    input: &[u8],
) -> Result<Vec<u8>> {
    // The slots first (8 bytes, as aligned as the block), then the input.
    let total = input.len().saturating_add(8);
    let block = funcs.alloc(&mut store, total)?;
    let data = funcs.memory.data_mut(&mut store);
    data[block.start..block.start + 8].fill(0);
    data[block.start + 8..block.end].copy_from_slice(input);
    let (at, len) = ((block.start + 8) as i32, input.len() as i32);
    let returned = export.call(&mut store, (at, len, block.start as i32, block.start as i32 + 4));
    // Memory only grows, so the block is still inside it.
    let data = funcs.memory.data(&store);
    let (out_ptr, out_len) = (read_i32(data, block.start), read_i32(data, block.start + 4));
    let freed = funcs.free(&mut store, block.start as i32, total as i32);
    let code = returned.map_err(|e| Error::wasmtime(Phase::Call, &e))?;
    freed?;
    if code != 0 && code != -1 {
        return Err(Error::new(
            PACKR_ERR_GUEST,
            format!("the guest's `{name}` returned {code}; the pack convention allows 0 (success) or -1 (error)"),
        ));
    }
    let output = take_output(&mut store, funcs, name, out_ptr, out_len)?;
    if code == -1 {
        return Err(Error::new(PACKR_ERR_GUEST, format!("the guest's `{name}` failed: {}", String::from_utf8_lossy(&output))));
    }
    Ok(output)
}

/// Copies the output the guest's `name` pointed to and frees it in the guest.
fn take_output(mut store: impl AsContextMut, funcs: &Funcs, name: &str, ptr: i32, len: i32) -> Result<Vec<u8>> {
    let data = funcs.memory.data(&store);
    let Some(out) = range(data.len(), ptr, len) else {
        return Err(Error::new(
            PACKR_ERR_OUT_OF_BOUNDS,
            format!(
                "the guest's `{name}` returned {} bytes at {:#x}, outside its memory of {} bytes",
                len as u32,
                ptr as u32,
                data.len()
            ),
        ));
    };
    let output = data[out].to_vec();
    if ptr != 0 {
        funcs.free(&mut store, ptr, len)?;
    }
    Ok(output)
}

/// What a bytes callback left for its guest: a buffer allocated with `__pack_alloc`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Returned {
    ptr: i32,
    len: i32,
}

/// Copies `bytes` into a fresh `__pack_alloc` block of the calling instance (nothing for
/// empty bytes).
pub(crate) fn give(caller: &mut Caller<'_, StoreData>, bytes: &[u8]) -> Result<Returned> {
    if bytes.is_empty() {
        return Ok(Returned::default());
    }
    let funcs = Funcs::of_caller(caller)?;
    let block = funcs.alloc(&mut *caller, bytes.len())?;
    funcs.memory.data_mut(&mut *caller)[block.clone()].copy_from_slice(bytes);
    Ok(Returned { ptr: block.start as i32, len: bytes.len() as i32 })
}

/// Frees what `give` allocated, when the callback failed after all.
pub(crate) fn take_back(caller: &mut Caller<'_, StoreData>, returned: Returned) -> Result<()> {
    if returned.ptr == 0 {
        return Ok(());
    }
    Funcs::of_caller(caller)?.free(&mut *caller, returned.ptr, returned.len)
}

/// The arguments of a pack import: the input's bytes, copied out of the calling guest.
pub(crate) fn import_input(caller: &mut Caller<'_, StoreData>, ptr: i32, len: i32) -> Result<Vec<u8>> {
    let memory = caller_memory(caller)?;
    let data = memory.data(&*caller);
    let r = range(data.len(), ptr, len).ok_or_else(|| {
        Error::new(PACKR_ERR_OUT_OF_BOUNDS, format!("the input at {:#x} ({} bytes) is outside the guest's memory of {} bytes", ptr as u32, len as u32, data.len()))
    })?;
    Ok(data[r].to_vec())
}

/// Writes a pack import's result into the guest's two slots.
pub(crate) fn import_result(caller: &mut Caller<'_, StoreData>, ptr_slot: i32, len_slot: i32, returned: Returned) -> Result<()> {
    let memory = caller_memory(caller)?;
    let data = memory.data_mut(&mut *caller);
    let size = data.len();
    for (slot, value) in [(ptr_slot, returned.ptr), (len_slot, returned.len)] {
        let r = range(size, slot, 4).ok_or_else(|| {
            Error::new(PACKR_ERR_OUT_OF_BOUNDS, format!("the result slot at {:#x} is outside the guest's memory of {size} bytes", slot as u32))
        })?;
        data[r].copy_from_slice(&value.to_le_bytes());
    }
    Ok(())
}

impl Returned {
    /// The import's return code: 1 when the guest owns a buffer, 0 when there is none.
    pub(crate) fn code(self) -> i32 {
        (self.ptr != 0) as i32
    }
}

fn caller_memory(caller: &mut Caller<'_, StoreData>) -> Result<Memory> {
    match caller.get_export(MEMORY) {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(Error::new(PACKR_ERR_NOT_FOUND, "the calling instance does not export `memory`, which pack imports need")),
    }
}

#[cfg(test)]
mod tests {
    use super::range;

    #[test]
    fn ranges_are_checked_as_unsigned_addresses() {
        assert_eq!(range(100, 10, 20), Some(10..30));
        assert_eq!(range(100, 90, 10), Some(90..100));
        assert_eq!(range(100, 90, 11), None);
        assert_eq!(range(100, -1, 1), None);
        assert_eq!(range(100, 0, -1), None);
        assert_eq!(range(0, 0, 0), Some(0..0));
    }
}

#[cfg(test)]
mod instance_tests {
    use std::ffi::{c_void, CStr};
    use std::ptr;

    use crate::bytes::{packr_bytes, packr_bytes_free};
    use crate::caller::{packr_caller, packr_caller_return_bytes, packr_caller_set_error};
    use crate::error::*;
    use crate::func::{packr_func_free, packr_instance_call_func_bytes, packr_module_func};
    use crate::host::{packr_host_define_bytes, packr_host_free, packr_host_new};
    use crate::instance::{packr_instance, packr_instance_call, packr_instance_call_bytes};
    use crate::testutil::{last_error, Host};
    use crate::val::{packr_val, PACKR_I32};

    /// The case table's pack guest: a bump allocator that counts live blocks (`live`).
    const GUEST: &str = include_str!("../tests/cases/pack.wat");

    /// `host.transform`: upper-cases; "guest-error" refuses to the guest; "host-error" fails.
    unsafe extern "C" fn transform(_env: *mut c_void, caller: *mut packr_caller, input: *const u8, len: usize) -> packr_status {
        let input = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(input, len) } };
        match input {
            b"guest-error" => PACKR_ERR_GUEST,
            b"host-error" => {
                unsafe { packr_caller_set_error(caller, c"transform refused".as_ptr()) };
                PACKR_ERR_INVALID_ARGUMENT
            }
            _ => {
                let upper = input.to_ascii_uppercase();
                unsafe { packr_caller_return_bytes(caller, upper.as_ptr(), upper.len()) }
            }
        }
    }

    struct Fixture {
        h: Host,
        instance: *mut packr_instance,
        module: *mut crate::module::packr_module,
    }

    fn fixture() -> Fixture {
        let mut h = Host::default();
        let mut host = ptr::null_mut();
        assert_eq!(unsafe { packr_host_new(&mut host) }, PACKR_OK);
        let status = unsafe { packr_host_define_bytes(host, c"host".as_ptr(), c"transform".as_ptr(), Some(transform), ptr::null_mut(), None) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        let rt = h.runtime_serving(host);
        unsafe { packr_host_free(host) };
        let module = h.load(rt, GUEST);
        let instance = h.instantiate(module);
        Fixture { h, instance, module }
    }

    fn call(instance: *mut packr_instance, name: &CStr, input: &[u8]) -> Result<Vec<u8>, (packr_status, String)> {
        let mut out = packr_bytes { data: ptr::null_mut(), len: 0 };
        let status = unsafe { packr_instance_call_bytes(instance, name.as_ptr(), input.as_ptr(), input.len(), &mut out) };
        if status != PACKR_OK {
            assert!(out.data.is_null(), "the output is written only on success");
            return Err((status, last_error()));
        }
        let copy = if out.len == 0 { Vec::new() } else { unsafe { std::slice::from_raw_parts(out.data, out.len) }.to_vec() };
        unsafe { packr_bytes_free(&mut out) };
        Ok(copy)
    }

    fn live(instance: *mut packr_instance) -> i32 {
        let mut result = [packr_val::zero(PACKR_I32)];
        assert_eq!(unsafe { packr_instance_call(instance, c"live".as_ptr(), ptr::null(), 0, result.as_mut_ptr(), 1) }, PACKR_OK);
        unsafe { result[0].of.i32 }
    }

    #[test]
    fn bytes_go_in_and_out_and_every_guest_buffer_is_freed() {
        let f = fixture();
        assert_eq!(call(f.instance, c"echo", b"hello").unwrap(), b"hello");
        assert_eq!(call(f.instance, c"echo", b"").unwrap(), b"");
        let big: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
        assert_eq!(call(f.instance, c"echo", &big).unwrap(), big);
        assert_eq!(live(f.instance), 0);

        let mut func = ptr::null_mut();
        assert_eq!(unsafe { packr_module_func(f.module, c"echo".as_ptr(), &mut func) }, PACKR_OK);
        let mut out = packr_bytes { data: ptr::null_mut(), len: 0 };
        assert_eq!(unsafe { packr_instance_call_func_bytes(f.instance, func, b"abc".as_ptr(), 3, &mut out) }, PACKR_OK);
        assert_eq!(unsafe { std::slice::from_raw_parts(out.data, out.len) }, b"abc");
        unsafe { packr_bytes_free(&mut out) };
        unsafe { packr_func_free(func) };
        assert_eq!(live(f.instance), 0);
        drop(f.h);
    }

    #[test]
    fn guest_errors_and_lies_are_named_and_never_read_outside_the_guest() {
        let f = fixture();
        assert_eq!(call(f.instance, c"fail", b"x").unwrap_err(), (PACKR_ERR_GUEST, "the guest's `fail` failed: no".to_string()));
        let (status, message) = call(f.instance, c"bad_ptr", b"x").unwrap_err();
        assert_eq!(status, PACKR_ERR_OUT_OF_BOUNDS);
        assert!(message.contains("512 bytes at 0xffffff00"), "{message}");
        let (status, message) = call(f.instance, c"bad_code", b"x").unwrap_err();
        assert_eq!(status, PACKR_ERR_GUEST);
        assert!(message.contains("returned 7"), "{message}");
        let (status, message) = call(f.instance, c"plain", b"x").unwrap_err();
        assert_eq!(status, PACKR_ERR_TYPE_MISMATCH);
        assert!(message.contains("func(i32) -> (i32)") && message.contains("func(i32, i32, i32, i32) -> (i32)"), "{message}");
        assert_eq!(call(f.instance, c"nope", b"x").unwrap_err().0, PACKR_ERR_NOT_FOUND);
        assert_eq!(live(f.instance), 0, "the input blocks were freed on every path");
        assert_eq!(call(f.instance, c"echo", b"still fine").unwrap(), b"still fine");

        let mut h = Host::default();
        let rt = h.runtime();
        let module = h.load(rt, r#"(module (memory (export "memory") 1) (func (export "f") (param i32 i32 i32 i32) (result i32) (i32.const 0)))"#);
        let (status, message) = call(h.instantiate(module), c"f", b"").unwrap_err();
        assert_eq!(status, PACKR_ERR_NOT_FOUND);
        assert!(message.contains("`__pack_alloc`"), "{message}");
        drop(f.h);
    }

    #[test]
    fn host_imports_take_and_give_bytes() {
        let f = fixture();
        assert_eq!(call(f.instance, c"via_host", b"shout").unwrap(), b"SHOUT");
        assert_eq!(call(f.instance, c"via_host", b"").unwrap(), b"");
        let big = vec![b'a'; 2 << 20];
        assert_eq!(call(f.instance, c"via_host", &big).unwrap(), vec![b'A'; 2 << 20]);
        assert_eq!(call(f.instance, c"via_host", b"guest-error").unwrap_err(), (PACKR_ERR_GUEST, "the guest's `via_host` failed: ".to_string()));
        let (status, message) = call(f.instance, c"via_host", b"host-error").unwrap_err();
        assert_eq!(status, PACKR_ERR_HOST);
        assert!(message.starts_with("host function host::transform failed: transform refused"), "{message}");
        assert_eq!(live(f.instance), 0);
        drop(f.h);
    }
}
