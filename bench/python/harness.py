"""The measurement every Python driver shares, so the three differ only in how they compile and spawn.

A driver gives `run()` a `System`: `compile(wasm)` returns the cached compiled thing, and
`spawn(compiled)` makes a fresh instance (fresh store), calls `demo_version_number`,
checks 3046000 and returns the live instance, which the caller drops (or keeps, for the
RSS figure). `run()` parses the common flags, measures, and prints the one JSON object.

`--mode calls` (guest/calls.c) measures calls on one live instance instead: a driver gives
`main_calls()` a `Calls` with its batches of `add(1, 2)` calls and its `host_loop(n)`.
`--mode wasi` is a spawn mode like the others (the guest is a WASI reactor; the driver's
spawn checks `reactor_get()`), and `--mode pack` measures bytes-in, bytes-out calls of an
`echo` export on one live instance: a driver gives `main_pack()` a `Pack`.

`--mode cache --cache-dir D --cache-phase first|hit` (the sqlite guest) loads the module
through the system's on-disk compile cache in D: phase `first` the miss into the empty D and
warm hits in the same process, phase `hit` one load in this fresh process (bench/run.py starts
several). A driver gives `main_cache()` a `Cache`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

EXPECTED_VERSION = 3046000
WARMUPS = 100
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_WASM = os.path.join(ROOT, "build", "guest", "sqlite.wasm")


@dataclass
class System:
    name: str
    mode: str
    compile: Callable[[bytes], Any]
    spawn: Callable[[Any], Any]
    notes: list[str] = field(default_factory=list)
    # False when concurrent spawns from one compiled module are not safe: the field is then null.
    thread_safe: bool = True


@dataclass
class Calls:
    """What a driver's calls mode measures on one live instance (made once, before).

    `call(n)` and `fast_call(n)` make n calls of `add(1, 2)`, the ordinary way and the
    fastest way the system has (None if it has no faster one, or cannot make the call at
    all), and raise unless every result is 3. `host_loop(n)` runs the guest's `host_loop(n)`, which calls the host's
    `inc` n times, and returns its result; `host_loop_fast` the same through the system's
    fastest host-function path, or None.
    """

    name: str
    call: Optional[Callable[[int], None]]
    fast_call: Optional[Callable[[int], None]]
    host_loop: Optional[Callable[[int], int]]
    host_loop_fast: Optional[Callable[[int], int]]
    notes: str


@dataclass
class Pack:
    """What a driver's pack mode measures on one live instance (made once, before).

    `pack(data)` and `pack_fast(data)` make one call of the guest's echo with `data` and
    return its output as `bytes`, the ordinary way and the fastest way the system has (None if
    it has no faster one). `plain()` and `plain_fast()` make one call of a trivial export of
    the same instance, returning what it returned (checked against `plain_expected`), or None.
    """

    name: str
    pack: Callable[[bytes], bytes]
    pack_fast: Optional[Callable[[bytes], bytes]]
    plain: Optional[Callable[[], Any]]
    plain_fast: Optional[Callable[[], Any]]
    plain_expected: Any
    notes: str


# Payload sizes, their names in the JSON fields, and the calls per timed batch (a tenth with --quick).
PACK_SIZES = ((16, "16", 20_000), (4096, "4k", 10_000), (1 << 20, "1m", 100))

CALL_BATCH, CALL_BATCH_QUICK = 20_000, 2_000  # calls per timed batch (Python sizes)
HOST_CALLS, HOST_CALLS_QUICK = 20_000, 2_000  # host calls per host_loop
CALL_WARMUPS = 1000
CALL_ROUNDS = 5


def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def _per_call_ns(batch: Callable[[int], Any], n: int) -> float:
    """Median over CALL_ROUNDS of one batch of n calls, timed with one clock read on each side."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(CALL_ROUNDS):
        t0 = clock()
        batch(n)
        samples.append((clock() - t0) / n)
    return round(_median(samples), 1)


def _host_call_ns(host_loop: Callable[[int], int], n: int) -> float:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(CALL_ROUNDS):
        t0 = clock()
        got = host_loop(n)
        samples.append((clock() - t0) / n)
        if got != n:
            raise RuntimeError(f"host_loop({n}) returned {got!r}, expected {n}")
    return round(_median(samples), 1)


