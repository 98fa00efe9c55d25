"""Each callable is released exactly once, when packr runs its finalizer: after the host and every
runtime, module and instance that could call it are gone, in whatever order they go."""

import gc
import itertools
import weakref

import pytest

import packr
from packr import _host

WAT = """
(module
  (import "env" "f" (func $f (param i32) (result i32)))
  (func (export "run") (param i32) (result i32) (call $f (local.get 0))))
"""


class Callback:
    """A callable we can hold a weak reference to."""

    def __call__(self, caller, x):
        return x + 1


@pytest.fixture(autouse=True)
def no_stray_finalizations():
    yield
    assert _host._stray_finalizations == 0  # no finalizer ever ran twice


def _everything():
    callback = Callback()
    ref = weakref.ref(callback)
    host = packr.Host()
    host.func("env", "f", ["i32"], ["i32"], callback)
    runtime = packr.Runtime(host=host)
    module = runtime.load(WAT)
    instance = module.instantiate()
    func = module.func("run")
    assert func(instance, 1) == 2 and instance.call("run", 2) == 3
    return ref, {"host": host, "runtime": runtime, "module": module, "instance": instance}, func


@pytest.mark.parametrize("order", list(itertools.permutations(["host", "runtime", "module", "instance"])),
                         ids="-".join)
def test_released_once_the_last_holder_is_closed(order):
    before = _host.live_definitions()
    ref, handles, func = _everything()
    assert _host.live_definitions() == before + 1
    for name in order[:-1]:
        handles[name].close()
        gc.collect()
        assert ref() is not None, f"released while the {order[-1]} could still call it"
    handles[order[-1]].close()
    gc.collect()
    assert ref() is None
    assert _host.live_definitions() == before
    func.close()  # a Func keeps the compiled code, not the host functions


def test_released_when_handles_are_dropped_without_close():
    before = _host.live_definitions()
    ref, handles, func = _everything()
    del handles, func
    gc.collect()
    assert ref() is None and _host.live_definitions() == before


def test_a_refused_definition_is_released_at_once():
    callback = Callback()
    ref = weakref.ref(callback)
    before = _host.live_definitions()
    with packr.Host() as host:
        host.func("env", "f", ["i32"], ["i32"], Callback())
        with pytest.raises(packr.InvalidArgumentError):
            host.func("env", "f", ["i32"], ["i32"], callback)
        del callback
        gc.collect()
        assert ref() is None  # packr ran the refused definition's finalizer before returning
        assert _host.live_definitions() == before + 1
    assert _host.live_definitions() == before


def test_one_host_many_runtimes():
    before = _host.live_definitions()
    ref, handles, func = _everything()
    second = packr.Runtime.with_host(handles["runtime"], handles["host"])
    for handle in handles.values():
        handle.close()
    func.close()
    gc.collect()
    assert ref() is not None  # the second runtime can still serve it
    second.close()
    gc.collect()
    assert ref() is None and _host.live_definitions() == before
