"""Upstream packr's pack convention with the real guest build/guest/pack.wasm: bytes in and
out by name and through a Func, guests that fail or lie, and Python bytes functions."""

import gc
import inspect
import os
import sys
import weakref

import pytest

import packr
from conftest import CASES_DIR, guest, run_in_threads
from packr import _host, _pack

BIG = os.urandom(5 << 20)  # several MB, every byte value


class Refused(Exception):
    pass


@pytest.fixture
def transform():
    """What host.transform does, swappable per test: ASCII upper-case by default."""
    holder = {"fn": lambda caller, data: data.upper()}
    return holder


@pytest.fixture
def pack(transform):
    host = packr.Host()

    @host.bytes_func("host", "transform")
    def serve(caller, data):
        return transform["fn"](caller, data)

    with packr.Runtime(host=host) as rt, rt.load(guest("pack.wasm")) as module:
        host.close()
        yield module


@pytest.fixture
def inst(pack):
    with pack.instantiate(data="the instance's data") as instance:
        start = instance.call("alloc_count")
        yield instance
        assert instance.call("alloc_count") == start, "a guest block was not freed"


def test_echo_upper_size_and_fail(inst):
    assert inst.call_bytes("echo", b"hello") == b"hello"
    assert inst.call_bytes("echo", BIG) == BIG
    assert inst.call_bytes("upper", BIG) == BIG.upper()
    assert inst.call_bytes("size", BIG) == str(len(BIG)).encode()
    with pytest.raises(packr.GuestError) as caught:
        inst.call_bytes("fail", b"no thanks")
    assert caught.value.status_name == "PACKR_ERR_GUEST"
    assert caught.value.message == "the guest's `fail` failed: refused: no thanks"
    assert inst.call_bytes("echo", b"still usable") == b"still usable"


def test_empty_payloads_and_bytes_likes(inst):
    assert inst.call_bytes("echo", b"") == b""
    assert inst.call_bytes("size", b"") == b"0"
    assert inst.call_bytes("upper", bytearray(b"ab\0cd")) == b"AB\0CD"
    assert inst.call_bytes("echo", memoryview(b"xyz")[1:]) == b"yz"
    with pytest.raises(TypeError, match="takes bytes"):
        inst.call_bytes("echo", "text")
    with pytest.raises(TypeError, match="export name must be a str"):
        inst.call_bytes(b"echo", b"")


def test_guests_that_break_the_convention_are_named(inst):
    with pytest.raises(packr.OutOfBoundsError, match=r"`bad_ptr` returned 512 bytes at 0xffffff00, outside its memory"):
        inst.call_bytes("bad_ptr", b"x")
    with pytest.raises(packr.OutOfBoundsError, match=r"`bad_len` returned 2147483647 bytes"):
        inst.call_bytes("bad_len", b"x")
    with pytest.raises(packr.GuestError, match=r"`bad_status` returned 7; the pack convention allows 0"):
        inst.call_bytes("bad_status", b"x")
    with pytest.raises(packr.TypeMismatchError, match=r"`wrong_shape` is func\(i32\) -> \(i32\); the pack convention"):
        inst.call_bytes("wrong_shape", b"x")
    with pytest.raises(packr.NotFoundError):
        inst.call_bytes("nope", b"x")


def test_a_module_without_the_pack_exports(runtime):
    with runtime.load((CASES_DIR / "calc.wat").read_text()) as module, module.instantiate() as inst:
        with pytest.raises(packr.NotFoundError, match="does not export `__pack_alloc`"):
            inst.call_bytes("add", b"")


def test_a_failing_allocator_is_a_guest_error(inst):
    inst.call("set_alloc_fail", 1)
    with pytest.raises(packr.GuestError, match=r"__pack_alloc\(13\) returned 0: the guest could not allocate"):
        inst.call_bytes("echo", b"hello")
    inst.call("set_alloc_fail", 0)
    assert inst.call_bytes("echo", b"hello") == b"hello"


def test_through_a_func(pack, inst):
    with pack.func("upper") as upper:
        assert upper.signature() == (("i32",) * 4, ("i32",))
        assert upper.call_bytes(inst, b"func") == b"FUNC"
        assert inst.call_func_bytes(upper, BIG) == BIG.upper()
        assert upper.call_bytes(inst, b"") == b""
        with pytest.raises(packr.GuestError):
            pack.func("fail").call_bytes(inst, b"x")
    with pytest.raises(packr.ClosedError):
        upper.call_bytes(inst, b"closed")
    with pack.func("wrong_shape") as wrong, pytest.raises(packr.TypeMismatchError, match="pack convention"):
        wrong.call_bytes(inst, b"x")


def test_a_func_on_an_instance_of_other_code(pack, inst, runtime):
    with runtime.load('(module (memory (export "memory") 1))') as other, other.instantiate() as stranger:
        with pack.func("echo") as echo, pytest.raises(packr.InvalidArgumentError):
            echo.call_bytes(stranger, b"x")


def test_a_closed_instance(pack):
    instance = pack.instantiate()
    instance.close()
    with pytest.raises(packr.ClosedError):
        instance.call_bytes("echo", b"x")
    with pack.func("echo") as echo, pytest.raises(packr.ClosedError):
        echo.call_bytes(instance, b"x")


