"""Runtime settings: a frozen dataclass turned into a packr_config only while a Runtime is made."""

from __future__ import annotations

import ctypes
import dataclasses
import math
from typing import Any, Optional, Union

from . import _ffi
from ._errors import check

# Each field is named after its C setter, packr_config_set_<field> (timer_tick, in seconds,
# is packr_config_set_timer_tick_us); the value is its C width.
_UINT_BITS = {
    "pool_instances": 32,
    "pool_memories_per_instance": 32,
    "pool_tables_per_instance": 32,
    "pool_memory_bytes": 64,
    "pool_table_elements": 32,
    "opt_level": 32,
    "memory_reservation": 64,
    "pool_keep_resident": 64,
    "pool_decommit_batch": 32,
    "max_wasm_stack": 8 * ctypes.sizeof(ctypes.c_size_t),
    "max_module_bytes": 64,
}


def _micros(seconds: Union[int, float]) -> int:
    """Config.timer_tick's seconds as packr_config_set_timer_tick_us's microseconds."""
    return round(seconds * 1_000_000)


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings for `Runtime(config=...)`. `None` keeps packr's default; `Config()` is `Runtime()`.

    The meaning and limits of each setting are in packr.h (`packr_config_set_<field>`).
    A value packr rejects raises `InvalidArgumentError` naming the setting when the Runtime
    is made; a value that does not fit the C type (negative, too wide) raises
    `OverflowError` here, and a value of the wrong type `TypeError`.

    With `pooling`, instances reuse warm slots of a pool reserved up front and shared by
    every runtime made with `Runtime.sharing_engine`; instantiating beyond `pool_instances`
    raises `PoolExhaustedError` until an instance is closed. `pool_keep_resident`,
    `pool_pagemap_scan` and `pool_decommit_batch` tune how a freed slot is reset; their
    defaults (1 MiB, on, 1) are the fastest packr's benchmark found.

    Guardrails (see README's "Guardrails"):

    - `fuel`: the engine counts fuel, so `Module.instantiate(fuel=N)` can meter a guest
      (`OutOfFuel` when it runs dry). It costs guest speed (10-30% on compute-heavy code);
      a timeout costs nothing.
    - `timer_tick`: seconds (a float, like `sys.setswitchinterval`) between ticks of the
      epoch timer that measures timeouts: 0.0001 to 1, default 0.001. A timeout fires
      within about two ticks of its deadline. Rounded to the microsecond.
    - `max_wasm_stack`: the most stack in bytes a guest's frames may use in one call, 16 KiB
      to 64 MiB (default 512 KiB); deeper recursion is a `TrapError` ("call stack
      exhausted") on any thread, also one with a small `threading.stack_size`.
    - `max_module_bytes`: the largest module `Runtime.load` compiles (bytes of wasm or
      text); larger ones raise `LimitError` before compiling. 0 or None: no limit. Set it
      when compiling modules you did not write.
    - `signals_based_traps`: False makes compiled code check bounds itself instead of
      relying on SIGSEGV handlers (10-40% slower guest code), for processes whose other
      components cannot chain signal handlers. Default True.
    """

    pooling: bool = False
    pool_instances: Optional[int] = None
    pool_memories_per_instance: Optional[int] = None
    pool_tables_per_instance: Optional[int] = None
    pool_memory_bytes: Optional[int] = None  # a multiple of 65536
    pool_table_elements: Optional[int] = None
    memory_images: Optional[bool] = None
    opt_level: Optional[int] = None  # 0 none, 1 speed (the default), 2 speed and size
    parallel_compilation: Optional[bool] = None
    memory_reservation: Optional[int] = None
    pool_keep_resident: Optional[int] = None  # bytes, 0 to 1 GiB; 0 keeps nothing resident
    pool_pagemap_scan: Optional[bool] = None
    pool_decommit_batch: Optional[int] = None  # 1 to 4096
    fuel: Optional[bool] = None
    timer_tick: Optional[float] = None  # seconds, 0.0001 to 1
    max_wasm_stack: Optional[int] = None  # bytes, 16 KiB to 64 MiB
    max_module_bytes: Optional[int] = None  # bytes; 0 for no limit
    signals_based_traps: Optional[bool] = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            name, value = field.name, getattr(self, field.name)
            if value is None and name != "pooling":
                continue
            bits = _UINT_BITS.get(name)
            if name == "timer_tick":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError(f"Config.timer_tick must be a number of seconds, not {type(value).__name__}")
                if not math.isfinite(value) or value < 0:
                    raise ValueError(f"Config.timer_tick must be a finite, non-negative number of seconds, not {value}")
                if _micros(value) >= 1 << 64:
                    raise OverflowError(f"Config.timer_tick={value} seconds does not fit in a uint64 of microseconds")
            elif bits is None:
                if not isinstance(value, bool):
                    raise TypeError(f"Config.{name} must be a bool, not {type(value).__name__}")
            elif isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"Config.{name} must be an int, not {type(value).__name__}")
            elif not 0 <= value < 1 << bits:
                raise OverflowError(f"Config.{name}={value} does not fit in a uint{bits}")

    def _new_runtime(self) -> Any:
        """A new packr_runtime pointer made with these settings; the caller owns it."""
        lib = _ffi.lib()
        config = _ffi.ConfigP()
        check(lib.packr_config_new(ctypes.byref(config)))
        try:
            for field in dataclasses.fields(self):
                value = getattr(self, field.name)
                if value is None:
                    continue
                if field.name == "timer_tick":
                    check(lib.packr_config_set_timer_tick_us(config, _micros(value)))
                else:
                    check(getattr(lib, "packr_config_set_" + field.name)(config, value))
            out = _ffi.RuntimeP()
            check(lib.packr_runtime_new_with_config(config, ctypes.byref(out)))
            return out
        finally:
            lib.packr_config_free(config)
