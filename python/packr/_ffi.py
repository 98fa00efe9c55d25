"""Finding libpackr and declaring every C function's argtypes and restype, in one place."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from ctypes import POINTER, c_bool, c_char_p, c_int32, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import Iterator, Optional

# The file a wheel ships beside the modules and cargo builds in target/release, and the
# names the system's loader knows an installed libpackr by (`make install`: the SONAME of
# the ABI this binding declares, major version 0).
if sys.platform == "win32":
    LIBRARY_NAME = "packr.dll"
    SYSTEM_NAMES = ("packr.dll",)
elif sys.platform == "darwin":
    LIBRARY_NAME = "libpackr.dylib"
    SYSTEM_NAMES = ("libpackr.0.dylib", "libpackr.dylib")
else:
    LIBRARY_NAME = "libpackr.so"
    SYSTEM_NAMES = ("libpackr.so.0",)

_PACKAGE_DIR = Path(__file__).resolve().parent


class LibraryNotFoundError(OSError):
    """libpackr could not be loaded from any of the places tried."""


# Opaque handle types: typed pointers make ctypes reject a module where a runtime is expected.
class Config(ctypes.Structure):
    pass


class Runtime(ctypes.Structure):
    pass


class Module(ctypes.Structure):
    pass


class Instance(ctypes.Structure):
    pass


class Host(ctypes.Structure):
    pass


class Func(ctypes.Structure):
    pass


class InstanceConfig(ctypes.Structure):
    pass


class Interrupter(ctypes.Structure):
    pass


class Cache(ctypes.Structure):
    pass


class CacheOptions(ctypes.Structure):
    pass


ConfigP = POINTER(Config)
RuntimeP = POINTER(Runtime)
ModuleP = POINTER(Module)
InstanceP = POINTER(Instance)
HostP = POINTER(Host)
FuncP = POINTER(Func)
InstanceConfigP = POINTER(InstanceConfig)
InterrupterP = POINTER(Interrupter)
CacheP = POINTER(Cache)
CacheOptionsP = POINTER(CacheOptions)
# A packr_caller arrives in a callback as an address (c_void_p gives a plain int, the cheapest
# thing ctypes can hand a callback) and is passed back as one.
CallerAddress = c_void_p

status = c_int32
valkind = c_uint32
externkind = c_uint32


class ExportDesc(ctypes.Structure):
    _fields_ = [("name", c_void_p), ("name_len", c_size_t), ("kind", externkind)]


class ImportDesc(ctypes.Structure):
    _fields_ = [
        ("module", c_void_p),
        ("module_len", c_size_t),
        ("name", c_void_p),
        ("name_len", c_size_t),
        ("kind", externkind),
    ]


class FuncSignature(ctypes.Structure):
    _fields_ = [
        ("params", POINTER(valkind)),
        ("nparams", c_size_t),
        ("results", POINTER(valkind)),
        ("nresults", c_size_t),
    ]


class ValUnion(ctypes.Union):
    _fields_ = [
        ("i32", ctypes.c_int32), ("i64", ctypes.c_int64), ("f32", ctypes.c_float), ("f64", ctypes.c_double),
        ("v128", c_uint8 * 16),
    ]


class Val(ctypes.Structure):
    _fields_ = [("kind", valkind), ("of", ValUnion)]


ValP = POINTER(Val)


class Bytes(ctypes.Structure):
    """packr_bytes: a buffer packr allocated, freed with packr_bytes_free."""
    _fields_ = [("data", c_void_p), ("len", c_size_t)]


BytesP = POINTER(Bytes)


class CacheStats(ctypes.Structure):
    """packr_cache_stats: a cache handle's counters and its directory's size."""
    _fields_ = [
        (name, c_uint64)
        for name in ("hits", "misses", "rejected", "stored", "evicted", "errors", "bytes_on_disk", "files")
    ]


assert ctypes.sizeof(Val) == 24 and Val.of.offset == 8, "packr_val's layout (include/packr.h)"

# packr_host_callback and packr_finalizer. `env` is the key of the Python definition
# (see _host.py); `args` and `results` are addresses, read through prepared structures.
HostCallback = ctypes.CFUNCTYPE(status, c_void_p, CallerAddress, c_void_p, c_size_t, c_void_p, c_size_t)
Finalizer = ctypes.CFUNCTYPE(None, c_void_p)
# packr_bytes_callback: `input` is an address (None when the input is empty).
BytesCallback = ctypes.CFUNCTYPE(status, c_void_p, CallerAddress, c_void_p, c_size_t)

# name: (restype, argtypes)
_SIGNATURES = {
    "packr_version": (c_char_p, []),
    "packr_last_error": (c_char_p, []),
    "packr_status_name": (c_char_p, [c_int32]),
    "packr_config_new": (status, [POINTER(ConfigP)]),
    "packr_config_free": (None, [ConfigP]),
    "packr_config_set_pooling": (status, [ConfigP, c_bool]),
    "packr_config_set_pool_instances": (status, [ConfigP, c_uint32]),
    "packr_config_set_pool_memories_per_instance": (status, [ConfigP, c_uint32]),
    "packr_config_set_pool_tables_per_instance": (status, [ConfigP, c_uint32]),
    "packr_config_set_pool_memory_bytes": (status, [ConfigP, c_uint64]),
    "packr_config_set_pool_table_elements": (status, [ConfigP, c_uint32]),
    "packr_config_set_memory_images": (status, [ConfigP, c_bool]),
    "packr_config_set_opt_level": (status, [ConfigP, c_uint32]),
    "packr_config_set_parallel_compilation": (status, [ConfigP, c_bool]),
    "packr_config_set_memory_reservation": (status, [ConfigP, c_uint64]),
    "packr_config_set_pool_keep_resident": (status, [ConfigP, c_uint64]),
    "packr_config_set_pool_pagemap_scan": (status, [ConfigP, c_bool]),
    "packr_config_set_pool_decommit_batch": (status, [ConfigP, c_uint32]),
    "packr_runtime_new": (status, [POINTER(RuntimeP)]),
    "packr_runtime_new_with_config": (status, [ConfigP, POINTER(RuntimeP)]),
    "packr_runtime_new_sharing_engine": (status, [RuntimeP, POINTER(RuntimeP)]),
    "packr_runtime_free": (None, [RuntimeP]),
    "packr_module_load": (status, [RuntimeP, c_char_p, c_size_t, POINTER(ModuleP)]),
    "packr_module_clone": (ModuleP, [ModuleP]),
    "packr_module_free": (None, [ModuleP]),
    "packr_runtime_wrap_module": (status, [RuntimeP, ModuleP, POINTER(ModuleP)]),
    "packr_module_export_count": (status, [ModuleP, POINTER(c_size_t)]),
    "packr_module_export_get": (status, [ModuleP, c_size_t, POINTER(ExportDesc)]),
    "packr_module_import_count": (status, [ModuleP, POINTER(c_size_t)]),
    "packr_module_import_get": (status, [ModuleP, c_size_t, POINTER(ImportDesc)]),
    "packr_module_func_signature": (status, [ModuleP, c_char_p, POINTER(FuncSignature)]),
    "packr_module_global_type": (status, [ModuleP, c_char_p, POINTER(valkind), POINTER(c_bool)]),
    "packr_module_instantiate": (status, [ModuleP, POINTER(InstanceP)]),
    "packr_instance_call": (status, [InstanceP, c_char_p, ValP, c_size_t, ValP, c_size_t]),
    "packr_instance_memory_size": (status, [InstanceP, c_char_p, POINTER(c_uint64)]),
    "packr_instance_memory_read": (status, [InstanceP, c_char_p, c_uint64, POINTER(c_uint8), c_size_t]),
    "packr_instance_memory_write": (status, [InstanceP, c_char_p, c_uint64, c_char_p, c_size_t]),
    "packr_instance_func_signature": (status, [InstanceP, c_char_p, POINTER(FuncSignature)]),
    "packr_instance_free": (None, [InstanceP]),
    # Host functions. The host data pointer is the key of the instance's Python state (see
    # _instance._states); packr hands back exactly the pointer it was given.
    "packr_host_new": (status, [POINTER(HostP)]),
    "packr_host_free": (None, [HostP]),
    "packr_host_define_func": (status, [
        HostP, c_char_p, c_char_p, POINTER(valkind), c_size_t, POINTER(valkind), c_size_t,
        HostCallback, c_void_p, Finalizer,
    ]),
    "packr_host_set_unknown_imports_trap": (status, [HostP, c_bool]),
    "packr_runtime_new_with_host": (status, [RuntimeP, HostP, POINTER(RuntimeP)]),
    "packr_caller_data": (c_void_p, [CallerAddress]),
    "packr_caller_memory_size": (status, [CallerAddress, c_char_p, POINTER(c_uint64)]),
    "packr_caller_memory_read": (status, [CallerAddress, c_char_p, c_uint64, POINTER(c_uint8), c_size_t]),
    "packr_caller_memory_write": (status, [CallerAddress, c_char_p, c_uint64, c_char_p, c_size_t]),
    "packr_caller_memory_data": (status, [CallerAddress, c_char_p, POINTER(c_void_p), POINTER(c_uint64)]),
    "packr_caller_call": (status, [CallerAddress, c_char_p, ValP, c_size_t, ValP, c_size_t]),
    "packr_caller_func_signature": (status, [CallerAddress, c_char_p, POINTER(FuncSignature)]),
    "packr_caller_set_error": (status, [CallerAddress, c_char_p]),
    "packr_instance_config_new": (status, [POINTER(InstanceConfigP)]),
    "packr_instance_config_free": (None, [InstanceConfigP]),
    "packr_module_instantiate_with": (status, [ModuleP, InstanceConfigP, c_void_p, POINTER(InstanceP)]),
    "packr_instance_data": (c_void_p, [InstanceP]),
    "packr_instance_global_get": (status, [InstanceP, c_char_p, ValP]),
    "packr_instance_global_set": (status, [InstanceP, c_char_p, ValP]),
    "packr_module_func": (status, [ModuleP, c_char_p, POINTER(FuncP)]),
    "packr_func_get_signature": (status, [FuncP, POINTER(FuncSignature)]),
    "packr_func_free": (None, [FuncP]),
    "packr_instance_call_func": (status, [InstanceP, FuncP, ValP, c_size_t, ValP, c_size_t]),
    # WASI and the pack convention.
    "packr_bytes_free": (None, [BytesP]),
    "packr_host_define_wasi": (status, [HostP]),
    "packr_host_define_bytes": (status, [HostP, c_char_p, c_char_p, BytesCallback, c_void_p, Finalizer]),
    "packr_caller_return_bytes": (status, [CallerAddress, c_char_p, c_size_t]),
    "packr_instance_config_set_wasi_args": (status, [InstanceConfigP, POINTER(c_char_p), c_size_t]),
    "packr_instance_config_set_wasi_env": (status, [InstanceConfigP, POINTER(c_char_p), POINTER(c_char_p), c_size_t]),
    "packr_instance_config_set_wasi_stdin": (status, [InstanceConfigP, c_char_p, c_size_t]),
    "packr_instance_config_set_wasi_stdout": (status, [InstanceConfigP, c_uint32]),
    "packr_instance_config_set_wasi_stderr": (status, [InstanceConfigP, c_uint32]),
    "packr_instance_config_set_wasi_capture_limit": (status, [InstanceConfigP, c_size_t]),
    "packr_instance_config_wasi_preopen_dir": (status, [InstanceConfigP, c_char_p, c_char_p, c_bool]),
    "packr_instance_call_bytes": (status, [InstanceP, c_char_p, c_char_p, c_size_t, BytesP]),
    "packr_instance_call_func_bytes": (status, [InstanceP, FuncP, c_char_p, c_size_t, BytesP]),
    "packr_instance_run": (status, [InstanceP, POINTER(c_int32)]),
    "packr_instance_exit_code": (status, [InstanceP, POINTER(c_int32)]),
    "packr_instance_wasi_output": (status, [InstanceP, c_int32, BytesP]),
    "packr_instance_wasi_dropped": (status, [InstanceP, c_int32, POINTER(c_uint64)]),
    # Guardrails: engine settings, instance limits, and stopping calls.
    "packr_config_set_fuel": (status, [ConfigP, c_bool]),
    "packr_config_set_timer_tick_us": (status, [ConfigP, c_uint64]),
    "packr_config_set_max_wasm_stack": (status, [ConfigP, c_size_t]),
    "packr_config_set_max_module_bytes": (status, [ConfigP, c_uint64]),
    "packr_config_set_signals_based_traps": (status, [ConfigP, c_bool]),
    "packr_instance_config_set_timeout_ms": (status, [InstanceConfigP, c_uint64]),
    "packr_instance_config_set_fuel": (status, [InstanceConfigP, c_uint64]),
    "packr_instance_config_set_memory_limit": (status, [InstanceConfigP, c_uint64]),
    "packr_instance_config_set_table_limit": (status, [InstanceConfigP, c_uint64]),
    "packr_instance_interrupt": (status, [InstanceP]),
    "packr_instance_interrupt_call": (status, [InstanceP]),
    "packr_instance_interrupter": (status, [InstanceP, POINTER(InterrupterP)]),
    "packr_interrupter_interrupt": (status, [InterrupterP]),
    "packr_interrupter_interrupt_call": (status, [InterrupterP]),
    "packr_interrupter_free": (None, [InterrupterP]),
    "packr_instance_set_timeout_ms": (status, [InstanceP, c_uint64]),
    "packr_instance_add_fuel": (status, [InstanceP, c_uint64]),
    "packr_instance_fuel": (status, [InstanceP, POINTER(c_uint64)]),
    # Artifacts (serialized modules) and the persistent compile cache. Keys, artifacts and
    # wasm are passed as `bytes` where a c_char_p is declared, always with their length.
    "packr_module_serialize": (status, [ModuleP, BytesP]),
    "packr_module_serialize_keyed": (status, [ModuleP, c_char_p, c_size_t, BytesP]),
    "packr_module_deserialize": (status, [RuntimeP, c_char_p, c_size_t, POINTER(ModuleP)]),
    "packr_module_deserialize_keyed": (status, [RuntimeP, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(ModuleP)]),
    "packr_cache_options_new": (status, [POINTER(CacheOptionsP)]),
    "packr_cache_options_free": (None, [CacheOptionsP]),
    "packr_cache_options_set_key": (status, [CacheOptionsP, c_char_p, c_size_t]),
    "packr_cache_options_set_max_bytes": (status, [CacheOptionsP, c_uint64]),
    "packr_cache_open": (status, [c_char_p, POINTER(CacheP)]),
    "packr_cache_open_with": (status, [c_char_p, CacheOptionsP, POINTER(CacheP)]),
    "packr_cache_free": (None, [CacheP]),
    "packr_cache_load": (status, [CacheP, RuntimeP, c_char_p, c_size_t, POINTER(ModuleP)]),
    "packr_cache_get_stats": (status, [CacheP, POINTER(CacheStats)]),
    "packr_cache_last_problem": (status, [CacheP, BytesP]),
    "packr_cache_dir": (c_char_p, [CacheP]),
}

# The call paths a prepared plan takes (_calls.py, and pack calls in _pack.py), once more
# without argtypes: with them, ctypes runs a from_param conversion per argument, which costs
# more than the call itself (about 0.7 us of 1.3 us for add(i32, i32) on the development
# machine). A plan passes only ctypes objects of exactly the types declared above (handle
# pointers, c_char_p, Val arrays, c_size_t, c_void_p, a BytesP) or `bytes` objects where a
# c_char_p is declared (ctypes passes their buffer as the same char pointer), never Python
# ints, so nothing is truncated; the test suite checks that the declarations agree.
_UNCHECKED = (
    "packr_instance_call", "packr_instance_call_func", "packr_caller_call",
    "packr_instance_call_bytes", "packr_instance_call_func_bytes", "packr_bytes_free",
)

_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_explicit_path: Optional[str] = None


def load_library(path: "str | os.PathLike[str]") -> None:
    """Use the libpackr at `path` and load it now, instead of searching (see `library_path`).

    Call it before anything else uses packr; afterwards only the path already loaded is
    accepted (else RuntimeError). Raises LibraryNotFoundError if `path` does not load.
    Thread-safe.
    """
    global _explicit_path
    path = os.fspath(path)
    with _lock:
        if _lib is not None:
            if _explicit_path is None or os.path.abspath(path) != os.path.abspath(_explicit_path):
                raise RuntimeError(f"libpackr is already loaded ({_lib._name}); load_library must come first")
            return
        _explicit_path = path
    lib()


def _candidates() -> Iterator[tuple[str, bool]]:
    """The places to try in order, each (path or name, whether it is a file path); lazily, so
    the system's search (which runs ldconfig) happens only if nothing before it loads."""
    explicit = _explicit_path or os.environ.get("PACKR_LIBRARY")
    if explicit:
        yield explicit, True
        return
    yield str(_PACKAGE_DIR / LIBRARY_NAME), True  # a wheel's own copy
    source_root = _PACKAGE_DIR.parent
    if (source_root / "pyproject.toml").is_file():  # running from the repository, not site-packages
        yield str(source_root.parent / "target" / "release" / LIBRARY_NAME), True
    # Last, an installed libpackr, by the name the system's loader knows (its search path:
    # LD_LIBRARY_PATH, the ld.so cache, the default directories).
    names = [ctypes.util.find_library("packr"), *SYSTEM_NAMES]
    for name in dict.fromkeys(n for n in names if n):
        yield name, False


