"""Instances: calls with Python values, and linear memory."""

from __future__ import annotations

import ctypes
import numbers
import operator
from typing import Any, Callable, Dict, Iterable, NamedTuple, Optional, Tuple, Union

from . import _ffi
from ._errors import error_for
from ._handles import _Handle

KIND_NAMES = ("i32", "i64", "f32", "f64", "v128", "funcref", "externref", "otherref")
_KIND_NUMBERS = {name: number for number, name in enumerate(KIND_NAMES[:4])}
_MEMBERS = ("i32", "i64", "f32", "f64")  # packr_val.of member per carriable kind
_INT_RANGES = {0: (-(2**31), 2**31 - 1), 1: (-(2**63), 2**63 - 1)}

Value = Union[int, float]


class _Signature(NamedTuple):
    params: Tuple[int, ...]
    results: Tuple[int, ...]
    carriable: bool  # every kind fits in a packr_val
    # Prepared once so a hot call does no encoding or type building:
    encoded: bytes  # the NUL-free UTF-8 name the C side takes
    args_type: Any  # ctypes array type for the arguments
    results_type: Any  # ctypes array type for the results
    members: Tuple[str, ...]  # packr_val.of member of each parameter

    def names(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        name = lambda k: KIND_NAMES[k] if k < len(KIND_NAMES) else f"kind {k}"  # noqa: E731
        return tuple(map(name, self.params)), tuple(map(name, self.results))


Signatures = Dict[str, _Signature]


def cached_signature(handle: Any, query: Callable[..., int], name: str) -> _Signature:
    """The signature of export `name`, from the handle's shared cache or else asked with `query`
    (the module or instance variant), so a hot call never asks the C side again."""
    found = handle._signatures.get(name)
    if found is not None:
        return found
    sig = _ffi.FuncSignature()
    encoded = _encode(name)
    with handle._use() as ptr:
        status = query(ptr, encoded, ctypes.byref(sig))
        if status:
            raise error_for(status)
    params = tuple(sig.params[i] for i in range(sig.nparams))
    results = tuple(sig.results[i] for i in range(sig.nresults))
    carriable = all(k < 4 for k in params + results)
    found = handle._signatures[name] = _Signature(
        params, results, carriable, encoded, _ffi.Val * len(params), _ffi.Val * len(results),
        tuple(_MEMBERS[k] if k < 4 else "" for k in params),
    )
    return found


def _encode(name: str) -> bytes:
    data = name.encode("utf-8")
    if b"\0" in data:  # the C ABI takes NUL-terminated names
        raise ValueError(f"export name {name!r} contains a NUL")
    return data


def _convert(kind: int, value: Value) -> Value:
    """`value` checked for a parameter of `kind`: ints (and bools) in the signed range for
    i32/i64, never floats (no silent truncation); any real number for f32/f64."""
    if kind <= 1:
        number = operator.index(value)
        low, high = _INT_RANGES[kind]
        if not low <= number <= high:
            raise OverflowError(f"{number} does not fit in {KIND_NAMES[kind]} (signed)")
        return number
    if kind <= 3:
        if not isinstance(value, numbers.Real):
            raise TypeError(f"expected a number for {KIND_NAMES[kind]}, got {type(value).__name__}")
        return float(value)
    raise TypeError(f"unknown value kind {kind}")


def _store(slot: _ffi.Val, kind: int, value: Value) -> None:
    slot.kind = kind
    setattr(slot.of, _MEMBERS[kind], _convert(kind, value))


def _load(slot: _ffi.Val) -> Value:
    return getattr(slot.of, _MEMBERS[slot.kind])


class Instance(_Handle):
    """A live instance with its own memory and globals; made by Module.instantiate.

    May be used from any thread, by one call at a time: a call that finds it in use by
    another thread raises BusyError rather than waiting.
    """

    __slots__ = ("_signatures",)

    def _init(self, ptr: Any, signatures: Signatures) -> None:
        _Handle.__init__(self, ptr, _ffi.lib().packr_instance_free)
        self._signatures = signatures

    def call(self, name: str, *args: Value) -> Union[None, Value, Tuple[Value, ...]]:
        """Calls export `name`, converting `args` by its signature.

        Integers outside the signed range of an i32/i64 parameter raise OverflowError; a
        float for an integer parameter, or a non-number, raises TypeError. Returns None,
        the single result, or a tuple of results.
        """
        sig = self._signatures.get(name) or cached_signature(self, _ffi.lib().packr_instance_func_signature, name)
        if sig.carriable and len(args) == len(sig.params):
            vals = sig.args_type()
            for slot, kind, member, value in zip(vals, sig.params, sig.members, args):
                slot.kind = kind
                setattr(slot.of, member, _convert(kind, value))
            results = sig.results_type()
            nresults = len(results)
        else:
            # Let the core report the mismatch in its own words.
            vals = (_ffi.Val * len(args))()
            results = sig.results_type()
            nresults = len(results)
        ptr = self._acquire()
        try:
            status = _ffi.lib().packr_instance_call(ptr, sig.encoded, vals, len(vals), results, nresults)
        finally:
            self._release()
        if status:
            raise error_for(status)
        if nresults == 1:
            first = results[0]
            return getattr(first.of, _MEMBERS[first.kind])
        return tuple(map(_load, results)) or None

    def call_raw(self, name: str, args: Iterable[Tuple[str, Value]], nresults: int) -> list[Tuple[str, Value]]:
        """Calls export `name` with explicitly typed `args` such as [("i32", 2), ("f64", 1.5)],
        passing `nresults` result slots; the core checks them against the signature."""
        args = list(args)
        vals = (_ffi.Val * len(args))()
        for slot, (kind, value) in zip(vals, args):
            _store(slot, _KIND_NUMBERS[kind], value)
        return [(KIND_NAMES[r.kind], _load(r)) for r in self._call(name, vals, nresults)]

    def _call(self, name: str, vals: ctypes.Array, nresults: int) -> ctypes.Array:
        results = (_ffi.Val * nresults)()
        encoded = _encode(name)
        ptr = self._acquire()
        try:
            status = _ffi.lib().packr_instance_call(ptr, encoded, vals, len(vals), results, nresults)
        finally:
            self._release()
        if status:
            raise error_for(status)
        return results

    def memory_size(self, memory: Optional[str] = None) -> int:
        """The size in bytes of the exported memory `memory` (default "memory")."""
        size = ctypes.c_uint64()
        name = None if memory is None else _encode(memory)
        with self._use() as ptr:
            status = _ffi.lib().packr_instance_memory_size(ptr, name, ctypes.byref(size))
            if status:
                raise error_for(status)
        return size.value

    def read_memory(self, offset: int, length: int, memory: Optional[str] = None) -> bytes:
        """Copies `length` bytes at `offset` out of the memory; OutOfBoundsError if not all inside."""
        _check_range(offset, length)
        buf = (ctypes.c_uint8 * length)()
        name = None if memory is None else _encode(memory)
        with self._use() as ptr:
            status = _ffi.lib().packr_instance_memory_read(ptr, name, offset, buf, length)
            if status:
                raise error_for(status)
        return bytes(buf)

    def write_memory(self, offset: int, data: Union[bytes, bytearray, memoryview], memory: Optional[str] = None) -> None:
        """Copies `data` into the memory at `offset`; writes nothing unless it all fits."""
        data = bytes(data)
        _check_range(offset, len(data))
        name = None if memory is None else _encode(memory)
        with self._use() as ptr:
            status = _ffi.lib().packr_instance_memory_write(ptr, name, offset, data, len(data))
            if status:
                raise error_for(status)


def _check_range(offset: int, length: int) -> None:
    if offset < 0 or length < 0:
        raise ValueError(f"offset and length must not be negative (got {offset} and {length})")
