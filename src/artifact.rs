//! Artifacts: a module's compiled code, serialized for the disk or the network in an
//! envelope packr verifies before wasmtime reads a byte of it.
//!
//! wasmtime's loader trusts what it is given ("can trivially lead to arbitrary code
//! execution"), so every path from bytes to a module goes through `Envelope::open`, and
//! wasmtime is only called by `deserialize_bytes` and `deserialize_file`, after it.
//!
//! An artifact is wasmtime's payload followed by a trailer of `TRAILER` bytes
//! (little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `\x7fpackr\x00A` |
//! | 8 | 4 | format version, 1 |
//! | 12 | 4 | flags: bit 0 set when the tag is a MAC |
//! | 16 | 8 | the payload's length |
//! | 24 | 16 | the engine's id (`engine_id`) |
//! | 40 | 32 | BLAKE3 of the wasm the code was compiled from |
//! | 72 | 24 | zero |
//! | 96 | 32 | the tag over the payload and the trailer's first 96 bytes: XXH3-128 and 16 zero bytes, or keyed BLAKE3 |
//!
//! A trailer rather than a header so that the file as a whole is what wasmtime maps: its
//! ELF reader ignores what follows its sections.

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

use wasmtime::{Engine, Module};

use crate::boundary::{arg, arg_mut, guard, slice, ArcHandle, Out};
use crate::bytes::packr_bytes;
use crate::error::{cause_chain, packr_status, Error, Result, PACKR_ERR_ARTIFACT, PACKR_ERR_INVALID_ARGUMENT, PACKR_ERR_RESOURCE};
use crate::module::packr_module;
use crate::runtime::packr_runtime;

pub(crate) const TRAILER: usize = 128;
const MAGIC: [u8; 8] = *b"\x7fpackr\x00A";
const VERSION: u32 = 1;
const FLAG_KEYED: u32 = 1;
/// Where the tag starts: it covers everything before it.
const TAG_AT: usize = 96;
/// The shortest key a host may give.
pub(crate) const MIN_KEY: usize = 16;

/// A host's key, stretched to the 32 bytes keyed BLAKE3 takes.
#[derive(Clone)]
pub(crate) struct Key {
    mac: [u8; 32],
    /// Names the key in cache file names, so caches with different keys never fight over
    /// one file; derived separately, so it says nothing about `mac`.
    pub(crate) id: [u8; 4],
}

impl Key {
    pub(crate) fn new(key: &[u8], what: &str) -> Result<Self> {
        if key.len() < MIN_KEY {
            return Err(Error::new(
                PACKR_ERR_INVALID_ARGUMENT,
                format!("`{what}` is {} bytes; a key must be at least {MIN_KEY}", key.len()),
            ));
        }
        let id = blake3::derive_key("packr 2026-12 artifact key id", key);
        Ok(Key { mac: blake3::derive_key("packr 2026-12 artifact MAC key", key), id: [id[0], id[1], id[2], id[3]] })
    }
}

/// What an engine's code must match to run on another engine: wasmtime's compatibility hash
/// (its version and every setting that changes the code) and packr's version, condensed.
pub(crate) fn engine_id(engine: &Engine) -> [u8; 16] {
    struct Feed(blake3::Hasher);
    impl Hasher for Feed {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            0
        }
    }
    let mut feed = Feed(blake3::Hasher::new_derive_key("packr 2026-12 artifact engine id"));
    feed.0.update(env!("CARGO_PKG_VERSION").as_bytes());
    engine.precompile_compatibility_hash().hash(&mut feed);
    let id = feed.0.finalize();
    id.as_bytes()[..16].try_into().expect("16 of 32 bytes")
}

fn rejected(why: impl std::fmt::Display) -> Error {
    Error::new(PACKR_ERR_ARTIFACT, format!("artifact rejected: {why}"))
}

fn too_short(len: usize) -> Error {
    rejected(format_args!("truncated: {len} bytes, shorter than the {TRAILER}-byte trailer every artifact ends with"))
}

/// The tag over `payload` and `head` (the trailer before the tag).
fn tag(payload: &[u8], head: &[u8], key: Option<&Key>) -> [u8; 32] {
    match key {
        Some(key) => *blake3::Hasher::new_keyed(&key.mac).update(payload).update(head).finalize().as_bytes(),
        None => {
            let mut hasher = xxhash_rust::xxh3::Xxh3::new();
            hasher.update(payload);
            hasher.update(head);
            let mut tag = [0; 32];
            tag[..16].copy_from_slice(&hasher.digest128().to_le_bytes());
            tag
        }
    }
}