def measure_calls(calls: Calls, args: argparse.Namespace) -> dict:
    batch = CALL_BATCH_QUICK if args.quick else CALL_BATCH
    host_n = HOST_CALLS_QUICK if args.quick else HOST_CALLS
    for kind in (calls.call, calls.fast_call):
        if kind is not None:
            kind(CALL_WARMUPS)
    for loop in (calls.host_loop, calls.host_loop_fast):
        if loop is not None and loop(CALL_WARMUPS) != CALL_WARMUPS:
            raise RuntimeError(f"host_loop({CALL_WARMUPS}) did not return {CALL_WARMUPS}")
    return {
        "system": calls.name,
        "mode": "calls",
        "call_ns": None if calls.call is None else _per_call_ns(calls.call, batch),
        "call_fast_ns": None if calls.fast_call is None else _per_call_ns(calls.fast_call, batch),
        "host_call_ns": None if calls.host_loop is None else _host_call_ns(calls.host_loop, host_n),
        "host_call_fast_ns": None if calls.host_loop_fast is None else _host_call_ns(calls.host_loop_fast, host_n),
        "notes": calls.notes,
    }


def main_calls(make: Callable[[bytes], Calls], args: argparse.Namespace, name: str) -> int:
    """Runs a driver's calls mode: `make(wasm)` builds the one live instance and its `Calls`."""
    try:
        with open(args.wasm, "rb") as f:
            result = measure_calls(make(f.read()), args)
    except Exception as e:  # one line on stderr, nothing on stdout: the orchestrator skips us
        print(f"{name} (calls): {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    emit(result)
    return 0


def _pack_ns(call: Callable[[bytes], bytes], data: bytes, batch: int) -> float:
    """Median over CALL_ROUNDS of a batch of `batch` calls with `data`, after one checked call."""
    if call(data) != data:
        raise RuntimeError(f"echo of {len(data)} bytes did not return its input")
    size = len(data)
    for _ in range(batch // 10 + 1):
        if len(call(data)) != size:
            raise RuntimeError("echo returned the wrong length")
    clock = time.perf_counter_ns
    samples = []
    for _ in range(CALL_ROUNDS):
        t0 = clock()
        for _ in range(batch):
            if len(call(data)) != size:
                raise RuntimeError("echo returned the wrong length")
        samples.append((clock() - t0) / batch)
    return round(_median(samples), 1)


def _plain_ns(call: Callable[[], Any], expected: Any, batch: int) -> float:
    def run(n: int) -> None:
        for _ in range(n):
            if call() != expected:
                raise RuntimeError(f"the plain call did not return {expected!r}")
    run(batch // 10 + 1)
    return _per_call_ns(run, batch)


def measure_pack(pack: Pack, args: argparse.Namespace) -> dict:
    payload = bytes((i * 131 + 7) & 0xFF for i in range(PACK_SIZES[-1][0]))
    result: dict = {"system": pack.name, "mode": "pack"}
    for size, label, batch in PACK_SIZES:
        batch = max(1, batch // 10) if args.quick else batch
        data = payload[:size]
        result[f"pack_{label}_ns"] = _pack_ns(pack.pack, data, batch)
        result[f"pack_fast_{label}_ns"] = None if pack.pack_fast is None else _pack_ns(pack.pack_fast, data, batch)
        result[f"memcpy2_{label}_ns"] = None
    batch = CALL_BATCH_QUICK if args.quick else CALL_BATCH
    for field, call in (("plain_call_ns", pack.plain), ("plain_call_fast_ns", pack.plain_fast)):
        result[field] = None if call is None else _plain_ns(call, pack.plain_expected, batch)
    result["notes"] = pack.notes
    return result


def main_pack(make: Callable[[bytes], Pack], args: argparse.Namespace, name: str) -> int:
    """Runs a driver's pack mode: `make(wasm)` builds the one live instance and its `Pack`."""
    try:
        with open(args.wasm, "rb") as f:
            result = measure_pack(make(f.read()), args)
    except Exception as e:  # one line on stderr, nothing on stdout: the orchestrator skips us
        print(f"{name} (pack): {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    emit(result)
    return 0


@dataclass
class Cache:
    """What a driver's cache mode measures.

    `load(wasm)` is one load through the system's disk cache (a compile and a store on a miss,
    a read of the stored artifact on a hit) and returns what `check(loaded)` instantiates and
    checks. `store` is the directory wasmtime's cache keeps its artifacts in: they are counted
    before and after each load, so that a hit that compiled is an error, not a fast miss.
    """

    name: str
    load: Callable[[bytes], Any]
    check: Callable[[Any], None]
    store: str
    notes: str


CACHE_LOADS, CACHE_LOADS_QUICK = 21, 5  # warm hits per median (odd: the median is one sample)


def wasmtime_cache_config(cache_dir: str) -> str:
    """Writes a wasmtime cache config (TOML) keeping its artifacts in <cache_dir>/store and
    returns its path. Only the directory differs from wasmtime's defaults (the format of
    wasmtime 48 and 49: no `enabled` key)."""
    path = os.path.join(cache_dir, "wasmtime-cache.toml")
    with open(path, "w") as f:
        # A JSON string is a valid TOML basic string.
        f.write(f"[cache]\ndirectory = {json.dumps(os.path.join(cache_dir, 'store'))}\n")
    return path


def wasmtime_cache_artifacts(store: str) -> dict:
    """The artifacts in a wasmtime cache directory, path -> size. Not artifacts: its usage files
    (.stats), the files its atomic writes rename into place (*.wip-*), which its background
    worker makes and removes at any moment, and its marker files (dot files)."""
    found = {}
    for base, _, files in os.walk(store):
        for name in files:
            if name.startswith(".") or name.endswith(".stats") or ".wip-" in name:
                continue
            path = os.path.join(base, name)
            try:
                found[path] = os.path.getsize(path)
            except FileNotFoundError:  # removed since the listing: not an artifact that stays
                pass
    return found


def _timed_ms(op: Callable[[], Any]) -> tuple:
    t0 = time.perf_counter_ns()
    value = op()
    return value, (time.perf_counter_ns() - t0) / 1e6


def measure_cache(cache: Cache, args: argparse.Namespace) -> dict:
    with open(args.wasm, "rb") as f:
        wasm = f.read()
    before = wasmtime_cache_artifacts(cache.store)
    result: dict = {"system": cache.name, "mode": "cache"}
    if args.cache_phase == "hit":
        if not before:
            raise RuntimeError(f"{cache.store} holds no artifact: run phase first")
        loaded, hit_ms = _timed_ms(lambda: cache.load(wasm))
        result["hit_ms"] = round(hit_ms, 3)
        if wasmtime_cache_artifacts(cache.store) != before:
            raise RuntimeError("the load stored an artifact, so it compiled: not a hit")
        cache.check(loaded)
        return result
    if before:
        raise RuntimeError(f"{cache.store} is not empty: phase first needs an empty cache")
    loaded, miss_ms = _timed_ms(lambda: cache.load(wasm))
    stored = wasmtime_cache_artifacts(cache.store)
    if not stored:
        raise RuntimeError(f"the first load stored nothing in {cache.store}")
    cache.check(loaded)
    n = CACHE_LOADS_QUICK if args.quick else CACHE_LOADS
    warm = sorted(_timed_ms(lambda: cache.load(wasm))[1] for _ in range(n))
    if wasmtime_cache_artifacts(cache.store) != stored:
        raise RuntimeError("a warm load stored an artifact, so it compiled: not a hit")
    result.update(compile_ms=None, miss_ms=round(miss_ms, 3), warm_hit_ms=round(warm[n // 2], 3),
                  deserialize_ms=None, artifact_bytes=sum(stored.values()), artifacts=len(stored), loads=n,
                  notes=cache.notes)
    return result


def main_cache(make: Callable[[str], Cache], args: argparse.Namespace, name: str) -> int:
    """Runs a driver's cache mode: `make(cache_dir)` sets the system's cache up in that directory."""
    try:
        if not args.cache_dir:
            raise RuntimeError("--mode cache needs --cache-dir")
        result = measure_cache(make(args.cache_dir), args)
    except Exception as e:  # one line on stderr, nothing on stdout: the orchestrator skips us
        print(f"{name} (cache {args.cache_phase}): {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    emit(result)
    return 0


def parse_args(modes: tuple[str, ...], argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--wasm", default=DEFAULT_WASM)
    p.add_argument("--spawns", type=int, default=10000)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--live", type=int, default=1000)
    p.add_argument("--mode", default=modes[0], choices=modes)
    p.add_argument("--quick", action="store_true", help="spawns 300, live 50; calls: batches of 2,000")
    p.add_argument("--cache-dir", help="cache mode: the directory the system's disk cache uses")
    p.add_argument("--cache-phase", default="first", choices=("first", "hit"),
                   help="cache mode: fill the empty directory (first) or load once from it (hit)")
    args = p.parse_args(argv)
    if args.quick:
        args.spawns, args.live = 300, 50
    if args.spawns < 1 or args.threads < 1 or args.live < 0:
        p.error("--spawns and --threads must be positive, --live not negative")
    return args


def check(value: Any, expected: int = EXPECTED_VERSION, name: str = "demo_version_number") -> None:
    if value != expected:
        raise RuntimeError(f"{name} returned {value!r}, expected {expected}")


REACTOR_EXPECTED = 41  # wasi_reactor.wasm's reactor_get(), once _initialize has run


def check_reactor(value: Any) -> None:
    check(value, REACTOR_EXPECTED, "reactor_get")


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def percentile(sorted_ns: list[int], q: float) -> float:
    # Nearest rank: the smallest sample with at least q of the samples at or below it.
    rank = max(1, -(-len(sorted_ns) * q // 1))
    return float(sorted_ns[int(rank) - 1])


def unsupported(system: str, mode: str, args: argparse.Namespace, why: str) -> None:
    """Prints the object with every figure null, for a mode the system does not offer."""
    emit({"system": system, "mode": mode, "compile_ms": None, "spawn_median_us": None,
          "spawn_p99_us": None, "spawns": args.spawns, "spawns_per_sec_1": None,
          "spawns_per_sec_all": None, "threads_all": args.threads, "rss_1000_live_mib": None,
          "notes": why})


def emit(result: dict) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def _threaded(system: System, compiled: Any, total: int, threads: int) -> float:
    """Spawns per second with `threads` threads sharing one compiled module, `total` spawns in all."""
    shares = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]
    start = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        spawn = system.spawn
        start.wait()
        try:
            for _ in range(n):
                spawn(compiled)
        except BaseException as e:  # reported on the main thread
            errors.append(e)

    workers = [threading.Thread(target=work, args=(n,)) for n in shares]
    for w in workers:
        w.start()
    start.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return total / elapsed


def measure(system: System, args: argparse.Namespace) -> dict:
    with open(args.wasm, "rb") as f:
        wasm = f.read()

    t0 = time.perf_counter()
    compiled = system.compile(wasm)
    compile_ms = (time.perf_counter() - t0) * 1e3

    spawn = system.spawn
    for _ in range(WARMUPS):
        spawn(compiled)

    # Single-threaded: each spawn timed alone; the rate is over the whole loop.
    samples = [0] * args.spawns
    clock = time.perf_counter_ns
    loop_start = clock()
    for i in range(args.spawns):
        t = clock()
        spawn(compiled)
        samples[i] = clock() - t
    loop_s = (clock() - loop_start) / 1e9
    samples.sort()

    per_sec_all = _threaded(system, compiled, args.spawns, args.threads) if system.thread_safe else None

    # Live instances: the RSS they add, each called once and all held at once.
    gc.collect()
    before = rss_kib()
    live = [spawn(compiled) for _ in range(args.live)]
    after = rss_kib()
    del live
    gc.collect()

    result = {
        "system": system.name,
        "mode": system.mode,
        "compile_ms": round(compile_ms, 3),
        "spawn_median_us": round(percentile(samples, 0.5) / 1e3, 3),
        "spawn_p99_us": round(percentile(samples, 0.99) / 1e3, 3),
        "spawns": args.spawns,
        "spawns_per_sec_1": round(args.spawns / loop_s, 1),
        "spawns_per_sec_all": None if per_sec_all is None else round(per_sec_all, 1),
        "threads_all": args.threads,
        "rss_1000_live_mib": round((after - before) / 1024, 2),
        "live": args.live,
    }
    if system.notes:
        result["notes"] = "; ".join(system.notes)
    return result


def main(system: System, args: argparse.Namespace) -> int:
    try:
        result = measure(system, args)
    except Exception as e:  # one line on stderr, nothing on stdout: the orchestrator skips us
        print(f"{system.name} ({system.mode}): {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    emit(result)
    return 0
