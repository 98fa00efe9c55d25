"""Exceptions: one class per packr status, in one table."""

from __future__ import annotations

import re
from typing import Any, Optional

from . import _ffi


class PackrError(Exception):
    """A packr call failed. `status` is the PACKR_* number, `status_name` its name (such as
    "PACKR_ERR_TRAP"), `message` what packr said (C function names rewritten to this
    binding's, e.g. "Module.func")."""

    def __init__(self, status: int, status_name: str, message: str) -> None:
        """Made by the binding from a failed call's status and packr's message."""
        super().__init__(message)
        self.status = status
        self.status_name = status_name
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_name}: {self.message!r})"


class NullPointerError(PackrError):
    """A required pointer was NULL (PACKR_ERR_NULL_POINTER); a bug in the binding if you see it."""


class InvalidArgumentError(PackrError):
    """An argument was malformed (PACKR_ERR_INVALID_ARGUMENT): a setting out of range, a name
    defined twice in a Host, a Func used on an instance of other compiled code."""


class CompileError(PackrError):
    """The bytes are not a valid module (PACKR_ERR_COMPILE); the message says why."""


class EngineMismatchError(PackrError):
    """The module was compiled by an engine the runtime does not share (PACKR_ERR_ENGINE_MISMATCH)."""


class LinkError(PackrError):
    """Imports cannot be satisfied (PACKR_ERR_LINK); the message names every unmet import."""


class NotFoundError(PackrError):
    """No export of that name (PACKR_ERR_NOT_FOUND)."""


class TypeMismatchError(PackrError):
    """Argument or result kinds or counts, the wrong export kind, an immutable global, or a type
    packr values cannot carry (PACKR_ERR_TYPE_MISMATCH)."""


class TrapError(PackrError):
    """The guest trapped (PACKR_ERR_TRAP); the message starts with the reason. The instance stays usable."""


class OutOfBoundsError(PackrError):
    """A memory range outside the memory (PACKR_ERR_OUT_OF_BOUNDS); nothing was read or written."""


class BusyError(PackrError):
    """The instance is in use by another call (PACKR_ERR_BUSY); packr refuses rather than waits."""


class PanicError(PackrError):
    """packr panicked internally (PACKR_ERR_PANIC); please report it."""


class InstantiateError(PackrError):
    """Instantiation failed for another reason (PACKR_ERR_INSTANTIATE)."""


class PoolExhaustedError(PackrError):
    """A pooled runtime's pool is full; instantiating succeeds again once an instance is closed."""


class ResourceError(PackrError):
    """The operating system refused memory or address space (e.g. a pool under `ulimit -v`)."""


class HostError(PackrError):
    """A host function failed (PACKR_ERR_HOST): the guest trapped, and the message starts with
    `host function MODULE::NAME failed: ` and the reason, with the wasm backtrace after.

    A Python host function that raises does not produce this class: its own exception is
    re-raised instead (see `Host.func`), with this message added as a note. HostError itself
    is raised only when packr reports the failure without a Python exception behind it.
    The instance stays usable.
    """


class ExitError(PackrError):
    """The guest called WASI's `proc_exit` during a call (PACKR_ERR_EXIT); `Instance.run`
    reports an exit as its return value instead. The message is "the guest exited with code
    N" and `exit_code` is N, as packr_instance_exit_code reports it for the instance that
    made the call (also later: `Instance.exit_code`). It is None where packr keeps no code
    to ask for: an exit inside `Caller.call`, or during instantiation (a reactor's
    `_initialize`). The instance stays usable as far as packr is concerned, though a guest
    that exited rarely expects more calls.
    """

    def __init__(self, status: int, status_name: str, message: str, exit_code: Optional[int] = None) -> None:
        """Made by the binding; `exit_code` is filled in from the instance that exited."""
        super().__init__(status, status_name, message)
        self.exit_code = exit_code


class GuestError(PackrError):
    """A pack call's guest failed (PACKR_ERR_GUEST): it returned -1 with a message (after
    "the guest's EXPORT failed: "), or broke the pack convention (an unknown return code, a
    failed `__pack_alloc`); the message says which.

    Raised inside a `Host.bytes_func` callback, it refuses the call to the guest instead
    (the import returns -1; the guest decides what to do). Made by hand as
    `GuestError("why")` (the message is for Python's side: the guest gets only the -1) or
    with the binding's (status, status_name, message) form.
    """

    def __init__(self, *args: Any) -> None:
        """`GuestError(message="")` by hand, or `GuestError(status, status_name, message)`."""
        if len(args) == 3 and isinstance(args[0], int):
            super().__init__(*args)
        elif len(args) <= 1:
            super().__init__(GUEST, "PACKR_ERR_GUEST", str(args[0]) if args else "")
        else:
            raise TypeError("GuestError takes a message, or (status, status_name, message)")


class Timeout(PackrError, TimeoutError):
    """The call ran past the instance's timeout (PACKR_ERR_TIMEOUT: `Module.instantiate(timeout=...)`,
    `Instance.set_timeout`) and was stopped; the message names the timeout in milliseconds.

    Also a builtin `TimeoutError` (so an OSError, with `errno` None), so `except TimeoutError`
    catches it as it catches other libraries' timeouts. The instance stays usable; its
    memory is as the guest left it.
    """


class Interrupted(PackrError):
    """The call was stopped by `Instance.interrupt` or `Instance.interrupt_call`
    (PACKR_ERR_INTERRUPTED). A Ctrl-C that stops a call on the main thread raises
    KeyboardInterrupt instead. The instance stays usable."""


