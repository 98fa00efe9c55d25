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
    in flight, so it is safe to close from one thread while another is inside a call. Each
    handle has its own lock, held only to update the count (never across a C call), so calls
    on different handles never wait on each other. A handle dropped without `close()` is
    freed by `__del__`: by then nothing can be using it.
    """

    __slots__ = ("_ptr", "_lock", "_in_flight", "_closed", "_free", "__weakref__")

    def __init__(self, ptr: Any, free: Callable[[Any], None]) -> None:
        self._ptr = ptr
        self._lock = allocate_lock()
        self._in_flight = 0
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

    def _acquire(self) -> Any:
        """Counts a use in flight and returns the pointer; pair with `_release()`."""
        with self._lock:
            if self._closed:
                raise ClosedError(f"{type(self).__name__} is closed")
            self._in_flight += 1
        return self._ptr

    def _release(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _use(self) -> "_Use":
        """`with handle._use() as ptr:` for the less frequent calls."""
        return _Use(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Frees the handle once calls in progress on other threads return. Idempotent."""
        ptr: Optional[Any] = None
        while True:
            with self._lock:
                self._closed = True
                if self._in_flight == 0:
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
