import pytest

import packr


def test_results_by_count(instance):
    assert instance.call("add", 2, 3) == 5
    assert instance.call("divmod", 17, 5) == (3, 2)
    assert instance.call("count") == 1
    with pytest.raises(packr.TrapError, match="unreachable"):
        instance.call("crash")


def test_conversions_follow_the_signature(instance):
    assert instance.call("add64", 2**32, 5) == 2**32 + 5
    assert instance.call("add64", 2**63 - 1, 0) == 2**63 - 1
    assert instance.call("scale", 1.5, 4) == 6.0  # int accepted for f64
    assert instance.call("add", True, 1) == 2
    assert instance.call("add", 2**31 - 1, 1) == -(2**31)  # wasm wraps


def test_ints_out_of_range_raise_overflow_error(instance):
    with pytest.raises(OverflowError):
        instance.call("add", 2**31, 0)
    with pytest.raises(OverflowError):
        instance.call("add", -(2**31) - 1, 0)
    with pytest.raises(OverflowError):
        instance.call("add64", 2**63, 0)


def test_wrong_python_types_raise_type_error(instance):
    with pytest.raises(TypeError):
        instance.call("add", 1.5, 2)
    with pytest.raises(TypeError):
        instance.call("scale", "1.5", 2.0)


def test_count_and_type_mismatches_come_from_the_core(instance):
    with pytest.raises(packr.TypeMismatchError, match="`add` takes 2 arguments"):
        instance.call("add", 1)
    with pytest.raises(packr.TypeMismatchError, match="`add` takes 2 arguments"):
        instance.call("add", 1, 2, 3)
    with pytest.raises(packr.TypeMismatchError, match="uses type funcref"):
        instance.call("takes_ref", None)


def test_v128_values_are_16_bytes(instance):
    vector = bytes(range(16))
    assert instance.call("simd", vector) == vector
    assert instance.call("simd", bytearray(vector)) == vector
    assert instance.call("simd", memoryview(vector)) == vector
    with pytest.raises(TypeError, match="16 bytes for v128, got int"):
        instance.call("simd", 1)
    with pytest.raises(ValueError, match="16 bytes, not 3"):
        instance.call("simd", b"abc")
    assert instance.call_raw("simd", [("v128", vector)], 1) == [("v128", vector)]


def test_signatures_are_cached_per_module(calc):
    assert calc.signature("divmod") == (("i32", "i32"), ("i32", "i32"))
    with calc.clone() as clone, clone.instantiate() as instance:
        instance.call("add", 1, 2)
        assert clone._signatures is calc._signatures
        assert set(calc._signatures) == {"divmod", "add"}


def test_a_refused_argument_leaves_the_prepared_path_clean(instance):
    with pytest.raises(TypeError):
        instance.call("add", "1", 2)
    with pytest.raises(OverflowError, match="does not fit in i32"):
        instance.call("add", 1, 2**31)
    assert instance.call("add", 1, 2) == 3  # the plan went back to its pool, reset by the next call


def test_exports(calc):
    exports = dict(calc.exports)
    assert exports["add"] == "func" and exports["memory"] == "memory" and exports["table"] == "table"
    assert calc.imports == ()


def test_memory_in_and_out(instance):
    assert instance.memory_size() == 65536
    instance.write_memory(100, bytes([1, 2, 3, 250]))
    assert instance.read_memory(99, 6) == b"\x00\x01\x02\x03\xfa\x00"
    assert instance.call("sum_bytes", 100, 4) == 256
    instance.write_memory(0, bytearray(b"xy"))
    assert instance.read_memory(0, 2, memory="memory") == b"xy"
    assert instance.read_memory(65536, 0) == b""


def test_memory_out_of_bounds(instance):
    with pytest.raises(packr.OutOfBoundsError):
        instance.read_memory(65530, 7)
    with pytest.raises(packr.OutOfBoundsError):
        instance.write_memory(65535, b"ab")
    assert instance.read_memory(65534, 2) == b"\x00\x00"  # the failed write wrote nothing
    with pytest.raises(ValueError):
        instance.read_memory(-1, 1)


def test_memory_that_is_not_a_memory(instance):
    with pytest.raises(packr.TypeMismatchError):
        instance.memory_size("add")


def test_version():
    assert packr.version().count(".") == 2
