"""Guardrail options of `Module.instantiate` (timeout, fuel, memory and table limits), the
conversions `Instance.set_timeout` and `add_fuel` share, and the one place an instance
config is made from all of an instantiation's options."""

from __future__ import annotations

import ctypes
import math
from typing import Any, Optional, Union

from . import _ffi
from ._errors import check

_U64 = 1 << 64
Seconds = Union[int, float]


def milliseconds(what: str, seconds: Any) -> int:
    """A timeout in seconds as packr's milliseconds: rounded to the nearest, and at least 1
    (packr's 0 means no timeout, which a tiny positive timeout must not become)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{what} must be a number of seconds or None, not {type(seconds).__name__}")
    if not (seconds > 0 and math.isfinite(seconds)):  # NaN fails the first test
        raise ValueError(f"{what} must be a positive number of seconds (None for no timeout), not {seconds!r}")
    ms = max(1, round(seconds * 1000))
    if ms >= _U64:
        raise OverflowError(f"{what}={seconds!r} does not fit in a uint64 of milliseconds")
    return ms


def uint64(what: str, value: Any) -> int:
    """`value` checked as an int that fits packr's uint64 (ctypes would truncate it silently)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value < _U64:
        raise OverflowError(f"{what}={value} does not fit in a uint64")
    return value


class Guards:
    """The checked guardrail options of one `Module.instantiate` call (None: not given)."""

    __slots__ = ("timeout_ms", "fuel", "memory_limit", "table_limit")

    def __init__(self, timeout: Optional[Seconds], fuel: Optional[int], memory_limit: Optional[int],
                 table_limit: Optional[int]) -> None:
        self.timeout_ms = None if timeout is None else milliseconds("timeout", timeout)
        self.fuel = None if fuel is None else uint64("fuel", fuel)
        self.memory_limit = None if memory_limit is None else uint64("memory_limit", memory_limit)
        self.table_limit = None if table_limit is None else uint64("table_limit", table_limit)

    def apply(self, config: Any) -> None:
        """Sets these options on the packr_instance_config `config`."""
        lib = _ffi.lib()
        if self.timeout_ms is not None:
            check(lib.packr_instance_config_set_timeout_ms(config, self.timeout_ms))
        if self.fuel is not None:
            check(lib.packr_instance_config_set_fuel(config, self.fuel))
        if self.memory_limit is not None:
            check(lib.packr_instance_config_set_memory_limit(config, self.memory_limit))
        if self.table_limit is not None:
            check(lib.packr_instance_config_set_table_limit(config, self.table_limit))


def instance_config(*parts: Any) -> Any:
    """A new packr_instance_config with the options of each part (an object with
    `apply(config)`, or None); the caller frees it."""
    lib = _ffi.lib()
    config = _ffi.InstanceConfigP()
    check(lib.packr_instance_config_new(ctypes.byref(config)))
    try:
        for part in parts:
            if part is not None:
                part.apply(config)
    except BaseException:
        lib.packr_instance_config_free(config)
        raise
    return config
