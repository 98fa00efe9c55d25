"""The measurement every Python driver shares, so the three differ only in how they compile and spawn.

A driver gives `run()` a `System`: `compile(wasm)` returns the cached compiled thing, and
`spawn(compiled)` makes a fresh instance (fresh store), calls `demo_version_number`,
checks 3046000 and returns the live instance, which the caller drops (or keeps, for the
RSS figure). `run()` parses the common flags, measures, and prints the one JSON object.
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


def parse_args(modes: tuple[str, ...], argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--wasm", default=DEFAULT_WASM)
    p.add_argument("--spawns", type=int, default=10000)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--live", type=int, default=1000)
    p.add_argument("--mode", default=modes[0], choices=modes)
    p.add_argument("--quick", action="store_true", help="spawns 300, live 50")
    args = p.parse_args(argv)
    if args.quick:
        args.spawns, args.live = 300, 50
    if args.spawns < 1 or args.threads < 1 or args.live < 0:
        p.error("--spawns and --threads must be positive, --live not negative")
    return args


def check(value: Any) -> None:
    if value != EXPECTED_VERSION:
        raise RuntimeError(f"demo_version_number returned {value!r}, expected {EXPECTED_VERSION}")


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
