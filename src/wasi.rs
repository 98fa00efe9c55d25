//! WASI preview 1 per instance: the settings an instance config carries, the context each
//! store gets from them, and captured standard output and error.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use wasmtime::Linker;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::{Error, Result, PACKR_ERR_INSTANTIATE, PACKR_ERR_INVALID_ARGUMENT, PACKR_ERR_NOT_FOUND};
use crate::store::StoreData;

/// Where a WASI instance's standard output or error goes: `PACKR_WASI_INHERIT`,
/// `PACKR_WASI_DISCARD` or `PACKR_WASI_CAPTURE`.
pub type packr_wasi_output = u32;

/// The host process's own stream (the default).
pub const PACKR_WASI_INHERIT: packr_wasi_output = 0;
/// Nowhere: writes succeed and the bytes are dropped.
pub const PACKR_WASI_DISCARD: packr_wasi_output = 1;
/// A buffer in the instance, read with `packr_instance_wasi_output`. It holds at most the
/// capture limit (`packr_instance_config_set_wasi_capture_limit`, 1 MiB by default); bytes
/// written while it is full are dropped, newest first, and counted
/// (`packr_instance_wasi_dropped`). The guest's writes succeed either way.
pub const PACKR_WASI_CAPTURE: packr_wasi_output = 2;

/// The capture limit per stream unless a config sets another.
pub(crate) const DEFAULT_CAPTURE_LIMIT: usize = 1 << 20;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Output {
    #[default]
    Inherit,
    Discard,
    Capture,
}

