"""Host functions: definitions, every value kind, results checked, unknown imports, runtimes."""

import pytest

import packr
from conftest import CASES_DIR

KINDS_WAT = """
(module
  (import "env" "all" (func $all (param i32 i64 f32 f64 v128) (result v128 f64 f32 i64 i32)))
  (import "env" "nothing" (func $nothing))
  (import "env" "v128" (func $v128 (param v128) (result v128)))
  (func (export "all") (param i32 i64 f32 f64 v128) (result v128 f64 f32 i64 i32)
    (call $nothing)
    (call $all (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
  (func (export "v128") (param v128) (result v128) (call $v128 (local.get 0))))
"""

RESULT_WAT = """
(module
  (import "env" "i32" (func $i32 (result i32)))
  (import "env" "i64" (func $i64 (result i64)))
  (import "env" "f64" (func $f64 (result f64)))
  (import "env" "v128" (func $v128 (result v128)))
  (import "env" "pair" (func $pair (result i32 i32)))
  (import "env" "none" (func $none))
  (func (export "i32") (result i32) (call $i32))
  (func (export "i64") (result i64) (call $i64))
  (func (export "f64") (result f64) (call $f64))
  (func (export "v128") (result v128) (call $v128))
  (func (export "pair") (result i32 i32) (call $pair))
  (func (export "none") (call $none)))
"""

VECTOR = bytes(range(16))


def test_every_kind_both_ways():
    host = packr.Host()
    seen = []

    @host.func("env", "all", [packr.I32, packr.I64, packr.F32, packr.F64, packr.V128],
               ["v128", "f64", "f32", "i64", "i32"])  # the names and the constants are the same
    def every(caller, a, b, c, d, e):
        seen.append((a, b, c, d, e))
        return e[::-1], d * 2, c + 1, b - 1, a * 3

    def nothing(caller):
        seen.append("nothing")

    assert host.func("env", "nothing", [], [], nothing) is nothing  # the call form returns fn
    host.func("env", "v128", [packr.V128], [packr.V128], lambda caller, v: bytearray(v[8:] + v[:8]))
    assert every.__name__ == "every"  # the decorator returns the function itself
    with packr.Runtime(host=host) as rt, rt.load(KINDS_WAT) as module, module.instantiate() as inst:
        result = inst.call("all", -5, -(2**40), 1.5, 2.25, VECTOR)
        assert result == (VECTOR[::-1], 4.5, 2.5, -(2**40) - 1, -15)
        assert seen == ["nothing", (-5, -(2**40), 1.5, 2.25, VECTOR)]
        assert type(seen[1][4]) is bytes and len(seen[1][4]) == 16
        assert inst.call("v128", VECTOR) == VECTOR[8:] + VECTOR[:8]


def _results_instance(**returns):
    host = packr.Host()
    kinds = {"i32": ["i32"], "i64": ["i64"], "f64": ["f64"], "v128": ["v128"], "pair": ["i32", "i32"], "none": []}
    good = {"i32": 0, "i64": 0, "f64": 0.0, "v128": bytes(16), "pair": (0, 0), "none": None}
    for name, result_kinds in kinds.items():
        value = returns.get(name, good[name])
        host.func("env", name, [], result_kinds, lambda caller, value=value: value)
    rt = packr.Runtime(host=host)
    module = rt.load(RESULT_WAT)
    return module.instantiate()


def test_results_are_converted_like_arguments():
    inst = _results_instance(i32=True, i64=-(2**63), f64=3, v128=memoryview(VECTOR), pair=[1, 2], none=None)
    assert inst.call("i32") == 1
    assert inst.call("i64") == -(2**63)
    assert inst.call("f64") == 3.0
    assert inst.call("v128") == VECTOR
    assert inst.call("pair") == (1, 2)
    assert inst.call("none") is None


@pytest.mark.parametrize("export, value, error, message", [
    ("i32", 1.5, TypeError, r"host function env::i32 result 0 \(i32\): 'float' object cannot be interpreted"),
    ("i32", "7", TypeError, r"host function env::i32 result 0 \(i32\)"),
    ("i32", None, TypeError, r"host function env::i32 result 0 \(i32\)"),
    ("i32", 2**31, OverflowError, r"host function env::i32 result 0 \(i32\): 2147483648 does not fit in i32"),
    ("i64", -(2**63) - 1, OverflowError, "does not fit in i64"),
    ("f64", "x", TypeError, r"env::f64 result 0 \(f64\): expected a number"),
    ("v128", b"short", ValueError, r"env::v128 result 0 \(v128\): a v128 value is 16 bytes, not 5"),
    ("v128", 7, TypeError, "expected 16 bytes for v128, got int"),
    ("pair", 1, TypeError, r"env::pair must return a tuple of 2 results \(i32, i32\), not int"),
    ("pair", (1, 2, 3), TypeError, r"env::pair must return 2 results \(i32, i32\), not 3"),
    ("pair", (1, "2"), TypeError, r"env::pair result 1 \(i32\)"),
    ("none", 0, TypeError, "env::none declares no results and must return None, not int"),
])
def test_wrong_results_fail_the_call_clearly(export, value, error, message):
    with _results_instance(**{export: value}) as inst:
        with pytest.raises(error, match=message) as caught:
            inst.call(export)
        assert caught.value.__notes__[-1].startswith(f"PACKR_ERR_HOST: host function env::{export} failed: ")
        # The instance stays usable, and the next good call is not disturbed.
        assert inst.call("pair" if export == "i32" else "i32") in (0, (0, 0))