def test_via_host_with_a_python_bytes_function(inst, transform):
    seen = []

    def fn(caller, data):
        seen.append((type(data), len(data), caller.data, caller.call("alloc_count") >= 0))
        return bytearray(data[::-1])

    transform["fn"] = fn
    assert inst.call_bytes("via_host", b"abc") == b"cba"
    assert inst.call_bytes("via_host", BIG[: 2 << 20]) == BIG[: 2 << 20][::-1]
    assert seen[0] == (bytes, 3, "the instance's data", True)
    transform["fn"] = lambda caller, data: memoryview(b"")
    assert inst.call_bytes("via_host", b"to nothing") == b""
    transform["fn"] = lambda caller, data: data
    assert inst.call_bytes("via_host", b"") == b""


def test_guest_error_from_python_refuses_to_the_guest(inst, transform):
    def refuse(caller, data):
        raise packr.GuestError("not for you")

    transform["fn"] = refuse
    with pytest.raises(packr.GuestError) as caught:
        inst.call_bytes("via_host", b"x")
    # The import returned -1, and the guest's via_host reported it in its own words.
    assert caught.value.message == "the guest's `via_host` failed: host transform failed: -1"
    assert not hasattr(caught.value, "__notes__")  # not a host failure
    assert packr.GuestError().message == "" and packr.GuestError("why").status == 17


def test_other_exceptions_fail_the_call_and_travel(inst, transform):
    raised = []

    def fail(caller, data):
        raised.append(Refused(f"refused {data.decode()}"))
        raise raised[-1]

    transform["fn"] = fail
    with pytest.raises(Refused) as caught:
        inst.call_bytes("via_host", b"this")
    assert caught.value is raised[0]
    assert caught.value.__notes__[-1].startswith("PACKR_ERR_HOST: host function host::transform failed: refused this")
    transform["fn"] = lambda caller, data: "not bytes"
    with pytest.raises(TypeError, match="host function host::transform must return bytes"):
        inst.call_bytes("via_host", b"x")
    transform["fn"] = lambda caller, data: None
    with pytest.raises(TypeError, match="not NoneType"):
        inst.call_bytes("via_host", b"x")
    transform["fn"] = lambda caller, data: data.upper()
    assert inst.call_bytes("via_host", b"usable") == b"USABLE"


def test_a_result_the_guest_cannot_allocate_refuses_to_the_guest(inst, transform):
    def allocate_fails(caller, data):
        caller.call("set_alloc_fail", 1)
        return b"a result"

    transform["fn"] = allocate_fails
    with pytest.raises(packr.GuestError, match="host transform failed: -1"):
        inst.call_bytes("via_host", b"x")
    inst.call("set_alloc_fail", 0)


def test_the_caller_is_valid_only_during_the_callback(inst, transform):
    kept = []
    transform["fn"] = lambda caller, data: kept.append(caller) or data
    assert inst.call_bytes("via_host", b"x") == b"x"
    with pytest.raises(packr.ClosedError):
        kept[0].memory_size()


class Landed(BaseException):
    """Stands for a KeyboardInterrupt: raised between two bytecodes, as Python raises one."""


@pytest.mark.parametrize("through", ["name", "func"])
def test_an_exception_landing_right_after_the_call_still_frees_the_output(pack, inst, through, monkeypatch):
    # A Ctrl-C's KeyboardInterrupt may be raised at any bytecode after the C call returned;
    # a trace function raises one at the first line after the call's bookkeeping. packr's
    # output is freed all the same: the slot comes back to the pool holding {NULL, 0}.
    source, first = inspect.getsourcelines(_pack._call)
    target = first + next(i for i, line in enumerate(source) if line.strip() == "if status:")
    monkeypatch.setattr(_pack, "_idle", [])
    echo = pack.func("echo")

    def local(frame, event, arg):
        if event == "line" and frame.f_lineno == target:
            raise Landed
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code is _pack._call.__code__ else None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        with pytest.raises(Landed):
            if through == "name":
                inst.call_bytes("echo", b"x" * 100)
            else:
                echo.call_bytes(inst, b"x" * 100)
    finally:
        sys.settrace(previous)
    assert len(_pack._idle) == 1
    _, _, data, length = _pack._idle[0]
    assert data.value is None and length.value == 0
    assert inst.call_bytes("echo", b"next") == b"next"  # the slot serves the next call
    echo.close()


def test_many_threads_on_their_own_instances(pack):
    def work(n):
        with pack.instantiate() as instance:
            for i in range(200):
                data = f"thread {n} call {i} ".encode() * (i + 1)
                assert instance.call_bytes("via_host", data) == data.upper()
                assert instance.call_bytes("echo", data) == data
            assert instance.call("alloc_count") == 0

    assert run_in_threads(4, work) == []


def test_a_bytes_function_is_released_once_nothing_can_call_it():
    class Fn:
        def __call__(self, caller, data):
            return data

    fn = Fn()
    ref = weakref.ref(fn)
    before = _host.live_definitions()
    host = packr.Host()
    assert host.bytes_func("host", "transform", fn) is fn  # the call form returns fn
    with pytest.raises(packr.InvalidArgumentError):
        host.bytes_func("host", "transform", Fn())  # defined twice
    with pytest.raises(TypeError, match="must be callable"):
        host.bytes_func("host", "other", b"not callable")
    runtime = packr.Runtime(host=host)
    host.close()
    del fn
    gc.collect()
    assert ref() is not None and _host.live_definitions() == before + 1
    with runtime.load(guest("pack.wasm")) as module, module.instantiate() as instance:
        assert instance.call_bytes("via_host", b"kept") == b"kept"
    runtime.close()
    gc.collect()
    assert ref() is None and _host.live_definitions() == before
