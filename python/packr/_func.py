"""Func handles: an export resolved once on compiled code, called on any of its instances."""

from __future__ import annotations

import ctypes
import time
from typing import Any, Dict, Tuple, Union

from . import _calls, _ffi, _pack
from ._errors import check
from ._handles import _Handle
from ._instance import Result, _Signature, encode, read_signature
from ._values import Value


class Func(_Handle):
    """An exported function resolved by `Module.func`: call it as `func(instance, *args)`.

    It works on every instance of the same compiled code, made through any clone or wrap
    of the module, in any runtime (resolve it when the module enters your cache, call it on
    every spawn); an instance of other code raises InvalidArgumentError. This is packr's
    fastest call: no name lookup, and the argument arrays and the conversion code are
    prepared once for the signature. A function of the pack convention is called with
    `func.call_bytes(instance, data)`.

    Thread-safe: any number of threads may call through one Func at once. `close()` waits
    for calls in progress; the Func does not keep the module handle open. (Each signature
    gets its own subclass of Func, whose `__call__` is generated for it.)
    """

    __slots__ = ("name", "_sig", "_pool", "_fallback")

    @staticmethod
    def _resolve(ptr: Any, name: str) -> "Func":
        """Wraps a pointer packr_module_func gave us, as the subclass for its signature."""
        sig = _ffi.FuncSignature()
        try:
            check(_ffi.lib().packr_func_get_signature(ptr, ctypes.byref(sig)))
        except BaseException:
            _ffi.lib().packr_func_free(ptr)
            raise
        signature = read_signature(sig, encode(name))
        return _subclass(signature.params, signature.results)._adopt(ptr, name, signature)

    def _init(self, ptr: Any, name: str, sig: _Signature) -> None:
        _Handle.__init__(self, ptr, _ffi.lib().packr_func_free)
        self.name = name
        self._sig = sig
        # Its own pool of plans: also the count of calls in flight through this handle.
        self._pool = _calls.Pool(sig.params, len(sig.results), "Func")
        entry = _ffi.unchecked("packr_instance_call_func")
        nresults = len(sig.results)

        def fallback(instance: Any, args: tuple) -> Result:
            ptr = instance._acquire()
            try:
                status, results = _calls.generic(entry, ptr, self._ptr, args, sig.params, nresults, instance)
            finally:
                instance._release()
            if status:
                raise instance._failure(status)
            return _calls.unpack(results)

        self._fallback = fallback

    def __call__(self, instance: Any, *args: Value) -> Result:
        """Calls the function on `instance`, converting as `Instance.call` does; returns None,
        the one result, or a tuple."""
        raise NotImplementedError  # each signature's subclass has its generated __call__

    def call_bytes(self, instance: Any, data: Union[bytes, bytearray, memoryview]) -> bytes:
        """A pack call of the function on `instance` (see `Instance.call_bytes`) without the
        name lookup: packr's fastest bytes call. TypeMismatchError if the function does not
        have the pack shape; InvalidArgumentError on an instance of other compiled code."""
        return _pack.call_func_bytes(instance, self, data)

    def signature(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The parameter and result kinds, e.g. (("i32", "i32"), ("i32",))."""
        return self._sig.names()

    def close(self) -> None:
        """Frees the handle once calls in progress through it return. Idempotent."""
        pool = self._pool
        pool.closed = True
        while pool.in_flight():
            time.sleep(0.0002)  # a call is still running on another thread; rare, so poll
        _Handle.close(self)

    def __repr__(self) -> str:
        return f"<packr.Func {self.name!r}{' (closed)' if self._closed else ''}>"


_subclasses: Dict[Tuple[Tuple[int, ...], Tuple[int, ...]], type] = {}


def _subclass(params: Tuple[int, ...], results: Tuple[int, ...]) -> type:
    found = _subclasses.get((params, results))
    if found is None:
        call = _calls.prepare(None, params, results, "instance", _ffi.unchecked("packr_instance_call_func"), None, None)
        call.__doc__ = Func.__call__.__doc__
        call.__name__ = call.__qualname__ = "__call__"
        found = _subclasses[(params, results)] = type(
            "Func", (Func,), {"__slots__": (), "__call__": call, "__doc__": Func.__doc__, "__module__": Func.__module__})
    return found
