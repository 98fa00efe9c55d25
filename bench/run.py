#!/usr/bin/env python3
"""packr's benchmark orchestrator: builds what is missing, runs every driver, prints the tables.

    python3 bench/run.py [--quick] [--out build/bench/results.json] [--only NAME] [--mode MODE] [--threads T]

Each driver prints one JSON object (see bench/README.md). A driver that is missing or fails is
skipped with a "skipped: <why>" line. The exit code is non-zero only when a packr driver that
should have run did not. Standard library only: it runs before the venv exists.

The cache mode runs each of its drivers several times (run_cache): once to fill an empty
temporary directory, then in fresh processes that each load once from it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "build", "bench-venv")
VENV_PY = os.path.join(VENV, "bin", "python")
REQUIREMENTS = os.path.join(ROOT, "bench", "python", "requirements.txt")
WASM = os.path.join(ROOT, "build", "guest", "sqlite.wasm")
GUESTS = os.path.join(ROOT, "build", "guest")
BUILD_SH = os.path.join(ROOT, "bench", "build.sh")


@dataclass(frozen=True)
class Driver:
    key: str            # how the table and the targets name it
    language: str       # the table's group
    argv: tuple         # relative to the repo; "{py}" is the venv's python
    modes: tuple
    packr: bool         # a packr driver: its failure fails the run
    native: bool        # built by bench/build.sh (so only required once that script exists)
    needs: tuple = ()   # Python modules the driver imports, checked before it runs
    guests: tuple = ()  # (mode, file in build/guest/) pairs replacing MODE_GUESTS' choice


# The drivers, in table order. Paths may change: this table is the one place that says where.
DRIVERS = (
    Driver("packr-c", "C/Rust", ("target/bench/packr_bench",),
           ("default", "pooling", "calls", "wasi", "pack", "guard", "cache"), True, True),
    Driver("floor", "C/Rust", ("target/release/packr-bench-floor",),
           ("default", "pooling", "calls", "wasi", "pack", "cache"), False, True),
    Driver("wasmtime-capi", "C/Rust", ("target/bench/capi_bench",), ("default", "pooling", "calls"), False, True),
    Driver("packr-go", "Go", ("target/bench/packr_go",), ("default", "pooling", "calls"), True, True),
    Driver("go-capi", "Go", ("target/bench/capi_go",), ("nopool", "pooling", "calls"), False, True),
    Driver("packr-py", "Python", ("{py}", "bench/python/packr_bench.py"),
           ("default", "pooling", "calls", "wasi", "pack"), True, False),
    Driver("wasmtime-py", "Python", ("{py}", "bench/python/wasmtime_bench.py"),
           ("default", "pooling", "calls", "wasi", "cache"), False, False, ("wasmtime",)),
    Driver("extism-py", "Python", ("{py}", "bench/python/extism_bench.py"),
           ("default", "calls", "wasi", "pack", "cache"), False, False, ("extism",),
           (("calls", "calls_extism.wasm"), ("pack", "extism_echo.wasm"))),
)
LANGUAGES = ("C/Rust", "Go", "Python")
FLOOR = "floor"
FIELDS = ("compile_ms", "spawn_median_us", "spawn_p99_us", "spawns", "spawns_per_sec_1",
          "spawns_per_sec_all", "threads_all", "rss_1000_live_mib")
CALL_FIELDS = ("call_ns", "call_fast_ns", "host_call_ns", "host_call_fast_ns")
# The modes whose drivers print FIELDS (the spawn measurement); the others print their own.
SPAWN_MODES = ("default", "pooling", "nopool", "wasi")
# The guest of each mode that does not spawn the sqlite guest (--wasm), in build/guest/.
MODE_GUESTS = {"calls": "calls.wasm", "wasi": "wasi_reactor.wasm", "pack": "pack.wasm"}
# The pack mode's payloads: (label in the field names, bytes, as the table heads them).
PACK_SIZES = (("16", 16, "16 B"), ("4k", 4096, "4 KiB"), ("1m", 1 << 20, "1 MiB"))
PACK_FIELDS = tuple(f"{kind}_{label}_ns" for label, _, _ in PACK_SIZES for kind in ("pack", "pack_fast", "memcpy2")) \
    + ("plain_call_ns", "plain_call_fast_ns")
# The guard mode's fields (packr-c only: the guardrails' costs and stopping times).
GUARD_FIELDS = ("spawn_plain_us", "spawn_deadline_us", "call_plain_ns", "call_deadline_ns", "timeout_10ms_median_ms",
                "timeout_10ms_p99_ms", "interrupt_median_us", "interrupt_p99_us", "query_ms", "query_fuel_ms",
                "query_nosignals_ms")
# The cache mode's fields (the sqlite guest through each system's disk cache; ms). Phase first
# prints all but fresh_hit_ms, which run_cache adds: the median of the fresh processes' loads.
CACHE_FIELDS = ("compile_ms", "miss_ms", "warm_hit_ms", "fresh_hit_ms", "deserialize_ms", "artifact_bytes")
# Fresh processes per driver in the cache mode, full and quick (odd: the median is one load).
CACHE_FRESH_RUNS, CACHE_FRESH_RUNS_QUICK = 11, 5
# packr_instance_call by name before func handles and the raw call path (bench/README.md).
CALL_BY_NAME_BEFORE_NS = 230.0


def log(message: str) -> None:
    print(message, flush=True)


def sh(argv: list, timeout: Optional[float] = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, text=True, capture_output=True, timeout=timeout, **kw)


def build_step(argv: list, timeout: float) -> subprocess.CompletedProcess:
    """A build command; a timeout or a missing program becomes a failed result, not a crash."""
    try:
        return sh(argv, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", f"timed out after {timeout:.0f} s")
    except OSError as e:
        return subprocess.CompletedProcess(argv, 127, "", str(e))


def tail(text: str, lines: int = 3) -> str:
    kept = [line for line in (text or "").strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)


# --- building what is missing -------------------------------------------------------------

def build_native() -> Optional[str]:
    """libpackr (cargo is a no-op when fresh), the guest when missing, then bench/build.sh."""
    problems = []
    if shutil.which("cargo"):
        log("build: cargo build --release --locked (libpackr)")
        r = build_step(["cargo", "build", "--release", "--locked"], 3000)
        if r.returncode:
            problems.append(f"cargo build failed: {tail(r.stderr)}")
    elif not os.path.exists(os.path.join(ROOT, "target", "release", "libpackr.so")):
        problems.append("no cargo and no target/release/libpackr.so")
    guests = {WASM} | {os.path.join(GUESTS, g) for g in MODE_GUESTS.values()} \
        | {os.path.join(GUESTS, g) for d in DRIVERS for _, g in d.guests}
    missing = sorted(os.path.relpath(g, ROOT) for g in guests if not os.path.exists(g))
    if missing:
        log(f"build: bash guest/build.sh ({', '.join(missing)} missing)")
        r = build_step(["bash", "guest/build.sh"], 3000)
        if r.returncode:
            problems.append(f"guest/build.sh failed: {tail(r.stderr)}")
    if os.path.exists(BUILD_SH):
        log("build: bash bench/build.sh")
        r = build_step(["bash", BUILD_SH], 3000)
        if r.returncode:
            problems.append(f"bench/build.sh failed (exit {r.returncode}): {tail(r.stderr or r.stdout)}")
    else:
        log("build: no bench/build.sh; native drivers run only if already built")
    return "; ".join(problems) or None


def requirement_lines() -> list:
    with open(REQUIREMENTS) as f:
        return [line.split("#")[0].strip() for line in f if line.split("#")[0].strip()]


def build_venv() -> tuple:
    """The venv with the pinned peers. Returns (python to run drivers with, problems)."""
    if not os.path.exists(VENV_PY):
        log(f"venv: python3 -m venv {os.path.relpath(VENV, ROOT)}")
        r = build_step([sys.executable, "-m", "venv", VENV], 600)
        if r.returncode:
            # packr's own driver needs only the standard library, so it still runs.
            return sys.executable, f"cannot create the venv: {tail(r.stderr)}"
    stamp = os.path.join(VENV, ".requirements")
    with open(REQUIREMENTS) as f:
        wanted = f.read()
    if os.path.exists(stamp) and open(stamp).read() == wanted:
        return VENV_PY, None
    pip = [VENV_PY, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    log("venv: pip install -r bench/python/requirements.txt")
    r = build_step(pip + ["-r", REQUIREMENTS], 900)
    if r.returncode == 0:
        with open(stamp, "w") as f:
            f.write(wanted)
        return VENV_PY, None
    # One by one, so a peer that cannot be installed only skips its own driver.
    failed = []
    for req in requirement_lines():
        if build_step(pip + ["--no-deps", req], 600).returncode:
            failed.append(req)
    return VENV_PY, f"pip could not install {', '.join(failed) or 'the requirements'}: {tail(r.stderr, 2)}"


def missing_modules(python: str, modules: tuple) -> Optional[str]:
    if not modules:
        return None
    r = sh([python, "-c", "; ".join(f"import {m}" for m in modules)])
    return None if r.returncode == 0 else f"{', '.join(modules)} not importable ({tail(r.stderr, 1)})"


# --- running the drivers -----------------------------------------------------------------

def invoke(argv: list, args: argparse.Namespace) -> tuple:
    """Runs one driver process. Returns (its JSON object, None) or (None, why not)."""
    try:
        r = sh(argv, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {args.timeout:.0f} s"
    except OSError as e:
        return None, f"cannot run: {e}"
    if r.returncode:
        return None, f"exit {r.returncode}: {tail(r.stderr or r.stdout) or 'no output'}"
    try:
        result = json.loads(r.stdout)
        if not isinstance(result, dict):
            raise ValueError("not an object")
    except ValueError:
        return None, f"stdout is not one JSON object: {tail(r.stdout, 1)[:200]!r}"
    return result, None


def run_cache(argv: list, args: argparse.Namespace) -> tuple:
    """The cache mode: phase first into an empty temporary directory (a miss, then warm hits in
    that process), then fresh processes that each load once from the filled directory (phase
    hit). One row: phase first's object with the fresh loads and their median added. The
    directory is removed afterwards."""
    cache_dir = tempfile.mkdtemp(prefix="packr-bench-cache-")
    try:
        result, why = invoke(argv + ["--cache-dir", cache_dir, "--cache-phase", "first"], args)
        if result is None:
            return None, f"phase first: {why}"
        hits = []
        for i in range(CACHE_FRESH_RUNS_QUICK if args.quick else CACHE_FRESH_RUNS):
            hit, why = invoke(argv + ["--cache-dir", cache_dir, "--cache-phase", "hit"], args)
            if hit is not None and not isinstance(hit.get("hit_ms"), (int, float)):
                hit, why = None, "no hit_ms in its output"
            if hit is None:
                return None, f"fresh-process hit {i + 1}: {why}"
            hits.append(hit["hit_ms"])
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    result.update(fresh_hits_ms=hits, fresh_hit_ms=sorted(hits)[len(hits) // 2], fresh_runs=len(hits))
    return result, None


def run_driver(driver: Driver, mode: str, python: str, args: argparse.Namespace) -> tuple:
    """Returns (result dict, None) or (None, why skipped)."""
    argv = [python if a == "{py}" else os.path.join(ROOT, a) if i == 0 else a
            for i, a in enumerate(driver.argv)]
    if not os.path.exists(argv[0]) or (driver.argv[0] == "{py}" and not os.path.exists(argv[1])):
        return None, f"{os.path.relpath(argv[0] if driver.argv[0] != '{py}' else argv[1], ROOT)} not found"
    spawns = mode in SPAWN_MODES
    guest = dict(driver.guests).get(mode) or MODE_GUESTS.get(mode)
    argv += ["--wasm", os.path.join(GUESTS, guest) if guest else args.wasm, "--mode", mode]
    if args.quick:
        argv.append("--quick")
    for flag in ("spawns", "threads", "live"):
        if getattr(args, flag) is not None and spawns:
            argv += [f"--{flag}", str(getattr(args, flag))]
    result, why = run_cache(argv, args) if mode == "cache" else invoke(argv, args)
    if result is None:
        return None, why
    expected = FIELDS if spawns else CALL_FIELDS if mode == "calls" else GUARD_FIELDS if mode == "guard" \
        else CACHE_FIELDS if mode == "cache" else PACK_FIELDS
    absent = [f for f in expected if f not in result]
    if absent:
        result.setdefault("notes", "")
        result["notes"] = (result["notes"] + "; " if result["notes"] else "") + "missing: " + ", ".join(absent)
    return result, None


# --- the table and the targets -----------------------------------------------------------

def floor_mode(mode: str) -> str:
    return mode if mode in ("pooling", "wasi") else "default"


def pack_best(r: dict, label: str) -> Optional[float]:
    """The fastest pack call a system made with that payload (its fast path, or its only one)."""
    return min([v for v in (r.get(f"pack_{label}_ns"), r.get(f"pack_fast_{label}_ns")) if v] or [0]) or None


def derive(rows: list) -> None:
    """Adds compile/spawn and the ratio to the floor in the same mode to every row."""
    floors = {r["mode_asked"]: r.get("spawn_median_us") for r in rows if r["driver"] == FLOOR}
    call_floor = next((r for r in rows if r["driver"] == FLOOR and r["mode_asked"] == "calls"), {})
    pack_floor = next((r for r in rows if r["driver"] == FLOOR and r["mode_asked"] == "pack"), {})
    cache_floor = next((r for r in rows if r["driver"] == FLOOR and r["mode_asked"] == "cache"), {})
    for r in rows:
        if r["mode_asked"] == "cache":
            per = lambda a, b: a / b if a and b else None  # noqa: E731
            hit = r.get("fresh_hit_ms")
            r["compile_hit_ratio"] = per(r.get("compile_ms"), hit)
            r["miss_hit_ratio"] = per(r.get("miss_ms"), hit)
            r["warm_vs_floor"] = per(r.get("warm_hit_ms"), cache_floor.get("warm_hit_ms"))
            r["fresh_vs_floor"] = per(hit, cache_floor.get("fresh_hit_ms"))
            r["deserialize_vs_floor"] = per(r.get("deserialize_ms"), cache_floor.get("deserialize_ms"))
            continue
        if r["mode_asked"] == "pack":
            for label, _, _ in PACK_SIZES:
                ours, floor = pack_best(r, label), pack_best(pack_floor, label)
                r[f"pack_{label}_vs_floor"] = ours / floor if ours and floor else None
            continue
        if r["mode_asked"] == "calls":
            # The fastest path each system offers, against the floor's fastest (TypedFunc::call,
            # Func::wrap).
            fast = r.get("call_fast_ns") or r.get("call_ns")
            host = min([v for v in (r.get("host_call_ns"), r.get("host_call_fast_ns")) if v] or [0]) or None
            r["call_vs_floor"] = fast / call_floor["call_fast_ns"] if fast and call_floor.get("call_fast_ns") else None
            r["host_vs_floor"] = host / call_floor["host_call_ns"] if host and call_floor.get("host_call_ns") else None
            continue
        compile_ms, median = r.get("compile_ms"), r.get("spawn_median_us")
        r["compile_spawn_ratio"] = compile_ms * 1000 / median if compile_ms and median else None
        floor = floors.get(floor_mode(r["mode_asked"]))
        r["vs_floor"] = median / floor if median and floor else None


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if digits == 0 or abs(value) >= 10000:
            return f"{value:,.0f}"
        return f"{value:,.{digits}f}"
    return str(value)


def language_groups(rows: list, table: list, notes: list, tag: str, note_label=lambda r: r["driver"],
                    spaced: bool = False):
    """Yields each of `rows` with the mark of its note, language by language, after putting the
    language's heading line into `table` (a blank line before it too if `spaced`); each row's
    notes go into `notes`, numbered [tagN]."""
    for language in LANGUAGES:
        group = [r for r in rows if r["language"] == language]
        if not group:
            continue
        if spaced:
            table.append(None if table else "")
        table.append(f"{language}")
        for r in group:
            mark = ""
            if r.get("notes"):
                notes.append(f"[{tag}{len(notes) + 1}] {note_label(r)}: {r['notes']}")
                mark = f" [{tag}{len(notes)}]"
            yield r, mark


def print_table(rows: list, modes: tuple = ("default", "pooling", "nopool"), title: Optional[str] = None,
                tag: str = "") -> None:
    """One table of spawn figures for the rows of `modes`; notes are numbered [tagN]."""
    rows = [r for r in rows if r["mode_asked"] in modes]
    if not rows:
        return
    live = next((r.get("live") for r in rows if r.get("live")), None)
    threads = next((r.get("threads_all") for r in rows if r.get("threads_all")), None)
    headers = ("system", "mode", "compile ms", "spawn med us", "p99 us", "compile/spawn", "vs floor",
               "spawns/s 1T", f"spawns/s {threads or 'N'}T", f"RSS MiB {live or ''} live".replace("  ", " "))
    table = []
    notes = []
    for r, mark in language_groups(rows, table, notes, tag, lambda r: f"{r['driver']} {r['mode_asked']}", spaced=True):
        table.append((r["driver"] + mark, r["mode_asked"], fmt(r.get("compile_ms")),
                      fmt(r.get("spawn_median_us")), fmt(r.get("spawn_p99_us")),
                      fmt(r.get("compile_spawn_ratio"), 0), fmt(r.get("vs_floor"), 2) + ("x" if r.get("vs_floor") else ""),
                      fmt(r.get("spawns_per_sec_1"), 0), fmt(r.get("spawns_per_sec_all"), 0),
                      fmt(r.get("rss_1000_live_mib"))))
    cells = [headers] + [t for t in table if isinstance(t, tuple)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]

    def line(cols: tuple) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))

    log("")
    if title:
        log(title)
    log(line(headers))
    log("-" * len(line(headers)))
    for t in table:
        if isinstance(t, tuple):
            log(line(t))
        elif t:
            log(f"{t}:")
    if notes:
        log("")
        for n in notes:
            log(n)


def print_calls_table(rows: list) -> None:
    """Per-call costs on a live instance (mode calls): one row a system."""
    headers = ("system", "call ns", "fast call ns", "fast vs floor", "host call ns", "fast host ns",
               "host vs floor")
    table = []
    notes = []
    for r, mark in language_groups([r for r in rows if r["mode_asked"] == "calls"], table, notes, "c"):
        ratio = lambda v: fmt(v, 2) + ("x" if v else "")  # noqa: E731
        table.append((r["driver"] + mark, fmt(r.get("call_ns")), fmt(r.get("call_fast_ns")),
                      ratio(r.get("call_vs_floor")), fmt(r.get("host_call_ns")),
                      fmt(r.get("host_call_fast_ns")), ratio(r.get("host_vs_floor"))))
    if not table:
        return
    cells = [headers] + [t for t in table if isinstance(t, tuple)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]

    def line(cols: tuple) -> str:
        return "  ".join(c.ljust(w) if i < 1 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))

    log("")
    log("calls on a live instance (ns per call; build/guest/calls.wasm):")
    log(line(headers))
    log("-" * len(line(headers)))
    for t in table:
        log(line(t) if isinstance(t, tuple) else f"{t}:")
    for n in notes:
        log(n)


def ratio_cell(value: Optional[float]) -> str:
    return fmt(value, 2) + ("x" if value else "")


def print_pack_table(rows: list) -> None:
    """Pack calls on a live instance (mode pack): a line per system and path, ns per call, and
    each system's fastest pack call against the floor's, size by size."""
    rows = [r for r in rows if r["mode_asked"] == "pack"]
    if not rows:
        return
    headers = ["system", "path"]
    for _, _, head in PACK_SIZES:
        headers += [f"{head} ns", "vs floor"]
    # (path, field kind, whether the line carries the vs-floor ratio)
    paths = (("pack", "pack", True), ("pack, fast", "pack_fast", True), ("2 memcpys", "memcpy2", False))
    table, notes = [], []
    for r, mark in language_groups(rows, table, notes, "p"):
        best = {label: pack_best(r, label) for label, _, _ in PACK_SIZES}
        for path, kind, ratio in paths:
            values = [r.get(f"{kind}_{label}_ns") for label, _, _ in PACK_SIZES]
            if not any(values):
                continue
            cells = [r["driver"] + mark, path]
            for (label, _, _), v in zip(PACK_SIZES, values):
                # The ratio stands beside the system's fastest path at that size.
                shown = r.get(f"pack_{label}_vs_floor") if ratio and v and v == best[label] else None
                cells += [fmt(v, 0), ratio_cell(shown)]
            table.append(tuple(cells))
            mark = ""
        for path, field in (("plain call", "plain_call_ns"), ("plain call, fast", "plain_call_fast_ns")):
            if r.get(field):
                table.append((r["driver"] + mark, path, fmt(r[field], 0), "") + ("", "") * (len(PACK_SIZES) - 1))
                mark = ""
    cells = [tuple(headers)] + [t for t in table if isinstance(t, tuple)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]

    def line(cols: tuple) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))

    log("")
    log("pack calls on a live instance (ns per round trip; echo of build/guest/pack.wasm, extism_echo.wasm for "
        "Extism; plain call: a no-payload export on the same instance):")
    log(line(tuple(headers)))
    log("-" * len(line(tuple(headers))))
    for t in table:
        log(line(t) if isinstance(t, tuple) else f"{t}:")
    for n in notes:
        log(n)


def pack_targets(rows: list) -> list:
    """The WASI-and-pack issue's goals (issue 9), as check lines."""
    by = {(r["driver"], r["mode_asked"]): r for r in rows}
    pack = lambda driver: by.get((driver, "pack"), {})  # noqa: E731
    checks = []

    def check(label: str, a: Optional[float], b: Optional[float], limit: float, faster: bool = False) -> None:
        ratio = (b / a if faster else a / b) if a and b else None
        want = f">= {limit}x faster" if faster else f"<= {limit}x"
        checks.append({"target": label, "ratio": ratio, "want": want,
                       "ok": None if ratio is None else (ratio >= limit if faster else ratio <= limit)})

    check("packr-c wasi / floor wasi (pooled WASI spawn median)", by.get(("packr-c", "wasi"), {}).get("spawn_median_us"),
          by.get((FLOOR, "wasi"), {}).get("spawn_median_us"), 1.5)
    c = pack("packr-c")
    check("packr-c pack 1 MiB (func) / two memcpys of 1 MiB", c.get("pack_fast_1m_ns"), c.get("memcpy2_1m_ns"), 2)
    check("packr-c pack 16 B by name / packr_instance_call", c.get("pack_16_ns"), c.get("plain_call_ns"), 3)
    check("packr-c pack 16 B (func) / packr_instance_call_func", c.get("pack_fast_16_ns"), c.get("plain_call_fast_ns"),
          3)
    for label, _, head in PACK_SIZES:
        check(f"packr-py pack {head} vs extism-py Plugin.call", pack_best(pack("packr-py"), label),
              pack_best(pack("extism-py"), label), 5, True)
    return checks


