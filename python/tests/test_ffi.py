"""The C declarations: every function of the header declared once, and the prepared call
paths (which skip ctypes' per-argument checks) passing exactly the declared types."""

import re
from pathlib import Path

import pytest

import packr
from packr import _ffi, _func, _pack

HEADER = Path(__file__).resolve().parents[2] / "include" / "packr.h"


def test_every_header_function_is_declared():
    declared = set(re.findall(r"^[a-z][\w ]*?\**\b(packr_\w+)\(", HEADER.read_text(), re.M))
    assert declared, "no functions found in the header"
    assert declared == set(_ffi._SIGNATURES), (declared ^ set(_ffi._SIGNATURES))


@pytest.fixture
def checked_entries(monkeypatch):
    """Routes the prepared paths through the declared (argtype-checked) functions: a plan
    passing anything but the declared types then raises ctypes.ArgumentError."""
    lib = _ffi.lib()
    for name in _ffi._UNCHECKED:
        monkeypatch.setitem(_ffi._unchecked, name, getattr(lib, name))
    monkeypatch.setattr(_func, "_subclasses", {})
    _pack.reset()
    yield
    _pack.reset()


def test_prepared_paths_pass_the_declared_types(checked_entries):
    host = packr.Host()
    host.func("host", "add", ["i32", "i32"], ["i32"], lambda caller, a, b: a + b)
    host.func("host", "fail", ["i32"], ["i32"], lambda caller, n: n)
    host.func("host", "peek", ["i32"], ["i32"], lambda caller, n: n)
    host.func("host", "twice", ["i32"], ["i32"], lambda caller, n: caller.call("double", n) + 1)
    host.func("host", "swap", ["v128"], ["v128"], lambda caller, v: v)
    cases = Path(__file__).resolve().parents[2] / "tests" / "cases"
    with packr.Runtime(host=host) as rt, rt.load((cases / "host.wat").read_text()) as module:
        with module.instantiate() as inst, module.func("use_twice") as twice, module.func("use_swap") as swap:
            assert inst.call("use_add", 2, 3) == 5  # by name
            assert twice(inst, 5) == 11  # a Func, and Caller.call inside
            assert swap(inst, bytes(16)) == bytes(16)
            with pytest.raises(packr.TypeMismatchError):
                twice(inst)  # the fallback path
            with pytest.raises(packr.TypeMismatchError):
                inst.call("use_add", 1)


PACK_WAT = (Path(__file__).resolve().parents[2] / "tests" / "cases" / "pack.wat").read_text()


def test_pack_paths_pass_the_declared_types(checked_entries):
    host = packr.Host()
    host.bytes_func("host", "transform", lambda caller, data: data.upper())
    with packr.Runtime(host=host) as rt, rt.load(PACK_WAT) as module, module.instantiate() as inst:
        with module.func("echo") as echo:
            assert inst.call_bytes("echo", b"abc") == b"abc"
            assert inst.call_bytes("echo", b"") == b""
            assert echo.call_bytes(inst, bytearray(b"\0binary\0")) == b"\0binary\0"
            assert inst.call_bytes("via_host", b"shout") == b"SHOUT"
            with pytest.raises(packr.GuestError):
                inst.call_bytes("fail", b"x")
