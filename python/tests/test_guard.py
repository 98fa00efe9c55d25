"""Guardrails: timeouts, interrupts (also Ctrl-C), fuel, memory and table limits, deep recursion."""

import math
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import packr
from packr import _sigint
from conftest import CASES_DIR

GUARD = (CASES_DIR / "guard.wat").read_text()
BIG_MEMORY = (CASES_DIR / "big_memory.wat").read_text()
PYTHON_DIR = Path(__file__).resolve().parents[1]
# A generous bound on "promptly": a stop fires within milliseconds; only a hang takes this long.
PROMPT = 5.0

# `spin` tells the host it is running (the import) before it loops forever; `deep` is
# guard.wat's, a short call with a function call per level.
READY_SPIN = """
(module
  (import "host" "ready" (func $ready))
  (func (export "spin") (call $ready) (loop $l (br $l)))
  (func $deep (export "deep") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))))
  (func (export "one") (result i32) (i32.const 1)))
"""


@pytest.fixture
def guard(runtime):
    with runtime.load(GUARD) as module:
        yield module


@pytest.fixture
def fuel_runtime():
    with packr.Runtime(packr.Config(fuel=True)) as rt:
        yield rt


def ready_spin(config=None):
    """A runtime and module whose `spin` sets the returned Event once it runs in the guest."""
    running = threading.Event()
    host = packr.Host()
    host.func("host", "ready", [], [], lambda caller: running.set())
    runtime = packr.Runtime(config, host=host)
    return runtime, runtime.load(READY_SPIN), running


# -- timeouts ---------------------------------------------------------------------------------

def test_a_timeout_stops_spin_and_the_instance_stays_usable(guard):
    with guard.instantiate(timeout=0.010) as inst:
        for _ in range(3):
            start = time.monotonic()
            with pytest.raises(packr.Timeout) as caught:
                inst.call("spin")
            assert time.monotonic() - start < PROMPT
            assert caught.value.status == 18 and caught.value.status_name == "PACKR_ERR_TIMEOUT"
            assert caught.value.message == "the call was stopped by its timeout of 10 ms"
            assert inst.call("one") == 1  # usable after the stop
            assert _sigint.current[0] is None  # the Ctrl-C slot is clear after a failed call


def test_timeout_is_a_builtin_timeout_error(guard):
    with guard.instantiate(timeout=0.010) as inst:
        with pytest.raises(TimeoutError) as caught:
            inst.call("spin")
    assert isinstance(caught.value, packr.PackrError) and caught.value.errno is None
    assert str(caught.value) == caught.value.message


def test_set_timeout_bounds_later_calls_and_none_removes_it(guard):
    with guard.instantiate() as inst:
        inst.set_timeout(0.020)
        with pytest.raises(packr.Timeout, match="timeout of 20 ms"):
            inst.call("spin")
        inst.set_timeout(0.0001)  # rounded up: 0 ms would mean no timeout at all
        with pytest.raises(packr.Timeout, match="timeout of 1 ms"):
            inst.call("spin")
        inst.set_timeout(None)
        # With no timeout, only an interrupt ends the loop. It comes 20 timeouts' worth later
        # on purpose: had the 10 ms bound stayed, Timeout would have been raised first.
        inst.set_timeout(0.010)
        inst.set_timeout(None)
        stopper = threading.Timer(0.2, inst.interrupt)
        stopper.start()
        try:
            with pytest.raises(packr.Interrupted):
                inst.call("spin")
        finally:
            stopper.join()
        assert inst.call("one") == 1


def test_set_timeout_from_another_thread_during_a_call():
    runtime, module, running = ready_spin()
    with runtime, module, module.instantiate() as inst:
        def watchdog():
            running.wait()
            inst.set_timeout(0.010)  # for later calls: the running one keeps its deadline
            inst.interrupt()

        helper = threading.Thread(target=watchdog)
        helper.start()
        with pytest.raises(packr.Interrupted):
            inst.call("spin")
        helper.join()
        running.clear()
        with pytest.raises(packr.Timeout):
            inst.call("spin")


@pytest.mark.parametrize("value, error", [
    (0, ValueError), (-1, ValueError), (math.nan, ValueError), (math.inf, ValueError),
    (True, TypeError), ("1", TypeError), (1e30, OverflowError),
])
def test_timeouts_are_checked(guard, value, error):
    with pytest.raises(error, match="timeout"):
        guard.instantiate(timeout=value)
    with guard.instantiate() as inst:
        with pytest.raises(error, match="timeout"):
            inst.set_timeout(value)


