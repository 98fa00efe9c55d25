"""Extism's Python SDK (PyPI `extism`): CompiledPlugin once, a fresh Plugin per spawn.

Extism is built for plugins written against its PDK (bytes in, bytes out through its
kernel); `Plugin.call` treats a non-zero i32 result as an error code. The sqlite guest is a
plain module, so its `demo_version_number` is called through the SDK's own cffi binding,
`extism_plugin_call`, whose return value is that i32: the same C call `Plugin.call` makes,
without the output-buffer step a PDK plugin would add.

`--mode calls` (build/guest/calls_extism.wasm, which imports `inc` from Extism's
"extism:host/user"): `inc` is served by an `extism.host_fn` callback, and the plugin is
made with it. `extism_plugin_call` (the SDK's only way into a plugin) calls exports that
take no arguments, so the driver calls the guest's parameterless twins: `three()` (which
returns add(1, 2)) for call_ns, and `host_loop_1000()` (1,000 host calls) for host_call_ns.

`--mode wasi` (build/guest/wasi_reactor.wasm): `CompiledPlugin(wasm, wasi=True)` once, a
fresh `Plugin(compiled, wasi=True)` per spawn (each with its own WASI context; Extism runs the
reactor's `_initialize` itself, and does not pass stdout or stderr on), then `reactor_get()`
through `extism_plugin_call`.

`--mode pack` (build/guest/extism_echo.wasm, guest/extism_echo.c: echo in Extism's
convention): `Plugin.call("echo", data)` returns the output as bytes, the SDK's one way to
call a plugin with input. No plain call: the SDK calls only exports that take no arguments,
and Plugin.call wants output.

`--mode cache` (the sqlite guest): Extism's default disk cache, which is wasmtime's (by
default in `$XDG_CACHE_HOME/wasmtime`, else `~/.cache/wasmtime`, unless
`~/.config/wasmtime/config.toml` says otherwise), moved into `--cache-dir` through
`EXTISM_CACHE_CONFIG`: a cache config TOML with only the directory set. A load is
`CompiledPlugin(wasm)`, which makes Extism's engine and compiles (or, on a hit, loads from the
cache) both the guest and Extism's kernel module.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import version

# Extism turns on wasmtime's on-disk compile cache by default; an empty value turns it off,
# so compile_ms is a compile (as for every other system) and the run leaves no cache behind.
# The cache mode points it at a directory of the run's instead (cache() below).
os.environ["EXTISM_CACHE_CONFIG"] = ""

import extism  # noqa: E402
import harness  # noqa: E402

try:
    from extism.extism import CompiledPlugin, _lib
except ImportError:  # older SDKs: no compiled-plugin handle, every Plugin compiles
    CompiledPlugin, _lib = None, None

NAME = b"demo_version_number"


def compile(wasm: bytes):
    if CompiledPlugin is None:
        return wasm
    return CompiledPlugin(wasm, wasi=False, functions=[])


def spawn(compiled) -> "extism.Plugin":
    plugin = extism.Plugin(compiled, wasi=False, functions=[])
    harness.check(_lib.extism_plugin_call(plugin.plugin, NAME, b"", 0))
    return plugin


def calls(wasm: bytes) -> harness.Calls:
    from extism import ValType, host_fn
    from extism.extism import _ffi

    @host_fn(name="inc", signature=([ValType.I32], [ValType.I32]))
    def inc(plugin, params, results, *user_data):
        results[0].value = params[0].value + 1

    plugin = extism.Plugin(wasm, wasi=False, functions=[inc])  # instantiates: the import is served
    handle = plugin.plugin
    call_export = _lib.extism_plugin_call

    def call(n: int) -> None:
        for _ in range(n):
            if call_export(handle, b"three", b"", 0) != 3:
                raise RuntimeError("three() did not return 3")

    def host_loop(n: int, keep=(plugin, inc)) -> int:  # the SDK does not keep inc alive itself
        if n % 1000:
            raise ValueError("host_loop runs in steps of 1,000")
        return sum(call_export(handle, b"host_loop_1000", b"", 0) for _ in range(n // 1000))

    notes = (f"extism {version('extism')} (extism-sys {version('extism-sys')}): call_ns: "
             "extism_plugin_call of three() (Extism calls only parameterless exports; three returns "
             "add(1, 2)); host_call_ns: an extism.host_fn callback for inc, per call inside "
             "host_loop_1000(); no fast paths")
    del _ffi
    return harness.Calls("extism-py", call, None, host_loop, None, notes)


def wasi_spawn(compiled) -> "extism.Plugin":
    plugin = extism.Plugin(compiled, wasi=True, functions=[])
    harness.check_reactor(_lib.extism_plugin_call(plugin.plugin, b"reactor_get", b"", 0))
    return plugin


def pack(wasm: bytes) -> harness.Pack:
    plugin = extism.Plugin(CompiledPlugin(wasm, wasi=False, functions=[]), wasi=False, functions=[])

    def echo(data: bytes, call=plugin.call) -> bytes:
        return call("echo", data)

    notes = (f"extism {version('extism')} (extism-sys {version('extism-sys')}): pack: Plugin.call('echo', data) "
             "(output as bytes); the guest loads its input and stores its output through Extism's kernel "
             "imports, 8 bytes a call, as Extism's PDKs do; no fast path; no plain call")
    return harness.Pack("extism-py", echo, None, None, None, None, notes)


def cache(cache_dir: str) -> harness.Cache:
    # Read by every engine Extism makes (one per CompiledPlugin), so it applies from here on.
    os.environ["EXTISM_CACHE_CONFIG"] = harness.wasmtime_cache_config(cache_dir)
    notes = (f"extism {version('extism')} (extism-sys {version('extism-sys')}, its own wasmtime): its default disk "
             "cache (wasmtime's, by default in ~/.cache/wasmtime) moved into the run's temporary directory by "
             "EXTISM_CACHE_CONFIG (a cache config TOML with only the directory set); a load is CompiledPlugin(wasm): "
             "Extism's engine made, the guest and Extism's kernel module each loaded from the cache (compiled and "
             "stored on the miss); artifacts zstd-compressed (wasmtime's default); compile: not measured")
    return harness.Cache("extism-py", lambda wasm: CompiledPlugin(wasm, wasi=False, functions=[]), spawn,
                         os.path.join(cache_dir, "store"), notes)


def main() -> int:
    args = harness.parse_args(("default", "calls", "wasi", "pack", "cache"))
    if args.mode in ("wasi", "pack", "calls", "cache") and CompiledPlugin is None:
        print(f"extism {version('extism')} is too old for this driver; not measured", file=sys.stderr)
        return 1
    if args.mode == "pack":
        return harness.main_pack(pack, args, "extism-py")
    if args.mode == "cache":
        return harness.main_cache(cache, args, "extism-py")
    if args.mode == "wasi":
        notes = [f"extism {version('extism')} (extism-sys {version('extism-sys')})",
                 "CompiledPlugin(wasm, wasi=True) once, Plugin(compiled, wasi=True) per spawn: a fresh WASI "
                 "context each; Extism runs _initialize; stdout/stderr not passed on (discarded); no pooling",
                 "reactor_get called via extism_plugin_call"]
        return harness.main(harness.System("extism-py", "wasi", lambda w: CompiledPlugin(w, wasi=True, functions=[]),
                                           wasi_spawn, notes), args)
    if args.mode == "calls":
        return harness.main_calls(calls, args, "extism-py")
    if CompiledPlugin is None:
        print(f"extism {version('extism')} has no CompiledPlugin; not measured", file=sys.stderr)
        return 1
    notes = [
        f"extism {version('extism')} (extism-sys {version('extism-sys')}, its own wasmtime build)",
        "cached path: CompiledPlugin, then Plugin(compiled) per spawn; each Plugin also "
        "instantiates Extism's kernel module beside the guest and sets up its own store",
        "engine settings and pooling are not exposed; its default on-disk compile cache is "
        "turned off (EXTISM_CACHE_CONFIG='') so compile_ms is a real compile",
        "demo_version_number called via extism_plugin_call (Plugin.call would raise on the non-zero i32)",
        "cffi releases the GIL inside each C call, the Python glue holds it",
    ]
    return harness.main(harness.System("extism-py", "default", compile, spawn, notes), args)


if __name__ == "__main__":
    sys.exit(main())
