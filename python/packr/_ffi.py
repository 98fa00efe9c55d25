"""Finding libpackr and declaring every C function's argtypes and restype, in one place."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from ctypes import POINTER, c_bool, c_char_p, c_int32, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import Optional

if sys.platform == "win32":
    LIBRARY_NAME = "packr.dll"
elif sys.platform == "darwin":
    LIBRARY_NAME = "libpackr.dylib"
else:
    LIBRARY_NAME = "libpackr.so"

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


ConfigP = POINTER(Config)
RuntimeP = POINTER(Runtime)
ModuleP = POINTER(Module)
InstanceP = POINTER(Instance)

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
    _fields_ = [("i32", ctypes.c_int32), ("i64", ctypes.c_int64), ("f32", ctypes.c_float), ("f64", ctypes.c_double)]


class Val(ctypes.Structure):
    _fields_ = [("kind", valkind), ("of", ValUnion)]


ValP = POINTER(Val)

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
    "packr_module_instantiate": (status, [ModuleP, POINTER(InstanceP)]),
    "packr_instance_call": (status, [InstanceP, c_char_p, ValP, c_size_t, ValP, c_size_t]),
    "packr_instance_memory_size": (status, [InstanceP, c_char_p, POINTER(c_uint64)]),
    "packr_instance_memory_read": (status, [InstanceP, c_char_p, c_uint64, POINTER(c_uint8), c_size_t]),
    "packr_instance_memory_write": (status, [InstanceP, c_char_p, c_uint64, c_char_p, c_size_t]),
    "packr_instance_func_signature": (status, [InstanceP, c_char_p, POINTER(FuncSignature)]),
    "packr_instance_free": (None, [InstanceP]),
}

_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_explicit_path: Optional[str] = None


def load_library(path: "str | os.PathLike[str]") -> None:
    """Use the libpackr at `path`. Call before first use; afterwards only the same path is accepted."""
    global _explicit_path
    path = os.fspath(path)
    with _lock:
        if _lib is not None:
            if _explicit_path is None or os.path.abspath(path) != os.path.abspath(_explicit_path):
                raise RuntimeError(f"libpackr is already loaded ({_lib._name}); load_library must come first")
            return
        _explicit_path = path
    lib()


def _candidates() -> list[str]:
    explicit = _explicit_path or os.environ.get("PACKR_LIBRARY")
    if explicit:
        return [explicit]
    places = [str(_PACKAGE_DIR / LIBRARY_NAME)]
    source_root = _PACKAGE_DIR.parent
    if (source_root / "pyproject.toml").is_file():  # running from the repository, not site-packages
        places.append(str(source_root.parent / "target" / "release" / LIBRARY_NAME))
    return places


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
    for place in _candidates():
        if not os.path.exists(place):
            tried.append(f"{place} (not found)")
            continue
        try:
            # CDLL (not PyDLL) releases the GIL for the duration of each call.
            return ctypes.CDLL(place)
        except OSError as e:
            tried.append(f"{place} ({e})")
    raise LibraryNotFoundError(
        "cannot load libpackr; tried: " + "; ".join(tried)
        + ". Set PACKR_LIBRARY or call packr.load_library(path), or run `cargo build --release`."
    )


def _declare(cdll: ctypes.CDLL) -> ctypes.CDLL:
    for name, (restype, argtypes) in _SIGNATURES.items():
        func = getattr(cdll, name)
        func.restype = restype
        func.argtypes = argtypes
    return cdll
