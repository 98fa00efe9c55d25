"""Inside a callback: per-instance data, memories by name, zero-copy views, calls back in."""

import pickle

import pytest

import packr

# Two memories: "memory" (1 page, "ab" at 0) and "scratch" (2 pages, "xyz" at 8).
WAT = """
(module
  (import "env" "poke" (func $poke (param i32 i32)))
  (import "env" "grow_and_look" (func $gl (param i32) (result i32)))
  (memory $m (export "memory") 1)
  (memory $s (export "scratch") 2)
  (data (memory $m) (i32.const 0) "ab")
  (data (memory $s) (i32.const 8) "xyz")
  (func (export "poke") (param i32 i32) (call $poke (local.get 0) (local.get 1)))
  (func (export "grow_and_look") (param i32) (result i32) (call $gl (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow $s (local.get 0)))
  (func (export "load_scratch") (param i32) (result i32) (i32.load8_u $s (local.get 0))))
"""


def _module(**funcs):
    host = packr.Host()
    host.func("env", "poke", ["i32", "i32"], [], funcs.get("poke", lambda caller, a, b: None))
    host.func("env", "grow_and_look", ["i32"], ["i32"], funcs.get("grow_and_look", lambda caller, n: 0))
    runtime = packr.Runtime(host=host)
    return runtime, runtime.load(WAT)


def test_per_instance_data():
    seen = []

    def poke(caller, a, b):
        seen.append(caller.data)

    from packr._instance import _states
    before = len(_states)
    runtime, module = _module(poke=poke)
    mine, yours = {"who": "mine"}, ["yours"]
    with runtime, module, module.instantiate(data=mine) as a, module.instantiate(data=yours) as b, \
            module.instantiate() as none:
        a.call("poke", 0, 0)
        b.call("poke", 0, 0)
        none.call("poke", 0, 0)
        assert seen[0] is mine and seen[1] is yours and seen[2] is None
        assert a.data is mine and b.data is yours and none.data is None
        assert len(_states) == before + 3
    with pytest.raises(packr.ClosedError):
        a.data
    assert len(_states) == before  # a closed instance's state is dropped with it


def test_memory_by_name():
    log = []

    def poke(caller, a, b):
        log.append((caller.memory_size(), caller.memory_size("scratch")))
        log.append((caller.read_memory(0, 2), caller.read_memory(8, 3, "scratch")))
        caller.write_memory(a, b"Q", "scratch")
        caller.write_memory(b, bytearray(b"R"))
        with pytest.raises(packr.OutOfBoundsError, match="cannot read 2 bytes at offset 131071"):
            caller.read_memory(131071, 2, "scratch")
        with pytest.raises(packr.NotFoundError):
            caller.memory_size("nope")
        with pytest.raises(packr.TypeMismatchError, match="not a memory"):
            caller.memory_size("poke")
        with pytest.raises(ValueError):
            caller.read_memory(-1, 1)

    runtime, module = _module(poke=poke)
    with runtime, module, module.instantiate() as inst:
        inst.call("poke", 100, 200)
        assert log == [(65536, 131072), (b"ab", b"xyz")]
        assert inst.call("load_scratch", 100) == ord("Q")
        assert inst.read_memory(200, 1) == b"R"
        assert inst.read_memory(8, 3, memory="scratch") == b"xyz"
        assert inst.memory_size("scratch") == 131072


def test_memory_view_is_zero_copy_and_released_after_the_callback():
    kept = []

    def poke(caller, a, b):
        view = caller.memory_view("scratch")
        assert view.format == "B" and not view.readonly and view.nbytes == 131072
        assert bytes(view[8:11]) == b"xyz"
        view[a] = b  # straight into guest memory
        kept.append(view)
        kept.append(caller.memory_view())

    runtime, module = _module(poke=poke)
    with runtime, module, module.instantiate() as inst:
        inst.call("poke", 300, 77)
        assert inst.call("load_scratch", 300) == 77
        with pytest.raises(ValueError, match="released"):
            kept[0][0]
        with pytest.raises(ValueError, match="released"):
            bytes(kept[1])


def test_a_view_still_exported_fails_the_callback():
    exported = []

    def poke(caller, a, b):
        view = caller.memory_view()
        exported.append(pickle.PickleBuffer(view))  # holds the view's buffer, as a numpy array would

    runtime, module = _module(poke=poke)
    with runtime, module, module.instantiate() as inst:
        with pytest.raises(BufferError, match="still exported") as caught:
            inst.call("poke", 0, 0)
        assert caught.value.__notes__[-1].startswith("PACKR_ERR_HOST: host function env::poke failed: 1 memory view")
        assert inst.call("load_scratch", 8) == ord("x")  # and the instance goes on
        exported.clear()


def test_views_are_released_before_calling_back_in():
    seen = []

    def grow_and_look(caller, pages):
        before = caller.memory_view("scratch")
        old = caller.call("grow", pages)  # may move the memory: the old view goes
        with pytest.raises(ValueError, match="released"):
            before[0]
        seen.append((old, caller.memory_view("scratch").nbytes, caller.memory_size("scratch")))
        return old

    runtime, module = _module(grow_and_look=grow_and_look)
    with runtime, module, module.instantiate() as inst:
        assert inst.call("grow_and_look", 3) == 2
        assert seen == [(2, 5 * 65536, 5 * 65536)]


def test_a_caller_is_only_valid_during_its_callback():
    callers = []
    runtime, module = _module(poke=lambda caller, a, b: callers.append(caller))
    with runtime, module, module.instantiate() as inst:
        inst.call("poke", 0, 0)
    caller = callers[0]
    for use in (lambda: caller.data, caller.memory_size, caller.memory_view, lambda: caller.read_memory(0, 1),
                lambda: caller.write_memory(0, b"x"), lambda: caller.call("grow", 1)):
        with pytest.raises(packr.ClosedError, match="host callback has returned"):
            use()
    assert "returned" in repr(caller)


def test_caller_call_converts_and_reports_like_instance_call():
    results = {}

    def grow_and_look(caller, n):
        results["grow"] = caller.call("grow", 0)
        with pytest.raises(packr.NotFoundError, match="no export named `nope`"):
            caller.call("nope")
        with pytest.raises(packr.TypeMismatchError, match="takes 1 arguments"):
            caller.call("grow")
        with pytest.raises(OverflowError):
            caller.call("grow", 2**31)
        with pytest.raises(packr.BusyError):
            inst.call("grow", 0)  # the instance itself is busy: use the caller
        return 5

    runtime, module = _module(grow_and_look=grow_and_look)
    with runtime, module, module.instantiate() as inst:
        assert inst.call("grow_and_look", 0) == 5
        assert results == {"grow": 2}


def test_calling_back_in_from_a_start_function():
    wat = """
    (module
      (import "env" "f" (func $f (param i32) (result i32)))
      (func (export "double") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
      (func $start (drop (call $f (i32.const 21))))
      (start $start))
    """
    host = packr.Host()
    host.func("env", "f", ["i32"], ["i32"], lambda caller, x: caller.data.append(caller.call("double", x)) or 0)
    log = []
    with packr.Runtime(host=host) as rt, rt.load(wat) as module, module.instantiate(data=log) as inst:
        assert log == [42]  # before instantiate returned: no Instance handle yet, only the caller
        assert inst.data is log
