import gc
import threading
import time
import weakref

import pytest

import packr
from conftest import CASES_DIR, SPIN_WAT

CALC = (CASES_DIR / "calc.wat").read_text()


def test_close_twice(runtime):
    module = runtime.load(CALC)
    instance = module.instantiate()
    for handle in (instance, module, runtime):
        handle.close()
        handle.close()
        assert handle.closed


def test_with_closes(runtime):
    with runtime.load(CALC) as module, module.instantiate() as instance:
        assert instance.call("add", 1, 1) == 2
    assert module.closed and instance.closed


def test_use_after_close_raises_closed_error(runtime):
    module = runtime.load(CALC)
    instance = module.instantiate()
    instance.close()
    with pytest.raises(packr.ClosedError):
        instance.call("add", 1, 2)
    with pytest.raises(packr.ClosedError):
        instance.read_memory(0, 1)
    module.close()
    for use in (module.clone, module.instantiate, lambda: module.exports, lambda: runtime.wrap(module)):
        with pytest.raises(packr.ClosedError):
            use()
    runtime.close()
    with pytest.raises(ValueError):  # ClosedError is a ValueError, like a closed file
        runtime.load(CALC)


def test_handles_close_in_any_order():
    runtime = packr.Runtime()
    module = runtime.load(CALC)
    runtime.close()
    instance = module.instantiate()
    module.close()
    assert instance.call("add", 2, 2) == 4
    instance.close()


def test_finaliser_frees_a_dropped_handle(runtime):
    instance = runtime.load(CALC).instantiate()  # the module is dropped at once
    freed = []
    real_free = instance._free
    instance._free = lambda ptr: (freed.append(ptr), real_free(ptr))
    ref = weakref.ref(instance)
    del instance
    gc.collect()
    assert ref() is None and len(freed) == 1


def test_close_frees_exactly_once(runtime):
    instance = runtime.load(CALC).instantiate()
    freed = []
    real_free = instance._free
    instance._free = lambda ptr: (freed.append(ptr), real_free(ptr))
    instance.close()
    instance.close()
    del instance
    gc.collect()
    assert len(freed) == 1


def _spin_iterations(instance, seconds):
    """How many iterations of `spin` take about `seconds` on this machine."""
    n = 1_000_000
    while True:
        began = time.perf_counter()
        instance.call("spin", n)
        took = time.perf_counter() - began
        if took > 0.05:
            return int(n * seconds / took)
        n *= 4


def _in_background(function, *args):
    box = {}

    def run():
        try:
            box["result"] = function(*args)
        except BaseException as e:  # noqa: BLE001 - checked by the test
            box["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.1)  # let it enter the call
    return thread, box


def test_close_waits_for_a_call_in_progress(runtime):
    module = runtime.load(SPIN_WAT)
    instance = module.instantiate()
    n = _spin_iterations(instance, 1.0)
    thread, box = _in_background(instance.call, "spin", n)
    assert thread.is_alive()
    # Meanwhile the same instance is busy (the core refuses, it does not wait)...
    with pytest.raises(packr.BusyError, match="in use by another call"):
        instance.memory_size()
    began = time.perf_counter()
    instance.close()  # ...and close waits for the call instead of freeing under it
    assert time.perf_counter() - began > 0.3  # the call had most of its second to run
    thread.join()
    assert box == {"result": n}
    with pytest.raises(packr.ClosedError):
        instance.call("spin", 1)
    module.close()


def test_calls_on_different_instances_run_in_parallel(runtime):
    with runtime.load(SPIN_WAT) as module, module.instantiate() as slow, module.instantiate() as fast:
        n = _spin_iterations(slow, 1.0)
        thread, box = _in_background(slow.call, "spin", n)
        assert thread.is_alive()
        assert fast.call("spin", 1000) == 1000  # neither the GIL nor our locks hold it back
        assert thread.is_alive()
        thread.join()
        assert box == {"result": n}