@pytest.mark.parametrize("option, value, error", [
    ("fuel", -1, OverflowError), ("fuel", 1.5, TypeError), ("memory_limit", 2**64, OverflowError),
    ("memory_limit", "1", TypeError), ("table_limit", -1, OverflowError), ("table_limit", False, TypeError),
])
def test_limits_are_checked(guard, option, value, error):
    with pytest.raises(error, match=option):
        guard.instantiate(**{option: value})


# -- interrupts -------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["interrupt", "interrupt_call"])
@pytest.mark.parametrize("calling", ["main", "worker"])
def test_interrupt_from_another_thread_stops_a_running_call(calling, method):
    runtime, module, running = ready_spin()
    with runtime, module, module.instantiate() as inst:
        stop = getattr(inst, method)

        def call():
            with pytest.raises(packr.Interrupted) as caught:
                inst.call("spin")
            assert caught.value.message == "the call was interrupted (Instance.interrupt)"
            assert inst.call("one") == 1

        if calling == "main":
            helper = threading.Thread(target=lambda: (running.wait(), stop()))
            helper.start()
            call()
            helper.join()
        else:
            errors = []

            def worker():
                try:
                    call()
                except BaseException as e:  # noqa: BLE001 - reported below
                    errors.append(e)

            helper = threading.Thread(target=worker)
            helper.start()
            running.wait()
            stop()
            helper.join()
            assert errors == []


def test_an_interrupt_before_a_call_stops_the_next_one_only(guard):
    with guard.instantiate() as inst:
        inst.interrupt()
        inst.interrupt()  # several before a call count as one
        with pytest.raises(packr.Interrupted):
            inst.call("spin")
        assert inst.call("one") == 1
        assert inst.call("one") == 1


def test_interrupt_call_stops_the_running_call_never_a_later_one(guard):
    with guard.instantiate(timeout=0.050) as inst:
        for _ in range(3):
            inst.interrupt_call()  # idle: nothing to stop, and nothing is left pending
        assert inst.call("one") == 1
        with pytest.raises(packr.Timeout):  # not Interrupted: only the timeout ends it
            inst.call("spin")
        inst.interrupt()  # the other form, for contrast: it waits for the next call
        with pytest.raises(packr.Interrupted):
            inst.call("spin")


def test_interrupt_call_racing_the_end_of_short_calls():
    # A thread hammering interrupt_call() while the main thread makes short calls: a
    # request stops the call it lands in or nothing, so each call returns or raises
    # Interrupted, and once the hammer stops (having sent requests after the last call
    # ended, which interrupt() would have left pending) the next call runs.
    runtime, module, running = ready_spin()
    with runtime, module, module.instantiate() as inst:
        outcomes = {"returned": 0, "interrupted": 0}
        requests = 0
        for _ in range(3):
            hammering, stop, counted, errors = threading.Event(), threading.Event(), [0], []

            def hammer():
                try:
                    while not stop.is_set():
                        inst.interrupt_call()
                        counted[0] += 1
                        hammering.set()
                except BaseException as e:  # noqa: BLE001 - reported below
                    errors.append(e)
                    hammering.set()

            helper = threading.Thread(target=hammer)
            helper.start()
            try:
                hammering.wait()
                for _ in range(2_000):
                    try:
                        assert inst.call("deep", 1000) == 1000
                        outcomes["returned"] += 1
                    except packr.Interrupted:
                        outcomes["interrupted"] += 1
            finally:
                stop.set()
                helper.join()
            assert errors == []
            requests += counted[0]
            assert inst.call("deep", 1000) == 1000  # nothing was left pending for this call
            # ...and the instance can still be stopped.
            running.clear()
            helper = threading.Thread(target=lambda: (running.wait(), inst.interrupt_call()))
            helper.start()
            with pytest.raises(packr.Interrupted):
                inst.call("spin")
            helper.join()
        assert sum(outcomes.values()) == 6_000 and requests > 0
        print(f"{outcomes['interrupted']} of 6000 short calls stopped by {requests} racing requests")


def test_interrupt_call_stops_a_nested_caller_call():
    # A call a host function makes back into the instance is part of the running call.
    running = threading.Event()
    host = packr.Host()

    def spin_back(caller):
        running.set()
        caller.call("spin")

    host.func("host", "spin_back", [], [], spin_back)
    wat = """(module (import "host" "spin_back" (func $spin_back))
               (func (export "spin") (loop $l (br $l)))
               (func (export "outer") (call $spin_back))
               (func (export "one") (result i32) (i32.const 1)))"""
    with packr.Runtime(host=host) as rt, rt.load(wat) as module, module.instantiate() as inst:
        helper = threading.Thread(target=lambda: (running.wait(), inst.interrupt_call()))
        helper.start()
        with pytest.raises(packr.Interrupted) as caught:
            inst.call("outer")
        helper.join()
        assert "PACKR_ERR_HOST: host function host::spin_back failed" in "".join(getattr(caught.value, "__notes__", []))
        assert inst.call("one") == 1


