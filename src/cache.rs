//! The compile cache on disk: artifacts in a directory, named by what they were compiled from
//! and for, so the compile is paid once per machine rather than once per process.
//!
//! A file is `<wasm>-<engine>[-k<key id>].packr`: 32 hex digits of the wasm's BLAKE3, 16 of
//! the engine's id, and with a key 8 of the key's id. It is written to a temporary file and
//! renamed into place, read-only, so a reader sees a whole artifact or none; a crash or a
//! full disk leaves at worst a damaged file that verification rejects, which is why packr
//! never needs to `fsync`. A lock file beside it (`flock`) lets the loaders of a module that
//! is not there yet wait for one compile instead of each compiling it.

use std::ffi::{c_char, CStr, CString, OsStr};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::artifact::{self, Expect, FileMiss, Key};
use crate::boundary::{arg, arg_mut, guard, guard_value, slice, ArcHandle, BoxHandle, Out};
use crate::bytes::packr_bytes;
use crate::error::{packr_status, Error, Result, PACKR_ERR_INVALID_ARGUMENT};
use crate::module::packr_module;
use crate::runtime::packr_runtime;

const SUFFIX: &str = ".packr";
/// A temporary file older than this was left by a writer that died; eviction removes it.
const STALE_TEMP: Duration = Duration::from_secs(600);

/// Options for `packr_cache_open_with`. Underneath it is a `Box` the host owns; the cache
/// copies what it needs when it opens, so the options may be freed right after.
///
/// Thread rules: may move between threads; must not be changed by two threads at once.
#[derive(Default)]
pub struct packr_cache_options {
    key: Option<Key>,
    max_bytes: u64,
}

impl BoxHandle for packr_cache_options {}

/// What a cache has done, as `packr_cache_get_stats` reports it. The counters are this cache
/// handle's, since it was opened; `bytes_on_disk` and `files` describe the directory as it
/// is, whoever wrote it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct packr_cache_stats {
    /// Loads served from a verified artifact.
    pub hits: u64,
    /// Loads that compiled (no artifact, or one that was rejected).
    pub misses: u64,
    /// Artifacts that failed verification, each then recompiled and replaced.
    pub rejected: u64,
    /// Artifacts written.
    pub stored: u64,
    /// Artifacts removed to keep the directory within its size limit.
    pub evicted: u64,
    /// File-system failures that made a load compile or left an artifact unwritten.
    pub errors: u64,
    /// The total size of the artifacts in the directory now.
    pub bytes_on_disk: u64,
    /// How many artifacts are in the directory now.
    pub files: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    stored: AtomicU64,
    evicted: AtomicU64,
    errors: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A compile cache in a directory, shared by every process that opens the same directory.
///
/// Underneath it is a `Box` the host owns. Modules a cache returns do not depend on it: they
/// stay valid after `packr_cache_free`.
///
/// Thread rules: a cache may be used by any number of threads at once; each load is safe
/// against other threads and other processes loading, storing and evicting in the same
/// directory.
pub struct packr_cache {
    dir: PathBuf,
    dir_c: CString,
    key: Option<Key>,
    max_bytes: u64,
    counters: Counters,
    problem: Mutex<Option<String>>,
    /// Makes this process's temporary file names unique.
    temp_seq: AtomicU64,
}

