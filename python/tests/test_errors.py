import pytest

import packr
from conftest import CASES_DIR

CALC = (CASES_DIR / "calc.wat").read_text()


def test_engine_mismatch_between_independent_runtimes():
    with packr.Runtime() as a, packr.Runtime() as b, a.load(CALC) as module:
        with pytest.raises(packr.EngineMismatchError) as caught:
            b.wrap(module)
    assert caught.value.status == 4
    assert caught.value.status_name == "PACKR_ERR_ENGINE_MISMATCH"
    assert "engine mismatch" in caught.value.message


def test_sharing_an_engine_allows_wrapping_both_ways(runtime):
    with packr.Runtime.sharing_engine(runtime) as other, runtime.load(CALC) as module:
        with other.wrap(module) as wrapped, wrapped.instantiate() as instance:
            assert instance.call("add", 40, 2) == 42
        with other.load(CALC) as theirs, runtime.wrap(theirs) as back, back.instantiate() as instance:
            assert instance.call("add", 1, 2) == 3


def test_sharing_engine_outlives_closed_base():
    base = packr.Runtime()
    other = packr.Runtime.sharing_engine(base)
    base.close()
    with other, other.load(CALC) as module, module.instantiate() as instance:
        assert instance.call("count") == 1


def test_trap_then_instance_stays_usable(instance):
    assert instance.call("count") == 1
    with pytest.raises(packr.TrapError) as caught:
        instance.call("div", 1, 0)
    assert caught.value.message.startswith("wasm trap: integer divide by zero")
    assert str(caught.value) == caught.value.message
    assert instance.call("div", 7, 2) == 3
    assert instance.call("count") == 2  # state survived the trap


def test_compile_error(runtime):
    with pytest.raises(packr.CompileError, match="cannot compile module"):
        runtime.load(b"\0asm garbage")


def test_missing_import_is_a_link_error(runtime):
    with runtime.load((CASES_DIR / "needs_import.wat").read_text()) as module:
        assert module.imports == (packr.Import("env", "host_log", "func"),)
        with pytest.raises(packr.LinkError, match="env::host_log"):
            module.instantiate()


def test_not_found_and_not_a_function(instance):
    with pytest.raises(packr.NotFoundError, match="no export named `nope`"):
        instance.call("nope")
    with pytest.raises(packr.TypeMismatchError, match="is a memory, not a function"):
        instance.call("memory")
    with pytest.raises(packr.NotFoundError):
        instance.memory_size("nope")


def test_every_status_has_its_class():
    classes = [
        packr.NullPointerError, packr.InvalidArgumentError, packr.CompileError,
        packr.EngineMismatchError, packr.LinkError, packr.NotFoundError, packr.TypeMismatchError,
        packr.TrapError, packr.OutOfBoundsError, packr.BusyError, packr.PanicError,
        packr.InstantiateError, packr.PoolExhaustedError, packr.ResourceError, packr.HostError,
        packr.ExitError, packr.GuestError, packr.Timeout, packr.Interrupted, packr.OutOfFuel, packr.LimitError,
        packr.ArtifactError,
    ]
    from packr._errors import error_for

    for status, cls in enumerate(classes, start=1):
        error = error_for(status)
        assert type(error) is cls and error.status == status
        assert error.status_name.startswith("PACKR_ERR_")
    unknown = error_for(999)
    assert type(unknown) is packr.PackrError and unknown.status_name == "UNKNOWN"


def test_guest_error_is_made_by_hand_or_by_the_binding():
    by_hand = packr.GuestError("bad input")
    assert (by_hand.status, by_hand.status_name, by_hand.message) == (17, "PACKR_ERR_GUEST", "bad input")
    assert packr.GuestError().message == ""
    made = packr.GuestError(17, "PACKR_ERR_GUEST", "the guest's `f` failed: no")
    assert made.message == "the guest's `f` failed: no" and str(made) == made.message
    with pytest.raises(TypeError):
        packr.GuestError("a", "b")
    exit_error = packr.ExitError(16, "PACKR_ERR_EXIT", "the guest exited with code 3", 3)
    assert exit_error.exit_code == 3 and packr.ExitError(16, "PACKR_ERR_EXIT", "m").exit_code is None