@pytest.mark.parametrize("method", ["interrupt", "interrupt_call"])
def test_interrupt_after_close_does_nothing(guard, method):
    never = guard.instantiate()
    never.close()
    getattr(never, method)()  # no interrupter was made: nothing runs, nothing will
    used = guard.instantiate()
    getattr(used, method)()  # makes the interrupter, which outlives the instance
    used.close()
    getattr(used, method)()
    with pytest.raises(packr.ClosedError):
        used.set_timeout(1)


@pytest.mark.parametrize("method", ["interrupt", "interrupt_call"])
def test_interrupt_racing_close(guard, method):
    # A watchdog hammering an interrupt while the instance is closed under it: every
    # interrupt either reaches the live instance or does nothing, and never crashes.
    for _ in range(50):
        inst = guard.instantiate()
        started, stop, errors = threading.Event(), threading.Event(), []

        def watchdog():
            try:
                while not stop.is_set():
                    getattr(inst, method)()
                    started.set()
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        helper = threading.Thread(target=watchdog)
        helper.start()
        started.wait()
        inst.close()
        getattr(inst, method)()
        stop.set()
        helper.join()
        assert errors == []


def test_the_ctrl_c_slot_holds_the_main_threads_instance_only():
    # White-box: what the SIGINT watcher interrupts (see packr/_sigint.py) while a call runs.
    seen, errors, holder = [], [], []

    def ready(caller):
        seen.append(_sigint.current[0])
        holder[0].interrupt()  # allowed from the instance's own host function

    host = packr.Host()
    host.func("host", "ready", [], [], ready)
    with packr.Runtime(host=host) as rt, rt.load(READY_SPIN) as module, module.instantiate() as inst:
        holder.append(inst)
        with pytest.raises(packr.Interrupted):
            inst.call("spin")  # on the main thread

        def worker():
            try:
                with pytest.raises(packr.Interrupted):
                    inst.call("spin")
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert errors == []
    assert seen == [inst, None]
    assert _sigint.current[0] is None


def test_a_stopped_call_runs_the_pending_sigint_handler(guard):
    # What the Ctrl-C watcher relies on (see packr/_sigint.py): a main-thread call stopped
    # while a SIGINT waits for Python's handler raises what the handler raises, from the
    # call. The handler here is the test's own, so packr's watcher stays out of it; the
    # signal goes to the helper thread itself, so it is caught before the stop is sent.
    class CtrlC(Exception):
        pass

    def handler(signum, frame):
        raise CtrlC

    def in_call(inst):
        # The slot is set right before the C call, with no bytecode between that could run
        # a signal handler or hand over the GIL: once the helper sees it, the call runs.
        while _sigint.current[0] is not inst:
            time.sleep(0.001)

    def ctrl_c(inst):
        in_call(inst)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        inst.interrupt_call()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with guard.instantiate(timeout=PROMPT) as inst:  # the timeout only turns a hang into a failure
            helper = threading.Thread(target=ctrl_c, args=(inst,))
            helper.start()
            with pytest.raises(CtrlC):
                inst.call("spin")
            helper.join()
            # A stop with no signal pending is a plain Interrupted.
            helper = threading.Thread(target=lambda: (in_call(inst), inst.interrupt_call()))
            helper.start()
            with pytest.raises(packr.Interrupted):
                inst.call("spin")
            helper.join()
            assert inst.call("one") == 1
    finally:
        signal.signal(signal.SIGINT, previous)


# -- Ctrl-C -----------------------------------------------------------------------------------

def _child(*args, code=None):
    command = [sys.executable, "-c", code] if code else [sys.executable, str(PYTHON_DIR / "tests" / "sigint_child.py")]
    return subprocess.Popen(command + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=PYTHON_DIR)


def _lines(child):
    """The child's stdout lines as a queue, read on a thread, so a hung child fails a get(timeout)."""
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stdout], daemon=True).start()
    return lines


