"""Runtime configuration: the pooling allocator and its limits, and settings packr rejects."""

import dataclasses

import pytest

import packr
from conftest import CASES_DIR, run_in_threads

CALC = (CASES_DIR / "calc.wat").read_text()

# Two slots of 1 MiB memories keep the pool's up-front reservation small.
SMALL_POOL = packr.Config(pooling=True, pool_instances=2, pool_memory_bytes=1 << 20)


@pytest.fixture
def pooled():
    with packr.Runtime(SMALL_POOL) as rt:
        yield rt


def test_default_config_is_the_default_runtime():
    with packr.Runtime(config=packr.Config()) as rt, rt.load(CALC) as module, module.instantiate() as inst:
        assert inst.call("add", 2, 3) == 5


@pytest.mark.parametrize("config", [
    packr.Config(
        pooling=True, pool_instances=4, pool_memories_per_instance=1, pool_tables_per_instance=1,
        pool_memory_bytes=1 << 20, pool_table_elements=100, memory_images=False, opt_level=2,
        parallel_compilation=False,
    ),
    packr.Config(opt_level=0, parallel_compilation=False, memory_reservation=64 << 20, memory_images=True),
], ids=["pooled", "on-demand"])
def test_every_setting(config):
    with packr.Runtime(config) as rt, rt.load(CALC) as module, module.instantiate() as inst:
        assert inst.call("add64", 1 << 40, 2) == (1 << 40) + 2


def test_pool_reset_settings():
    config = dataclasses.replace(
        SMALL_POOL, pool_keep_resident=0, pool_pagemap_scan=False, pool_decommit_batch=8)
    with packr.Runtime(config) as rt, rt.load(CALC) as module:
        for _ in range(5):  # more spawns than slots: each reuses a freed one, fresh
            with module.instantiate() as inst:
                assert inst.call("count") == 1
    for bad, message in [
        ({"pool_decommit_batch": 0}, "pool_decommit_batch must be between 1 and 4096, not 0"),
        ({"pool_decommit_batch": 5000}, "pool_decommit_batch must be between 1 and 4096, not 5000"),
        ({"pool_keep_resident": 2 << 30}, "pool_keep_resident must be between 0 and 1073741824"),
    ]:
        with pytest.raises(packr.InvalidArgumentError) as caught:
            packr.Runtime(dataclasses.replace(SMALL_POOL, **bad))
        assert caught.value.status_name == "PACKR_ERR_INVALID_ARGUMENT"
        assert message in caught.value.message


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SMALL_POOL.pool_instances = 3  # type: ignore[misc]
    assert dataclasses.replace(SMALL_POOL, pool_instances=3).pool_instances == 3


@pytest.mark.parametrize("config, message", [
    (packr.Config(pooling=True, pool_instances=0), "pool_instances must be between 1 and 1000000, not 0"),
    (packr.Config(pooling=True, pool_memory_bytes=100_000), "pool_memory_bytes must be a multiple of 65536"),
    (packr.Config(pool_memories_per_instance=0), "pool_memories_per_instance"),
    (packr.Config(pool_tables_per_instance=101), "pool_tables_per_instance"),
    (packr.Config(pool_table_elements=0), "pool_table_elements"),
    (packr.Config(opt_level=3), "opt_level"),
    (packr.Config(memory_reservation=1 << 40), "memory_reservation"),
    (packr.Config(timer_tick=0.00005), "timer_tick must be between 0.0001 and 1 seconds, not 5e-05"),
    (packr.Config(timer_tick=2), "timer_tick must be between 0.0001 and 1 seconds, not 2"),
    (packr.Config(max_wasm_stack=1024), "max_wasm_stack must be between 16384 and 67108864, not 1024"),
])
def test_invalid_setting_names_it(config, message):
    with pytest.raises(packr.InvalidArgumentError) as caught:
        packr.Runtime(config)
    assert caught.value.status == 2
    assert caught.value.status_name == "PACKR_ERR_INVALID_ARGUMENT"
    assert message in caught.value.message