def print_guard_table(rows: list) -> None:
    """The guardrails (mode guard): each cost beside its baseline, and how fast a stop lands."""
    r = next((r for r in rows if r["mode_asked"] == "guard"), None)
    if r is None:
        return
    ratio = lambda a, b: ratio_cell(r[a] / r[b] if r.get(a) and r.get(b) else None)  # noqa: E731
    lines = [
        ("pooled spawn+call, us", fmt(r.get("spawn_plain_us"), 2), fmt(r.get("spawn_deadline_us"), 2), "timeout armed",
         ratio("spawn_deadline_us", "spawn_plain_us")),
        ("call through a func handle, ns", fmt(r.get("call_plain_ns")), fmt(r.get("call_deadline_ns")), "timeout armed",
         ratio("call_deadline_ns", "call_plain_ns")),
        ("sqlite demo_run(2000), ms", fmt(r.get("query_ms"), 2), fmt(r.get("query_fuel_ms"), 2), "fuel on",
         ratio("query_fuel_ms", "query_ms")),
        ("sqlite demo_run(2000), ms", fmt(r.get("query_ms"), 2), fmt(r.get("query_nosignals_ms"), 2), "no signals",
         ratio("query_nosignals_ms", "query_ms")),
    ]
    log("")
    log("guardrails (packr-c, build/guest/sqlite.wasm; bench/README.md):")
    headers = ("what", "plain", "guarded", "with", "ratio")
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *lines)]
    for cols in (headers,) + tuple(lines):
        log("  " + "  ".join(str(c).ljust(w) for c, w in zip(cols, widths)))
    log(f"  a 10 ms timeout stops demo_run after: median {fmt(r.get('timeout_10ms_median_ms'), 2)} ms, "
        f"p99 {fmt(r.get('timeout_10ms_p99_ms'), 2)} ms ({r.get('tries')} tries)")
    log(f"  an interrupt from another thread stops it after: median {fmt(r.get('interrupt_median_us'))} us, "
        f"p99 {fmt(r.get('interrupt_p99_us'))} us")


