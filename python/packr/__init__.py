"""packr: compile WebAssembly once, spawn instances from a cache (ctypes bindings to libpackr).

    with packr.Runtime() as rt, rt.load(wasm) as module, module.instantiate() as inst:
        inst.call("add", 2, 3)

Host functions serve guests' imports (`Host`, `Runtime(host=...)`); `Module.func` resolves
an export once for fast calls. `Host(wasi=True)` serves WASI (`Module.instantiate(args=...,
stdout=packr.Output.CAPTURE, ...)`, `Instance.run`); `Instance.call_bytes` and
`Host.bytes_func` speak upstream packr's pack convention (bytes in, bytes out).
Guardrails bound what a guest may take: `Module.instantiate(timeout=..., fuel=...,
memory_limit=..., table_limit=...)`, `Instance.interrupt_call` (and `interrupt`), and
Ctrl-C on the main thread stops a running guest. `Module.serialize` and
`Runtime.deserialize` keep compiled code as verified bytes; `Cache(dir)` keeps it in a
directory shared by threads and processes (`cache.load(runtime, wasm)`). See python/README.md.

The library is found, at first use, at: `load_library(path)` or `$PACKR_LIBRARY` if given
(only that path is then tried); else `libpackr.so` inside this package (a wheel ships it
there); else `<repo>/target/release/libpackr.so` when run from the repository; else the
system's library path (`libpackr.so.0`, as `make install` puts it). `library_path()` names
the file that was loaded.
"""

from ._errors import (
    ArtifactError,
    BusyError,
    ClosedError,
    CompileError,
    EngineMismatchError,
    ExitError,
    GuestError,
    HostError,
    InstantiateError,
    Interrupted,
    InvalidArgumentError,
    LimitError,
    LinkError,
    NotFoundError,
    NullPointerError,
    OutOfBoundsError,
    OutOfFuel,
    PackrError,
    PanicError,
    PoolExhaustedError,
    ResourceError,
    Timeout,
    TrapError,
    TypeMismatchError,
)
from ._cache import Cache, CacheStats
from ._caller import Caller
from ._config import Config
from ._ffi import LibraryNotFoundError, library_path, load_library
from ._func import Func
from ._host import Host
from ._instance import Instance
from ._runtime import Export, Import, Module, Runtime
from ._values import F32, F64, I32, I64, V128
from ._wasi import Output, Preopen
from . import _ffi


def version() -> str:
    """The version of the loaded libpackr, such as "0.1.0"."""
    return _ffi.lib().packr_version().decode("ascii")


__all__ = [
    "ArtifactError", "BusyError", "Cache", "CacheStats", "Caller", "ClosedError", "CompileError", "Config",
    "EngineMismatchError", "ExitError", "Export", "F32", "F64", "Func", "GuestError", "Host", "HostError", "I32",
    "I64", "Import", "Instance", "InstantiateError", "Interrupted", "InvalidArgumentError", "LibraryNotFoundError",
    "LimitError", "LinkError", "Module", "NotFoundError", "NullPointerError", "OutOfBoundsError", "OutOfFuel",
    "Output", "PackrError", "PanicError", "PoolExhaustedError", "Preopen", "ResourceError", "Runtime", "Timeout",
    "TrapError", "TypeMismatchError", "V128", "library_path", "load_library", "version",
]
