"""Pack calls (upstream packr's bytes-in, bytes-out convention): the lean path into
packr_instance_call_bytes and packr_instance_call_func_bytes.

Per call: the name comes encoded from a cache, a `bytes` input is passed as it is (its
buffer is the C input pointer), the output structure comes from a pool with its pointer,
the length's c_size_t and views of its fields made once, and the output is copied once
into a new bytes object before packr frees it. The C functions are the unchecked twins
(see _ffi._UNCHECKED).
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Dict

from . import _ffi
from ._sigint import MAIN, current, get_ident

# Idle slots, each (pointer to a packr_bytes, c_size_t for the input length, views of the
# packr_bytes' data and len fields): a call pops one, so calls on several threads (or
# nested in host callbacks) never share one. list.pop and list.append are atomic.
_idle: list = []

# The one copy out: PyBytes_FromStringAndSize(out.data, out.len), called with the views of
# the fields, which skips reading them into Python ints (ctypes.string_at costs 0.1 us more).
# A NULL `data` comes with a length of 0, which gives b"".
_copy = ctypes.pythonapi["PyBytes_FromStringAndSize"]  # its own function object: no shared argtypes
_copy.restype = ctypes.py_object

# Encoded export names. Bounded, since any string may arrive here; cleared when full.
_names: Dict[str, bytes] = {}
_NAMES_MAX = 1024


def _slot() -> tuple:
    out = _ffi.Bytes()
    data = ctypes.c_void_p.from_buffer(out, _ffi.Bytes.data.offset)
    length = ctypes.c_ssize_t.from_buffer(out, _ffi.Bytes.len.offset)
    return ctypes.pointer(out), ctypes.c_size_t(), data, length


def name(export: str) -> bytes:
    """`export` encoded for the C call, from the cache."""
    found = _names.get(export)
    if found is None:
        if not isinstance(export, str):
            raise TypeError(f"the export name must be a str, not {type(export).__name__}")
        from ._instance import encode  # here, not above: _instance imports this module

        found = encode(export)
        if len(_names) >= _NAMES_MAX:
            _names.clear()
        _names[export] = found
    return found


def as_bytes(data: Any) -> bytes:
    """A pack call's input as bytes: one copy of a bytearray or memoryview, nothing for bytes."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"a pack call takes bytes (or a bytearray, memoryview), not {type(data).__name__}")


def call_bytes(instance: Any, export: str, data: Any) -> bytes:
    """`Instance.call_bytes`: a pack call of the export named `export`."""
    encoded = _names.get(export) or name(export)
    if type(data) is not bytes:
        data = as_bytes(data)
    if _free is None:
        _load()
    return _call(_by_name, instance, encoded, data, None)


def call_func_bytes(instance: Any, func: Any, data: Any) -> bytes:
    """`Func.call_bytes`: a pack call through `func`."""
    if type(data) is not bytes:
        data = as_bytes(data)
    if _free is None:
        _load()
    return _call(_by_func, instance, None, data, func)


def _call(entry: Callable[..., int], instance: Any, target: Any, data: bytes, func: Any) -> bytes:
    """One pack call: `entry(instance pointer, target, data, len, out)`, where `target` is
    the encoded name, or (`func` given) the func's pointer. The call is counted in flight on
    the instance and the func, and on the main thread the instance is the one Ctrl-C
    interrupts meanwhile, inlined as in _calls (see _Handle, _sigint).

    The `finally` that frees packr's output encloses the C call itself, so once the call
    has returned OK its output is freed whatever happens next (a KeyboardInterrupt raised
    between bytecodes, say); a failed or skipped call leaves the output {NULL, 0}, whose
    free is a no-op."""
    try:
        slot = _idle.pop()
    except IndexError:
        slot = _slot()
    out_ptr, size, out_data, out_len = slot
    size.value = len(data)
    try:
        idle = instance._idle
        try:
            idle.pop()
        except IndexError:
            instance._grow()
        try:
            if func is not None:
                func_idle = func._idle
                try:
                    func_idle.pop()
                except IndexError:
                    func._grow()
                try:
                    if func._closed:
                        raise func._closed_error()
                    target = func._ptr
                    if instance._closed:
                        raise instance._closed_error()
                    if get_ident() != MAIN:
                        status = entry(instance._ptr, target, data, size, out_ptr)
                    else:
                        outer = current[0]
                        current[0] = instance
                        try:
                            status = entry(instance._ptr, target, data, size, out_ptr)
                        finally:
                            current[0] = outer
                finally:
                    func_idle.append(True)
            else:
                if instance._closed:
                    raise instance._closed_error()
                if get_ident() != MAIN:
                    status = entry(instance._ptr, target, data, size, out_ptr)
                else:
                    outer = current[0]
                    current[0] = instance
                    try:
                        status = entry(instance._ptr, target, data, size, out_ptr)
                    finally:
                        current[0] = outer
        finally:
            idle.append(True)
        if status:
            raise instance._failure(status)
        return _copy(out_data, out_len)
    finally:
        _free(out_ptr)  # sets it to {NULL, 0}
        _idle.append(slot)


_by_name: Any = None
_by_func: Any = None
_free: Any = None


def _load() -> None:
    """Looks up the unchecked entry points (once; `reset` makes the next call look again)."""
    global _by_name, _by_func, _free
    _by_name = _ffi.unchecked("packr_instance_call_bytes")
    _by_func = _ffi.unchecked("packr_instance_call_func_bytes")
    _free = _ffi.unchecked("packr_bytes_free")


def reset() -> None:
    """Forgets the entry points, for tests that swap in the declared (checked) functions."""
    global _by_name, _by_func, _free
    _by_name = _by_func = _free = None
