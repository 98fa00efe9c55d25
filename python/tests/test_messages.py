"""Messages that name an API name Python's: every C function name packr's messages use is
rewritten (packr._errors) before the exception is made."""

import re

import pytest

import packr
from packr import _errors, _ffi
from conftest import SPIN_WAT

C_FUNCTION = re.compile(r"\bpackr_[a-z]\w*")
# Runs forever unless stopped; `one` answers at once.
LOOP_WAT = """
(module
  (memory (export "memory") 1)
  (table (export "table") 2 funcref)
  (func (export "spin") (loop $l (br $l)))
  (func (export "one") (result i32) i32.const 1))
"""


def assert_python_words(error, *names):
    assert not C_FUNCTION.search(error.message), error.message
    assert str(error) == error.message
    for name in names:
        assert name in error.message, error.message


def test_engine_mismatch_names_runtime_sharing_engine():
    with packr.Runtime() as a, packr.Runtime() as b, a.load(SPIN_WAT) as module:
        with pytest.raises(packr.EngineMismatchError) as caught:
            b.wrap(module)
    assert_python_words(caught.value, "engine mismatch", "create the runtime with Runtime.sharing_engine")


def test_fuel_on_a_runtime_without_it_names_the_config():
    with packr.Runtime() as rt, rt.load(SPIN_WAT) as module:
        with pytest.raises(packr.InvalidArgumentError) as caught:
            module.instantiate(fuel=10)
        assert_python_words(caught.value, "fuel was given to Module.instantiate", "packr.Config(fuel=True)")
        with module.instantiate() as inst:
            for query in (inst.fuel, lambda: inst.add_fuel(1)):
                with pytest.raises(packr.InvalidArgumentError) as caught:
                    query()
                assert_python_words(caught.value, "make the runtime with packr.Config(fuel=True)")


def test_out_of_fuel_names_instance_add_fuel():
    with packr.Runtime(packr.Config(fuel=True)) as rt, rt.load(LOOP_WAT) as module:
        with module.instantiate(fuel=1_000) as inst:
            with pytest.raises(packr.OutOfFuel) as caught:
                inst.call("spin")
    assert_python_words(caught.value, "the guest ran out of fuel; Instance.add_fuel gives it more")


def test_interrupted_names_instance_interrupt():
    with packr.Runtime() as rt, rt.load(LOOP_WAT) as module, module.instantiate() as inst:
        inst.interrupt()  # no call runs: the next one is stopped
        with pytest.raises(packr.Interrupted) as caught:
            inst.call("spin")
        assert inst.call("one") == 1
    assert caught.value.message == "the call was interrupted (Instance.interrupt)"
    assert_python_words(caught.value)


def test_wasi_not_served_names_host_define_wasi():
    wat = '(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i32))) (func (export "_start")))'
    with packr.Runtime() as rt, rt.load(wat) as module:
        with pytest.raises(packr.LinkError) as caught:
            module.instantiate()
        assert_python_words(caught.value, "wasi_snapshot_preview1::proc_exit", "a host serves WASI with Host.define_wasi")
    with packr.Runtime() as rt, rt.load('(module (func (export "_start")))') as module:
        with pytest.raises(packr.InvalidArgumentError) as caught:
            module.instantiate(args=["x"])
        assert_python_words(caught.value, "WASI options were given to Module.instantiate", "Host.define_wasi")


def test_limits_name_the_instantiate_keywords():
    with packr.Runtime() as rt, rt.load(LOOP_WAT) as module:
        with pytest.raises(packr.LimitError) as caught:
            module.instantiate(memory_limit=65535)
        assert_python_words(caught.value, "a memory starts at 65536 bytes", "(Module.instantiate(memory_limit=...))")
        with pytest.raises(packr.LimitError) as caught:
            module.instantiate(table_limit=1)
        assert_python_words(caught.value, "a table starts at 2 elements", "(Module.instantiate(table_limit=...))")


def test_module_size_limit_names_the_config_field():
    with packr.Runtime(packr.Config(max_module_bytes=100)) as rt:
        with pytest.raises(packr.LimitError) as caught:
            rt.load(LOOP_WAT)
    assert_python_words(caught.value, "above this runtime's limit of 100 (Config.max_module_bytes)")


def test_func_of_other_code_names_module_func():
    with packr.Runtime() as rt, rt.load(LOOP_WAT) as a, rt.load(LOOP_WAT) as b:
        with a.func("one") as one, b.instantiate() as inst:
            with pytest.raises(packr.InvalidArgumentError) as caught:
                one(inst)
    assert_python_words(caught.value, "resolve it with Module.func on a module this instance was made from")


def test_rewriting_is_by_whole_names_and_leaves_the_rest():
    # Messages no test here can provoke, in packr's words (src/error.rs, src/caller.rs).
    hint = "; where virtual memory is limited, a smaller packr_config_set_memory_reservation or a pooled runtime helps"
    assert _errors.python_message("cannot instantiate module: ENOMEM" + hint) == (
        "cannot instantiate module: ENOMEM; where virtual memory is limited, a smaller "
        "Config.memory_reservation or a pooled runtime helps"
    )
    # The binding returns a bytes function's result itself: that name has no Python equivalent.
    assert _errors.python_message(
        "packr_caller_return_bytes is for callbacks of packr_host_define_bytes; this callback returns values"
    ) == "packr_caller_return_bytes is for callbacks of Host.bytes_func; this callback returns values"
    # A longer name that starts like a known one is another function, left alone.
    assert _errors.python_message("see packr_instance_interrupt_call and packr_instance_interrupt.") == (
        "see packr_instance_interrupt_call and Instance.interrupt."
    )


def test_every_rewritten_name_is_a_function_of_the_header():
    assert set(_errors._PYTHON_NAMES) <= set(_ffi._SIGNATURES)
    assert all(not C_FUNCTION.search(words) for words in _errors._PYTHON_NAMES.values())
