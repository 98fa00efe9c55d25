"""Exceptions raised in host functions travel, per instance, back to the call that entered wasm."""

import threading
import traceback

import pytest

import packr
from conftest import run_in_threads

# `run` calls the import `env.f`; `outer` calls `env.outer`, whose callback calls back into
# `inner`, which calls `env.inner`; `start` is a module whose start function calls `env.f`.
WAT = """
(module
  (import "env" "f" (func $f (param i32) (result i32)))
  (import "env" "outer" (func $outer (param i32) (result i32)))
  (import "env" "inner" (func $inner (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (param i32) (result i32) (call $f (local.get 0)))
  (func (export "outer") (param i32) (result i32) (call $outer (local.get 0)))
  (func (export "inner") (param i32) (result i32) (call $inner (local.get 0))))
"""

START_WAT = """
(module
  (import "env" "f" (func $f (param i32) (result i32)))
  (func $start (drop (call $f (i32.const 99))))
  (start $start))
"""


class Boom(Exception):
    pass


def _runtime(f, outer=None, inner=None):
    host = packr.Host()
    host.func("env", "f", ["i32"], ["i32"], f)
    host.func("env", "outer", ["i32"], ["i32"], outer or (lambda caller, x: caller.call("inner", x) + 1))
    host.func("env", "inner", ["i32"], ["i32"], inner or (lambda caller, x: x * 2))
    runtime = packr.Runtime(host=host)
    host.close()
    return runtime


def raise_boom(caller, x):
    raise Boom(f"boom {x}")


def test_the_same_exception_object_is_re_raised_with_its_traceback():
    raised = []

    def f(caller, x):
        error = Boom(f"boom {x}")
        raised.append(error)
        raise error

    with _runtime(f) as rt, rt.load(WAT) as module, module.instantiate() as inst:
        with pytest.raises(Boom) as caught:
            inst.call("run", 7)
    assert caught.value is raised[0]
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert frames[0] == "test_the_same_exception_object_is_re_raised_with_its_traceback"
    assert frames[-1] == "f"  # the callback's own frame is kept
    note = caught.value.__notes__[-1]
    assert note.startswith("PACKR_ERR_HOST: host function env::f failed: boom 7\n")
    assert "wasm backtrace" in note
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert "PACKR_ERR_HOST: host function env::f failed: boom 7" in "".join(
        traceback.format_exception(caught.value))


def test_the_instance_stays_usable_after_a_failing_callback():
    calls = []

    def f(caller, x):
        calls.append(x)
        if x < 0:
            raise Boom("negative")
        return x + 1

    with _runtime(f) as rt, rt.load(WAT) as module, module.instantiate() as inst:
        for _ in range(3):
            with pytest.raises(Boom):
                inst.call("run", -1)
            assert inst.call("run", 41) == 42
        add = module.func("run")
        with pytest.raises(Boom):
            add(inst, -2)  # through a resolved func too
        assert add(inst, 1) == 2
        add.close()
    assert calls == [-1, 41, -1, 41, -1, 41, -2, 1]


def test_base_exceptions_travel_too():
    def interrupt(caller, x):
        raise KeyboardInterrupt

    def exit_(caller, x):
        raise SystemExit(3)

    for f, kind, text in ((interrupt, KeyboardInterrupt, "KeyboardInterrupt"), (exit_, SystemExit, "3")):
        with _runtime(f) as rt, rt.load(WAT) as module, module.instantiate() as inst:
            with pytest.raises(kind) as caught:
                inst.call("run", 1)
            assert caught.value.__notes__[-1].startswith(f"PACKR_ERR_HOST: host function env::f failed: {text}\n")
            assert inst.call("inner", 2) == 4


