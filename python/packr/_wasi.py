"""WASI instance options: keyword arguments of `Module.instantiate`, set on a
packr_instance_config only while the instance is made (see _guard.instance_config)."""

from __future__ import annotations

import ctypes
import enum
import os
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from . import _ffi
from ._errors import check

StrPath = Union[str, "os.PathLike[str]"]


class Output(enum.IntEnum):
    """Where a WASI guest's stdout or stderr goes (`Module.instantiate(stdout=..., stderr=...)`).
    The strings "inherit", "discard" and "capture" mean the same."""

    #: The Python process's own stream (file descriptor 1 or 2), the default.
    INHERIT = 0
    #: Nowhere: the guest's writes succeed and the bytes are dropped.
    DISCARD = 1
    #: A buffer in the instance, taken out with `Instance.read_stdout` / `read_stderr`. It
    #: holds at most `capture_limit` bytes (1 MiB by default); what the guest writes while it
    #: is full is dropped and counted (`Instance.stdout_dropped` / `stderr_dropped`).
    CAPTURE = 2


class Preopen(NamedTuple):
    """A host directory given to a WASI guest: `host` (an existing directory) appears to the
    guest as `guest` (such as "/data"), read-only unless `writable`. A plain tuple
    `(host, guest)` or `(host, guest, writable)` is the same."""

    host: StrPath
    guest: str
    writable: bool = False


def _text(what: str, value: Any) -> bytes:
    """A str as the NUL-terminated UTF-8 the C ABI takes, with errors that name the option."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    data = value.encode("utf-8")
    if b"\0" in data:
        raise ValueError(f"{what} {value!r} contains a NUL")
    return data


def _output(what: str, mode: Any) -> int:
    if isinstance(mode, str):
        try:
            return Output[mode.upper()]
        except KeyError:
            pass
    elif isinstance(mode, int) and not isinstance(mode, bool):
        try:
            return Output(mode)
        except ValueError:
            pass
    raise ValueError(f"{what} must be packr.Output.INHERIT, DISCARD or CAPTURE (or \"inherit\", "
                     f"\"discard\", \"capture\"), not {mode!r}")


def _env(env: Union[Mapping[str, str], Iterable[Tuple[str, str]]]) -> Tuple[list, list]:
    pairs = env.items() if isinstance(env, Mapping) else env
    names, values = [], []
    for pair in pairs:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise TypeError(f"env must be a mapping or (name, value) pairs, not {pair!r}") from None
        names.append(_text("an env name", name))
        values.append(_text(f"env[{name!r}]", value))
    return names, values


def _preopens(preopens: Iterable[Any]) -> list:
    found = []
    for item in preopens:
        try:
            item = Preopen(*item)
        except TypeError:
            raise TypeError(f"a preopen is (host_path, guest_path) or (host_path, guest_path, writable), "
                            f"not {item!r}") from None
        if not isinstance(item.writable, bool):
            raise TypeError(f"a preopen's writable must be a bool, not {type(item.writable).__name__}")
        host = os.fspath(item.host)
        found.append((_text("a preopen's host path", host), _text("a preopen's guest path", item.guest), item.writable))
    return found


class Options:
    """The checked WASI options of one `Module.instantiate` call (None: not given)."""

    __slots__ = ("args", "env", "stdin", "stdout", "stderr", "capture_limit", "preopens")

    def __init__(self, args: Optional[Sequence[str]], env: Any, stdin: Any, stdout: Any, stderr: Any,
                 capture_limit: Optional[int], preopens: Optional[Iterable[Any]]) -> None:
        if isinstance(args, (str, bytes)):
            raise TypeError("args must be a sequence of str (argv, args[0] the program's name), not one string")
        self.args = None if args is None else [_text(f"args[{i}]", a) for i, a in enumerate(args)]
        self.env = None if env is None else _env(env)
        if stdin is not None and not isinstance(stdin, (bytes, bytearray, memoryview)):
            raise TypeError(f"stdin must be bytes (encode a str first), not {type(stdin).__name__}")
        self.stdin = None if stdin is None else bytes(stdin)
        self.stdout = None if stdout is None else _output("stdout", stdout)
        self.stderr = None if stderr is None else _output("stderr", stderr)
        if capture_limit is not None:
            if isinstance(capture_limit, bool) or not isinstance(capture_limit, int):
                raise TypeError(f"capture_limit must be an int, not {type(capture_limit).__name__}")
            if not 0 <= capture_limit < 1 << (8 * ctypes.sizeof(ctypes.c_size_t)):
                raise OverflowError(f"capture_limit={capture_limit} does not fit in a size_t")
        self.capture_limit = capture_limit
        self.preopens = None if preopens is None else _preopens(preopens)

    def apply(self, config: Any) -> None:
        """Sets these options on the packr_instance_config `config`."""
        lib = _ffi.lib()
        if self.args is not None:
            argv = (ctypes.c_char_p * len(self.args))(*self.args)
            check(lib.packr_instance_config_set_wasi_args(config, argv, len(self.args)))
        if self.env is not None:
            names, values = self.env
            count = len(names)
            check(lib.packr_instance_config_set_wasi_env(
                config, (ctypes.c_char_p * count)(*names), (ctypes.c_char_p * count)(*values), count))
        if self.stdin is not None:
            check(lib.packr_instance_config_set_wasi_stdin(config, self.stdin, len(self.stdin)))
        if self.stdout is not None:
            check(lib.packr_instance_config_set_wasi_stdout(config, self.stdout))
        if self.stderr is not None:
            check(lib.packr_instance_config_set_wasi_stderr(config, self.stderr))
        if self.capture_limit is not None:
            check(lib.packr_instance_config_set_wasi_capture_limit(config, self.capture_limit))
        for host, guest, writable in self.preopens or ():
            check(lib.packr_instance_config_wasi_preopen_dir(config, host, guest, writable))
