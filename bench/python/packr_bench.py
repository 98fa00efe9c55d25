"""packr's Python binding: compile once with Runtime.load, spawn with Module.instantiate.

`--mode calls`: one instance of guest/calls.c on a default runtime whose host serves `inc`
through a `@host.func` callback; `add(1, 2)` by name (`Instance.call`) and through a func
resolved once (`Module.func`).

`--mode wasi`: a pooled runtime whose host serves WASI (`Host(wasi=True)`), a spawn per
`Module.instantiate(stdout=DISCARD, stderr=DISCARD)` (a fresh WASI context each; the reactor's
`_initialize` runs inside), then `reactor_get()`. A binding without WASI prints nulls.

`--mode pack`: pack calls of pack.wasm's `echo`, by name (`Instance.call_bytes`) and through
a func resolved once (`Func.call_bytes`); a binding without them yet gets the same two C
calls through ctypes, on the binding's own library object (function objects of our own, so
the binding's declarations are not touched). The plain call is `alloc_count()`."""

from __future__ import annotations

import ctypes
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
    return packr.Runtime(config=pooled_config(args))


def spawn(module: "packr.Module") -> "packr.Instance":
    instance = module.instantiate()
    harness.check(instance.call("demo_version_number"))
    return instance


def pooled_config(args) -> "packr.Config":
    # Room for every live instance plus one in flight per thread.
    return packr.Config(pooling=True, pool_instances=args.live + args.threads + 16,
                        pool_memory_bytes=POOL_MEMORY_BYTES)


def wasi(args) -> int:
    if not hasattr(packr.Host, "define_wasi") or not hasattr(packr, "Output"):
        harness.unsupported("packr-py", "wasi", args, "this packr binding has no WASI (Host.define_wasi) yet")
        return 0
    try:
        rt = packr.Runtime(config=pooled_config(args), host=packr.Host(wasi=True))
    except Exception as e:
        print(f"packr-py (wasi): {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    discard = packr.Output.DISCARD

    def spawn(module: "packr.Module") -> "packr.Instance":
        instance = module.instantiate(stdout=discard, stderr=discard)
        harness.check_reactor(instance.call("reactor_get"))
        return instance

    notes = ["Host(wasi=True) on a pooled runtime; Module.instantiate(stdout=DISCARD, stderr=DISCARD) per "
             "spawn (the binding makes an instance config per call, packr a fresh WASI context from it)",
             f"pool of {args.live + args.threads + 16} instances, {POOL_MEMORY_BYTES >> 20} MiB memory slots"]
    return harness.main(harness.System("packr-py", "wasi", rt.load, spawn, notes), args)


class _Bytes(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)), ("len", ctypes.c_size_t)]


def _ctypes_pack(instance: "packr.Instance", echo: "packr.Func") -> tuple:
    """packr_instance_call_bytes and packr_instance_call_func_bytes through ctypes, for a
    binding that lacks them: what a binding's call_bytes would do (input passed as is, the
    output copied once into bytes, packr's buffer freed)."""
    from packr import _ffi

    cdll = _ffi.lib()
    by_name, by_func, free = (cdll[n] for n in ("packr_instance_call_bytes", "packr_instance_call_func_bytes",
                                                "packr_bytes_free"))
    out_type = ctypes.POINTER(_Bytes)
    by_name.argtypes = [_ffi.InstanceP, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, out_type]
    by_func.argtypes = [_ffi.InstanceP, _ffi.FuncP, ctypes.c_char_p, ctypes.c_size_t, out_type]
    by_name.restype = by_func.restype = ctypes.c_int32
    free.argtypes, free.restype = [out_type], None
    inst, func, name = instance._ptr, echo._ptr, b"echo"

    def take(status: int, out: _Bytes) -> bytes:
        if status:
            raise RuntimeError(f"pack call failed: {cdll.packr_last_error().decode()}")
        data = ctypes.string_at(out.data, out.len) if out.len else b""
        free(ctypes.byref(out))
        return data

    def call(data: bytes) -> bytes:
        out = _Bytes()
        return take(by_name(inst, name, data, len(data), ctypes.byref(out)), out)

    def call_fast(data: bytes) -> bytes:
        out = _Bytes()
        return take(by_func(inst, func, data, len(data), ctypes.byref(out)), out)

    return call, call_fast


def pack(wasm: bytes) -> harness.Pack:
    host = packr.Host()

    @host.func("host", "transform", [packr.I32] * 4, [packr.I32])
    def transform(caller: packr.Caller, *args: int) -> int:
        return -1  # echo never calls it; -1 is the convention's error

    runtime = packr.Runtime(host=host)  # packr_runtime_new's settings, as the C driver's pack mode
    module = runtime.load(wasm)
    instance = module.instantiate()
    echo, count = module.func("echo"), module.func("alloc_count")
    if hasattr(instance, "call_bytes") and hasattr(echo, "call_bytes"):
        by_name = instance.call_bytes
        call, call_fast = (lambda data: by_name("echo", data)), (lambda data, f=echo.call_bytes: f(instance, data))
        how = "Instance.call_bytes('echo', data); fast: Func.call_bytes(instance, data) (Module.func('echo'))"
    else:
        call, call_fast = _ctypes_pack(instance, echo)
        how = ("the binding has no call_bytes yet: packr_instance_call_bytes / packr_instance_call_func_bytes "
               "through ctypes")
    notes = (f"pack: {how}; output as bytes; plain call: Instance.call('alloc_count') / the Func of "
             "Module.func('alloc_count'); host.transform: a @host.func returning -1")
    return harness.Pack("packr-py", call, call_fast, lambda: instance.call("alloc_count"),
                        lambda: count(instance), 0, notes)


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
    args = harness.parse_args(("default", "pooling", "calls", "wasi", "pack"))
    if args.mode == "calls":
        return harness.main_calls(calls, args, "packr-py")
    if args.mode == "pack":
        return harness.main_pack(pack, args, "packr-py")
    if args.mode == "wasi":
        return wasi(args)
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