impl BoxHandle for packr_cache {}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl packr_cache {
    fn open(dir: &Path, options: &packr_cache_options) -> Self {
        let cache = packr_cache {
            dir: dir.to_path_buf(),
            dir_c: CString::new(dir.as_os_str().as_bytes()).expect("from a C string"),
            key: options.key.clone(),
            max_bytes: options.max_bytes,
            counters: Counters::default(),
            problem: Mutex::new(None),
            temp_seq: AtomicU64::new(0),
        };
        if let Err(e) = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
            // Not fatal: every load compiles until the directory can be written.
            cache.trouble(format!("cannot create the cache directory {}: {e}", dir.display()));
        }
        cache
    }

    /// Records a file-system failure: counted, and the message kept for the host.
    fn trouble(&self, message: String) {
        bump(&self.counters.errors);
        self.note(message);
    }

    fn note(&self, message: String) {
        *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
    }

    fn file_name(&self, wasm_hash: &[u8; 32], engine: &[u8; 16]) -> String {
        let key = self.key.as_ref().map(|k| format!("-k{}", hex(&k.id))).unwrap_or_default();
        format!("{}-{}{key}{SUFFIX}", hex(&wasm_hash[..16]), hex(&engine[..8]))
    }

    pub(crate) fn load(&self, runtime: Arc<packr_runtime>, wasm: &[u8]) -> Result<packr_module> {
        let wasm_hash = *blake3::hash(wasm).as_bytes();
        let engine = artifact::engine_id(runtime.engine());
        let name = self.file_name(&wasm_hash, &engine);
        let path = self.dir.join(&name);
        let expect = Expect { engine, key: self.key.as_ref(), wasm: Some(&wasm_hash) };
        let refused = match self.hit(&runtime, &path, &expect) {
            Ok(module) => return Ok(module),
            Err(refused) => refused,
        };
        // Not there (or refused): wait for whoever compiles it now, then look again before
        // compiling, unless the file there is still the one just refused.
        let _lock = self.lock(&name);
        let same = |meta: std::fs::Metadata| refused == Some((meta.dev(), meta.ino()));
        if !std::fs::metadata(&path).is_ok_and(same)
            && let Ok(module) = self.hit(&runtime, &path, &expect)
        {
            return Ok(module);
        }
        bump(&self.counters.misses);
        let module = packr_module::load(runtime, wasm)?;
        self.store(&path, &module);
        Ok(module)
    }

    /// The module from the artifact at `path`, if one is there and passes verification;
    /// otherwise the device and inode of the file that was there and was refused, if any.
    fn hit(&self, runtime: &Arc<packr_runtime>, path: &Path, expect: &Expect) -> std::result::Result<packr_module, Option<(u64, u64)>> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(None),
            Err(e) => {
                self.trouble(format!("cannot open {}: {e}", path.display()));
                return Err(None);
            }
        };
        let id = file.metadata().ok().map(|m| (m.dev(), m.ino()));
        // Marks it used now, for eviction; a file another user owns keeps its time.
        // SAFETY: futimens on an open descriptor; NULL means now.
        unsafe { libc::futimens(file.as_raw_fd(), std::ptr::null()) };
        match artifact::deserialize_file(Arc::clone(runtime), file, path, expect) {
            Ok(module) => {
                bump(&self.counters.hits);
                Ok(module)
            }
            Err(FileMiss::Rejected(err)) => {
                bump(&self.counters.rejected);
                self.note(format!("{}: {}", path.display(), err.message));
                Err(id)
            }
            Err(FileMiss::Io(message)) => {
                self.trouble(message);
                Err(id)
            }
        }
    }

    /// An exclusive lock on `name`'s lock file, held until the result drops; None (after
    /// recording why) where the file system cannot lock, so loads still work, unserialized.
    fn lock(&self, name: &str) -> Option<File> {
        let path = self.dir.join(format!("{name}.lock"));
        let file = match OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).custom_flags(libc::O_CLOEXEC).open(&path) {
            Ok(file) => file,
            Err(e) => {
                self.trouble(format!("cannot open the lock file {}: {e}", path.display()));
                return None;
            }
        };
        loop {
            // SAFETY: flock on an open descriptor; the lock ends when the file is closed.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Some(file);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                self.trouble(format!("cannot lock {}: {e}", path.display()));
                return None;
            }
        }
    }

    /// Writes `module`'s artifact to `path`; a failure is recorded, never returned: the
    /// module is there either way.
    fn store(&self, path: &Path, module: &packr_module) {
        let bytes = match artifact::serialize(module, self.key.as_ref()) {
            Ok(bytes) => bytes,
            Err(err) => return self.trouble(err.message.into_owned()),
        };
        let temp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            path.file_name().map(OsStr::to_string_lossy).unwrap_or_default(),
            std::process::id(),
            self.temp_seq.fetch_add(1, Ordering::Relaxed)
        ));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .custom_flags(libc::O_CLOEXEC)
            .open(&temp)
            .and_then(|mut file| file.write_all(&bytes))
            .and_then(|()| std::fs::rename(&temp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return self.trouble(format!("cannot store {}: {e}", path.display()));
        }
        bump(&self.counters.stored);
        if self.max_bytes != 0 {
            self.evict(path);
        }
    }

    /// Every artifact in the directory with its size and last use.
    fn artifacts(&self) -> std::io::Result<Vec<(PathBuf, u64, SystemTime)>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Ok(meta) = entry.metadata() else { continue };
            let path = entry.path();
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if name.as_bytes().ends_with(SUFFIX.as_bytes()) && meta.is_file() {
                found.push((path, meta.len(), modified));
            } else if name.as_bytes().starts_with(b".")
                && name.as_bytes().ends_with(b".tmp")
                && modified.elapsed().is_ok_and(|age| age > STALE_TEMP)
            {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(found)
    }

    /// Removes the least recently used artifacts until the directory is within its limit,
    /// never `keep` (the one just stored), so a single artifact above the limit stays.
    fn evict(&self, keep: &Path) {
        let mut found = match self.artifacts() {
            Ok(found) => found,
            Err(e) => return self.trouble(format!("cannot list the cache directory {}: {e}", self.dir.display())),
        };
        let mut total: u64 = found.iter().map(|(_, len, _)| len).sum();
        found.sort_by_key(|(_, _, used)| *used);
        for (path, len, _) in found {
            if total <= self.max_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    bump(&self.counters.evicted);
                    let mut lock = path.into_os_string();
                    lock.push(".lock");
                    let _ = std::fs::remove_file(lock);
                }
                // Another process evicted it first: it is gone all the same.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    self.trouble(format!("cannot evict {}: {e}", path.display()));
                    continue;
                }
            }
            total -= len;
        }
    }

    fn stats(&self) -> packr_cache_stats {
        let c = &self.counters;
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let (bytes_on_disk, files) = match self.artifacts() {
            Ok(found) => (found.iter().map(|(_, len, _)| len).sum(), found.len() as u64),
            Err(_) => (0, 0),
        };
        packr_cache_stats {
            hits: load(&c.hits),
            misses: load(&c.misses),
            rejected: load(&c.rejected),
            stored: load(&c.stored),
            evicted: load(&c.evicted),
            errors: load(&c.errors),
            bytes_on_disk,
            files,
        }
    }
}