/// What an artifact must be to be opened.
pub(crate) struct Expect<'a> {
    pub(crate) engine: [u8; 16],
    pub(crate) key: Option<&'a Key>,
    /// The wasm it must have been compiled from, when the caller knows it (a cache does).
    pub(crate) wasm: Option<&'a [u8; 32]>,
}

/// A verified artifact's facts.
pub(crate) struct Opened {
    pub(crate) payload_len: usize,
    pub(crate) wasm_hash: [u8; 32],
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// `payload` (wasmtime's serialized code, compiled by an engine whose id is `engine` from
/// wasm whose BLAKE3 is `wasm_hash`) with its trailer appended.
pub(crate) fn seal(mut payload: Vec<u8>, engine: [u8; 16], wasm_hash: &[u8; 32], key: Option<&Key>) -> Vec<u8> {
    let mut trailer = [0u8; TRAILER];
    trailer[0..8].copy_from_slice(&MAGIC);
    trailer[8..12].copy_from_slice(&VERSION.to_le_bytes());
    trailer[12..16].copy_from_slice(&(if key.is_some() { FLAG_KEYED } else { 0 }).to_le_bytes());
    trailer[16..24].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    trailer[24..40].copy_from_slice(&engine);
    trailer[40..72].copy_from_slice(wasm_hash);
    let tag = tag(&payload, &trailer[..TAG_AT], key);
    trailer[TAG_AT..].copy_from_slice(&tag);
    payload.extend_from_slice(&trailer);
    payload
}

/// Checks every field of the artifact `bytes` against `expect`, the tag last (it covers the
/// rest), and names the first check that fails.
pub(crate) fn open(bytes: &[u8], expect: &Expect) -> Result<Opened> {
    if bytes.len() < TRAILER {
        return Err(too_short(bytes.len()));
    }
    let (payload, trailer) = bytes.split_at(bytes.len() - TRAILER);
    if trailer[0..8] != MAGIC {
        return Err(rejected("not a packr artifact (its trailer has no packr magic; truncated, padded or another format)"));
    }
    let version = u32_at(trailer, 8);
    if version != VERSION {
        return Err(rejected(format_args!("format version {version}; this packr reads version {VERSION}")));
    }
    let flags = u32_at(trailer, 12);
    if flags & !FLAG_KEYED != 0 {
        return Err(rejected(format_args!("unknown flags {flags:#x}")));
    }
    let declared = u64::from_le_bytes(trailer[16..24].try_into().expect("8 bytes"));
    if declared != payload.len() as u64 {
        return Err(rejected(format_args!(
            "truncated or padded: the trailer says {declared} bytes of code, {} are there",
            payload.len()
        )));
    }
    match (flags & FLAG_KEYED != 0, expect.key.is_some()) {
        (true, false) => return Err(rejected("it is signed with a key, and none was given to check it")),
        (false, true) => return Err(rejected("it was written without a key, and a key was given: only signed artifacts are accepted")),
        _ => {}
    }
    if trailer[24..40] != expect.engine {
        return Err(rejected(
            "made by an engine with other settings, or by another version of packr or wasmtime, than this runtime's",
        ));
    }
    let wasm_hash: [u8; 32] = trailer[40..72].try_into().expect("32 bytes");
    if let Some(wasm) = expect.wasm
        && *wasm != wasm_hash
    {
        return Err(rejected("compiled from other wasm than the module asked for"));
    }
    if trailer[72..TAG_AT].iter().any(|&b| b != 0) {
        return Err(rejected("reserved trailer bytes are not zero"));
    }
    let expected = tag(payload, &trailer[..TAG_AT], expect.key);
    let found: [u8; 32] = trailer[TAG_AT..].try_into().expect("32 bytes");
    match expect.key {
        // `blake3::Hash` compares in constant time: a MAC check must not leak how much matched.
        Some(_) if blake3::Hash::from(expected) != blake3::Hash::from(found) => {
            Err(rejected("MAC mismatch: signed with another key, or changed since it was signed"))
        }
        None if expected != found => Err(rejected("checksum mismatch: the artifact is damaged")),
        _ => Ok(Opened { payload_len: payload.len(), wasm_hash }),
    }
}

#[cfg(test)]
thread_local! {
    /// How many times this thread handed wasmtime bytes to deserialize: the mutation tests
    /// check that no rejected artifact ever got that far.
    pub(crate) static WASMTIME_READS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn count_read() {
    #[cfg(test)]
    WASMTIME_READS.set(WASMTIME_READS.get() + 1);
}

fn load_failed(err: &wasmtime::Error) -> Error {
    // The envelope was intact, so wasmtime refusing the payload means the writer itself
    // sealed something wasmtime cannot load: still an artifact problem, never a crash.
    rejected(format_args!("verified, but wasmtime refused its code: {}", cause_chain(err)))
}

/// A module bound to `runtime` from the artifact `bytes`.
pub(crate) fn deserialize_bytes(runtime: Arc<packr_runtime>, bytes: &[u8], key: Option<&Key>) -> Result<packr_module> {
    let opened = open(bytes, &Expect { engine: engine_id(runtime.engine()), key, wasm: None })?;
    count_read();
    // SAFETY: the bytes are an artifact this engine's packr sealed, unchanged since (`open`
    // checked the engine, the length and the checksum or MAC); `Module::deserialize` copies them.
    let module = unsafe { Module::deserialize(runtime.engine(), &bytes[..opened.payload_len]) }.map_err(|e| load_failed(&e))?;
    Ok(packr_module::from_code(runtime, module, opened.wasm_hash))
}

/// A read-only private mapping of a whole file, unmapped on drop.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    fn of(file: &File, len: usize) -> std::io::Result<Self> {
        // SAFETY: a fresh mapping of `len` bytes of an open file; nothing else aliases it.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr.cast(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are the mapping `of` made.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// Whether nobody but this process's user (or root) can change `file` in place: a regular
/// file of ours, with no write permission for anyone, and no other name. packr writes its
/// artifacts that way (a temporary file renamed into place) and never opens one for writing
/// again. Only such a file is mapped directly; any other is copied before it is checked.
fn unchangeable(meta: &std::fs::Metadata) -> bool {
    // SAFETY: geteuid cannot fail.
    meta.is_file() && meta.uid() == unsafe { libc::geteuid() } && meta.mode() & 0o222 == 0 && meta.nlink() == 1
}

/// A sealed in-memory copy of `file`: nothing can change it once this returns.
fn sealed_copy(file: &mut File) -> std::io::Result<File> {
    // SAFETY: memfd_create with a static name; a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(c"packr-artifact".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor this function owns.
    let mut copy = unsafe { File::from_raw_fd(fd) };
    file.seek(SeekFrom::Start(0))?;
    std::io::copy(file, &mut copy)?;
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on a descriptor we own.
    if unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(copy)
}

/// Why loading an artifact file did not give a module: it failed verification, or the
/// file system failed.
pub(crate) enum FileMiss {
    Rejected(Error),
    Io(String),
}

/// A module bound to `runtime` from the artifact file `file` (opened for reading from
/// `path`, which names it in messages), verified against `expect`. A file only packr's user can change in
/// place (`unchangeable`) is checked through a mapping and then mapped by wasmtime as it
/// is; any other, and every file when a key is expected, is first copied into sealed memory,
/// so what was checked is exactly what runs.
pub(crate) fn deserialize_file(
    runtime: Arc<packr_runtime>,
    mut file: File,
    path: &std::path::Path,
    expect: &Expect,
) -> std::result::Result<packr_module, FileMiss> {
    let io = |e: std::io::Error| FileMiss::Io(format!("cannot read {}: {e}", path.display()));
    let meta = file.metadata().map_err(io)?;
    let len = if expect.key.is_some() || !unchangeable(&meta) {
        file = sealed_copy(&mut file).map_err(io)?;
        file.metadata().map_err(io)?.len()
    } else {
        meta.len()
    };
    let len = usize::try_from(len).map_err(|_| FileMiss::Rejected(rejected("larger than memory")))?;
    if len < TRAILER {
        return Err(FileMiss::Rejected(too_short(len)));
    }
    let opened = {
        let mapping = Mapping::of(&file, len).map_err(io)?;
        open(mapping.bytes(), expect).map_err(FileMiss::Rejected)?
    };
    count_read();
    // SAFETY: `file` holds an artifact for this engine, verified just now, that cannot change:
    // it is our own unwritable file or a sealed copy (see above).
    let module = unsafe { Module::deserialize_open_file(runtime.engine(), file) }.map_err(|e| FileMiss::Rejected(load_failed(&e)))?;
    Ok(packr_module::from_code(runtime, module, opened.wasm_hash))
}

/// `module`'s code sealed in an artifact for its engine.
pub(crate) fn serialize(module: &packr_module, key: Option<&Key>) -> Result<Vec<u8>> {
    let payload = module
        .compiled
        .module
        .serialize()
        .map_err(|e| Error::new(PACKR_ERR_RESOURCE, format!("cannot serialize the module: {}", cause_chain(&e))))?;
    Ok(seal(payload, engine_id(module.runtime.engine()), &module.compiled.wasm_hash, key))
}

/// The host's key, if it gave one, checked.
unsafe fn host_key(key: Option<(*const u8, usize)>) -> Result<Option<Key>> {
    match key {
        Some((key, key_len)) => Ok(Some(Key::new(unsafe { slice(key, key_len, "key") }?, "key")?)),
        None => Ok(None),
    }
}

unsafe fn serialize_ffi(module: *const packr_module, key: Option<(*const u8, usize)>, bytes_out: *mut packr_bytes) -> packr_status {
    guard(|| {
        let module = unsafe { arg(module, "module") }?;
        let key = unsafe { host_key(key) }?;
        let out = unsafe { arg_mut(bytes_out, "bytes_out") }?;
        *out = packr_bytes::from_vec(serialize(module, key.as_ref())?);
        Ok(())
    })
}

/// Serializes `module`'s compiled code into an artifact that `packr_module_deserialize` (in
/// this process or another, on a machine of the same target) turns back into the module
/// without compiling.
///
/// The artifact is wasmtime's serialized code followed by a 128-byte trailer: a magic and
/// format version, the engine's id (wasmtime's compatibility hash of its version and every
/// code-changing setting, with packr's version), the BLAKE3 hash of the wasm the module was
/// compiled from, the code's length, and an XXH3-128 checksum over all of it.
///
/// What the checksum protects against: damage (flipped bits, truncated or partial writes,
/// files mixed up) and artifacts from another engine setup or version; each is rejected
/// with `PACKR_ERR_ARTIFACT` before wasmtime reads a byte. What it does not protect against:
/// someone who can write the artifact on purpose can compute the checksum too and make
/// packr run code of their choosing. Where artifacts cross a trust boundary, sign them with
/// `packr_module_serialize_keyed`.
///
/// On success writes the bytes to `*bytes_out`; the caller frees them with
/// `packr_bytes_free`. The artifact is about three times the size of the wasm.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` if an argument is NULL; `PACKR_ERR_RESOURCE`
/// if wasmtime cannot serialize the code.
///
/// Thread-safe: `module` may be in use on other threads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_serialize(module: *const packr_module, bytes_out: *mut packr_bytes) -> packr_status {
    unsafe { serialize_ffi(module, None, bytes_out) }
}

/// Like `packr_module_serialize`, but the tag is a MAC: keyed BLAKE3 under `key` (`key_len`
/// bytes, at least 16, read during the call only). Only `packr_module_deserialize_keyed`
/// with the same key accepts the artifact, so someone who can change it but does not hold
/// the key cannot make packr run code of their choosing.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` if an argument is NULL;
/// `PACKR_ERR_INVALID_ARGUMENT` if the key is shorter than 16 bytes; `PACKR_ERR_RESOURCE` as
/// for `packr_module_serialize`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_serialize_keyed(
    module: *const packr_module,
    key: *const u8,
    key_len: usize,
    bytes_out: *mut packr_bytes,
) -> packr_status {
    unsafe { serialize_ffi(module, Some((key, key_len)), bytes_out) }
}

