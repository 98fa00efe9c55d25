"""wasmtime-py (PyPI `wasmtime`, its C API through ctypes): Module once, a fresh Store per spawn.

`--mode calls`: one instance of guest/calls.c in one Store, `inc` defined with
`Linker.define_func` as a Python callable; `add(1, 2)` called as `func(store, 1, 2)`.
wasmtime-py has one call path and one host-function path, so the fast fields are null.

`--mode wasi` (build/guest/wasi_reactor.wasm): `Linker.define_wasi` once, then per spawn a
fresh Store with a fresh `WasiConfig` (its defaults: no arguments or environment, stdout and
stderr not inherited, so discarded), `InstancePre.instantiate`, the reactor's `_initialize`
and `reactor_get()`. wasmtime-py has no pooling, so this is its default engine.

`--mode cache` (the sqlite guest): wasmtime's own disk cache, `Config.cache` set to a cache
config TOML whose directory is in `--cache-dir` (wasmtime's defaults otherwise: artifacts
zstd-compressed at its baseline level), on the engine above; a load is `Module(engine, wasm)`,
which hashes the bytes and compiles and stores on a miss, or decompresses and deserializes the
stored artifact on a hit."""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from typing import Optional

import harness
import wasmtime

NEVER = 1 << 62  # the epoch deadline: packr's engine has epoch interruption on, so this one does too


def engine(cache: Optional[str] = None) -> wasmtime.Engine:
    # packr's engine settings, as far as wasmtime-py exposes them (it does not expose pooling).
    config = wasmtime.Config()
    if cache:
        config.cache = cache  # a path to a cache config TOML
    config.wasm_multi_memory = True
    config.epoch_interruption = True
    config.memory_init_cow = True
    config.parallel_compilation = True
    config.cranelift_opt_level = "speed"
    return wasmtime.Engine(config)


def calls(wasm: bytes) -> harness.Calls:
    eng = engine()
    linker = wasmtime.Linker(eng)
    i32 = wasmtime.ValType.i32()
    linker.define_func("bench", "inc", wasmtime.FuncType([i32], [i32]), lambda value: value + 1)
    store = wasmtime.Store(eng)
    store.set_epoch_deadline(NEVER)
    instance = linker.instantiate(store, wasmtime.Module(eng, wasm))
    exports = instance.exports(store)
    add, host_loop = exports["add"], exports["host_loop"]

    def call(n: int) -> None:
        for _ in range(n):
            if add(store, 1, 2) != 3:
                raise RuntimeError("add(1, 2) did not return 3")

    notes = (f"wasmtime-py {version('wasmtime')}: call_ns: Func.__call__ as add(store, 1, 2) "
             "(wasmtime_func_call, the only call path it has); host_call_ns: a Python callable given to "
             "Linker.define_func (its one host-function path), per call of host_loop(N); no fast paths")
    return harness.Calls("wasmtime-py", call, None, lambda n: host_loop(store, n), None, notes)


def wasi(args) -> int:
    eng = engine()
    linker = wasmtime.Linker(eng)
    linker.define_wasi()

    def compile(wasm: bytes) -> wasmtime.InstancePre:
        return linker.instantiate_pre(wasmtime.Module(eng, wasm))

    def spawn(pre: wasmtime.InstancePre):
        store = wasmtime.Store(eng)
        store.set_epoch_deadline(NEVER)
        store.set_wasi(wasmtime.WasiConfig())
        exports = pre.instantiate(store).exports(store)
        exports["_initialize"](store)
        harness.check_reactor(exports["reactor_get"](store))
        return store

    notes = ["InstancePre with WASI from Linker.define_wasi; a fresh Store and WasiConfig per spawn "
             "(stdout/stderr not inherited: discarded); _initialize called by the driver; no pooling "
             "(not exposed)"]
    return harness.main(harness.System("wasmtime-py", "wasi", compile, spawn, notes), args)


def cache(cache_dir: str) -> harness.Cache:
    eng = engine(harness.wasmtime_cache_config(cache_dir))
    linker = wasmtime.Linker(eng)

    def check(module: wasmtime.Module) -> None:
        store = wasmtime.Store(eng)
        store.set_epoch_deadline(NEVER)
        harness.check(linker.instantiate(store, module).exports(store)["demo_version_number"](store))

    notes = (f"wasmtime-py {version('wasmtime')}: Config.cache = a cache config TOML with only the directory "
             "set (in the run's temporary directory); a load is Module(engine, wasm) on an engine made before; "
             "artifacts stored zstd-compressed (wasmtime's default); compile: not measured (the miss is one)")
    return harness.Cache("wasmtime-py", lambda wasm: wasmtime.Module(eng, wasm), check,
                         os.path.join(cache_dir, "store"), notes)


def main() -> int:
    args = harness.parse_args(("default", "pooling", "calls", "wasi", "cache"))
    if args.mode == "calls":
        return harness.main_calls(calls, args, "wasmtime-py")
    if args.mode == "cache":
        return harness.main_cache(cache, args, "wasmtime-py")
    if args.mode == "wasi":
        return wasi(args)
    if args.mode == "pooling":
        harness.unsupported("wasmtime-py", "pooling", args,
                            f"wasmtime-py {version('wasmtime')}: its Config does not expose the pooling allocator")
        return 0
    eng = engine()
    linker = wasmtime.Linker(eng)

    def compile(wasm: bytes) -> wasmtime.InstancePre:
        # The module is compiled here; instantiate_pre only resolves its (zero) imports, once.
        return linker.instantiate_pre(wasmtime.Module(eng, wasm))

    def spawn(pre: wasmtime.InstancePre):
        store = wasmtime.Store(eng)
        store.set_epoch_deadline(NEVER)
        instance = pre.instantiate(store)
        harness.check(instance.exports(store)["demo_version_number"](store))
        return store  # the store owns the instance: dropping it drops both

    notes = ["InstancePre (Linker.instantiate_pre) with a fresh Store per spawn; "
             "ctypes releases the GIL inside each C call, the Python glue holds it"]
    return harness.main(harness.System("wasmtime-py", "default", compile, spawn, notes), args)


if __name__ == "__main__":
    sys.exit(main())
