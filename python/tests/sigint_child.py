"""Run by test_guard.py in a subprocess: guests spinning on the main thread, stopped by Ctrl-C.

    python sigint_child.py MODE... LAST

Each MODE is a call path into a guest that never returns. For each, a fresh instance
spins on the main thread; once the main thread is inside the C call (packr's Ctrl-C slot
holds the instance: see packr/_sigint.py) a helper thread prints "spinning MODE", the
test sends SIGINT, and the KeyboardInterrupt it raises is caught: the child prints
"stopped MODE N", N a quick call's result on the same instance ("-" for `nested`, whose
Ctrl-C may land in the host function instead). LAST's KeyboardInterrupt is not caught:
the child dies of it, traceback and all, as a Python program does on Ctrl-C.
"""

import signal
import sys
import threading
import time
from pathlib import Path

# Python's own Ctrl-C handling, whatever the test runner left the child with (a runner in
# the background may ignore SIGINT); packr takes over only with this handler in place.
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import packr  # noqa: E402
from packr import _sigint  # noqa: E402

GUARD = (Path(__file__).resolve().parents[2] / "tests" / "cases" / "guard.wat").read_text()

# The other call paths into a spinning guest: by name, through a Func, a pack call, run(),
# call_raw, and a host function that calls back in (Caller.call).
PATHS = """
(module
  (import "host" "spin_back" (func $spin_back))
  (memory (export "memory") 1)
  (func $spin (export "spin") (loop $l (br $l)))
  (func (export "_start") (call $spin))
  (func (export "outer") (call $spin_back))
  (func (export "spin_pack") (param i32 i32 i32 i32) (result i32) (call $spin) (i32.const 0))
  (func (export "__pack_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "__pack_free") (param i32 i32))
  (func (export "one") (result i32) (i32.const 1)))
"""

host = packr.Host()


@host.func("host", "spin_back", [], [])
def spin_back(caller):
    caller.call("spin")


runtime = packr.Runtime(host=host)
guard = runtime.load(GUARD)
paths = runtime.load(PATHS)
spin_func = paths.func("spin")

CALLS = {
    "call": (guard, lambda inst: inst.call("spin")),  # the case table's spinning guest
    "func": (paths, lambda inst: spin_func(inst)),
    "bytes": (paths, lambda inst: inst.call_bytes("spin_pack", b"x")),
    "run": (paths, lambda inst: inst.run()),
    "raw": (paths, lambda inst: inst.call_raw("spin", [], 0)),
    "nested": (paths, lambda inst: inst.call("outer")),
}


def announce(inst, mode):
    # The slot is set right before the C call, with nothing between that could run Python's
    # handler, so a SIGINT from now on meets the guest running. A poll, not a guess at time.
    while _sigint.current[0] is not inst:
        time.sleep(0.001)
    print("spinning", mode, flush=True)


def spin(mode, inst):
    threading.Thread(target=announce, args=(inst, mode), daemon=True).start()
    CALLS[mode][1](inst)
    sys.exit(f"{mode}: the spinning call returned")


*caught, last = sys.argv[1:]
for mode in caught:
    inst = CALLS[mode][0].instantiate()
    try:
        spin(mode, inst)
    except KeyboardInterrupt:
        print("stopped", mode, "-" if mode == "nested" else inst.call("one"), flush=True)
spin(last, CALLS[last][0].instantiate())
