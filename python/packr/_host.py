"""Host functions: Python callables that serve guests' imports, and the trampolines between."""

from __future__ import annotations

import ctypes
import linecache
import itertools
from _thread import allocate_lock
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, TypeVar

from . import _ffi
from ._caller import Caller
from ._errors import GUEST, HOST, GuestError, check, error_for
from ._handles import _Handle
from ._instance import encode, state_at
from ._values import CARRIED, CTYPES, INT_RANGES, V128_BYTES, convert, describe, flat_type, kind_name, kind_number

F = TypeVar("F", bound=Callable[..., Any])

# What keeps each definition's ctypes trampoline (and so the Python callable) alive, by the
# `env` key packr holds: an entry is added before packr_host_define_func and removed by the
# finalizer packr runs once nothing can call the function any more. It never carries an
# exception: those travel per instance (see _instance._State).
_definitions: Dict[int, Tuple[Any, Callable[..., Any]]] = {}
_keys = itertools.count(1)
# Finalizer calls for a key that was not (or no longer) registered: a finalizer ran twice,
# which packr promises never happens. Counted so the tests can hold packr to it.
_stray_finalizations = 0


def _finalize(env: Optional[int]) -> None:
    global _stray_finalizations
    try:
        if _definitions.pop(env, None) is None:
            _stray_finalizations += 1
    except BaseException:  # at interpreter exit the module may be half torn down
        pass


_FINALIZER = _ffi.Finalizer(_finalize)


def live_definitions() -> int:
    """How many host functions packr can still call (their finalizers have not run)."""
    return len(_definitions)


def _message(exc: BaseException) -> bytes:
    """What packr reports for a failed callback: the exception's text (as C++ `what()` and Go
    `Error()` are), or its class name when it has none, as NUL-free UTF-8."""
    try:
        text = str(exc)
    except BaseException:
        text = ""
    if not text:
        text = type(exc).__name__
    return text.encode("utf-8", "replace").replace(b"\0", b"\\0")


def _fail(address: int, caller: Optional[Caller], exc: BaseException) -> int:
    """A callback raised `exc`: park it on the calling instance's state for the call that entered
    wasm, give packr its text, and fail. Never raises (ctypes would print it and return 0)."""
    try:
        if caller is not None:
            caller._end(False)
        lib = _ffi.lib()
        state = state_at(lib.packr_caller_data(address))
        if state is not None:
            state.pending = exc
        lib.packr_caller_set_error(address, _message(exc))
    except BaseException:
        pass
    return HOST


def _result(qualified: str, index: int, kind: int, value: Any) -> Any:
    """A callback's result checked for its declared kind, with an error that names both."""
    try:
        return convert(kind, value)
    except (TypeError, ValueError, OverflowError) as e:
        raise type(e)(f"host function {qualified} result {index} ({kind_name(kind)}): {e}") from None


