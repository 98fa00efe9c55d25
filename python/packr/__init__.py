"""packr: compile WebAssembly once, spawn instances from a cache (ctypes bindings to libpackr).

The library is found, at first use, at: `load_library(path)` or `$PACKR_LIBRARY` if given
(only that path is then tried); else `libpackr.so` beside this package; else
`<repo>/target/release/libpackr.so` when run from the repository.
"""

from ._errors import (
    BusyError,
    ClosedError,
    CompileError,
    EngineMismatchError,
    InstantiateError,
    InvalidArgumentError,
    LinkError,
    NotFoundError,
    NullPointerError,
    OutOfBoundsError,
    PackrError,
    PanicError,
    PoolExhaustedError,
    ResourceError,
    TrapError,
    TypeMismatchError,
)
from ._config import Config
from ._ffi import LibraryNotFoundError, load_library
from ._instance import Instance
from ._runtime import Export, Import, Module, Runtime
from . import _ffi


def version() -> str:
    """The version of the loaded libpackr, such as "0.1.0"."""
    return _ffi.lib().packr_version().decode("ascii")


__all__ = [
    "BusyError", "ClosedError", "CompileError", "Config", "EngineMismatchError", "Export", "Import",
    "Instance", "InstantiateError", "InvalidArgumentError", "LibraryNotFoundError", "LinkError",
    "Module", "NotFoundError", "NullPointerError", "OutOfBoundsError", "PackrError", "PanicError",
    "PoolExhaustedError", "ResourceError", "Runtime", "TrapError", "TypeMismatchError",
    "load_library", "version",
]
