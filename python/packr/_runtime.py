"""Runtimes and modules: compile once, then clone, wrap and instantiate."""

from __future__ import annotations

import ctypes
from typing import Any, NamedTuple, Optional, Union

from . import _ffi
from ._config import Config
from ._errors import PanicError, check
from ._handles import _Handle
from ._instance import Instance, Signatures, cached_signature

_EXTERN_KINDS = ("func", "global", "table", "memory", "tag")


class Export(NamedTuple):
    name: str
    kind: str  # "func", "global", "table", "memory", "tag" or "other"


class Import(NamedTuple):
    module: str
    name: str
    kind: str


def _extern_kind(kind: int) -> str:
    return _EXTERN_KINDS[kind] if kind < len(_EXTERN_KINDS) else "other"


def _text(ptr: int | None, length: int) -> str:
    return ctypes.string_at(ptr, length).decode("utf-8") if length else ""


class Runtime(_Handle):
    """A wasmtime engine plus the host definitions instances link against. Thread-safe."""

    __slots__ = ()

    def __init__(self, config: Optional[Config] = None) -> None:
        """A runtime with its own engine: packr's defaults, or the settings of `config`."""
        if config is None:
            out = _ffi.RuntimeP()
            check(_ffi.lib().packr_runtime_new(ctypes.byref(out)))
        elif isinstance(config, Config):
            out = config._new_runtime()
        else:
            raise TypeError(f"config must be a packr.Config, not {type(config).__name__}")
        self._init(out)

    def _init(self, ptr: Any) -> None:
        _Handle.__init__(self, ptr, _ffi.lib().packr_runtime_free)

    @classmethod
    def sharing_engine(cls, base: Runtime) -> Runtime:
        """A new runtime on `base`'s engine, so modules of either can be wrapped into the other."""
        out = _ffi.RuntimeP()
        with base._use() as ptr:
            check(_ffi.lib().packr_runtime_new_sharing_engine(ptr, ctypes.byref(out)))
        return cls._adopt(out)

    def load(self, wasm: Union[bytes, bytearray, memoryview, str]) -> Module:
        """Compiles a binary module (bytes-like) or WebAssembly text (str)."""
        data = wasm.encode("utf-8") if isinstance(wasm, str) else bytes(wasm)
        out = _ffi.ModuleP()
        with self._use() as ptr:
            check(_ffi.lib().packr_module_load(ptr, data, len(data), ctypes.byref(out)))
        return Module._adopt(out, {})

    def wrap(self, module: Module) -> Module:
        """Binds `module` to this runtime without recompiling (the compile-cache hit)."""
        out = _ffi.ModuleP()
        with self._use() as ptr, module._use() as module_ptr:
            check(_ffi.lib().packr_runtime_wrap_module(ptr, module_ptr, ctypes.byref(out)))
        return Module._adopt(out, module._signatures)


class Module(_Handle):
    """A compiled module bound to a runtime. Thread-safe; made by Runtime.load or Runtime.wrap."""

    __slots__ = ("_signatures",)

    def _init(self, ptr: Any, signatures: Signatures) -> None:
        _Handle.__init__(self, ptr, _ffi.lib().packr_module_free)
        # Shared by clones, wraps and instances: the same compiled code has the same signatures.
        self._signatures = signatures

    def clone(self) -> Module:
        """Another handle to the same compiled module (a reference count, no copy)."""
        with self._use() as ptr:
            out = _ffi.lib().packr_module_clone(ptr)
        if not out:
            raise PanicError(11, "PACKR_ERR_PANIC", "packr_module_clone returned NULL")
        return Module._adopt(out, self._signatures)

    def instantiate(self) -> Instance:
        """A fresh instance: its own memory and globals, imports resolved against the runtime."""
        out = _ffi.InstanceP()
        ptr = self._acquire()
        try:
            status = _ffi.lib().packr_module_instantiate(ptr, ctypes.byref(out))
        finally:
            self._release()
        check(status)
        return Instance._adopt(out, self._signatures)

    @property
    def exports(self) -> tuple[Export, ...]:
        lib, count, desc = _ffi.lib(), ctypes.c_size_t(), _ffi.ExportDesc()
        result = []
        with self._use() as ptr:
            check(lib.packr_module_export_count(ptr, ctypes.byref(count)))
            for i in range(count.value):
                check(lib.packr_module_export_get(ptr, i, ctypes.byref(desc)))
                result.append(Export(_text(desc.name, desc.name_len), _extern_kind(desc.kind)))
        return tuple(result)

    @property
    def imports(self) -> tuple[Import, ...]:
        lib, count, desc = _ffi.lib(), ctypes.c_size_t(), _ffi.ImportDesc()
        result = []
        with self._use() as ptr:
            check(lib.packr_module_import_count(ptr, ctypes.byref(count)))
            for i in range(count.value):
                check(lib.packr_module_import_get(ptr, i, ctypes.byref(desc)))
                result.append(Import(
                    _text(desc.module, desc.module_len), _text(desc.name, desc.name_len), _extern_kind(desc.kind)
                ))
        return tuple(result)

    def signature(self, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The parameter and result kinds of the exported function `name`, e.g. (("i32", "i32"), ("i32",))."""
        return cached_signature(self, _ffi.lib().packr_module_func_signature, name).names()