def _results(qualified: str, kinds: Tuple[int, ...], value: Any) -> Sequence[Any]:
    """A callback's return value for several results: a tuple (or list) of that many."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"host function {qualified} must return a tuple of {len(kinds)} results "
                        f"{describe(kinds)}, not {type(value).__name__}")
    if len(value) != len(kinds):
        raise TypeError(f"host function {qualified} must return {len(kinds)} results {describe(kinds)}, "
                        f"not {len(value)}")
    return value


def _no_results(qualified: str, value: Any) -> None:
    raise TypeError(f"host function {qualified} declares no results and must return None, "
                    f"not {type(value).__name__}")


_TEMPLATE = '''
def make(fn, Caller, Args, Results, fail, result, results, no_results, put, qualified, kinds):
    def trampoline(env, address, args, nargs, out, nout):
        caller = None
        try:
            caller = Caller(address)
{read}
            value = fn(caller{values})
{write}
            if caller._views is not None:
                caller._end(True)
            caller._address = None
            return 0
        except BaseException as e:
            return fail(address, caller, e)
    return trampoline
'''


def _write_one(i: int, kind: int, source: str) -> list:
    """Lines that check `source` for result `i` (fast path first) and store it."""
    if kind in INT_RANGES:
        low, high = INT_RANGES[kind]
        lines = [f"if type({source}) is not int or not {low} <= {source} <= {high}:",
                 f"    {source} = result(qualified, {i}, {kind}, {source})"]
    elif kind in (2, 3):
        lines = [f"if type({source}) is not float:", f"    {source} = result(qualified, {i}, {kind}, {source})"]
    else:
        return [f"put(out + {i * 24 + 8}, result(qualified, {i}, {kind}, {source}), {V128_BYTES})"]
    return lines + [f"r.v{i} = {source}"]


_makers: Dict[tuple, Callable[..., Any]] = {}


def _trampoline(fn: Callable[..., Any], qualified: str, params: Tuple[int, ...], results: Tuple[int, ...]) -> Any:
    """The ctypes callback for one definition, generated for its signature (see _calls.py):
    packr_vals in place to Python values, `fn(caller, *values)`, its return value checked and
    written back, and any exception handed to `_fail`."""
    key = (params, results)
    make = _makers.get(key)
    if make is None:
        read = ["a = Args.from_address(args)"] if params else []
        values = "".join(f", string_at(args + {i * 24 + 8}, 16)" if k == 4 else f", a.v{i}" for i, k in enumerate(params))
        if not results:
            write = ["if value is not None:", "    no_results(qualified, value)"]
        else:
            write = ["r = Results.from_address(out)"] if any(k != 4 for k in results) else []
            if len(results) == 1:
                write += _write_one(0, results[0], "value")
            else:
                write.append("values = results(qualified, kinds, value)")
                for i, kind in enumerate(results):
                    write.append(f"v{i} = values[{i}]")
                    write += _write_one(i, kind, f"v{i}")
        source = _TEMPLATE.format(
            read="\n".join(" " * 12 + line for line in read),
            values=values,
            write="\n".join(" " * 12 + line for line in write),
        )
        namespace: Dict[str, Any] = {"string_at": ctypes.string_at}
        filename = f"<packr host trampoline {params}->{results}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # for tracebacks
        exec(compile(source, filename, "exec"), namespace)
        make = _makers[key] = namespace["make"]
    return make(fn, Caller, flat_type(params), flat_type(results), _fail, _result, _results, _no_results,
                ctypes.memmove, qualified, results)


def _uncallable(env: Any, address: int, args: Any, nargs: int, out: Any, nout: int) -> int:
    return HOST


def _bytes_result(qualified: str, value: Any) -> bytes:
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"host function {qualified} must return bytes (or a bytearray, memoryview), "
                    f"not {type(value).__name__}")


def _bytes_trampoline(fn: Callable[[Caller, bytes], Any], qualified: str) -> Callable[..., int]:
    """The ctypes callback for one bytes function: the input copied once into bytes,
    `fn(caller, data)`, its result handed to packr (which copies it into the guest), a
    GuestError turned into the guest's -1 and any other exception handed to `_fail`."""
    string_at = ctypes.string_at
    give = _ffi.lib().packr_caller_return_bytes

    def trampoline(env: Any, address: int, data: Optional[int], length: int) -> int:
        caller = None
        try:
            caller = Caller(address)
            result = fn(caller, string_at(data, length) if length else b"")
            if type(result) is not bytes:
                result = _bytes_result(qualified, result)
            if result:
                status = give(address, result, len(result))
                if status:
                    raise error_for(status)
            if caller._views is not None:
                caller._end(True)
            caller._address = None
            return 0
        except GuestError:
            if caller is not None:
                caller._end(False)
            return GUEST
        except BaseException as e:
            return _fail(address, caller, e)

    return trampoline


