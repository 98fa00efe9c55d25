"""The persistent compile cache: a directory of verified artifacts shared by threads and processes."""

from __future__ import annotations

import ctypes
import os
from typing import NamedTuple, Optional, Union

from . import _ffi
from ._errors import check
from ._handles import _Handle
from ._runtime import BytesLike, Module, Runtime, as_key, as_wasm, take_bytes

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class CacheStats(NamedTuple):
    """What `Cache.stats()` reports. The counters are this Cache handle's, since it was
    opened (other handles and processes on the same directory count their own);
    `bytes_on_disk` and `files` are the directory's, scanned when asked."""

    hits: int  # loads served from a verified artifact on disk
    misses: int  # loads that compiled
    rejected: int  # artifacts that failed verification, then recompiled and replaced
    stored: int  # artifacts written
    evicted: int  # artifacts removed to stay within max_bytes
    errors: int  # file system problems that degraded to compiling, or to not storing
    bytes_on_disk: int  # the total size of the artifacts in the directory now
    files: int  # how many artifacts are in the directory now


class Cache(_Handle):
    """A persistent compile cache: `load` returns the module compiled from some wasm for a
    runtime's engine, from an artifact on disk when a valid one is there, else by
    compiling it and storing the artifact for next time (in this process or another).

        with packr.Cache("/var/cache/myapp/wasm") as cache:
            module = cache.load(runtime, wasm)

    Artifacts are named after the wasm, the engine's settings (a `Config` with other
    settings gets artifacts of its own) and the key, written to a temporary file and
    renamed, so a reader never sees half of one. Each is verified before use (see
    `Runtime.deserialize`); a damaged or foreign one is never an error here: it is
    recompiled and replaced, `stats().rejected` counts it and `last_problem()` says why.
    File system problems (a full disk, a read-only directory) likewise degrade to
    compiling, counted in `stats().errors`.

    Thread-safe: one Cache may be used from many threads at once, and many Caches, in this
    process or others, may share a directory; loaders of the same module wait for one
    compile instead of each compiling. Modules it returned stay valid after `close()`,
    which waits for loads in progress on other threads.
    """

    __slots__ = ("_dir",)

    def __init__(self, dir: PathLike, *, key: Optional[BytesLike] = None, max_bytes: int = 0) -> None:
        """Opens the cache in directory `dir` (a str or path-like), created if missing.

        `key` (bytes, at least 16 of them, else `InvalidArgumentError`): artifacts are
        written with a MAC made with it and only those are loaded, so a process without the
        key cannot plant code in the cache. Keep it secret; artifacts hold machine code.
        Caches with other keys, or none, keep their artifacts apart in the same directory.

        `max_bytes`: after storing, the least recently used artifacts are removed until
        the directory holds at most this many bytes of them (`stats().evicted`), never
        the one just stored; 0, the default, keeps everything.

        A directory that cannot be created, read or written is no error: loads then
        compile, `stats().errors` counts each failure and `last_problem()` names it. An
        empty `dir` is `InvalidArgumentError`; one with a NUL character `ValueError`.
        """
        path = os.fsencode(dir)  # TypeError for anything but str, bytes, os.PathLike
        if b"\0" in path:
            raise ValueError("embedded null byte in the cache directory")
        key = as_key(key)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
            raise TypeError(f"max_bytes must be an int, not {type(max_bytes).__name__}")
        if not 0 <= max_bytes < 1 << 64:
            raise OverflowError(f"max_bytes={max_bytes} does not fit in a uint64")
        lib = _ffi.lib()
        out = _ffi.CacheP()
        if key is None and max_bytes == 0:
            check(lib.packr_cache_open(path, ctypes.byref(out)))
        else:
            options = _ffi.CacheOptionsP()
            check(lib.packr_cache_options_new(ctypes.byref(options)))
            try:
                if key is not None:
                    check(lib.packr_cache_options_set_key(options, key, len(key)))
                if max_bytes:
                    check(lib.packr_cache_options_set_max_bytes(options, max_bytes))
                check(lib.packr_cache_open_with(path, options, ctypes.byref(out)))
            finally:
                lib.packr_cache_options_free(options)
        _Handle.__init__(self, out, lib.packr_cache_free)
        # Read once: packr's string lives as long as the handle; this one also after close().
        self._dir = os.fsdecode(lib.packr_cache_dir(out))

    @property
    def dir(self) -> str:
        """The cache's directory, as packr uses it (also after `close()`)."""
        return self._dir

    def load(self, runtime: Runtime, wasm: Union[BytesLike, str]) -> Module:
        """The module compiled from `wasm` (binary, bytes-like; or text, str, as for
        `Runtime.load`) for `runtime`'s engine and bound to it, as `runtime.load(wasm)`
        would return, from the cache when it holds a valid artifact, else compiled and
        stored. Raises what compiling raises (`CompileError`, `LimitError`, ...), never
        `ArtifactError` (a bad artifact is recompiled). Thread-safe; a load in another
        thread or process of the same module waits for this one's compile.
        """
        if not isinstance(runtime, Runtime):
            raise TypeError(f"runtime must be a packr.Runtime, not {type(runtime).__name__}")
        data = as_wasm(wasm)
        out = _ffi.ModuleP()
        with self._use() as ptr, runtime._use() as runtime_ptr:
            check(_ffi.lib().packr_cache_load(ptr, runtime_ptr, data, len(data), ctypes.byref(out)))
        return Module._adopt(out, {})

    def stats(self) -> CacheStats:
        """This handle's counters and the directory's size now (see `CacheStats`)."""
        out = _ffi.CacheStats()
        with self._use() as ptr:
            check(_ffi.lib().packr_cache_get_stats(ptr, ctypes.byref(out)))
        return CacheStats(*(getattr(out, name) for name in CacheStats._fields))

    def last_problem(self) -> Optional[str]:
        """Why the last artifact was rejected or the last file system problem happened,
        such as "artifact rejected: checksum mismatch (the artifact is damaged)"; None if
        there has been none on this handle."""
        out = _ffi.Bytes()
        with self._use() as ptr:
            check(_ffi.lib().packr_cache_last_problem(ptr, ctypes.byref(out)))
        message = take_bytes(out)  # `out` is written only on success
        return None if message is None else message.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"<packr.Cache {self._dir!r}{' (closed)' if self._closed else ''}>"