def _ctrl_c(*modes):
    """Runs sigint_child.py, sending SIGINT each time it reports a spinning guest; returns
    (seconds from the last SIGINT to the child's exit, its exit status, its stderr)."""
    child = _child(*modes)
    try:
        lines = _lines(child)
        for i, mode in enumerate(modes):
            try:
                assert lines.get(timeout=30) == f"spinning {mode}\n"
            except queue.Empty:
                pytest.fail(f"the child never spun {mode}: {child.stderr.read() if child.poll() is not None else ''}")
            sent = time.monotonic()
            child.send_signal(signal.SIGINT)
            if i < len(modes) - 1:
                assert lines.get(timeout=PROMPT) == f"stopped {mode} {'-' if mode == 'nested' else 1}\n"
        try:
            stderr = child.communicate(timeout=PROMPT)[1]
        except subprocess.TimeoutExpired:
            pytest.fail(f"Ctrl-C did not stop the guest within {PROMPT} s")
        return time.monotonic() - sent, child.returncode, stderr
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_ctrl_c_stops_a_spinning_guest_with_keyboard_interrupt():
    elapsed, status, stderr = _ctrl_c("call")
    assert elapsed < PROMPT
    # Python dies of an uncaught KeyboardInterrupt by SIGINT itself, after the traceback.
    assert status == -signal.SIGINT, stderr
    assert stderr.startswith("Traceback (most recent call last):"), stderr
    assert stderr.rstrip().endswith("KeyboardInterrupt"), stderr
    assert 'inst.call("spin")' in stderr


def test_ctrl_c_stops_every_call_path_and_the_instances_stay_usable():
    # A Func, a pack call, run(), call_raw and by name are each stopped and caught (each
    # instance answers a call afterwards); last a guest spinning inside Caller.call,
    # nested in a host function, whose KeyboardInterrupt travels out of the outer call.
    elapsed, status, stderr = _ctrl_c("func", "bytes", "run", "raw", "call", "nested")
    assert elapsed < PROMPT
    assert status == -signal.SIGINT, stderr
    # The traceback's last line, and packr's report as its note.
    assert "\nKeyboardInterrupt\nPACKR_ERR_HOST: host function host::spin_back failed: KeyboardInterrupt\n" in stderr


SETUP = f"""
import asyncio, os, select, signal, sys
sys.path.insert(0, {str(PYTHON_DIR)!r})
import packr
from packr import _sigint
module = packr.Runtime().load({GUARD!r})
"""


def _run_child(code):
    child = _child(code=SETUP + textwrap.dedent(code))
    try:
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    return out


def test_ctrl_c_handling_chains_to_the_wakeup_fd_set_before():
    # asyncio's signal handlers come through the wakeup fd: they keep working once packr
    # has put its watcher in front of it.
    out = _run_child("""
        loop = asyncio.new_event_loop()  # not asyncio.run: that installs its own SIGINT handler
        async def main():
            got = asyncio.Event()
            loop.add_signal_handler(signal.SIGUSR1, got.set)
            module.instantiate().close()  # packr's watcher goes in front of asyncio's fd
            assert _sigint.installed()
            os.kill(os.getpid(), signal.SIGUSR1)
            await asyncio.wait_for(got.wait(), 5)
            print("asyncio saw SIGUSR1")
        loop.run_until_complete(main())
    """)
    assert out == "asyncio saw SIGUSR1\n"


def test_ctrl_c_handling_stays_out_of_a_program_that_handles_sigint():
    out = _run_child("""
        signal.signal(signal.SIGINT, lambda *_: None)
        module.instantiate().close()
        assert not _sigint.installed()
        assert signal.set_wakeup_fd(-1) == -1
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own again: packr joins in
        module.instantiate().close()
        assert _sigint.installed() and signal.set_wakeup_fd(-1) != -1
        print("ok")
    """)
    assert out == "ok\n"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork")
def test_a_forked_child_gets_the_wakeup_fd_back():
    # The child has no watcher thread; were the pipe it shares with the parent left as its
    # wakeup fd, the parent's watcher would act on the child's signals.
    out = _run_child("""
        module.instantiate().close()
        assert _sigint.installed()
        pid = os.fork()
        if pid == 0:
            ok = not _sigint.installed() and signal.set_wakeup_fd(-1) == -1
            module.instantiate().close()  # the child's own watcher
            os._exit(0 if ok and _sigint.installed() else 1)
        _, status = os.waitpid(pid, 0)
        assert status == 0 and _sigint.installed()
        print("ok")
    """)
    assert out == "ok\n"


# -- fuel -------------------------------------------------------------------------------------