class OutOfFuel(PackrError):
    """The guest used up its fuel (PACKR_ERR_OUT_OF_FUEL: `Module.instantiate(fuel=...)` on a
    runtime made with `Config(fuel=True)`); `Instance.add_fuel` gives it more. The instance
    stays usable."""


class LimitError(PackrError):
    """A limit packr enforces was reached (PACKR_ERR_LIMIT): a module larger than
    `Config.max_module_bytes`, or an instance whose memory or table starts above its
    `memory_limit` / `table_limit`. The message names the limit. (Growth past a limit is no
    error: the guest's `memory.grow` / `table.grow` returns -1.)"""


class ArtifactError(PackrError):
    """A serialized module (an artifact: `Module.serialize`) failed verification
    (PACKR_ERR_ARTIFACT), so nothing of it was loaded. The message names the check:
    damaged ("checksum mismatch"), truncated, not a packr artifact, made by
    an engine with other settings or another wasmtime/packr version, written with another
    key or tampered with ("MAC mismatch"), or a key given for an artifact written without
    one, or the other way round. `Cache.load` never raises it: it recompiles instead."""


# The numbers are packr's stable status numbers (include/packr.h); unknown ones give PackrError.
_BY_STATUS = {
    1: NullPointerError,
    2: InvalidArgumentError,
    3: CompileError,
    4: EngineMismatchError,
    5: LinkError,
    6: NotFoundError,
    7: TypeMismatchError,
    8: TrapError,
    9: OutOfBoundsError,
    10: BusyError,
    11: PanicError,
    12: InstantiateError,
    13: PoolExhaustedError,
    14: ResourceError,
    15: HostError,
    16: ExitError,
    17: GuestError,
    18: Timeout,
    19: Interrupted,
    20: OutOfFuel,
    21: LimitError,
    22: ArtifactError,
}

HOST = 15
EXIT = 16
GUEST = 17
INTERRUPTED = 19

# C function names in packr's messages, in this binding's words: each C message that names a
# function (grep src/*.rs) names the Python API that does the same. Left as packr says it:
# packr_caller_return_bytes, which the binding calls for you (a Host.bytes_func callback
# returns its bytes), so no Python program can meet its message.
_PYTHON_NAMES = {
    "packr_runtime_new_sharing_engine": "Runtime.sharing_engine",
    "packr_module_func": "Module.func",
    "packr_host_define_wasi": "Host.define_wasi",
    "packr_host_define_bytes": "Host.bytes_func",
    "packr_instance_interrupt": "Instance.interrupt",
    "packr_instance_add_fuel": "Instance.add_fuel",
    "packr_config_set_fuel": "Config.fuel",
    "packr_config_set_memory_reservation": "Config.memory_reservation",
    "packr_config_set_max_module_bytes": "Config.max_module_bytes",
    "packr_instance_config_set_memory_limit": "Module.instantiate(memory_limit=...)",
    "packr_instance_config_set_table_limit": "Module.instantiate(table_limit=...)",
}
_C_NAME = re.compile(r"\b(" + "|".join(_PYTHON_NAMES) + r")\b")
# Phrases about the instance config, which Python users fill through Module.instantiate's
# keyword arguments; rewritten before the names. A phrase the core rewords stays as the
# core says it, its function names still rewritten.
_PHRASES = (
    (re.compile(r"\b(stdout|stderr) is not captured; set PACKR_WASI_CAPTURE on its instance config"),
     r"\1 is not captured; instantiate with \1=packr.Output.CAPTURE"),
    (re.compile(r"\bthe instance config sets WASI options\b"), "WASI options were given to Module.instantiate"),
    (re.compile(r"\bthe instance config sets fuel\b"), "fuel was given to Module.instantiate"),
    (re.compile(r"\benable it with packr_config_set_fuel on the config the runtime is made with"),
     "make the runtime with packr.Config(fuel=True)"),
    # Config.timer_tick is in seconds; the core counts microseconds.
    (re.compile(r"\btimer_tick_us must be between (\d+) and (\d+), not (\d+)"),
     lambda m: "timer_tick must be between {:g} and {:g} seconds, not {:g}".format(
         *(int(n) / 1e6 for n in m.groups()))),
)


def python_message(message: str) -> str:
    """packr's message in this binding's words: known phrases reworded, then each C function
    name with a Python equivalent replaced by it (whole words only)."""
    for phrase, words in _PHRASES:
        message = phrase.sub(words, message)
    return _C_NAME.sub(lambda m: _PYTHON_NAMES[m.group(1)], message)


class ClosedError(ValueError):
    """The handle was closed; like I/O on a closed file, a ValueError (not a PackrError: no C call failed)."""


def error_for(status: int) -> PackrError:
    """The exception for a failed call; must run right after it, on the same thread."""
    lib = _ffi.lib()
    message = python_message(lib.packr_last_error().decode("utf-8", "replace"))
    name = lib.packr_status_name(status).decode("ascii", "replace")
    return _BY_STATUS.get(status, PackrError)(status, name, message)


def check(status: int) -> None:
    """Raises the exception for `status` unless it is PACKR_OK."""
    if status != 0:
        raise error_for(status)


def add_note(exc: BaseException, note: str) -> None:
    """`exc.add_note(note)`, also before Python 3.11 (where tracebacks do not show notes)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:
        notes = getattr(exc, "__notes__", None)
        if not isinstance(notes, list):
            notes = exc.__notes__ = []
        notes.append(note)
