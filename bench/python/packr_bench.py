"""packr's Python binding: compile once with Runtime.load, spawn with Module.instantiate.

`--mode calls`: one instance of guest/calls.c on a default runtime whose host serves `inc`
through a `@host.func` callback; `add(1, 2)` by name (`Instance.call`) and through a func
resolved once (`Module.func`)."""

from __future__ import annotations

import os
import sys

import harness

# Always the binding in this tree (it finds target/release/libpackr.so itself), never a stale copy
# installed somewhere on the path.
sys.path.insert(0, os.path.join(harness.ROOT, "python"))
import packr  # noqa: E402

# Pool slots: the sqlite guest starts at 4 MiB and is only asked its version here.
POOL_MEMORY_BYTES = 64 << 20


def runtime(mode: str, args) -> "packr.Runtime":
    if mode == "default":
        return packr.Runtime()
    if not hasattr(packr, "Config"):
        raise RuntimeError("this packr binding has no packr.Config (pooling is not exposed to Python yet)")
    # Room for every live instance plus one in flight per thread.
    config = packr.Config(pooling=True, pool_instances=args.live + args.threads + 16,
                          pool_memory_bytes=POOL_MEMORY_BYTES)
    return packr.Runtime(config=config)


def spawn(module: "packr.Module") -> "packr.Instance":
    instance = module.instantiate()
    harness.check(instance.call("demo_version_number"))
    return instance


def calls(wasm: bytes) -> harness.Calls:
    host = packr.Host()

    @host.func("bench", "inc", [packr.I32], [packr.I32])
    def inc(caller: packr.Caller, value: int) -> int:
        return value + 1

    runtime = packr.Runtime(host=host)  # packr_runtime_new's settings, as the default mode
    module = runtime.load(wasm)
    instance = module.instantiate()
    add = module.func("add")

    def call(n: int) -> None:
        by_name = instance.call
        for _ in range(n):
            if by_name("add", 1, 2) != 3:
                raise RuntimeError("add(1, 2) did not return 3")

    def call_fast(n: int) -> None:
        for _ in range(n):
            if add(instance, 1, 2) != 3:
                raise RuntimeError("add(1, 2) did not return 3")

    def host_loop(n: int) -> int:
        return instance.call("host_loop", n)

    notes = ("call_ns: Instance.call('add', 1, 2) by name; call_fast_ns: a Func from Module.func('add') "
             "called as add(instance, 1, 2) (prepared ctypes arrays); host_call_ns: a @host.func Python "
             "callback for inc, per call of host_loop(N); no faster host path than the decorator")
    return harness.Calls("packr-py", call, call_fast, host_loop, None, notes)


def main() -> int:
    args = harness.parse_args(("default", "pooling", "calls"))
    if args.mode == "calls":
        return harness.main_calls(calls, args, "packr-py")
    try:
        rt = runtime(args.mode, args)
    except Exception as e:
        print(f"packr-py ({args.mode}): {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    notes = ["ctypes releases the GIL inside each packr call; the Python glue around it holds it"]
    if args.mode == "pooling":
        notes.append(f"pool of {args.live + args.threads + 16} instances, {POOL_MEMORY_BYTES >> 20} MiB memory slots")
    system = harness.System("packr-py", args.mode, rt.load, spawn, notes)
    return harness.main(system, args)


if __name__ == "__main__":
    sys.exit(main())
