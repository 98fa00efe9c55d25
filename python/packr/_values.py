"""Value kinds and the conversions between Python values and packr_val, checked in one place."""

from __future__ import annotations

import ctypes
import numbers
import operator
from typing import Any, Sequence, Tuple, Union

from . import _ffi

KIND_NAMES = ("i32", "i64", "f32", "f64", "v128", "funcref", "externref", "otherref")

#: The kinds of values packr carries, as `Host.func` and `Instance.call_raw` take them: the
#: kind names themselves, so ``"i32"`` and ``packr.I32`` are the same thing.
I32, I64, F32, F64, V128 = KIND_NAMES[:5]

CARRIED = 5  # kinds below this number fit in a packr_val
KIND_NUMBERS = {name: number for number, name in enumerate(KIND_NAMES)}
MEMBERS = ("i32", "i64", "f32", "f64", "v128")  # packr_val.of member per carried kind
INT_RANGES = {0: (-(2**31), 2**31 - 1), 1: (-(2**63), 2**63 - 1)}
# Each kind's ctypes type, for the prepared structures that read and write packr_vals in place.
CTYPES = (ctypes.c_int32, ctypes.c_int64, ctypes.c_float, ctypes.c_double, ctypes.c_uint8 * 16)
V128_BYTES = 16

Value = Union[int, float, bytes]


def kind_name(kind: int) -> str:
    return KIND_NAMES[kind] if 0 <= kind < len(KIND_NAMES) else f"kind {kind}"


def kind_number(kind: str) -> int:
    """The packr_valkind of a kind name ("i32", ... "v128"; packr.I32 ... packr.V128)."""
    number = KIND_NUMBERS.get(kind) if isinstance(kind, str) else None
    if number is None:
        raise ValueError(f"unknown value kind {kind!r}; use one of {', '.join(KIND_NAMES[:CARRIED])}")
    return number


def convert(kind: int, value: Any) -> Value:
    """`value` checked for a slot of `kind`: ints (and bools) in the signed range for
    i32/i64, never floats (no silent truncation); any real number for f32/f64; 16 bytes
    (bytes, bytearray or memoryview) for v128."""
    if kind <= 1:
        number = operator.index(value)
        low, high = INT_RANGES[kind]
        if not low <= number <= high:
            raise OverflowError(f"{number} does not fit in {KIND_NAMES[kind]} (signed)")
        return number
    if kind <= 3:
        if not isinstance(value, numbers.Real):
            raise TypeError(f"expected a number for {KIND_NAMES[kind]}, got {type(value).__name__}")
        return float(value)
    if kind == 4:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected 16 bytes for v128, got {type(value).__name__}")
        data = bytes(value)
        if len(data) != V128_BYTES:
            raise ValueError(f"a v128 value is 16 bytes, not {len(data)}")
        return data
    raise TypeError(f"packr values cannot carry {kind_name(kind)}")


def put_v128(target: Any, value: Any) -> None:
    """Writes the 16 bytes of `value` (checked) into the ctypes object `target`."""
    ctypes.memmove(ctypes.addressof(target), convert(4, value), V128_BYTES)


def store(slot: _ffi.Val, kind: int, value: Any) -> None:
    """Sets `slot` to `value` as a `kind` (checked by `convert`)."""
    slot.kind = kind
    if kind == 4:
        put_v128(slot.of, value)
    else:
        setattr(slot.of, MEMBERS[kind], convert(kind, value))


def load(slot: _ffi.Val) -> Value:
    """The Python value of a packr_val packr wrote (bytes for a v128)."""
    if slot.kind == 4:
        return bytes(slot.of.v128)
    return getattr(slot.of, MEMBERS[slot.kind])


_flat_types: dict = {}


def flat_type(kinds: Sequence[int]) -> Any:
    """A ctypes structure laid out as an array of len(kinds) packr_vals whose payloads are
    fields `v0`, `v1`, ... of the right types: one object reads or writes every value of a
    host call in place (a packr_val is a 4-byte kind, 4 bytes of padding, a 16-byte union)."""
    kinds = tuple(kinds)
    found = _flat_types.get(kinds)
    if found is None:
        fields: list = []
        for i, kind in enumerate(kinds):
            ctype = CTYPES[kind]
            fields += [(f"k{i}", ctypes.c_uint32), (f"_pad{i}", ctypes.c_uint32), (f"v{i}", ctype)]
            rest = 16 - ctypes.sizeof(ctype)
            if rest:
                fields.append((f"_rest{i}", ctypes.c_uint8 * rest))
        found = _flat_types[kinds] = type("FlatVals", (ctypes.Structure,), {"_fields_": fields})
        assert ctypes.sizeof(found) == len(kinds) * ctypes.sizeof(_ffi.Val)
    return found


def describe(kinds: Tuple[int, ...]) -> str:
    return "(" + ", ".join(map(kind_name, kinds)) + ")"