/// Creates cache options with every option at its default: no key, no size limit.
///
/// On success writes them to `*options_out`; the caller owns them and frees them with
/// `packr_cache_options_free`.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_options_new(options_out: *mut *mut packr_cache_options) -> packr_status {
    guard(|| {
        let out = Out::new(options_out, "options_out")?;
        out.write(packr_cache_options::default().into_raw());
        Ok(())
    })
}

/// Frees cache options. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_options_free(options: *mut packr_cache_options) {
    guard_value((), || {
        unsafe { BoxHandle::free_raw(options) };
        Ok(())
    })
}

/// Signs the cache's artifacts with `key` (`key_len` bytes, at least 16, copied): each
/// artifact's tag becomes a keyed BLAKE3 MAC, and artifacts without a valid MAC under this
/// key are rejected (and recompiled), so someone who can write the cache directory but does
/// not hold the key cannot make packr run code of their choosing. A keyed cache copies
/// each artifact into sealed memory before checking it, so the file cannot change between
/// the check and its use; hits cost a copy more than without a key.
///
/// Caches with different keys (or none) may share a directory: their files have different
/// names.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` if `options` is NULL, or `key` is NULL with
/// a non-zero length; `PACKR_ERR_INVALID_ARGUMENT` if the key is shorter than 16 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_options_set_key(options: *mut packr_cache_options, key: *const u8, key_len: usize) -> packr_status {
    guard(|| {
        let options = unsafe { arg_mut(options, "options") }?;
        options.key = Some(Key::new(unsafe { slice(key, key_len, "key") }?, "key")?);
        Ok(())
    })
}

