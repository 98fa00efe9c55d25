"""Prepared call plans: everything a call into wasm needs, built once per signature.

A call by name (`Instance.call`), through a resolved func (`Func.__call__`) and from a host
callback (`Caller.call`) all take the same path: a prepared plan holds the ctypes argument
and result arrays with their kinds already set, plus views of each value's payload, and a
function generated for the signature (as `dataclasses` generates methods) moves the
Python values in and out without loops, conversions tables or per-call allocation, then
makes the one C call. Only kind numbers from the core reach the generated source.

Plans are pooled (`Pool`): a call takes one, so calls on several threads (or nested in a
callback) never share arrays. For a `Func` the pool also counts the calls in flight, so
closing it waits for them (the same token idea as `_Handle`).
"""

from __future__ import annotations

import ctypes
import linecache
from _thread import allocate_lock
from typing import Any, Callable, Dict, Optional, Tuple

from . import _ffi, _sigint
from ._errors import ClosedError
from ._values import INT_RANGES, load, put_v128, store

_ACCESSORS = ("i32", "i64", "f32", "f64", "v128")


class Pool:
    """Idle prepared plans for one signature. `free` holds the idle ones; `made` counts all."""

    __slots__ = ("free", "made", "closed", "what", "_lock", "_params", "_nresults")

    def __init__(self, params: Tuple[int, ...], nresults: int, what: str = "") -> None:
        self.free: list = []
        self.made = 0
        self.closed = False
        self.what = what  # the owner's name for ClosedError, when the pool can be closed
        self._lock = allocate_lock()
        self._params = params
        self._nresults = nresults

    def new(self) -> tuple:
        """A new plan, already taken: (args, results, arg payload views..., result payload views...)."""
        with self._lock:
            self.made += 1
        args = (_ffi.Val * len(self._params))()
        results = (_ffi.Val * self._nresults)()
        for slot, kind in zip(args, self._params):
            slot.kind = kind
        return (args, results) + tuple(slot.of for slot in args) + tuple(slot.of for slot in results)

    def closed_error(self) -> ClosedError:
        return ClosedError(f"{self.what} is closed")

    def in_flight(self) -> int:
        with self._lock:
            return self.made - len(self.free)


def fill(plan: tuple, params: Tuple[int, ...], args: tuple) -> None:
    """Stores `args` into a plan with full checking: the slow path that explains a refusal."""
    for slot, kind, value in zip(plan[0], params, args):
        store(slot, kind, value)


_TEMPLATE = '''
def make(pool, entry, target, fallback, fill, params, put_v128, NA, NR, get_ident, MAIN, current):
{head}
        try:
            {unpack}
        except ValueError:  # another number of arguments: the core words the refusal
            return {fallback}(owner, args)
        try:
            plan = free.pop()
        except IndexError:
            plan = pool.new()
        try:
            if pool.closed:
                raise pool.closed_error()
            {plan_names} = plan
            try:
{stores}
            except Exception:
                fill(plan, params, args)
{enter}
            if status:
                raise owner._failure(status)
            return {result}
        finally:
            free.append(plan)
    return run
'''

_HEAD = {
    # A function of (owner, args), with the pool and target bound.
    "bound": '''    free = pool.free
    def run(owner, args):''',
    # A method, `Func.__call__(self, instance, *args)`: the pool and target are the Func's.
    "method": '''    def run(self, owner, *args):
        pool = self._pool
        free = pool.free
        target = self._ptr''',
}

_ENTER = {
    # An instance: count the call in flight on the handle (see _Handle), inlined; on the
    # main thread, the instance is the one Ctrl-C interrupts meanwhile (see _sigint).
    "instance": '''            idle = owner._idle
            try:
                idle.pop()
            except IndexError:
                owner._grow()
            try:
                if owner._closed:
                    raise owner._closed_error()
                if get_ident() != MAIN:
                    status = entry(owner._ptr, target, A, NA, R, NR)
                else:
                    outer = current[0]
                    current[0] = owner
                    try:
                        status = entry(owner._ptr, target, A, NA, R, NR)
                    finally:
                        current[0] = outer
            finally:
                idle.append(True)''',
    # A Caller: valid only during its callback; `_use` checks that.
    "caller": '''            status = entry(owner._use(), target, A, NA, R, NR)''',
}

_makers: Dict[tuple, Callable[..., Any]] = {}


