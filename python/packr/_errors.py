"""Exceptions: one class per packr status, in one table."""

from __future__ import annotations

import re

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
}

HOST = 15

# C function names in packr's messages, in this binding's words.
_PYTHON_NAMES = {
    "packr_runtime_new_sharing_engine": "Runtime.sharing_engine",
    "packr_module_func": "Module.func",
}
_C_NAME = re.compile(r"\b(" + "|".join(_PYTHON_NAMES) + r")\b")


class ClosedError(ValueError):
    """The handle was closed; like I/O on a closed file, a ValueError (not a PackrError: no C call failed)."""


def error_for(status: int) -> PackrError:
    """The exception for a failed call; must run right after it, on the same thread."""
    lib = _ffi.lib()
    message = lib.packr_last_error().decode("utf-8", "replace")
    message = _C_NAME.sub(lambda m: _PYTHON_NAMES[m.group(1)], message)
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