def print_cache_table(rows: list) -> None:
    """The compile cache (mode cache): each system's compile, miss and hits of the sqlite guest,
    then the ratios the cache issue's targets are about."""
    rows = [r for r in rows if r["mode_asked"] == "cache"]
    if not rows:
        return
    headers = ("system", "compile ms", "miss ms", "warm hit ms", "fresh hit ms", "from bytes ms", "artifact MiB",
               "compile/hit", "miss/hit", "warm vs floor", "fresh vs floor")
    table, notes = [], []
    for r, mark in language_groups(rows, table, notes, "k"):
        size = r.get("artifact_bytes")
        table.append((r["driver"] + mark, fmt(r.get("compile_ms")), fmt(r.get("miss_ms")),
                      fmt(r.get("warm_hit_ms"), 2), fmt(r.get("fresh_hit_ms"), 2), fmt(r.get("deserialize_ms"), 2),
                      fmt(size / (1 << 20), 2) if size else "-", fmt(r.get("compile_hit_ratio"), 0),
                      fmt(r.get("miss_hit_ratio"), 0), ratio_cell(r.get("warm_vs_floor")),
                      ratio_cell(r.get("fresh_vs_floor"))))
    cells = [headers] + [t for t in table if isinstance(t, tuple)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]

    def line(cols: tuple) -> str:
        return "  ".join(c.ljust(w) if i < 1 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))

    runs = next((r.get("fresh_runs") for r in rows if r.get("fresh_runs")), None)
    loads = next((r.get("loads") for r in rows if r.get("loads")), None)
    log("")
    log(f"compile cache (build/guest/sqlite.wasm, ms; warm hit: median of {loads or 'N'} loads in the process that "
        f"filled the cache; fresh hit: median of {runs or 'N'} fresh processes, one load each; vs floor: "
        "against Module::deserialize_file):")
    log(line(headers))
    log("-" * len(line(headers)))
    for t in table:
        log(line(t) if isinstance(t, tuple) else f"{t}:")
    by = {r["driver"]: r for r in rows}
    c = by.get("packr-c", {})
    if c:
        log(f"  packr-c verified hit / floor unverified deserialize_file (the verification share): warm "
            f"{ratio_cell(c.get('warm_vs_floor'))}, fresh process {ratio_cell(c.get('fresh_vs_floor'))}; "
            f"from bytes: packr_module_deserialize / Module::deserialize {ratio_cell(c.get('deserialize_vs_floor'))}")
        for peer in ("extism-py", "wasmtime-py"):
            theirs, ours = by.get(peer, {}).get("fresh_hit_ms"), c.get("fresh_hit_ms")
            log(f"  {peer} fresh hit / packr-c fresh hit: {ratio_cell(theirs / ours if theirs and ours else None)}")
    for n in notes:
        log(n)


