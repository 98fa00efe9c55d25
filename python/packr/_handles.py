"""The one base class every packr handle uses: close(), `with`, a finaliser, and safe concurrent close."""

from __future__ import annotations

import threading
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

from ._errors import ClosedError

H = TypeVar("H", bound="_Handle")


class _Handle:
    """Owns one C handle.

    Calls bracket their use of the pointer with `_use()`, which counts them in flight;
    `close()` stops new uses and waits for those in flight, so it is safe to close from one
    thread while another is inside a call. Each handle has its own lock, held only to
    update the count (never across a C call), so calls on different handles never wait on
    each other, and calls on the same handle reach the C side concurrently.
    """

    __slots__ = ("_ptr", "_cond", "_in_flight", "_closed", "_finalizer", "__weakref__")

    def __init__(self, ptr: Any, free: Callable[[Any], None]) -> None:
        self._ptr = ptr
        self._cond = threading.Condition(threading.Lock())
        self._in_flight = 0
        self._closed = False
        self._finalizer = weakref.finalize(self, free, ptr)
        # At interpreter exit a daemon thread may still be inside a call on this handle.
        self._finalizer.atexit = False

    @classmethod
    def _adopt(cls: type[H], ptr: Any, *args: Any) -> H:
        """Wraps a pointer a C function just gave us (not a public constructor)."""
        self = cls.__new__(cls)
        self._init(ptr, *args)
        return self

    def _init(self, ptr: Any) -> None:
        raise NotImplementedError

    @contextmanager
    def _use(self) -> Iterator[Any]:
        with self._cond:
            if self._closed:
                raise ClosedError(f"{type(self).__name__} is closed")
            self._in_flight += 1
        try:
            yield self._ptr
        finally:
            with self._cond:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Frees the handle once calls in progress on other threads return. Idempotent."""
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: self._in_flight == 0)
        self._finalizer()  # runs the free at most once, even if two threads close at once

    def __enter__(self: H) -> H:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<packr.{type(self).__name__}{' (closed)' if self._closed else ''}>"
