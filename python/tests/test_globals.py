"""Exported globals: get and set, every carried kind, and the core's refusals."""

import pytest

import packr

WAT = """
(module
  (global (export "i32") (mut i32) (i32.const -1))
  (global (export "i64") (mut i64) (i64.const 4294967296))
  (global (export "f32") (mut f32) (f32.const 1.5))
  (global (export "f64") (mut f64) (f64.const -2.25))
  (global (export "v128") (mut v128) (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15))
  (global (export "fixed") i32 (i32.const 7))
  (global (export "ref") (mut funcref) (ref.null func))
  (func (export "get_i64") (result i64) (global.get 1)))
"""


@pytest.fixture
def inst(runtime):
    with runtime.load(WAT) as module, module.instantiate() as instance:
        yield instance


def test_get_every_kind(inst):
    assert inst.get_global("i32") == -1
    assert inst.get_global("i64") == 2**32
    assert inst.get_global("f32") == 1.5
    assert inst.get_global("f64") == -2.25
    assert inst.get_global("v128") == bytes(range(16))
    assert inst.get_global("fixed") == 7
    assert inst.get_global_raw("i64") == ("i64", 2**32)


@pytest.mark.parametrize("name, value", [
    ("i32", 2**31 - 1), ("i64", -(2**63)), ("f32", 0.5), ("f64", 1e300), ("v128", bytes(range(16, 32))),
])
def test_set_every_kind(inst, name, value):
    inst.set_global(name, value)
    assert inst.get_global(name) == value
    inst.set_global(name, value, kind=name)  # the explicit kind skips reading the global first
    assert inst.get_global(name) == value


def test_the_guest_sees_what_was_set(inst):
    inst.set_global("i64", 12345)
    assert inst.call("get_i64") == 12345


def test_refusals(inst):
    with pytest.raises(packr.TypeMismatchError, match="global `fixed` is immutable"):
        inst.set_global("fixed", 1)
    with pytest.raises(packr.TypeMismatchError, match="global `i64` is i64"):
        inst.set_global("i64", 1, kind="i32")
    with pytest.raises(packr.NotFoundError):
        inst.get_global("nope")
    with pytest.raises(packr.TypeMismatchError, match="is a function, not a global"):
        inst.get_global("get_i64")
    with pytest.raises(packr.TypeMismatchError, match="holds a reference"):
        inst.get_global("ref")
    with pytest.raises(OverflowError):
        inst.set_global("i32", 2**31)
    with pytest.raises(ValueError, match="16 bytes"):
        inst.set_global("v128", b"x")
    with pytest.raises(ValueError, match="unknown value kind"):
        inst.set_global("i32", 1, kind="int")
    assert inst.get_global("i32") == -1  # nothing refused was written