def test_fuel_runs_out_and_add_fuel_refills(fuel_runtime):
    with fuel_runtime.load(GUARD) as module, module.instantiate(fuel=10_000) as inst:
        assert inst.fuel() == 10_000
        with pytest.raises(packr.OutOfFuel) as caught:
            inst.call("spin")
        assert caught.value.status_name == "PACKR_ERR_OUT_OF_FUEL"
        assert caught.value.message == "the guest ran out of fuel; Instance.add_fuel gives it more"
        assert inst.fuel() == 0
        inst.add_fuel(1_000)
        assert inst.fuel() == 1_000
        assert inst.call("deep", 10) == 10  # usable again, and it costs fuel
        assert 0 < inst.fuel() < 1_000
        inst.add_fuel(2**64 - 1)
        assert inst.fuel() == 2**64 - 1  # saturates
        with pytest.raises(OverflowError):
            inst.add_fuel(2**64)


def test_fuel_without_a_setting_is_unlimited(fuel_runtime):
    with fuel_runtime.load(GUARD) as module, module.instantiate() as inst:
        assert inst.fuel() == 2**64 - 1
        assert inst.call("deep", 1000) == 1000


def test_fuel_needs_a_runtime_that_counts_it(guard):
    with pytest.raises(packr.InvalidArgumentError) as caught:
        guard.instantiate(fuel=1)
    assert caught.value.message.startswith("fuel was given to Module.instantiate, but the runtime's engine")
    assert "packr.Config(fuel=True)" in caught.value.message
    with guard.instantiate() as inst:
        for query in (lambda: inst.add_fuel(1), inst.fuel):
            with pytest.raises(packr.InvalidArgumentError, match=r"packr\.Config\(fuel=True\)"):
                query()


def test_fuel_is_busy_during_a_call():
    # Fuel lives in the store, which the running call holds: asked from the instance's own
    # host function, packr refuses rather than waits.
    seen = []
    host = packr.Host()
    host.func("host", "ready", [], [], lambda caller: seen.extend(_busy(caller.data["inst"])))
    with packr.Runtime(packr.Config(fuel=True), host=host) as rt, rt.load(READY_SPIN) as module:
        data = {}
        with module.instantiate(data, fuel=100_000) as inst:
            data["inst"] = inst
            with pytest.raises(packr.OutOfFuel):
                inst.call("spin")
    assert [type(e) for e in seen] == [packr.BusyError, packr.BusyError]


def _busy(inst):
    found = []
    for query in (inst.fuel, lambda: inst.add_fuel(1)):
        try:
            query()
        except packr.BusyError as e:
            found.append(e)
    return found


# -- memory and table limits ------------------------------------------------------------------

def test_memory_and_table_growth_past_the_limits_returns_minus_one(guard):
    with guard.instantiate(memory_limit=4 * 65536, table_limit=10) as inst:
        assert inst.call("grow", 3) == 1  # from 1 page to 4: allowed
        assert inst.call("grow", 1) == -1  # a fifth: refused, no error
        assert inst.call("grow", 0) == 4
        assert inst.memory_size() == 4 * 65536
        assert inst.call("grow_table", 8) == 2  # from 2 elements to 10
        assert inst.call("grow_table", 1) == -1


def test_a_memory_or_table_starting_above_its_limit_is_a_limit_error(runtime, guard):
    with runtime.load(BIG_MEMORY) as big:
        with pytest.raises(packr.LimitError) as caught:
            big.instantiate(memory_limit=262_144)
        assert caught.value.status_name == "PACKR_ERR_LIMIT"
        assert "a memory starts at 327680 bytes, above the instance's limit of 262144" in caught.value.message
        assert "Module.instantiate(memory_limit=...)" in caught.value.message
        with big.instantiate(memory_limit=327_680) as inst:  # exactly at it is fine
            assert inst.memory_size() == 327_680
    with pytest.raises(packr.LimitError, match=r"a table starts at 2 elements, .*table_limit"):
        guard.instantiate(table_limit=1)


# -- deep recursion ---------------------------------------------------------------------------

def _deep(module):
    with module.instantiate() as inst:
        with pytest.raises(packr.TrapError) as caught:
            inst.call("deep", 100_000_000)
        assert caught.value.message.startswith("wasm trap: call stack exhausted")
        assert inst.call("deep", 1000) == 1000  # usable after the trap


def test_deep_recursion_is_a_trap(guard):
    _deep(guard)


def test_deep_recursion_is_a_trap_on_a_small_thread_stack(guard):
    # packr moves the call to a thread of its own when the caller's stack is too small.
    errors = []

    def work():
        try:
            _deep(guard)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    previous = threading.stack_size(256 * 1024)
    try:
        thread = threading.Thread(target=work)
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    assert errors == []