/// Bounds the directory's artifacts to `bytes` in all: after storing an artifact, the
/// cache removes the least recently used ones (by the time a load last used them, in any
/// process) until the rest fit, never the one just stored. 0, the default, is no limit.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_options_set_max_bytes(options: *mut packr_cache_options, bytes: u64) -> packr_status {
    guard(|| {
        unsafe { arg_mut(options, "options") }?.max_bytes = bytes;
        Ok(())
    })
}

/// Opens a cache in the directory `dir` (a NUL-terminated path, not necessarily UTF-8),
/// with default options: no key, no size limit. See `packr_cache_open_with`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_open(dir: *const c_char, cache_out: *mut *mut packr_cache) -> packr_status {
    unsafe { packr_cache_open_with(dir, std::ptr::null(), cache_out) }
}

/// Opens a cache in the directory `dir` (a NUL-terminated path, not necessarily UTF-8),
/// creating it (mode 0700, with its parents) if it is missing, with `options` (NULL for the
/// defaults; read during the call only).
///
/// Any number of caches, in this process and others, may use one directory at once. A
/// directory that cannot be created, read or written never makes opening or loading fail:
/// loads then compile, `errors` in `packr_cache_get_stats` counts each failure, and
/// `packr_cache_last_problem` says what went wrong.
///
/// On success writes the cache to `*cache_out`; the caller owns it and frees it with
/// `packr_cache_free`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` if `dir` or `cache_out` is NULL;
/// `PACKR_ERR_INVALID_ARGUMENT` if `dir` is empty.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_open_with(
    dir: *const c_char,
    options: *const packr_cache_options,
    cache_out: *mut *mut packr_cache,
) -> packr_status {
    guard(|| {
        unsafe { arg(dir, "dir") }?;
        let dir = unsafe { CStr::from_ptr(dir) };
        let out = Out::new(cache_out, "cache_out")?;
        if dir.is_empty() {
            return Err(Error::new(PACKR_ERR_INVALID_ARGUMENT, "`dir` is empty; give the cache a directory"));
        }
        let defaults = packr_cache_options::default();
        let options = unsafe { options.as_ref() }.unwrap_or(&defaults);
        let cache = packr_cache::open(Path::new(OsStr::from_bytes(dir.to_bytes())), options);
        out.write(cache.into_raw());
        Ok(())
    })
}

/// Frees a cache. Modules it returned stay valid. NULL is a no-op. Must not be called while
/// another thread is inside a call that uses the cache.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_free(cache: *mut packr_cache) {
    guard_value((), || {
        unsafe { BoxHandle::free_raw(cache) };
        Ok(())
    })
}

/// The module compiled from `wasm_len` bytes at `wasm` (binary or text, read during the call
/// only) for `runtime`'s engine, bound to `runtime`: loaded from the cache's directory when
/// a valid artifact of it is there, otherwise compiled (as `packr_module_load` does) and
/// stored for the next load, in any process.
///
/// An artifact is found by the BLAKE3 hash of `wasm` and the id of `runtime`'s engine
/// (wasmtime's compatibility hash of its version and settings, with packr's version), so
/// runtimes with other settings keep their own artifacts side by side. Before wasmtime reads
/// a byte of an artifact, packr verifies its trailer and its checksum (or, with a key, its
/// MAC) and that it was compiled from these very bytes; see `packr_module_serialize` for what
/// that protects against. A damaged, truncated, foreign or unsigned artifact is never an
/// error here: it is counted (`rejected`), its reason kept for `packr_cache_last_problem`,
/// and the module is compiled and the artifact replaced.
///
/// Concurrent loads of one module, in any threads and processes, wait for a single compile
/// where the file system supports `flock`, and never see a half-written artifact.
///
/// On success writes a new module to `*module_out`; the caller owns it and frees it with
/// `packr_module_free`.
///
/// Returns `PACKR_OK`; `PACKR_ERR_NULL_POINTER` if `cache`, `runtime` or `module_out` is
/// NULL, or `wasm` is NULL with a non-zero length; and on a miss whatever
/// `packr_module_load` returns (`PACKR_ERR_COMPILE` for invalid bytes, `PACKR_ERR_LIMIT`).
///
/// Thread-safe: `cache` and `runtime` may be in use on other threads.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_load(
    cache: *mut packr_cache,
    runtime: *const packr_runtime,
    wasm: *const u8,
    wasm_len: usize,
    module_out: *mut *mut packr_module,
) -> packr_status {
    guard(|| {
        let cache = unsafe { arg(cache.cast_const(), "cache") }?;
        unsafe { arg(runtime, "runtime") }?;
        let wasm = unsafe { slice(wasm, wasm_len, "wasm") }?;
        let out = Out::new(module_out, "module_out")?;
        let runtime = unsafe { ArcHandle::to_arc(runtime) };
        let module = cache.load(runtime, wasm)?;
        out.write(ArcHandle::into_raw(Arc::new(module)).cast_mut());
        Ok(())
    })
}