def cache_targets(rows: list) -> list:
    """The compile-cache issue's goals (issue 11), as check lines."""
    by = {r["driver"]: r for r in rows if r["mode_asked"] == "cache"}
    c = by.get("packr-c", {})
    checks = []

    def check(label: str, ratio: Optional[float], limit: float, at_least: bool, want: str) -> None:
        checks.append({"target": label, "ratio": ratio, "want": want,
                       "ok": None if ratio is None else (ratio >= limit if at_least else ratio <= limit)})

    check("packr-c compile / fresh-process cache hit", c.get("compile_hit_ratio"), 200, True, ">= 200x")
    theirs, ours = by.get("extism-py", {}).get("fresh_hit_ms"), c.get("fresh_hit_ms")
    check("packr-c fresh-process cache hit vs extism-py's", theirs / ours if theirs and ours else None, 5, True,
          ">= 5x faster")
    check("packr-c verified hit / floor deserialize_file (warm; the verification share)", c.get("warm_vs_floor"),
          1.25, False, "<= 1.25x")
    return checks


def guard_targets(rows: list) -> list:
    """The guardrails issue's goals (issue 10), as check lines."""
    r = next((r for r in rows if r["mode_asked"] == "guard"), {})
    checks = []

    def check(label: str, a: Optional[float], b: Optional[float], limit: float) -> None:
        ratio = a / b if a and b else None
        checks.append({"target": label, "ratio": ratio, "want": f"<= {limit}x",
                       "ok": None if ratio is None else ratio <= limit})

    check("packr-c 10 ms timeout, median return / 15 ms", r.get("timeout_10ms_median_ms"), 15.0, 1.0)
    check("packr-c interrupt, median stop / 2 ticks (2 ms)", r.get("interrupt_median_us"), 2000.0, 1.0)
    check("packr-c pooled spawn+call, timeout armed / none", r.get("spawn_deadline_us"), r.get("spawn_plain_us"), 1.05)
    return checks