def lib() -> ctypes.CDLL:
    """The loaded library, loading and declaring it on first use."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            _lib = _declare(_open())
        return _lib


def _open() -> ctypes.CDLL:
    tried = []
    for place, is_path in _candidates():
        if is_path and not os.path.exists(place):
            tried.append(f"{place} (not found)")
            continue
        try:
            # CDLL (not PyDLL) releases the GIL for the duration of each call.
            return ctypes.CDLL(place)
        except OSError as e:
            where = "" if is_path else "system library path: "
            tried.append(f"{place} ({where}{e})")
    raise LibraryNotFoundError(
        "cannot load libpackr; tried: " + "; ".join(tried)
        + ". Set PACKR_LIBRARY or call packr.load_library(path), install packr's wheel or the library"
        " (make install), or run `cargo build --release` in the repository."
    )


class _DlInfo(ctypes.Structure):
    _fields_ = [("fname", c_char_p), ("fbase", c_void_p), ("sname", c_char_p), ("saddr", c_void_p)]


def library_path() -> str:
    """The file the loaded libpackr came from, loading it first if need be (as any use does).

    Tried in this order, at first use: `load_library(path)` or the PACKR_LIBRARY environment
    variable, when given (then only that path); the copy inside this package (a wheel's);
    `<repository>/target/release`, when the package runs from the source tree; last the
    system's library path (`libpackr.so.0`, as `make install` installs it). Raises
    LibraryNotFoundError, naming every place tried, if none loads. Thread-safe.
    """
    cdll = lib()
    if sys.platform == "win32":
        buffer = ctypes.create_unicode_buffer(32768)
        if ctypes.windll.kernel32.GetModuleFileNameW(ctypes.c_void_p(cdll._handle), buffer, len(buffer)):
            return buffer.value
        return cdll._name
    # dladdr names the object that holds a symbol: the file the loader actually mapped, also
    # when the library was loaded by a bare name through the system's search path.
    try:
        dladdr = ctypes.CDLL(None).dladdr  # in libc since glibc 2.34, and on macOS
    except AttributeError:
        dladdr = ctypes.CDLL(ctypes.util.find_library("dl")).dladdr
    dladdr.argtypes = [c_void_p, POINTER(_DlInfo)]
    dladdr.restype = ctypes.c_int
    info = _DlInfo()
    if dladdr(ctypes.cast(cdll.packr_version, c_void_p), ctypes.byref(info)) and info.fname:
        return os.path.abspath(os.fsdecode(info.fname))
    return cdll._name


_unchecked: dict = {}

# CPython's own C API, for zero-copy views of guest memory (Caller.memory_view): a
# memoryview over raw memory, with format "B", that no Python object owns.
_PyBUF_WRITE = 0x200
_memory_view = ctypes.pythonapi.PyMemoryView_FromMemory
_memory_view.restype = ctypes.py_object
_memory_view.argtypes = [c_void_p, ctypes.c_ssize_t, ctypes.c_int]


def memory_view(address: int, size: int) -> memoryview:
    """A writable memoryview of `size` bytes at `address`; the caller decides how long it is valid."""
    if size == 0:
        return memoryview(bytearray())
    return _memory_view(address, size, _PyBUF_WRITE)


def _declare(cdll: ctypes.CDLL) -> ctypes.CDLL:
    for name, (restype, argtypes) in _SIGNATURES.items():
        func = getattr(cdll, name)
        func.restype = restype
        func.argtypes = argtypes
    for name in _UNCHECKED:
        # A second function object for the same symbol (CDLL caches one per name).
        twin = cdll[name]
        twin.restype = _SIGNATURES[name][0]
        _unchecked[name] = twin
    return cdll


def unchecked(name: str):
    """The twin of C function `name` without argtypes, for prepared plans only (see _UNCHECKED)."""
    lib()
    return _unchecked[name]
