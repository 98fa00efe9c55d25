"""Exceptions: one class per packr status, in one table."""

from __future__ import annotations

from . import _ffi


class PackrError(Exception):
    """A packr call failed. `status` is the PACKR_* number, `message` what packr_last_error said."""

    def __init__(self, status: int, status_name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.status_name = status_name
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status_name}: {self.message!r})"


class NullPointerError(PackrError):
    pass


class InvalidArgumentError(PackrError):
    pass


class CompileError(PackrError):
    pass


class EngineMismatchError(PackrError):
    pass


class LinkError(PackrError):
    pass


class NotFoundError(PackrError):
    pass


class TypeMismatchError(PackrError):
    pass


class TrapError(PackrError):
    pass


class OutOfBoundsError(PackrError):
    pass


class BusyError(PackrError):
    pass


class PanicError(PackrError):
    pass


class InstantiateError(PackrError):
    pass


class PoolExhaustedError(PackrError):
    """A pooled runtime's pool is full; instantiating succeeds again once an instance is closed."""


class ResourceError(PackrError):
    """The operating system refused memory or address space (e.g. a pool under `ulimit -v`)."""


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
}


class ClosedError(ValueError):
    """The handle was closed; like I/O on a closed file, a ValueError (not a PackrError: no C call failed)."""


def error_for(status: int) -> PackrError:
    """The exception for a failed call; must run right after it, on the same thread."""
    lib = _ffi.lib()
    message = lib.packr_last_error().decode("utf-8", "replace")
    name = lib.packr_status_name(status).decode("ascii", "replace")
    return _BY_STATUS.get(status, PackrError)(status, name, message)


def check(status: int) -> None:
    if status != 0:
        raise error_for(status)