def test_nested_calls_keep_the_right_exception():
    seen = []

    def inner(caller, x):
        raise Boom(f"inner {x}")

    def outer(caller, x):
        try:
            caller.call("inner", x)
        except Boom as e:
            seen.append(e)
            assert e.__notes__[-1].startswith("PACKR_ERR_HOST: host function env::inner failed: inner 5")
        return 100  # handled: the outer call succeeds

    with _runtime(raise_boom, outer=outer, inner=inner) as rt, rt.load(WAT) as module:
        with module.instantiate() as inst:
            assert inst.call("outer", 5) == 100
            assert len(seen) == 1

    def outer_lets_it_go(caller, x):
        return caller.call("inner", x)

    with _runtime(raise_boom, outer=outer_lets_it_go, inner=inner) as rt, rt.load(WAT) as module:
        with module.instantiate() as inst:
            with pytest.raises(Boom, match="inner 6") as caught:
                inst.call("outer", 6)
            notes = caught.value.__notes__
            assert notes[0].startswith("PACKR_ERR_HOST: host function env::inner failed: inner 6")
            assert notes[1].startswith("PACKR_ERR_HOST: host function env::outer failed: inner 6")
            frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
            assert frames[-1] == "inner" and "outer_lets_it_go" in frames

    def outer_replaces_it(caller, x):
        try:
            caller.call("inner", x)
        except Boom as e:
            raise ValueError("outer's own") from e

    with _runtime(raise_boom, outer=outer_replaces_it, inner=inner) as rt, rt.load(WAT) as module:
        with module.instantiate() as inst:
            with pytest.raises(ValueError, match="outer's own") as caught:
                inst.call("outer", 7)
            assert isinstance(caught.value.__cause__, Boom)  # the callback's own chaining is kept
            assert caught.value.__notes__ == [caught.value.__notes__[0]]  # only the outer failure's note
            assert caught.value.__cause__.__notes__[0].startswith("PACKR_ERR_HOST: host function env::inner")


def test_a_start_function_failure_is_raised_by_instantiate():
    raised = []

    def f(caller, x):
        raised.append(Boom(f"start {x}"))
        raise raised[-1]

    with _runtime(f) as rt, rt.load(START_WAT) as module:
        with pytest.raises(Boom) as caught:
            module.instantiate(data="unused")
        assert caught.value is raised[0]
        assert caught.value.__notes__[-1].startswith("PACKR_ERR_HOST: host function env::f failed: start 99")
    from packr._instance import _states
    assert all(state.data != "unused" for state in _states.values())  # the failed instance's state is gone


def test_threads_each_get_their_own_exception():
    threads, rounds = 4, 50
    # Every callback waits for the others to be inside theirs, so the failures overlap.
    inside = threading.Barrier(threads)

    def f(caller, x):
        if x % 10 == 0:
            inside.wait(timeout=10)
        raise Boom(caller.data, x)

    with _runtime(f) as rt, rt.load(WAT) as module:
        def work(n):
            instances = [module.instantiate(data=(n, k)) for k in range(2)]
            for i in range(rounds):
                for k, inst in enumerate(instances):
                    try:
                        inst.call("run", i)
                    except Boom as e:
                        assert e.args == ((n, k), i), (e.args, n, k, i)
                    else:
                        raise AssertionError("no exception")
            for inst in instances:
                assert inst.call("inner", 4) == 8
                inst.close()

        assert run_in_threads(threads, work) == []


def test_the_exception_is_raised_in_the_calling_thread():
    where = []

    def f(caller, x):
        where.append(threading.get_ident())
        raise Boom()

    with _runtime(f) as rt, rt.load(WAT) as module:
        caught = []

        def work(n):
            with module.instantiate() as inst:
                try:
                    inst.call("run", n)
                except Boom:
                    caught.append(threading.get_ident())

        thread = threading.Thread(target=work, args=(1,))
        thread.start()
        thread.join()
        assert caught == where == [thread.ident]


def test_an_empty_message_is_the_class_name():
    with _runtime(lambda caller, x: (_ for _ in ()).throw(Boom())) as rt, rt.load(WAT) as module:
        with module.instantiate() as inst, pytest.raises(Boom) as caught:
            inst.call("run", 0)
    assert caught.value.__notes__[-1].startswith("PACKR_ERR_HOST: host function env::f failed: Boom\n")


def test_a_text_with_nul_is_kept_readable():
    def f(caller, x):
        raise Boom("a\0b")

    with _runtime(f) as rt, rt.load(WAT) as module, module.instantiate() as inst:
        with pytest.raises(Boom) as caught:
            inst.call("run", 0)
    assert "failed: a\\0b" in caught.value.__notes__[-1]

