"""Resolved funcs: resolve once on compiled code, call on any instance of it."""

import threading
import time

import pytest

import packr
from conftest import CASES_DIR, SPIN_WAT, run_in_threads

CALC = (CASES_DIR / "calc.wat").read_text()


def test_resolve_once_call_everywhere(runtime):
    other_runtime = packr.Runtime.sharing_engine(runtime)
    with runtime.load(CALC) as module, module.func("add") as add:
        assert isinstance(add, packr.Func) and add.name == "add"
        assert add.signature() == (("i32", "i32"), ("i32",))
        with module.clone() as clone, other_runtime.wrap(module) as wrapped:
            for source in (module, clone, wrapped):
                with source.instantiate() as inst:
                    assert add(inst, 2, 3) == 5
                    assert inst.call_func(add, 40, 2) == 42
        with module.func("divmod") as divmod_, module.func("simd") as simd, module.func("crash") as crash:
            with module.instantiate() as inst:
                assert divmod_(inst, 17, 5) == (3, 2)
                assert simd(inst, bytes(range(16))) == bytes(range(16))
                with pytest.raises(packr.TrapError, match="unreachable"):
                    crash(inst)
    other_runtime.close()


def test_a_func_outlives_its_module(runtime):
    module = runtime.load(CALC)
    add = module.func("add")
    inst = module.instantiate()
    module.close()
    assert add(inst, 1, 1) == 2
    inst.close()
    add.close()


def test_wrong_module_is_an_invalid_argument(runtime):
    with runtime.load(CALC) as a, runtime.load(CALC) as b, a.func("add") as add, b.instantiate() as inst:
        # The same text compiled twice is other compiled code.
        with pytest.raises(packr.InvalidArgumentError, match="func `add` was resolved on other compiled code") as caught:
            add(inst, 1, 2)
        assert "resolve it with Module.func on a module" in caught.value.message  # the Python name
        assert caught.value.status_name == "PACKR_ERR_INVALID_ARGUMENT"


def test_resolve_failures(runtime):
    with runtime.load(CALC) as module:
        with pytest.raises(packr.NotFoundError, match="no export named `nope`"):
            module.func("nope")
        with pytest.raises(packr.TypeMismatchError, match="is a memory, not a function"):
            module.func("memory")
        with pytest.raises(packr.TypeMismatchError, match="funcref"):
            module.func("takes_ref")


def test_arguments_are_checked(runtime):
    with runtime.load(CALC) as module, module.func("add") as add, module.instantiate() as inst:
        with pytest.raises(packr.TypeMismatchError, match="`add` takes 2 arguments"):
            add(inst, 1)
        with pytest.raises(OverflowError, match="does not fit in i32"):
            add(inst, 2**31, 1)
        with pytest.raises(TypeError):
            add(inst, 1.5, 1)
        assert add(inst, True, 2**31 - 1) == -(2**31)
        with pytest.raises(AttributeError):
            add("not an instance", 1, 2)


def test_closed_func_and_closed_instance(runtime):
    with runtime.load(CALC) as module:
        add = module.func("add")
        inst = module.instantiate()
        inst.close()
        with pytest.raises(packr.ClosedError, match="Instance is closed"):
            add(inst, 1, 2)
        add.close()
        add.close()
        with module.instantiate() as live, pytest.raises(packr.ClosedError, match="Func is closed"):
            add(live, 1, 2)
        assert "closed" in repr(add)


def test_many_threads_share_one_func(runtime):
    with runtime.load(CALC) as module, module.func("add") as add:
        def work(n):
            with module.instantiate() as inst:
                for i in range(500):
                    assert add(inst, n, i) == n + i

        assert run_in_threads(8, work) == []


def test_close_waits_for_calls_through_the_func(runtime):
    with runtime.load(SPIN_WAT) as module, module.instantiate() as inst:
        spin = module.func("spin")
        n = 1_000_000
        while True:  # about half a second of spinning
            began = time.perf_counter()
            spin(inst, n)
            if time.perf_counter() - began > 0.05:
                n = int(n * 0.5 / (time.perf_counter() - began))
                break
            n *= 4
        box = {}
        thread = threading.Thread(target=lambda: box.update(result=spin(inst, n)))
        thread.start()
        time.sleep(0.1)
        assert thread.is_alive()
        spin.close()  # must not free the func under the running call...
        assert inst.memory_size() == 65536  # ...so when it returns, the call is over (else BusyError)
        thread.join()
        assert box == {"result": n}