@pytest.mark.parametrize("kwargs, error", [
    ({"pool_instances": -1}, OverflowError),
    ({"pool_instances": 1 << 32}, OverflowError),  # would wrap to 0 in a uint32
    ({"pool_memory_bytes": 1 << 64}, OverflowError),
    ({"pool_instances": "2"}, TypeError),
    ({"pool_instances": True}, TypeError),
    ({"pooling": None}, TypeError),
    ({"memory_images": 1}, TypeError),
    ({"fuel": 1}, TypeError),
    ({"signals_based_traps": "no"}, TypeError),
    ({"timer_tick": "1ms"}, TypeError),
    ({"timer_tick": True}, TypeError),
    ({"timer_tick": -0.001}, ValueError),
    ({"timer_tick": float("nan")}, ValueError),
    ({"timer_tick": 1e20}, OverflowError),
    ({"max_wasm_stack": -1}, OverflowError),
    ({"max_module_bytes": 1 << 64}, OverflowError),
])
def test_values_that_do_not_fit_the_c_type(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        packr.Config(**kwargs)


GUARD = (CASES_DIR / "guard.wat").read_text()


def test_guardrail_settings():
    config = packr.Config(fuel=True, timer_tick=0.0005, max_wasm_stack=64 << 10, max_module_bytes=1 << 20,
                          signals_based_traps=False)
    with packr.Runtime(config) as rt, rt.load(GUARD) as module, module.instantiate(timeout=0.005) as inst:
        assert inst.fuel() == 2**64 - 1  # fuel is counted
        with pytest.raises(packr.Timeout, match="timeout of 5 ms"):  # timed by the 0.5 ms tick
            inst.call("spin")
        assert inst.call("deep", 1000) == 1000
        with pytest.raises(packr.TrapError, match="call stack exhausted"):  # the 64 KiB stack
            inst.call("deep", 10_000)
    with packr.Runtime(packr.Config(max_wasm_stack=16 << 10)) as rt, rt.load(GUARD) as module:
        with module.instantiate() as inst:
            with pytest.raises(packr.TrapError, match="call stack exhausted"):
                inst.call("deep", 1000)


def test_traps_without_signal_handlers():
    with packr.Runtime(packr.Config(signals_based_traps=False)) as rt, rt.load(CALC) as module:
        with module.instantiate() as inst:
            with pytest.raises(packr.TrapError, match="integer divide by zero"):
                inst.call("div", 1, 0)
            with pytest.raises(packr.TrapError, match="out of bounds"):
                inst.call("sum_bytes", 65536, 1)
            assert inst.call("div", 7, 2) == 3


def test_max_module_bytes_refuses_larger_modules():
    size = len(GUARD.encode("utf-8"))
    with packr.Runtime(packr.Config(max_module_bytes=size - 1)) as rt:
        with pytest.raises(packr.LimitError) as caught:
            rt.load(GUARD)
        assert caught.value.status_name == "PACKR_ERR_LIMIT"
        assert caught.value.message == (
            f"the module is {size} bytes, above this runtime's limit of {size - 1} (Config.max_module_bytes)")
    for unlimited in (0, size):
        with packr.Runtime(packr.Config(max_module_bytes=unlimited)) as rt, rt.load(GUARD) as module:
            assert module.exports[0] == packr.Export("memory", "memory")


def test_config_must_be_a_config():
    with pytest.raises(TypeError, match="packr.Config"):
        packr.Runtime({"pooling": True})  # type: ignore[arg-type]


def test_pool_exhausted_until_an_instance_is_closed(pooled):
    with pooled.load(CALC) as module:
        first, second = module.instantiate(), module.instantiate()
        with pytest.raises(packr.PoolExhaustedError) as caught:
            module.instantiate()
        assert caught.value.status == 13
        assert caught.value.status_name == "PACKR_ERR_POOL_EXHAUSTED"
        assert "maximum concurrent limit of 2" in caught.value.message
        first.close()
        with module.instantiate() as third:  # the freed slot is reused, fresh
            assert third.call("count") == 1
        second.close()


def test_sharing_engine_shares_the_pool(pooled):
    with packr.Runtime.sharing_engine(pooled) as other, pooled.load(CALC) as module, other.wrap(module) as wrapped:
        mine, theirs = module.instantiate(), wrapped.instantiate()
        for either in (module, wrapped):
            with pytest.raises(packr.PoolExhaustedError, match="maximum concurrent limit of 2"):
                either.instantiate()
        mine.close()
        with wrapped.instantiate() as again:
            assert again.call("add", 40, 2) == 42
        assert theirs.call("add", 1, 2) == 3
        theirs.close()


def test_cache_pattern_on_a_pooled_engine():
    threads, spawns = 8, 25
    # Each thread holds at most one instance, so a pool of `threads` slots is never exhausted.
    config = dataclasses.replace(SMALL_POOL, pool_instances=threads)
    with packr.Runtime(config) as base:
        with base.load(CALC) as loaded:
            cached = loaded.clone()

        def serve(n):
            with packr.Runtime.sharing_engine(base) as rt:
                for i in range(spawns):
                    with rt.wrap(cached) as module, module.instantiate() as instance:
                        assert instance.call("add", n, i) == n + i
                        assert instance.call("count") == 1

        errors = run_in_threads(threads, serve)
        cached.close()
    assert errors == []