def call_targets(rows: list) -> list:
    """The host-function issue's goals for the calls mode, as check lines."""
    value = {(r["driver"], f): r.get(f) for r in rows if r["mode_asked"] == "calls" for f in CALL_FIELDS}
    checks = []

    def check(label: str, ours: tuple, theirs, limit: float, faster: bool = False) -> None:
        a = value.get(ours)
        b = theirs if isinstance(theirs, float) else value.get(theirs)
        ratio = (b / a if faster else a / b) if a and b else None
        want = f">= {limit}x faster" if faster else f"<= {limit}x"
        checks.append({"target": label, "ratio": ratio, "want": want,
                       "ok": None if ratio is None else (ratio >= limit if faster else ratio <= limit)})

    check("packr-c func call / floor TypedFunc::call", ("packr-c", "call_fast_ns"), (FLOOR, "call_fast_ns"), 2)
    check("packr-c func call vs wasmtime_func_call", ("packr-c", "call_fast_ns"), ("wasmtime-capi", "call_ns"), 4,
          True)
    check(f"packr-c call by name vs before ({CALL_BY_NAME_BEFORE_NS:.0f} ns)", ("packr-c", "call_ns"),
          CALL_BY_NAME_BEFORE_NS, 2, True)
    check("packr-c host call / floor Func::wrap", ("packr-c", "host_call_ns"), (FLOOR, "host_call_ns"), 3)
    check("packr-c host call / C API unchecked callback", ("packr-c", "host_call_ns"),
          ("wasmtime-capi", "host_call_fast_ns"), 1.0)
    for field in ("host_call_ns", "host_call_fast_ns"):
        check(f"packr-go host call / go-capi {field}", ("packr-go", "host_call_ns"), ("go-capi", field), 1.0)
    for peer in ("wasmtime-py", "extism-py"):
        check(f"packr-py host call / {peer} host call", ("packr-py", "host_call_ns"), (peer, "host_call_ns"), 1.0)
    check("packr-py func call / 1 us", ("packr-py", "call_fast_ns"), 1000.0, 1.0)
    return checks


