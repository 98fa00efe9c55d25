import threading
from pathlib import Path

import pytest

import packr

CASES_DIR = Path(__file__).resolve().parents[2] / "tests" / "cases"
GUEST_DIR = Path(__file__).resolve().parents[2] / "build" / "guest"


def guest(name):
    """The bytes of build/guest/NAME; a missing guest fails the test (never skips it)."""
    path = GUEST_DIR / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make guest` (bash guest/build.sh) first", pytrace=False)
    return path.read_bytes()

# Runs `n` iterations and returns n: a call that takes as long as we like.
SPIN_WAT = """
(module
  (memory (export "memory") 1)
  (func (export "spin") (param $n i64) (result i64)
    (local $i i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $i)))
"""


@pytest.fixture
def runtime():
    with packr.Runtime() as rt:
        yield rt


@pytest.fixture
def calc(runtime):
    with runtime.load((CASES_DIR / "calc.wat").read_text()) as module:
        yield module


@pytest.fixture
def instance(calc):
    with calc.instantiate() as inst:
        yield inst


def run_in_threads(count, work):
    """Runs work(n) on `count` threads released together; returns what they raised."""
    errors = []
    start = threading.Barrier(count)

    def worker(n):
        try:
            start.wait()
            work(n)
        except BaseException as e:  # noqa: BLE001 - returned to the test
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
