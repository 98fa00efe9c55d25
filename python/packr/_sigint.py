"""Ctrl-C during a guest call on the main thread.

Python runs its SIGINT handler (the one that raises KeyboardInterrupt) on the main thread
between bytecodes only, so a guest spinning inside a ctypes call would keep Ctrl-C waiting
forever. At the first `Module.instantiate` on the main thread while SIGINT has Python's
default handler, `install()` points Python's signal wakeup fd (`signal.set_wakeup_fd`) at a
pipe read by a daemon thread. Python's C-level handler writes each caught signal's number
there, on whatever thread the signal lands; on SIGINT's, the thread stops the call of the
instance in a call on the main thread, `current[0]`, with `Instance.interrupt_call`. The
call returns PACKR_ERR_INTERRUPTED, and Python's handler, pending all along, runs as it
returns (at the latest in its failure path: _instance.raise_ctrl_c) and raises
KeyboardInterrupt.

`interrupt_call` stops only the call running when the request lands, so a Ctrl-C that
lands as a call ends stops nothing: Python's handler raises KeyboardInterrupt after the
call, and the instance's later calls run. One window is left, because the thread needs the
GIL to read `current[0]`: a Ctrl-C that comes while the main thread runs Python code is
raised there as KeyboardInterrupt at once, and a guest call the program starts before the
thread gets the GIL (it waits at most the switch interval, 5 ms by default; typically a
call in an `except` or `finally` block) may be stopped, raising `Interrupted`.

`current[0]` is set by the call paths around their C call, on the main thread only, and
restored afterwards (a host callback may call another instance). Every byte read is
passed on to the wakeup fd that was set before ours, so asyncio's (or anyone's) keeps
working.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
from _thread import get_ident
from typing import Any, List, Optional, Tuple

try:  # signal.getsignal wraps this one in an enum lookup that costs microseconds
    from _signal import getsignal as _getsignal
except ImportError:  # pragma: no cover - other Pythons
    _getsignal = signal.getsignal

MAIN = threading.main_thread().ident
# The Instance in a call on the main thread, or None.
current: List[Any] = [None]

_SIGINT = int(signal.SIGINT)
_installed = False
_chained = -1  # the wakeup fd that was set before ours (-1: none)
_pipe: Optional[Tuple[int, int]] = None

# PyErr_CheckSignals runs the pending Python handlers on the main thread (a no-op on other
# threads); called through pythonapi, an exception a handler raises is raised here.
_check_signals = ctypes.pythonapi["PyErr_CheckSignals"]  # its own function object
_check_signals.restype = ctypes.c_int
_check_signals.argtypes = []


def installed() -> bool:
    """True while packr's watcher receives the process's signal bytes."""
    return _installed


def install() -> None:
    """Starts the watcher, unless it runs already, this is not the main thread, or SIGINT has
    another handler than Python's default (a program that handles Ctrl-C itself keeps its way).
    Called by every `Module.instantiate` until it succeeds, so it must stay cheap when it
    declines. Code that later replaces the wakeup fd (asyncio's `add_signal_handler`) takes
    the bytes away from the watcher: Ctrl-C then waits for the guest again."""
    global _installed, _chained, _pipe
    if _installed or get_ident() != MAIN:
        return
    if _getsignal(_SIGINT) is not signal.default_int_handler:
        return
    read_fd, write_fd = os.pipe()
    try:
        os.set_blocking(write_fd, False)  # set_wakeup_fd requires it; the watcher's end blocks
        previous = signal.set_wakeup_fd(write_fd)
    except (OSError, ValueError):  # not the main interpreter's main thread; no pipes (Windows)
        os.close(read_fd)
        os.close(write_fd)
        return
    try:
        threading.Thread(target=_watch, args=(read_fd,), name="packr-sigint", daemon=True).start()
    except BaseException:
        signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)
        raise
    _chained, _pipe, _installed = previous, (read_fd, write_fd), True


def _watch(read_fd: int) -> None:
    while True:
        try:
            data = os.read(read_fd, 512)
        except OSError:  # closed under us (after a fork, in the child)
            return
        if not data:
            return
        chained = _chained
        if chained >= 0:
            try:
                os.write(chained, data)
            except OSError:  # full or gone: Python drops the byte the same way
                pass
        if _SIGINT in data and _getsignal(_SIGINT) is signal.default_int_handler:
            instance = current[0]
            if instance is not None:
                try:
                    instance.interrupt_call()
                except Exception:  # noqa: BLE001 - the watcher must survive; the call just runs on
                    pass


def run_handlers() -> None:
    """Runs Python's pending signal handlers now, on the main thread: after a call stopped
    for a SIGINT, the default handler raises KeyboardInterrupt here."""
    _check_signals()


def _after_fork_in_child() -> None:
    # The child shares the pipe with the parent but has no watcher: give the wakeup fd back
    # to whoever had it, so the parent never reads the child's signals; the child's next
    # instantiate on its main thread installs a watcher of its own.
    global _installed, _pipe
    if not _installed or _pipe is None:
        return
    try:
        signal.set_wakeup_fd(_chained)
    except ValueError:
        return  # still ours: keep the pipe open rather than have Python write to a closed one
    for fd in _pipe:
        os.close(fd)
    _installed, _pipe = False, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
