"""Runtimes and modules: compile once, then clone, wrap and instantiate."""

from __future__ import annotations

import ctypes
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from . import _ffi, _sigint
from ._config import Config
from ._errors import HOST, PanicError, check, error_for
from ._func import Func
from ._guard import Guards, Seconds, instance_config
from ._handles import _Handle
from ._host import Host
from ._instance import Instance, Signatures, _State, cached_signature, encode, host_failure
from ._wasi import Options, Output, Preopen

_EXTERN_KINDS = ("func", "global", "table", "memory", "tag")


class Export(NamedTuple):
    """One export of a module: its name and kind ("func", "global", "table", "memory", "tag" or "other")."""

    name: str
    kind: str


class Import(NamedTuple):
    """One import of a module: the module and name it is imported from, and its kind (as for Export)."""

    module: str
    name: str
    kind: str


def _extern_kind(kind: int) -> str:
    return _EXTERN_KINDS[kind] if kind < len(_EXTERN_KINDS) else "other"


def _text(ptr: int | None, length: int) -> str:
    return ctypes.string_at(ptr, length).decode("utf-8") if length else ""


BytesLike = Union[bytes, bytearray, memoryview]


def as_key(key: Optional[BytesLike]) -> Optional[bytes]:
    """An artifact key as bytes (None stays None); its length is the core's to check."""
    if key is None or isinstance(key, bytes):
        return key
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    raise TypeError(f"key must be bytes (at least 16 of them) or None, not {type(key).__name__}")


def as_wasm(wasm: Union[BytesLike, str]) -> bytes:
    """A module's source for the C call: binary (bytes-like) as it is, text (str) as UTF-8."""
    return wasm.encode("utf-8") if isinstance(wasm, str) else bytes(wasm)


def take_bytes(out: Any) -> Optional[bytes]:
    """A copy of the packr_bytes `out` (None for {NULL, 0}), which is then freed."""
    try:
        return ctypes.string_at(out.data, out.len) if out.data else None
    finally:
        _ffi.lib().packr_bytes_free(ctypes.byref(out))  # a no-op for {NULL, 0}