class Host(_Handle):
    """Host functions, for runtimes made with `Runtime(host=...)` or `Runtime.with_host`.

    Define functions with `func` (wasm values) and `bytes_func` (the pack convention); a
    runtime copies the definitions as they are when it is made, so later definitions reach
    only runtimes made later. A host belongs to no engine: one host can serve any number of
    runtimes. Its methods may be called from any thread (definitions are serialised).
    Closing the host does not affect runtimes made from it; each callable is released once
    nothing can call it any more (the host, and every runtime, module and instance that
    could, have been closed).

    `trap_unknown_imports=True` satisfies every function import nobody defined with one
    that traps when called (TrapError), so modules importing more than the host serves
    still instantiate; by default such imports raise LinkError at instantiation.

    `wasi=True` (or `define_wasi()`) serves WASI preview 1: each instance gets a WASI
    world of its own from `Module.instantiate(args=..., env=..., stdout=..., ...)`.
    """

    __slots__ = ("_define_lock", "_trap_unknown_imports", "_wasi")

    def __init__(self, *, trap_unknown_imports: bool = False, wasi: bool = False) -> None:
        """An empty set of host functions (and WASI, with `wasi=True`)."""
        if not isinstance(wasi, bool):
            raise TypeError(f"wasi must be a bool, not {type(wasi).__name__}")
        out = _ffi.HostP()
        check(_ffi.lib().packr_host_new(ctypes.byref(out)))
        _Handle.__init__(self, out, _ffi.lib().packr_host_free)
        self._define_lock = allocate_lock()
        self._trap_unknown_imports = False
        self._wasi = False
        if trap_unknown_imports:
            self.trap_unknown_imports = True
        if wasi:
            self.define_wasi()

    @property
    def wasi(self) -> bool:
        """Whether the host serves WASI (`Host(wasi=True)` or `define_wasi()`)."""
        return self._wasi

    def define_wasi(self) -> None:
        """Makes runtimes made from this host afterwards serve WASI preview 1
        (`wasi_snapshot_preview1`, and its older name `wasi_unstable`), each instance with
        its own arguments, environment, streams and directories (see `Module.instantiate`).
        Functions this host defines itself under those module names replace WASI's.
        Calling it again does nothing."""
        with self._define_lock, self._use() as ptr:
            check(_ffi.lib().packr_host_define_wasi(ptr))
        self._wasi = True

    @property
    def trap_unknown_imports(self) -> bool:
        """Whether imports nobody defined become functions that trap (see the class)."""
        return self._trap_unknown_imports

    @trap_unknown_imports.setter
    def trap_unknown_imports(self, enabled: bool) -> None:
        if not isinstance(enabled, bool):
            raise TypeError(f"trap_unknown_imports must be a bool, not {type(enabled).__name__}")
        with self._define_lock, self._use() as ptr:
            check(_ffi.lib().packr_host_set_unknown_imports_trap(ptr, enabled))
        self._trap_unknown_imports = enabled

    def func(self, module: str, name: str, params: Sequence[str], results: Sequence[str],
             fn: Optional[F] = None) -> Any:
        """Defines the import `module`::`name` with kinds `params` and `results` (each one of
        "i32", "i64", "f32", "f64", "v128", or packr.I32 ... packr.V128), served by `fn`.

        As a decorator::

            @host.func("env", "add", [packr.I32, packr.I32], [packr.I32])
            def add(caller, a, b):
                return a + b

        or as a call, `host.func("env", "add", [...], [...], add)`; both return `fn` itself.

        `fn(caller, *args)` gets a `Caller` (the calling instance: its data, memories and
        exports, valid during the call) and the arguments as Python values (ints, floats,
        16 bytes for a v128). It returns None for no results, the value for one, a tuple for
        several; results are checked as call arguments are (a wrong type or count, or an int
        outside the signed range, fails the call with a TypeError/OverflowError naming the
        function and result).

        An exception raised by `fn`, any BaseException, KeyboardInterrupt included, fails
        the call: the guest traps, and the call that entered wasm (`Instance.call`, a
        `Func`, `Module.instantiate` for a start function, or `Caller.call` in an outer
        callback) re-raises that same exception object, its traceback kept, in the thread
        that made the call. packr's report is added to it as a note (`__notes__`, shown by
        tracebacks): "PACKR_ERR_HOST: host function MODULE::NAME failed: TEXT" with the wasm
        backtrace, where TEXT is `str(exception)` (or its class name if empty). The instance
        stays usable. The exception travels with the instance that ran the callback, so
        instances failing on several threads at once each get their own.

        `fn` may run on any thread that calls into an instance, several at once when
        instances on different threads share it; it is kept alive until packr runs the
        definition's finalizer. InvalidArgumentError if `module`::`name` is already
        defined; TypeMismatchError for a kind packr values cannot carry ("funcref").
        """
        kinds = (tuple(kind_number(k) for k in params), tuple(kind_number(k) for k in results))
        encoded = (encode(module), encode(name))
        if fn is None:
            def define(fn: F) -> F:
                self._define(module, name, encoded, kinds, fn)
                return fn
            return define
        self._define(module, name, encoded, kinds, fn)
        return fn

    def bytes_func(self, module: str, name: str, fn: Optional[F] = None) -> Any:
        """Defines the import `module`::`name` in upstream packr's pack convention, served by
        `fn(caller, data: bytes) -> bytes`. The import's wasm type is (in_ptr, in_len,
        out_ptr_ptr, out_len_ptr: i32) -> i32; packr copies the guest's input out of its
        `memory` and gives `fn`'s result to the guest in a block from its `__pack_alloc`.

        As a decorator::

            @host.bytes_func("host", "transform")
            def transform(caller, data):
                return data.upper()

        or as a call, `host.bytes_func("host", "transform", transform)`; both return `fn`.

        `fn` returns bytes (a bytearray or memoryview is copied; b"" gives the guest an
        empty result); anything else fails the call with TypeError. Raising
        `packr.GuestError` (its message stays on Python's side) makes the import return -1
        to the guest, whose code decides what follows. Any other exception fails the call
        as for `Host.func`: the guest traps and the call that entered wasm re-raises that
        same exception, with "PACKR_ERR_HOST: host function MODULE::NAME failed: TEXT" as a
        note. The `caller` is the one `Host.func` callbacks get. Thread rules, lifetime and
        InvalidArgumentError for a name defined twice are those of `Host.func`.
        """
        encoded = (encode(module), encode(name))
        if fn is None:
            def define(fn: F) -> F:
                self._define_bytes(module, name, encoded, fn)
                return fn
            return define
        self._define_bytes(module, name, encoded, fn)
        return fn

    def _define_bytes(self, module: str, name: str, encoded: Tuple[bytes, bytes], fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"host function {module}::{name} must be callable, not {type(fn).__name__}")
        callback = _ffi.BytesCallback(_bytes_trampoline(fn, f"{module}::{name}"))
        key = next(_keys)
        _definitions[key] = (callback, fn)
        with self._define_lock, self._use() as ptr:
            status = _ffi.lib().packr_host_define_bytes(ptr, encoded[0], encoded[1], callback, key, _FINALIZER)
            if status:
                raise error_for(status)  # packr ran the finalizer already

    def _define(self, module: str, name: str, encoded: Tuple[bytes, bytes], kinds: Tuple[Tuple[int, ...], ...],
                fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"host function {module}::{name} must be callable, not {type(fn).__name__}")
        params, results = kinds
        if all(k < CARRIED for k in params + results):
            callback = _ffi.HostCallback(_trampoline(fn, f"{module}::{name}", params, results))
        else:
            callback = _ffi.HostCallback(_uncallable)  # packr refuses the definition, naming the kind
        key = next(_keys)
        _definitions[key] = (callback, fn)
        param_array = (_ffi.valkind * len(params))(*params)
        result_array = (_ffi.valkind * len(results))(*results)
        with self._define_lock, self._use() as ptr:
            status = _ffi.lib().packr_host_define_func(
                ptr, encoded[0], encoded[1], param_array, len(params), result_array, len(results),
                callback, key, _FINALIZER)
            if status:
                # packr ran the finalizer already (it owns `env` from the call on).
                raise error_for(status)


# The ctypes types the trampolines read and write, checked against packr_val's payloads.
assert all(ctypes.sizeof(t) <= 16 for t in CTYPES)