unsafe fn deserialize_ffi(
    runtime: *const packr_runtime,
    key: Option<(*const u8, usize)>,
    bytes: *const u8,
    len: usize,
    module_out: *mut *mut packr_module,
) -> packr_status {
    guard(|| {
        unsafe { arg(runtime, "runtime") }?;
        let key = unsafe { host_key(key) }?;
        let bytes = unsafe { slice(bytes, len, "bytes") }?;
        let out = Out::new(module_out, "module_out")?;
        let runtime = unsafe { ArcHandle::to_arc(runtime) };
        let module = deserialize_bytes(runtime, bytes, key.as_ref())?;
        out.write(ArcHandle::into_raw(Arc::new(module)).cast_mut());
        Ok(())
    })
}

/// Turns an artifact of `packr_module_serialize` (`len` bytes at `bytes`, read during the
/// call only) back into a module bound to `runtime`, without compiling. The module behaves
/// exactly as the one serialized: instantiate, clone, wrap and free it as any other.
///
/// Every field of the trailer and the checksum are verified before wasmtime reads a byte;
/// see `packr_module_serialize` for what that does and does not protect against.
///
/// On success writes a new module to `*module_out`; the caller owns it and frees it with
/// `packr_module_free`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` if `runtime` or `module_out` is NULL, or
/// `bytes` is NULL with a non-zero length; `PACKR_ERR_ARTIFACT` naming the check that failed
/// if the bytes are truncated, damaged, not an artifact, from an engine with other settings
/// or another packr or wasmtime version, or signed with a key (use
/// `packr_module_deserialize_keyed`).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_deserialize(
    runtime: *const packr_runtime,
    bytes: *const u8,
    len: usize,
    module_out: *mut *mut packr_module,
) -> packr_status {
    unsafe { deserialize_ffi(runtime, None, bytes, len, module_out) }
}