def _maker(params: Tuple[int, ...], results: Tuple[int, ...], mode: str, head: str) -> Callable[..., Any]:
    key = (params, results, mode, head)
    found = _makers.get(key)
    if found is not None:
        return found
    names = [f"v{i}" for i in range(len(params))]
    stores, checks = [], []
    for i, kind in enumerate(params):
        if kind == 4:
            stores.append(f"put_v128(a{i}, v{i})")
        else:
            stores.append(f"a{i}.{_ACCESSORS[kind]} = v{i}")
        if kind in INT_RANGES:
            low, high = INT_RANGES[kind]
            checks.append(f"{low} <= v{i} <= {high}")
    if checks:
        stores.append(f"if not ({' and '.join(checks)}): raise OverflowError")
    if not stores:
        stores.append("pass")

    def value(i: int, kind: int) -> str:
        return f"bytes(r{i}.v128)" if kind == 4 else f"r{i}.{_ACCESSORS[kind]}"

    if not results:
        result = "None"
    elif len(results) == 1:
        result = value(0, results[0])
    else:
        result = "(" + ", ".join(value(i, k) for i, k in enumerate(results)) + ")"
    plan_names = ", ".join(["A", "R"] + [f"a{i}" for i in range(len(params))] + [f"r{i}" for i in range(len(results))])
    source = _TEMPLATE.format(
        head=_HEAD[head],
        fallback="fallback" if head == "bound" else "self._fallback",
        nparams=len(params),
        unpack=(", ".join(names) + ", = args") if names else "() = args",
        plan_names=plan_names,
        stores="\n".join(" " * 16 + line for line in stores),
        enter=_ENTER[mode],
        result=result,
    )
    namespace: Dict[str, Any] = {}
    filename = f"<packr call plan {params}->{results} {mode} {head}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # for tracebacks
    exec(compile(source, filename, "exec"), namespace)
    found = _makers[key] = namespace["make"]
    return found


def prepare(pool: Optional[Pool], params: Tuple[int, ...], results: Tuple[int, ...], mode: str, entry: Any,
            target: Any, fallback: Callable[[Any, tuple], Any]) -> Callable[..., Any]:
    """The call function for a signature: `entry` is the C function (without argtypes, see
    _ffi.unchecked), `owner` an Instance (mode "instance") or a Caller (mode "caller"), and
    `fallback(owner, args)` takes calls with another argument count.

    With a `pool`, the result is `run(owner, args)` with `pool`, `target` (the entry's
    second argument: the encoded export name) and `fallback` bound. Without, it is a
    method `run(self, owner, *args)` taking them from `self._pool`, `self._ptr` and
    `self._fallback` (a Func).
    """
    make = _maker(params, results, mode, "bound" if pool is not None else "method")
    return make(pool, entry, target, fallback, fill, params, put_v128,
                ctypes.c_size_t(len(params)), ctypes.c_size_t(len(results)),
                _sigint.get_ident, _sigint.MAIN, _sigint.current)


def generic(entry: Any, ptr: Any, target: Any, args: tuple, params: Optional[Tuple[int, ...]],
            nresults: int, instance: Any = None) -> Tuple[int, Any]:
    """The unprepared call, for argument counts that do not match or kinds packr cannot carry
    (`params` None): the values are converted when they can be and the core reports the
    mismatch in its own words. `instance` is the Instance called (None from a Caller).
    Returns (status, results array)."""
    vals = (_ffi.Val * len(args))()
    if params is not None and len(args) == len(params):
        for slot, kind, value in zip(vals, params, args):
            store(slot, kind, value)
    results = (_ffi.Val * nresults)()
    call_args = (ptr, target, vals, ctypes.c_size_t(len(vals)), results, ctypes.c_size_t(nresults))
    if instance is None:
        return entry(*call_args), results
    return guarded(instance, entry, *call_args), results


def guarded(owner: Any, entry: Any, *args: Any) -> int:
    """`entry(*args)`, the C call of a less frequent path (call_raw, run, the fallback), with
    `owner` the instance Ctrl-C interrupts meanwhile when on the main thread (see _sigint)."""
    if _sigint.get_ident() != _sigint.MAIN:
        return entry(*args)
    current = _sigint.current
    outer = current[0]
    current[0] = owner
    try:
        return entry(*args)
    finally:
        current[0] = outer


def unpack(results: Any) -> Any:
    """None, the one value, or a tuple: what every call returns."""
    if len(results) == 1:
        return load(results[0])
    return tuple(map(load, results)) or None