/// Writes what the cache has done to `*stats_out` (see `packr_cache_stats`). Counting the
/// directory's artifacts reads the directory: call it to observe, not on every load.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_get_stats(cache: *const packr_cache, stats_out: *mut packr_cache_stats) -> packr_status {
    guard(|| {
        let cache = unsafe { arg(cache, "cache") }?;
        let out = Out::new(stats_out, "stats_out")?;
        out.write(cache.stats());
        Ok(())
    })
}

/// Writes the message of the cache's latest problem, a rejected artifact or a file-system
/// failure, as UTF-8 to `*message_out` (the caller frees it with `packr_bytes_free`), or
/// `{NULL, 0}` if there has been none since the cache was opened.
///
/// Returns `PACKR_OK` or `PACKR_ERR_NULL_POINTER`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_last_problem(cache: *const packr_cache, message_out: *mut packr_bytes) -> packr_status {
    guard(|| {
        let cache = unsafe { arg(cache, "cache") }?;
        let out = unsafe { arg_mut(message_out, "message_out") }?;
        let problem = cache.problem.lock().unwrap_or_else(|p| p.into_inner()).clone();
        *out = packr_bytes::from_vec(problem.map(String::into_bytes).unwrap_or_default());
        Ok(())
    })
}

/// The cache's directory as it was given to `packr_cache_open`, NUL-terminated; valid as
/// long as the cache. NULL for a NULL cache. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn packr_cache_dir(cache: *const packr_cache) -> *const c_char {
    guard_value(std::ptr::null(), || Ok(unsafe { cache.as_ref() }.map_or(std::ptr::null(), |c| c.dir_c.as_ptr())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::tests::{add, CALC};
    use crate::bytes::packr_bytes_free;
    use crate::config::packr_config_set_fuel;
    use crate::error::{PACKR_ERR_COMPILE, PACKR_OK};
    use crate::testutil::{last_error, Host};
    use std::os::unix::fs::PermissionsExt;
    use std::ptr;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("packr-cache-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn open(dir: &Path, change: impl FnOnce(*mut packr_cache_options)) -> *mut packr_cache {
        let mut options = ptr::null_mut();
        assert_eq!(unsafe { packr_cache_options_new(&mut options) }, PACKR_OK);
        change(options);
        let dir = CString::new(dir.as_os_str().as_bytes()).unwrap();
        let mut cache = ptr::null_mut();
        assert_eq!(unsafe { packr_cache_open_with(dir.as_ptr(), options, &mut cache) }, PACKR_OK, "{}", last_error());
        unsafe { packr_cache_options_free(options) };
        cache
    }

    fn load(host: &mut Host, cache: *mut packr_cache, rt: *const packr_runtime, wasm: &str) -> *mut packr_module {
        let mut module = ptr::null_mut();
        let status = unsafe { packr_cache_load(cache, rt, wasm.as_ptr(), wasm.len(), &mut module) };
        assert_eq!(status, PACKR_OK, "{}", last_error());
        host.keep_module(module)
    }

    fn stats(cache: *const packr_cache) -> packr_cache_stats {
        let mut stats = packr_cache_stats::default();
        assert_eq!(unsafe { packr_cache_get_stats(cache, &mut stats) }, PACKR_OK);
        stats
    }

    fn problem(cache: *const packr_cache) -> Option<String> {
        let mut bytes = packr_bytes { data: ptr::null_mut(), len: 0 };
        assert_eq!(unsafe { packr_cache_last_problem(cache, &mut bytes) }, PACKR_OK);
        let text = (!bytes.data.is_null()).then(|| String::from_utf8(unsafe { std::slice::from_raw_parts(bytes.data, bytes.len) }.to_vec()).unwrap());
        unsafe { packr_bytes_free(&mut bytes) };
        text
    }

    /// The one artifact file in `dir` whose name holds `part`.
    fn artifact_with(dir: &Path, part: &str) -> PathBuf {
        let found: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension() == Some(OsStr::new("packr")) && p.file_name().unwrap().to_string_lossy().contains(part))
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        found.into_iter().next().unwrap()
    }

    fn artifact(dir: &Path) -> PathBuf {
        artifact_with(dir, "")
    }

    fn overwrite(path: &Path, bytes: &[u8]) {
        let _ = std::fs::remove_file(path);
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_second_cache_on_the_directory_hits_what_the_first_stored() {
        let dir = temp_dir("hit");
        let mut host = Host::default();
        let first = open(&dir, |_| {});
        let rt = host.runtime();
        let compiled = load(&mut host, first, rt, CALC);
        assert_eq!(add(&mut host, compiled), 42);
        let s = stats(first);
        assert_eq!((s.hits, s.misses, s.stored, s.files, s.errors), (0, 1, 1, 1, 0), "{s:?}");
        assert!(s.bytes_on_disk > 0);
        assert_eq!(problem(first), None);
        // Another cache, another runtime and engine (as in a second process): a hit.
        let second = open(&dir, |_| {});
        let other = host.runtime();
        let loaded = load(&mut host, second, other, CALC);
        assert_eq!(add(&mut host, loaded), 42);
        assert_eq!((stats(second).hits, stats(second).misses), (1, 0));
        // packr's own files are read-only and mapped as they are.
        let mode = std::fs::metadata(artifact(&dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o444);
        unsafe { packr_cache_free(first) };
        unsafe { packr_cache_free(second) };
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn damaged_foreign_and_unsigned_artifacts_are_recompiled_and_replaced() {
        let dir = temp_dir("damaged");
        let mut host = Host::default();
        let rt = host.runtime();
        let cache = open(&dir, |_| {});
        load(&mut host, cache, rt, CALC);
        let path = artifact(&dir);
        let good = std::fs::read(&path).unwrap();
        let mut bad = good.clone();
        bad[good.len() / 2] ^= 0x20;
        overwrite(&path, &bad);
        let module = load(&mut host, cache, rt, CALC);
        assert_eq!(add(&mut host, module), 42);
        let s = stats(cache);
        assert_eq!((s.rejected, s.misses, s.stored), (1, 2, 2), "{s:?}");
        assert!(problem(cache).unwrap().contains("checksum mismatch"), "{:?}", problem(cache));
        assert_eq!(std::fs::read(&path).unwrap(), good, "the damaged file was replaced");

        // An artifact of an engine with other settings, under this engine's name.
        let fuel = host.runtime_with(|c| assert_eq!(unsafe { packr_config_set_fuel(c, true) }, PACKR_OK));
        let other_dir = temp_dir("damaged-fuel");
        let fuel_cache = open(&other_dir, |_| {});
        load(&mut host, fuel_cache, fuel, CALC);
        overwrite(&path, &std::fs::read(artifact(&other_dir)).unwrap());
        load(&mut host, cache, rt, CALC);
        assert_eq!(stats(cache).rejected, 2);
        assert!(problem(cache).unwrap().contains("engine with other settings"), "{:?}", problem(cache));

        // A signed cache on the same directory does not take unsigned artifacts, nor another key's.
        let signed = open(&dir, |o| assert_eq!(unsafe { packr_cache_options_set_key(o, b"0123456789abcdef".as_ptr(), 16) }, PACKR_OK));
        load(&mut host, signed, rt, CALC);
        let signed_path = artifact_with(&dir, "-k");
        overwrite(&signed_path, &good);
        load(&mut host, signed, rt, CALC);
        assert!(problem(signed).unwrap().contains("written without a key"), "{:?}", problem(signed));
        let other_key = open(&other_dir, |o| assert_eq!(unsafe { packr_cache_options_set_key(o, b"fedcba9876543210".as_ptr(), 16) }, PACKR_OK));
        load(&mut host, other_key, rt, CALC);
        let other_signed = artifact_with(&other_dir, "-k");
        overwrite(&signed_path, &std::fs::read(other_signed).unwrap());
        let module = load(&mut host, signed, rt, CALC);
        assert_eq!(add(&mut host, module), 42);
        assert_eq!(stats(signed).rejected, 2);
        assert!(problem(signed).unwrap().contains("MAC mismatch"), "{:?}", problem(signed));
        for c in [cache, fuel_cache, signed, other_key] {
            unsafe { packr_cache_free(c) };
        }
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&other_dir);
    }

    #[test]
    fn a_size_limit_evicts_the_least_recently_used() {
        let dir = temp_dir("evict");
        let mut host = Host::default();
        let rt = host.runtime();
        let cache = open(&dir, |_| {});
        let wat = |n: i32| format!("(module (func (export \"n\") (result i32) i32.const {n}))");
        load(&mut host, cache, rt, &wat(1));
        let one = stats(cache).bytes_on_disk;
        unsafe { packr_cache_free(cache) };
        // Room for about two.
        let cache = open(&dir, |o| assert_eq!(unsafe { packr_cache_options_set_max_bytes(o, one * 5 / 2) }, PACKR_OK));
        for n in 2..=4 {
            load(&mut host, cache, rt, &wat(n));
        }
        let s = stats(cache);
        assert_eq!((s.files, s.evicted), (2, 2), "{s:?}");
        assert!(s.bytes_on_disk <= one * 5 / 2);
        // The newest two are the ones left.
        load(&mut host, cache, rt, &wat(4));
        load(&mut host, cache, rt, &wat(3));
        assert_eq!(stats(cache).hits, 2);
        unsafe { packr_cache_free(cache) };
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_directory_that_cannot_be_made_degrades_to_compiling() {
        let file = temp_dir("not-a-dir");
        std::fs::write(&file, b"a file").unwrap();
        let mut host = Host::default();
        let rt = host.runtime();
        let cache = open(&file.join("cache"), |_| {});
        let module = load(&mut host, cache, rt, CALC);
        assert_eq!(add(&mut host, module), 42);
        let s = stats(cache);
        assert_eq!((s.misses, s.stored, s.files), (1, 0, 0), "{s:?}");
        assert!(s.errors >= 2, "{s:?}");
        assert!(problem(cache).unwrap().contains("not-a-dir"), "{:?}", problem(cache));
        // A compile error is still the caller's error.
        let mut out = ptr::null_mut();
        assert_eq!(unsafe { packr_cache_load(cache, rt, b"nope".as_ptr(), 4, &mut out) }, PACKR_ERR_COMPILE);
        assert!(out.is_null());
        unsafe { packr_cache_free(cache) };
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn threads_loading_one_module_compile_it_once() {
        let dir = temp_dir("threads");
        let mut host = Host::default();
        let rt = host.runtime() as usize;
        let cache = open(&dir, |_| {}) as usize;
        let modules: Vec<usize> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(move || {
                        let mut module = ptr::null_mut();
                        let status = unsafe { packr_cache_load(cache as *mut _, rt as *const _, CALC.as_ptr(), CALC.len(), &mut module) };
                        assert_eq!(status, PACKR_OK, "{}", last_error());
                        module as usize
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for m in modules {
            let m = host.keep_module(m as *mut _);
            assert_eq!(add(&mut host, m), 42);
        }
        let s = stats(cache as *const _);
        assert_eq!((s.misses, s.hits, s.stored), (1, 7, 1), "{s:?}");
        unsafe { packr_cache_free(cache as *mut _) };
        let _ = std::fs::remove_dir_all(&dir);
    }
}
