"""The one base class every packr handle uses: close(), `with`, a finaliser, and safe concurrent close."""

from __future__ import annotations

import time
from _thread import allocate_lock
from typing import Any, Callable, Optional, TypeVar

from ._errors import ClosedError

H = TypeVar("H", bound="_Handle")


class _Handle:
    """Owns one C handle.

    Calls bracket their use of the pointer with `_acquire()`/`_release()` (or `with
    self._use()`), which count them in flight; `close()` stops new uses and waits for those
    in flight, so it is safe to close from one thread while another is inside a call. A
    handle dropped without `close()` is freed by `__del__`: by then nothing can be using it.

    The count is kept without a lock on the hot path: `_idle` is a list of tokens, a use
    pops one (or, when none is idle, makes one under `_lock`) and puts one back, and the
    uses in flight are `_tokens - len(_idle)`. `list.pop` and `list.append` are atomic, so
    two threads never lose a count; a use pops before it checks `_closed`, and `close()`
    sets `_closed` before it compares, so a use either sees the handle closed or is seen
    in flight. (A `with lock:` pair on every call cost five times as much.) Calls on
    different handles share nothing.
    """

    __slots__ = ("_ptr", "_lock", "_idle", "_tokens", "_closed", "_free", "__weakref__")

    def __init__(self, ptr: Any, free: Callable[[Any], None]) -> None:
        self._ptr = ptr
        self._lock = allocate_lock()
        self._idle: list = []
        self._tokens = 0
        self._closed = False
        self._free = free

    @classmethod
    def _adopt(cls: type[H], ptr: Any, *args: Any) -> H:
        """Wraps a pointer a C function just gave us (not a public constructor)."""
        self = cls.__new__(cls)
        self._init(ptr, *args)
        return self

    def _init(self, ptr: Any) -> None:
        raise NotImplementedError

    def _grow(self) -> None:
        """No token was idle: make one, already in use (the rare path: a new level of concurrency)."""
        with self._lock:
            self._tokens += 1

    def _closed_error(self) -> ClosedError:
        return ClosedError(f"{type(self).__name__} is closed")

    def _acquire(self) -> Any:
        """Counts a use in flight and returns the pointer; pair with `_release()`."""
        idle = self._idle
        try:
            idle.pop()
        except IndexError:
            self._grow()
        if self._closed:
            idle.append(True)
            raise self._closed_error()
        return self._ptr

    def _release(self) -> None:
        self._idle.append(True)

    def _use(self) -> "_Use":
        """`with handle._use() as ptr:` for the less frequent calls."""
        return _Use(self)

    @property
    def closed(self) -> bool:
        """True once `close()` has been called."""
        return self._closed

    def close(self) -> None:
        """Frees the handle once calls in progress on other threads return. Idempotent."""
        ptr: Optional[Any] = None
        self._closed = True
        while True:
            with self._lock:
                if len(self._idle) == self._tokens:
                    ptr, self._ptr = self._ptr, None
                    break
            time.sleep(0.0002)  # a call is still running on another thread; rare, so poll
        if ptr is not None:
            self._free(ptr)

    def __del__(self) -> None:
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr is not None:
            try:
                self._free(ptr)
            except Exception:  # at interpreter exit the library may already be gone
                pass

    def __enter__(self: H) -> H:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<packr.{type(self).__name__}{' (closed)' if self._closed else ''}>"


class _Use:
    __slots__ = ("_handle",)

    def __init__(self, handle: _Handle) -> None:
        self._handle = handle

    def __enter__(self) -> Any:
        return self._handle._acquire()

    def __exit__(self, *exc: object) -> None:
        self._handle._release()