def test_defining_twice_is_an_invalid_argument():
    host = packr.Host()
    host.func("env", "f", [], [], lambda caller: None)
    with pytest.raises(packr.InvalidArgumentError, match="env::f is already defined in this host"):
        host.func("env", "f", ["i32"], [], lambda caller, x: None)


def test_kinds_are_checked():
    host = packr.Host()
    with pytest.raises(ValueError, match="unknown value kind 'i33'"):
        host.func("env", "f", ["i33"], [], lambda caller, x: None)
    with pytest.raises(packr.TypeMismatchError, match="parameter 0 of env::f is funcref"):
        host.func("env", "f", ["funcref"], [], lambda caller, x: None)
    with pytest.raises(TypeError, match="must be callable"):
        host.func("env", "f", [], [], 42)
    with pytest.raises(ValueError, match="contains a NUL"):
        host.func("env\0", "f", [], [], lambda caller: None)


def test_unmet_imports_name_every_one():
    with packr.Host() as host, packr.Runtime(host=host) as rt:
        with rt.load((CASES_DIR / "host.wat").read_text()) as module:
            with pytest.raises(packr.LinkError, match="5 imports unmet") as caught:
                module.instantiate()
            assert "host::swap" in caught.value.message


def test_unknown_imports_as_traps():
    host = packr.Host(trap_unknown_imports=True)
    assert host.trap_unknown_imports
    host.func("host", "add", ["i32", "i32"], ["i32"], lambda caller, a, b: a + b)
    with packr.Runtime(host=host) as rt, rt.load((CASES_DIR / "host.wat").read_text()) as module:
        with module.instantiate() as inst:
            assert inst.call("use_add", 2, 3) == 5
            with pytest.raises(packr.TrapError):
                inst.call("use_fail", 1)
    host.trap_unknown_imports = False
    with packr.Runtime(host=host) as rt, rt.load((CASES_DIR / "host.wat").read_text()) as module:
        with pytest.raises(packr.LinkError, match="4 imports unmet"):
            module.instantiate()
    with pytest.raises(TypeError):
        host.trap_unknown_imports = 1


def test_a_runtime_keeps_the_definitions_of_its_making():
    base = packr.Runtime()
    host = packr.Host()
    host.func("host", "add", ["i32", "i32"], ["i32"], lambda caller, a, b: a + b)
    early = packr.Runtime.with_host(base, host)
    host.func("env", "later", [], [], lambda caller: None)
    host.close()  # runtimes keep what they copied
    wat = '(module (import "env" "later" (func)))'
    with early, early.load(wat) as module:
        with pytest.raises(packr.LinkError, match="env::later"):
            module.instantiate()
        # with_host shares base's engine: modules wrap both ways without recompiling.
        with early.load('(module (import "host" "add" (func (param i32 i32) (result i32))))') as m2:
            with base.wrap(m2) as plain, pytest.raises(packr.LinkError):
                plain.instantiate()
    base.close()


def test_runtime_with_host_and_config():
    host = packr.Host()
    host.func("host", "add", ["i32", "i32"], ["i32"], lambda caller, a, b: a * 10 + b)
    config = packr.Config(pooling=True, pool_instances=2, pool_memory_bytes=1 << 20)
    with packr.Runtime(config, host=host) as rt, rt.load((CASES_DIR / "host.wat").read_text()) as module:
        with pytest.raises(packr.LinkError):
            module.instantiate()  # host.wat imports more than this host serves
    with pytest.raises(TypeError, match="packr.Host"):
        packr.Runtime(host="nope")
    with pytest.raises(TypeError, match="packr.Host"):
        packr.Runtime.with_host(packr.Runtime(), object())


def test_closed_host():
    host = packr.Host()
    host.close()
    with pytest.raises(packr.ClosedError):
        host.func("env", "f", [], [], lambda caller: None)
    with pytest.raises(packr.ClosedError):
        packr.Runtime(host=host)


def test_help_shows_docstrings():
    for thing in (packr.Host, packr.Host.func, packr.Caller, packr.Caller.memory_view, packr.Caller.call,
                  packr.Func, packr.Module.func, packr.Module.instantiate, packr.Instance.get_global,
                  packr.Instance.set_global, packr.Runtime.with_host, packr.HostError, packr.Instance.data):
        assert thing.__doc__ and len(thing.__doc__) > 20, thing