impl Output {
    pub(crate) fn from_raw(mode: packr_wasi_output) -> Result<Self> {
        match mode {
            PACKR_WASI_INHERIT => Ok(Output::Inherit),
            PACKR_WASI_DISCARD => Ok(Output::Discard),
            PACKR_WASI_CAPTURE => Ok(Output::Capture),
            other => Err(Error::new(
                PACKR_ERR_INVALID_ARGUMENT,
                format!("unknown WASI output mode {other}; use PACKR_WASI_INHERIT, PACKR_WASI_DISCARD or PACKR_WASI_CAPTURE"),
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Preopen {
    host: PathBuf,
    guest: String,
    writable: bool,
}

impl Preopen {
    /// A preopen of `host`, which must be an existing directory now.
    pub(crate) fn new(host: &str, guest: &str, writable: bool) -> Result<Self> {
        match std::fs::metadata(host) {
            Ok(meta) if meta.is_dir() => Ok(Preopen { host: host.into(), guest: guest.into(), writable }),
            Ok(_) => Err(Error::new(PACKR_ERR_INVALID_ARGUMENT, format!("cannot preopen `{host}`: it is not a directory"))),
            Err(e) => Err(Error::new(PACKR_ERR_NOT_FOUND, format!("cannot preopen `{host}`: {e}"))),
        }
    }
}

/// The WASI part of an instance config. The default is the documented one: no arguments, no
/// environment, empty stdin, stdout and stderr inherited, no directories.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct WasiSettings {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) stdin: bytes::Bytes,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
    pub(crate) capture_limit: usize,
    pub(crate) preopens: Vec<Preopen>,
}

impl Default for WasiSettings {
    fn default() -> Self {
        WasiSettings {
            args: Vec::new(),
            env: Vec::new(),
            stdin: bytes::Bytes::new(),
            stdout: Output::Inherit,
            stderr: Output::Inherit,
            capture_limit: DEFAULT_CAPTURE_LIMIT,
            preopens: Vec::new(),
        }
    }
}

/// One captured stream: shared by the instance (which the host reads it through) and the
/// WASI context writing to it, so reading it never needs the store.
#[derive(Clone)]
pub(crate) struct Capture(Arc<Mutex<Captured>>);

struct Captured {
    bytes: Vec<u8>,
    limit: usize,
    dropped: u64,
}

impl Capture {
    fn new(limit: usize) -> Self {
        Capture(Arc::new(Mutex::new(Captured { bytes: Vec::new(), limit, dropped: 0 })))
    }

    fn with<R>(&self, body: impl FnOnce(&mut Captured) -> R) -> R {
        // A panic while holding the lock leaves plain bytes behind, still fine to use.
        body(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn push(&self, bytes: &[u8]) {
        self.with(|c| {
            let room = c.limit.saturating_sub(c.bytes.len()).min(bytes.len());
            c.bytes.extend_from_slice(&bytes[..room]);
            c.dropped += (bytes.len() - room) as u64;
        })
    }

    /// What the stream holds, taken out.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.with(|c| std::mem::take(&mut c.bytes))
    }

    /// How many bytes were dropped since the instance was made.
    pub(crate) fn dropped(&self) -> u64 {
        self.with(|c| c.dropped)
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Capture {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always room: what does not fit is dropped and counted, never refused.
        Ok(usize::MAX)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The captured streams of one instance (None where a stream is not captured).
#[derive(Default)]
pub(crate) struct Captures {
    pub(crate) stdout: Option<Capture>,
    pub(crate) stderr: Option<Capture>,
}

impl Captures {
    /// The capture of `fd` (1 or 2).
    pub(crate) fn get(&self, fd: i32) -> Result<&Capture> {
        let (capture, name) = match fd {
            1 => (&self.stdout, "stdout"),
            2 => (&self.stderr, "stderr"),
            other => return Err(Error::new(PACKR_ERR_INVALID_ARGUMENT, format!("fd {other} is not stdout (1) or stderr (2)"))),
        };
        capture.as_ref().ok_or_else(|| {
            Error::new(
                PACKR_ERR_INVALID_ARGUMENT,
                format!("the instance's {name} is not captured; set PACKR_WASI_CAPTURE on its instance config"),
            )
        })
    }
}

/// A fresh WASI context for one instance, and the captures the host reads.
pub(crate) fn context(settings: &WasiSettings) -> Result<(WasiP1Ctx, Captures)> {
    let mut builder = WasiCtxBuilder::new();
    // packr calls wasm synchronously: blocking WASI calls (files) block this thread rather
    // than bouncing through tokio's blocking pool.
    builder.allow_blocking_current_thread(true).args(&settings.args).envs(&settings.env);
    if !settings.stdin.is_empty() {
        builder.stdin(MemoryInputPipe::new(settings.stdin.clone()));
    }
    let mut captures = Captures::default();
    for (mode, slot, is_stdout) in [(settings.stdout, &mut captures.stdout, true), (settings.stderr, &mut captures.stderr, false)] {
        match (mode, is_stdout) {
            (Output::Inherit, true) => drop(builder.inherit_stdout()),
            (Output::Inherit, false) => drop(builder.inherit_stderr()),
            (Output::Discard, _) => {} // the builder's default stream drops what it is given
            (Output::Capture, _) => {
                let capture = Capture::new(settings.capture_limit);
                if is_stdout {
                    builder.stdout(capture.clone());
                } else {
                    builder.stderr(capture.clone());
                }
                *slot = Some(capture);
            }
        }
    }
    for p in &settings.preopens {
        let perms = if p.writable { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
        builder.preopened_dir(&p.host, &p.guest, perms).map_err(|e| {
            Error::new(PACKR_ERR_INSTANTIATE, format!("cannot preopen `{}` as `{}`: {e:#}", p.host.display(), p.guest))
        })?;
    }
    Ok((builder.build_p1(), captures))
}

/// Serves `wasi_snapshot_preview1` and `wasi_unstable` from each store's WASI context.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    wasmtime_wasi::p1::add_to_linker_sync(linker, StoreData::wasi)?;
    wasmtime_wasi::p0::add_to_linker_sync(linker, StoreData::wasi)
}

/// Whether `module` is one of the WASI modules `add_to_linker` serves.
pub(crate) fn serves(module: &str) -> bool {
    module == "wasi_snapshot_preview1" || module == "wasi_unstable"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_keeps_its_limit_and_counts_what_it_drops() {
        let capture = Capture::new(5);
        capture.push(b"abc");
        capture.push(b"defg");
        assert_eq!(capture.take(), b"abcde");
        assert_eq!(capture.dropped(), 2);
        capture.push(b"xy");
        assert_eq!(capture.take(), b"xy");
        assert_eq!(capture.take(), b"");
        assert_eq!(capture.dropped(), 2);
    }

    #[test]
    fn a_missing_preopen_is_refused_naming_the_path() {
        let err = Preopen::new("/no/such/dir", "/data", false).unwrap_err();
        assert_eq!(err.status, PACKR_ERR_NOT_FOUND);
        assert!(err.message.contains("/no/such/dir"), "{}", err.message);
        let file = Preopen::new("/etc/hostname", "/data", false).or_else(|_| Preopen::new("/proc/self/status", "/d", false));
        assert_eq!(file.unwrap_err().status, PACKR_ERR_INVALID_ARGUMENT);
    }
}

#[cfg(test)]
mod instance_tests {
    use std::ptr;

    use crate::bytes::{packr_bytes, packr_bytes_free};
    use crate::error::*;
    use crate::host::{packr_host, packr_host_define_wasi, packr_host_free, packr_host_new};
    use crate::instance::{packr_instance, packr_instance_call, packr_instance_exit_code, packr_instance_run, packr_instance_wasi_dropped, packr_instance_wasi_output};
    use crate::instance_config::*;
    use crate::testutil::{last_error, Host};
    use crate::val::{packr_val, packr_val_union, PACKR_I32};

    use super::{PACKR_WASI_CAPTURE, PACKR_WASI_DISCARD};

    /// Writes "hi\n" to stdout from `_start`; `err` writes it to stderr; `quit` exits.
    const COMMAND: &str = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (import "wasi_unstable" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "hi\n")
        (func $write (param $fd i32)
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 3))
            (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
        (func (export "_start") (call $write (i32.const 1)))
        (func (export "err") (call $write (i32.const 2)))
        (func (export "quit") (param i32) (call $exit (local.get 0))))"#;

    /// `relayed` calls the host's `env::relay`, which calls back into `quit(9)`.
    const RELAY: &str = r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (import "env" "relay" (func $relay))
        (memory (export "memory") 1)
        (func (export "relayed") (call $relay))
        (func (export "quit") (param i32) (call $exit (local.get 0))))"#;

    unsafe extern "C" fn relay(
        _env: *mut std::ffi::c_void,
        caller: *mut crate::caller::packr_caller,
        _args: *const packr_val,
        _nargs: usize,
        _results: *mut packr_val,
        _nresults: usize,
    ) -> packr_status {
        let arg = packr_val { kind: PACKR_I32, of: packr_val_union { i32: 9 } };
        unsafe { crate::caller::packr_caller_call(caller, c"quit".as_ptr(), &arg, 1, ptr::null_mut(), 0) }
    }

    #[test]
    fn an_exit_inside_a_callbacks_call_ends_the_outer_call_as_an_exit() {
        let mut h = Host::default();
        let host = wasi_host();
        let status = unsafe {
            crate::host::packr_host_define_func(host, c"env".as_ptr(), c"relay".as_ptr(), ptr::null(), 0, ptr::null(), 0, Some(relay), ptr::null_mut(), None)
        };
        assert_eq!(status, PACKR_OK);
        let rt = h.runtime_serving(host);
        let module = h.load(rt, RELAY);
        let (_, instance) = h.try_instantiate_with(module, ptr::null());
        let status = unsafe { packr_instance_call(instance, c"relayed".as_ptr(), ptr::null(), 0, ptr::null_mut(), 0) };
        assert_eq!(status, PACKR_ERR_EXIT, "{}", last_error());
        assert_eq!(last_error(), "the guest exited with code 9");
        let mut code = -1;
        assert_eq!(unsafe { packr_instance_exit_code(instance, &mut code) }, PACKR_OK);
        assert_eq!(code, 9);
        unsafe { packr_host_free(host) };
    }

    const REACTOR: &str = r#"(module
        (global $ready (mut i32) (i32.const 0))
        (func (export "_initialize") (global.set $ready (i32.const 41)))
        (func (export "ready") (result i32) (global.get $ready)))"#;

    fn wasi_host() -> *mut packr_host {
        let mut host = ptr::null_mut();
        assert_eq!(unsafe { packr_host_new(&mut host) }, PACKR_OK);
        assert_eq!(unsafe { packr_host_define_wasi(host) }, PACKR_OK);
        host
    }

    fn config() -> *mut packr_instance_config {
        let mut config = ptr::null_mut();
        assert_eq!(unsafe { packr_instance_config_new(&mut config) }, PACKR_OK);
        config
    }

    /// A WASI host, a runtime serving it, COMMAND loaded there, and a fresh config.
    fn command(h: &mut Host) -> (*mut packr_host, *mut crate::runtime::packr_runtime, *mut crate::module::packr_module, *mut packr_instance_config) {
        let host = wasi_host();
        let rt = h.runtime_serving(host);
        let module = h.load(rt, COMMAND);
        (host, rt, module, config())
    }

    fn output(instance: *const packr_instance, fd: i32) -> Vec<u8> {
        let mut bytes = packr_bytes { data: ptr::null_mut(), len: 0 };
        assert_eq!(unsafe { packr_instance_wasi_output(instance, fd, &mut bytes) }, PACKR_OK, "{}", last_error());
        let copy = if bytes.len == 0 { Vec::new() } else { unsafe { std::slice::from_raw_parts(bytes.data, bytes.len) }.to_vec() };
        unsafe { packr_bytes_free(&mut bytes) };
        copy
    }

    #[test]
    fn a_command_runs_with_captured_output_and_exit_codes() {
        let mut h = Host::default();
        let (host, rt, module, config) = command(&mut h);
        unsafe {
            assert_eq!(packr_instance_config_set_wasi_stdout(config, PACKR_WASI_CAPTURE), PACKR_OK);
            assert_eq!(packr_instance_config_set_wasi_stderr(config, PACKR_WASI_CAPTURE), PACKR_OK);
        }
        let (status, instance) = h.try_instantiate_with(module, config);
        assert_eq!(status, PACKR_OK, "{}", last_error());
        let mut code = -1;
        assert_eq!(unsafe { packr_instance_run(instance, &mut code) }, PACKR_OK, "{}", last_error());
        assert_eq!(code, 0);
        assert_eq!(output(instance, 1), b"hi\n");
        assert_eq!(output(instance, 1), b"", "taken out");
        assert_eq!(unsafe { packr_instance_call(instance, c"err".as_ptr(), ptr::null(), 0, ptr::null_mut(), 0) }, PACKR_OK);
        assert_eq!(output(instance, 2), b"hi\n");
        assert_eq!(unsafe { packr_instance_exit_code(instance, &mut code) }, PACKR_ERR_NOT_FOUND);

        let arg = packr_val { kind: PACKR_I32, of: packr_val_union { i32: 3 } };
        assert_eq!(unsafe { packr_instance_call(instance, c"quit".as_ptr(), &arg, 1, ptr::null_mut(), 0) }, PACKR_ERR_EXIT);
        assert_eq!(last_error(), "the guest exited with code 3");
        assert_eq!(unsafe { packr_instance_exit_code(instance, &mut code) }, PACKR_OK);
        assert_eq!(code, 3);

        // Not captured, not a stream, no such export.
        let (_, plain) = h.try_instantiate_with(module, ptr::null());
        let mut bytes = packr_bytes { data: ptr::null_mut(), len: 0 };
        assert_eq!(unsafe { packr_instance_wasi_output(plain, 1, &mut bytes) }, PACKR_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("stdout is not captured"), "{}", last_error());
        assert_eq!(unsafe { packr_instance_wasi_output(instance, 0, &mut bytes) }, PACKR_ERR_INVALID_ARGUMENT);
        let reactor = h.load(rt, REACTOR);
        let (_, reactor) = h.try_instantiate_with(reactor, ptr::null());
        assert_eq!(unsafe { packr_instance_run(reactor, &mut code) }, PACKR_ERR_NOT_FOUND);
        unsafe { packr_instance_config_free(config) };
        unsafe { packr_host_free(host) };
    }

    #[test]
    fn a_full_capture_drops_and_counts_and_discard_keeps_nothing() {
        let mut h = Host::default();
        let (host, _, module, config) = command(&mut h);
        unsafe {
            assert_eq!(packr_instance_config_set_wasi_stdout(config, PACKR_WASI_CAPTURE), PACKR_OK);
            assert_eq!(packr_instance_config_set_wasi_stderr(config, PACKR_WASI_DISCARD), PACKR_OK);
            assert_eq!(packr_instance_config_set_wasi_capture_limit(config, 5), PACKR_OK);
            assert_eq!(packr_instance_config_set_wasi_stdout(config, 9), PACKR_ERR_INVALID_ARGUMENT);
        }
        let (_, instance) = h.try_instantiate_with(module, config);
        let mut code = -1;
        for _ in 0..2 {
            assert_eq!(unsafe { packr_instance_run(instance, &mut code) }, PACKR_OK);
        }
        assert_eq!(output(instance, 1), b"hi\nhi");
        let mut dropped = 0;
        assert_eq!(unsafe { packr_instance_wasi_dropped(instance, 1, &mut dropped) }, PACKR_OK);
        assert_eq!(dropped, 1);
        assert_eq!(unsafe { packr_instance_call(instance, c"err".as_ptr(), ptr::null(), 0, ptr::null_mut(), 0) }, PACKR_OK);
        assert_eq!(unsafe { packr_instance_wasi_dropped(instance, 2, &mut dropped) }, PACKR_ERR_INVALID_ARGUMENT);
        unsafe { packr_instance_config_free(config) };
        unsafe { packr_host_free(host) };
    }

    #[test]
    fn wasi_needs_the_host_to_serve_it_and_reactors_initialize() {
        let mut h = Host::default();
        let rt = h.runtime();
        let module = h.load(rt, COMMAND);
        let (status, _) = h.try_instantiate_with(module, ptr::null());
        assert_eq!(status, PACKR_ERR_LINK);
        assert!(last_error().contains("wasi_snapshot_preview1::fd_write"), "{}", last_error());

        let config = config();
        let args = [c"prog".as_ptr()];
        assert_eq!(unsafe { packr_instance_config_set_wasi_args(config, args.as_ptr(), 1) }, PACKR_OK);
        let reactor = h.load(rt, REACTOR);
        let (status, _) = h.try_instantiate_with(reactor, config);
        assert_eq!(status, PACKR_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("packr_host_define_wasi"), "{}", last_error());

        let (status, reactor) = h.try_instantiate_with(reactor, ptr::null());
        assert_eq!(status, PACKR_OK);
        let mut ready = [packr_val::zero(PACKR_I32)];
        assert_eq!(unsafe { packr_instance_call(reactor, c"ready".as_ptr(), ptr::null(), 0, ready.as_mut_ptr(), 1) }, PACKR_OK);
        assert_eq!(unsafe { ready[0].of.i32 }, 41, "_initialize ran at instantiation");

        let bad = [c"ok".as_ptr(), ptr::null()];
        assert_eq!(unsafe { packr_instance_config_set_wasi_args(config, bad.as_ptr(), 2) }, PACKR_ERR_NULL_POINTER);
        assert!(last_error().contains("argv[1]"), "{}", last_error());
        assert_eq!(
            unsafe { packr_instance_config_wasi_preopen_dir(config, c"/no/such/dir".as_ptr(), c"/data".as_ptr(), false) },
            PACKR_ERR_NOT_FOUND
        );
        unsafe { packr_instance_config_free(config) };
    }
}