/// Like `packr_module_deserialize` for artifacts of `packr_module_serialize_keyed`: the MAC
/// is checked under `key` (`key_len` bytes, at least 16). An artifact written without a
/// key, or with another key, is `PACKR_ERR_ARTIFACT`.
///
/// Returns as `packr_module_deserialize`, and `PACKR_ERR_INVALID_ARGUMENT` if the key is
/// shorter than 16 bytes.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_module_deserialize_keyed(
    runtime: *const packr_runtime,
    key: *const u8,
    key_len: usize,
    bytes: *const u8,
    len: usize,
    module_out: *mut *mut packr_module,
) -> packr_status {
    unsafe { deserialize_ffi(runtime, Some((key, key_len)), bytes, len, module_out) }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bytes::packr_bytes_free;
    use crate::config::packr_config_set_fuel;
    use crate::error::{PACKR_ERR_NULL_POINTER, PACKR_OK};
    use crate::instance::packr_instance_call;
    use crate::testutil::{i32v, last_error, Host};
    use std::ptr;

    pub(crate) const CALC: &str = include_str!("../tests/cases/calc.wat");
    const KEY: &[u8] = b"a host key of at least sixteen bytes";

    pub(crate) fn add(host: &mut Host, module: *const packr_module) -> i32 {
        let instance = host.instantiate(module);
        let mut out = [i32v(0)];
        let status = unsafe { packr_instance_call(instance, c"add".as_ptr(), [i32v(2), i32v(40)].as_ptr(), 2, out.as_mut_ptr(), 1) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        unsafe { out[0].of.i32 }
    }

    fn serialize(module: *const packr_module, key: Option<&[u8]>) -> Vec<u8> {
        let mut bytes = packr_bytes { data: ptr::null_mut(), len: 0 };
        let status = match key {
            Some(k) => unsafe { packr_module_serialize_keyed(module, k.as_ptr(), k.len(), &mut bytes) },
            None => unsafe { packr_module_serialize(module, &mut bytes) },
        };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        let copy = unsafe { std::slice::from_raw_parts(bytes.data, bytes.len) }.to_vec();
        unsafe { packr_bytes_free(&mut bytes) };
        copy
    }

    fn deserialize(rt: *const packr_runtime, key: Option<&[u8]>, bytes: &[u8]) -> std::result::Result<*mut packr_module, (packr_status, String)> {
        let mut module = ptr::null_mut();
        let status = match key {
            Some(k) => unsafe { packr_module_deserialize_keyed(rt, k.as_ptr(), k.len(), bytes.as_ptr(), bytes.len(), &mut module) },
            None => unsafe { packr_module_deserialize(rt, bytes.as_ptr(), bytes.len(), &mut module) },
        };
        if status == PACKR_OK { Ok(module) } else { Err((status, last_error())) }
    }

    fn refused(rt: *const packr_runtime, key: Option<&[u8]>, bytes: &[u8]) -> String {
        let (status, message) = deserialize(rt, key, bytes).expect_err("the artifact was accepted");
        assert_eq!(status, PACKR_ERR_ARTIFACT, "{message}");
        message
    }

    #[test]
    fn a_module_round_trips_into_another_engine_with_the_same_settings() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, CALC);
        let bytes = serialize(module, None);
        let other = host.runtime();
        let copy = host.keep_module(deserialize(other, None, &bytes).expect("deserialize"));
        assert_eq!(add(&mut host, copy), 42);
        // A deserialized module serializes to the same artifact: its wasm hash came along.
        assert_eq!(serialize(copy, None), bytes);
    }

    #[test]
    fn keys_sign_and_check_artifacts() {
        let mut host = Host::default();
        let rt = host.runtime();
        let module = host.load(rt, CALC);
        let signed = serialize(module, Some(KEY));
        let copy = host.keep_module(deserialize(rt, Some(KEY), &signed).expect("deserialize"));
        assert_eq!(add(&mut host, copy), 42);
        assert!(refused(rt, Some(b"another key, also sixteen bytes"), &signed).contains("MAC mismatch"));
        assert!(refused(rt, None, &signed).contains("signed with a key"));
        assert!(refused(rt, Some(KEY), &serialize(module, None)).contains("without a key"));
        // An unkeyed checksum recomputed over a signed artifact's fields is no MAC.
        let mut forged = serialize(module, None);
        let at = forged.len() - TRAILER + 12;
        forged[at] = FLAG_KEYED as u8;
        assert!(refused(rt, Some(KEY), &forged).contains("MAC mismatch"));
        let mut bytes = packr_bytes { data: ptr::null_mut(), len: 0 };
        assert_eq!(unsafe { packr_module_serialize_keyed(module, KEY.as_ptr(), 15, &mut bytes) }, PACKR_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("at least 16"), "{}", last_error());
        assert!(bytes.data.is_null());
    }

    #[test]
    fn an_engine_with_other_settings_refuses_the_artifact() {
        let mut host = Host::default();
        let rt = host.runtime();
        let bytes = serialize(host.load(rt, CALC), None);
        let fuel = host.runtime_with(|c| assert_eq!(unsafe { packr_config_set_fuel(c, true) }, PACKR_OK));
        assert!(refused(fuel, None, &bytes).contains("engine with other settings"));
    }

    #[test]
    fn null_arguments_are_refused_and_leave_the_out_parameter() {
        let mut host = Host::default();
        let rt = host.runtime();
        let mut module = ptr::dangling_mut();
        assert_eq!(unsafe { packr_module_deserialize(rt, ptr::null(), 5, &mut module) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(unsafe { packr_module_deserialize(ptr::null(), b"x".as_ptr(), 1, &mut module) }, PACKR_ERR_NULL_POINTER);
        assert_eq!(module, ptr::dangling_mut());
        assert_eq!(unsafe { packr_module_serialize(ptr::null(), ptr::null_mut()) }, PACKR_ERR_NULL_POINTER);
        assert!(refused(rt, None, b"").contains("truncated: 0 bytes"));
    }

    /// Every single-byte change and every truncation of a real artifact is refused before
    /// wasmtime reads it.
    #[test]
    fn every_flipped_byte_and_every_truncation_is_rejected_before_wasmtime_reads() {
        let mut host = Host::default();
        let rt = host.runtime();
        for key in [None, Some(KEY)] {
            let bytes = serialize(host.load(rt, CALC), key);
            let reads = WASMTIME_READS.get();
            let mut mutations = 0;
            let mut mutated = bytes.clone();
            for at in 0..bytes.len() {
                for flip in [0x01, 0x80, 0xff] {
                    mutated[at] ^= flip;
                    refused(rt, key, &mutated);
                    mutated[at] ^= flip;
                    mutations += 1;
                }
            }
            for len in 0..bytes.len() {
                refused(rt, key, &bytes[..len]);
                mutations += 1;
            }
            let mut padded = bytes.clone();
            padded.push(0);
            refused(rt, key, &padded);
            assert!(mutations > 10_000, "{mutations}");
            eprintln!("{mutations} mutations of a {}-byte artifact ({}) rejected", bytes.len(), if key.is_some() { "keyed" } else { "checksum" });
            assert_eq!(WASMTIME_READS.get(), reads, "wasmtime read a mutated artifact");
            host.keep_module(deserialize(rt, key, &bytes).expect("the intact artifact"));
            assert_eq!(WASMTIME_READS.get(), reads + 1, "the counter counts");
        }
    }
}