def targets(rows: list) -> list:
    """The goals as check lines: (text, ok or None when a side is missing)."""
    median = {(r["driver"], r["mode_asked"]): r.get("spawn_median_us") for r in rows}
    checks = []

    def at_most(label: str, ours: tuple, theirs: tuple, limit: float) -> None:
        a, b = median.get(ours), median.get(theirs)
        value = a / b if a and b else None
        checks.append({"target": label, "ratio": value, "want": f"<= {limit}x",
                       "ok": None if value is None else value <= limit})

    def faster(label: str, ours: tuple, theirs: tuple, factor: float) -> None:
        a, b = median.get(ours), median.get(theirs)
        value = b / a if a and b else None
        checks.append({"target": label, "ratio": value, "want": f">= {factor}x faster",
                       "ok": None if value is None else value >= factor})

    # The targets of the fast-spawn issue: packr's fast path (a pooled runtime) against the
    # floor with the same settings and against each peer at its fastest.
    for mode in ("default", "pooling"):
        at_most(f"packr-c {mode} / floor {mode} (spawn median)", ("packr-c", mode), (FLOOR, mode), 1.25)
    at_most("packr-c pooling / wasmtime-capi pooling (spawn median)", ("packr-c", "pooling"),
            ("wasmtime-capi", "pooling"), 1.0)
    for peer in ("wasmtime-py", "extism-py"):
        faster(f"packr-py pooling vs {peer} default (spawn median)", ("packr-py", "pooling"), (peer, "default"), 5)
    faster("packr-go pooling vs go-capi nopool (spawn median)", ("packr-go", "pooling"), ("go-capi", "nopool"), 3)
    at_most("packr-go pooling / go-capi pooling (spawn median)", ("packr-go", "pooling"), ("go-capi", "pooling"), 1.2)
    checks += call_targets(rows)
    checks += pack_targets(rows)
    checks += guard_targets(rows)
    checks += cache_targets(rows)
    ratio = next((r.get("compile_ms", 0) * 1000 / r["spawn_median_us"] for r in rows
                  if (r["driver"], r["mode_asked"]) == ("packr-c", "pooling") and r.get("spawn_median_us")), None)
    checks.append({"target": "packr-c pooling compile/spawn ratio", "ratio": ratio, "want": ">= 100000",
                   "ok": None if ratio is None else ratio >= 100_000})
    return checks