class Runtime(_Handle):
    """A wasmtime engine plus the host definitions instances link against. Thread-safe.

    Modules and instances keep what they need of their runtime, so it may be closed first.
    """

    __slots__ = ()

    def __init__(self, config: Optional[Config] = None, *, host: Optional[Host] = None) -> None:
        """A runtime with its own engine: packr's defaults, or the settings of `config`.

        With `host`, guests' imports are served by its functions as defined now (as
        `Runtime.with_host` does, on the new engine); without, a module with imports raises
        LinkError when instantiated.
        """
        if config is None:
            out = _ffi.RuntimeP()
            check(_ffi.lib().packr_runtime_new(ctypes.byref(out)))
        elif isinstance(config, Config):
            out = config._new_runtime()
        else:
            raise TypeError(f"config must be a packr.Config, not {type(config).__name__}")
        if host is not None:
            base = out
            try:
                out = _with_host(base, host)
            finally:
                _ffi.lib().packr_runtime_free(base)  # its engine lives on in the new runtime
        self._init(out)

    def _init(self, ptr: Any) -> None:
        _Handle.__init__(self, ptr, _ffi.lib().packr_runtime_free)

    @classmethod
    def sharing_engine(cls, base: Runtime) -> Runtime:
        """A new runtime on `base`'s engine, so modules of either can be wrapped into the other.
        It has no host functions (see `with_host`)."""
        out = _ffi.RuntimeP()
        with base._use() as ptr:
            check(_ffi.lib().packr_runtime_new_sharing_engine(ptr, ctypes.byref(out)))
        return cls._adopt(out)

    @classmethod
    def with_host(cls, base: Runtime, host: Host) -> Runtime:
        """A new runtime on `base`'s engine (modules wrap between them as with
        `sharing_engine`) whose imports are served by `host`'s functions as they are now:
        later definitions do not reach it, and `host` may be closed at once. `base`'s own
        host functions are not carried over."""
        with base._use() as ptr:
            return cls._adopt(_with_host(ptr, host))

    def load(self, wasm: Union[bytes, bytearray, memoryview, str]) -> Module:
        """Compiles a binary module (bytes-like) or WebAssembly text (str)."""
        data = as_wasm(wasm)
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

    def deserialize(self, data: BytesLike, key: Optional[BytesLike] = None) -> Module:
        """The module in `data`, an artifact from `Module.serialize`, bound to this runtime
        without compiling. It behaves exactly like one from `load` (clone, wrap, instantiate).

        The artifact is verified first; `ArtifactError` says which check failed: damaged,
        truncated, not an artifact, made by an engine with other settings (another
        `Config`, such as `fuel=True` against none) or another wasmtime/packr version, or a
        `key` that is not the one it was written with (also: one given for an artifact
        written without, or none for one written with). A key shorter than 16 bytes is
        `InvalidArgumentError`. Only deserialize artifacts from a source you trust, or
        written with a secret key: the checksum of an unkeyed artifact catches damage,
        not tampering. Thread-safe.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes (an artifact from Module.serialize), not {type(data).__name__}")
        data, key = bytes(data), as_key(key)
        out = _ffi.ModuleP()
        lib = _ffi.lib()
        with self._use() as ptr:
            if key is None:
                check(lib.packr_module_deserialize(ptr, data, len(data), ctypes.byref(out)))
            else:
                check(lib.packr_module_deserialize_keyed(ptr, key, len(key), data, len(data), ctypes.byref(out)))
        return Module._adopt(out, {})


def _with_host(base: Any, host: Host) -> Any:
    if not isinstance(host, Host):
        raise TypeError(f"host must be a packr.Host, not {type(host).__name__}")
    out = _ffi.RuntimeP()
    with host._define_lock, host._use() as host_ptr:
        check(_ffi.lib().packr_runtime_new_with_host(base, host_ptr, ctypes.byref(out)))
    return out


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

    def instantiate(
        self,
        data: Any = None,
        *,
        args: Optional[Sequence[str]] = None,
        env: Union[Mapping[str, str], Iterable[Tuple[str, str]], None] = None,
        stdin: Union[bytes, bytearray, memoryview, None] = None,
        stdout: Union[Output, str, None] = None,
        stderr: Union[Output, str, None] = None,
        capture_limit: Optional[int] = None,
        preopens: Optional[Iterable[Union[Preopen, Tuple[Any, ...]]]] = None,
        timeout: Optional[Seconds] = None,
        fuel: Optional[int] = None,
        memory_limit: Optional[int] = None,
        table_limit: Optional[int] = None,
    ) -> Instance:
        """A fresh instance: its own memory and globals, imports resolved against the runtime
        (once per module handle), and the start function run if there is one (a WASI
        reactor's `_initialize` too).

        `data` is any object, the instance's own: `Instance.data` and, inside host
        callbacks, `Caller.data` return it; it is kept alive as long as the instance.

        The keyword arguments are the guest's WASI world, for runtimes whose host serves
        WASI (`Host(wasi=True)`); given on another runtime they raise InvalidArgumentError,
        so a forgotten `wasi=True` never goes unnoticed. Left out, each has its default:

        - `args`: argv, a sequence of str, `args[0]` by convention the program's name, as
          for `subprocess.run` (default: none at all).
        - `env`: the environment, a mapping (its order kept) or (name, value) pairs
          (default: empty; the Python process's own is never passed on by itself).
        - `stdin`: the bytes the guest reads, then end of file (default: empty).
        - `stdout`, `stderr`: `packr.Output.INHERIT` (the default: this process's own
          streams), `DISCARD` or `CAPTURE` (read with `Instance.read_stdout` /
          `read_stderr`), or the strings "inherit", "discard", "capture".
        - `capture_limit`: bytes each captured stream holds before it drops (and counts)
          what comes after (default 1 MiB; 0 keeps nothing).
        - `preopens`: directories the guest may reach, each a `packr.Preopen(host_path,
          guest_path, writable=False)` or a plain tuple of the same. `host_path` must be an
          existing directory now (NotFoundError, or InvalidArgumentError for a file); the
          guest reaches nothing outside it.

        The guardrails, on any runtime (see README's "Guardrails"); left out, none applies:

        - `timeout`: seconds (int or float, rounded to the millisecond, at least 1 ms) of
          wall-clock time each call may run, the start function's too; a call past it
          raises `Timeout` (`Instance.set_timeout` changes it later).
        - `fuel`: units of fuel (about one wasm instruction each) the instance starts with;
          a call that runs dry raises `OutOfFuel` (`Instance.add_fuel` refills). Only on a
          runtime made with `Config(fuel=True)`: elsewhere InvalidArgumentError.
        - `memory_limit`: the most bytes each of the instance's memories may hold;
          `table_limit`: the most elements each table may hold. Growth past them returns -1
          to the guest; a module whose memory or table starts larger raises `LimitError`.

        A wrong type raises TypeError (ValueError for a string holding a NUL, an unknown
        output mode, or a timeout that is not positive; OverflowError for a number that
        does not fit packr's uint64) before anything is made. LinkError names every import
        the runtime's host cannot satisfy; an exception a host function raises in the start
        function is re-raised here (see `Host.func`).

        Made on the main thread while SIGINT has Python's default handler, the first
        instance also sets up Ctrl-C: from then on a KeyboardInterrupt during a guest call
        on the main thread stops the guest (see README's "Guardrails").
        """
        wasi = guards = config = None
        if (args is not None or env is not None or stdin is not None or stdout is not None or stderr is not None
                or capture_limit is not None or preopens is not None):
            wasi = Options(args, env, stdin, stdout, stderr, capture_limit, preopens)
        if timeout is not None or fuel is not None or memory_limit is not None or table_limit is not None:
            guards = Guards(timeout, fuel, memory_limit, table_limit)
        if not _sigint.installed():
            _sigint.install()
        if wasi is not None or guards is not None:
            config = instance_config(wasi, guards)
        state = _State(data, self)
        out = _ffi.InstanceP()
        try:
            ptr = self._acquire()
            try:
                status = _ffi.lib().packr_module_instantiate_with(ptr, config, state.key, ctypes.byref(out))
                if status:
                    error = error_for(status)
                    raise host_failure(error, state) if status == HOST else error
            finally:
                self._release()
        except BaseException:
            state.forget()  # no instance: nothing can reach the state any more
            raise
        finally:
            if config is not None:
                _ffi.lib().packr_instance_config_free(config)
        return Instance._adopt(out, self._signatures, state)

    def serialize(self, key: Optional[BytesLike] = None) -> bytes:
        """The compiled module as an artifact: bytes that `Runtime.deserialize` (in this
        process or another, later) turns back into the module without compiling, on a
        runtime with the same engine settings and the same wasmtime/packr version.

        The artifact ends in a trailer that names its engine and the wasm it came from and
        carries a checksum, or with `key` (bytes, at least 16 of them, else
        `InvalidArgumentError`) a MAC made with it, so only a holder of the key can make an
        artifact that deserializes with it. Keep keys secret; the bytes hold machine code.
        Thread-safe.
        """
        key = as_key(key)
        out = _ffi.Bytes()
        lib = _ffi.lib()
        with self._use() as ptr:
            if key is None:
                check(lib.packr_module_serialize(ptr, ctypes.byref(out)))
            else:
                check(lib.packr_module_serialize_keyed(ptr, key, len(key), ctypes.byref(out)))
        return take_bytes(out) or b""  # `out` is written only on success

    def func(self, name: str) -> Func:
        """Resolves the exported function `name` once, for fast calls on any instance of this
        compiled code: `func(instance, *args)`. NotFoundError if there is no such export;
        TypeMismatchError if it is not a function or uses types packr cannot carry.
        The Func is a handle of its own (close it, or use `with`)."""
        out = _ffi.FuncP()
        encoded = encode(name)
        with self._use() as ptr:
            check(_ffi.lib().packr_module_func(ptr, encoded, ctypes.byref(out)))
        return Func._resolve(out, name)

    @property
    def exports(self) -> tuple[Export, ...]:
        """The module's exports, in the module's order."""
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
        """The module's imports, in the module's order."""
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