def print_targets(checks: list) -> None:
    log("")
    log("targets (checks, not asserts):")
    for c in checks:
        verdict = "n/a (a side is missing)" if c["ok"] is None else ("OK" if c["ok"] else "MISS")
        if c["ratio"] is None:
            ratio = "-"
        else:
            ratio = f"{c['ratio']:,.0f}" if c["ratio"] >= 1000 else f"{c['ratio']:.2f}x"
        log(f"  {c['target']}: {ratio}, want {c['want']}: {verdict}")


# --- machine info --------------------------------------------------------------------------

def first_line(argv: list) -> Optional[str]:
    try:
        r = sh(argv, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (r.stdout or r.stderr).strip()
    return out.splitlines()[0] if r.returncode == 0 and out else None


def lock_version(crate: str) -> Optional[str]:
    try:
        text = open(os.path.join(ROOT, "Cargo.lock")).read()
    except OSError:
        return None
    m = re.search(rf'name = "{re.escape(crate)}"\nversion = "([^"]+)"', text)
    return m.group(1) if m else None


def machine(python: str) -> dict:
    cpu = None
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pip_versions = {}
    if python == VENV_PY:
        r = sh([python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"], timeout=60)
        if r.returncode == 0:
            pip_versions = {p["name"]: p["version"] for p in json.loads(r.stdout)}
    dirty = first_line(["git", "status", "--porcelain"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "git": (first_line(["git", "rev-parse", "--short", "HEAD"]) or "?") + (" (dirty)" if dirty else ""),
        "versions": {
            "packr": lock_version("packr"),
            "wasmtime (crate)": lock_version("wasmtime"),
            "wasmtime-wasi (crate)": lock_version("wasmtime-wasi"),
            "python": platform.python_version(),
            "rustc": first_line(["rustc", "--version"]),
            "go": first_line(["go", "version"]),
            "cc": first_line(["cc", "--version"]),
            "wasmtime-py": pip_versions.get("wasmtime"),
            "extism-py": pip_versions.get("extism"),
            "extism-sys": pip_versions.get("extism-sys"),
        },
    }


# --- main ----------------------------------------------------------------------------------

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="pass --quick to every driver (CI)")
    p.add_argument("--out", default=os.path.join("build", "bench", "results.json"))
    p.add_argument("--wasm", default=WASM)
    p.add_argument("--only", action="append", help="run only drivers whose name contains this (repeatable)")
    p.add_argument("--mode", action="append", dest="modes", metavar="MODE",
                   help="run only this mode, e.g. wasi or pack (repeatable)")
    p.add_argument("--spawns", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--live", type=int)
    p.add_argument("--no-build", action="store_true", help="run what is there, build nothing")
    p.add_argument("--timeout", type=float, help="seconds per driver run (default 300 quick, 3600 full)")
    args = p.parse_args()
    args.wasm = os.path.abspath(args.wasm)
    args.timeout = args.timeout or (300.0 if args.quick else 3600.0)
    started = time.monotonic()

    native_problem = None
    python, venv_problem = (VENV_PY if os.path.exists(VENV_PY) else sys.executable), None
    if not args.no_build:
        native_problem = build_native()
        python, venv_problem = build_venv()
    for problem in (native_problem, venv_problem):
        if problem:
            log(f"build: warning: {problem}")

    rows, skipped = [], []
    for driver in DRIVERS:
        if args.only and not any(o in driver.key for o in args.only):
            continue
        # A native packr driver is required once bench/build.sh exists to build it.
        required = driver.packr and (not driver.native or os.path.exists(BUILD_SH))
        why_not = missing_modules(python, driver.needs)
        for mode in driver.modes:
            if args.modes and mode not in args.modes:
                continue
            label = f"{driver.key} {mode}"
            if why_not:
                result, why = None, why_not
            else:
                t0 = time.monotonic()
                result, why = run_driver(driver, mode, python, args)
                if result is not None:
                    log(f"ran {label} in {time.monotonic() - t0:.1f} s")
            if result is None:
                log(f"skipped: {label}: {why}")
                skipped.append({"driver": driver.key, "mode": mode, "why": why, "required": required})
                continue
            result.update(driver=driver.key, mode_asked=mode, language=driver.language)
            rows.append(result)

    derive(rows)
    print_table(rows)
    print_calls_table(rows)
    print_table(rows, ("wasi",), "WASI spawns (build/guest/wasi_reactor.wasm: a fresh WASI context per instance, "
                "_initialize, reactor_get(); vs floor: the floor's pooled WASI spawn):", "w")
    print_pack_table(rows)
    print_guard_table(rows)
    print_cache_table(rows)
    checks = targets(rows)
    print_targets(checks)
    failed = [s for s in skipped if s["required"]]
    if skipped:
        log("")
        for s in skipped:
            log(f"skipped: {s['driver']} {s['mode']}: {s['why']}" + (" (packr: counts as a failure)" if s["required"] else ""))

    out = os.path.join(ROOT, args.out) if not os.path.isabs(args.out) else args.out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    report = {"quick": args.quick, "machine": machine(python), "results": rows, "skipped": skipped,
              "targets": checks, "build_problems": [p for p in (native_problem, venv_problem) if p],
              "seconds": round(time.monotonic() - started, 1)}
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    log("")
    shown = os.path.relpath(out, ROOT) if out.startswith(ROOT + os.sep) else out
    log(f"wrote {shown} in {report['seconds']} s")
    if failed:
        log(f"FAILED: {len(failed)} packr driver run(s) did not complete")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
