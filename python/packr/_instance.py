"""Instances: calls with Python values, linear memory, globals, and the per-instance state
that host callbacks reach through packr's host data pointer."""

from __future__ import annotations

import ctypes
import functools
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Union

from . import _calls, _ffi, _pack, _sigint
from ._errors import EXIT, HOST, INTERRUPTED, ClosedError, PackrError, add_note, check, error_for
from ._guard import Seconds, milliseconds, uint64
from ._handles import _Handle
from ._values import CARRIED, KIND_NAMES, KIND_NUMBERS, Value, kind_name, kind_number, load, store

Result = Union[None, Value, Tuple[Value, ...]]


class _State:
    """One instance's Python state, reached from packr's host data pointer (see `_states`).

    `data` is what `Module.instantiate(data=...)` was given. `pending` carries the exception
    a host callback raised on this instance to the call that entered wasm: it is set by the
    failing callback and taken by the one call that gets PACKR_ERR_HOST back (the instance
    runs one call at a time, and a nested `Caller.call` takes it before its callback goes
    on), so it never reaches another instance or thread.
    """

    __slots__ = ("data", "pending", "signatures", "key")

    def __init__(self, data: Any, module: Any) -> None:
        self.data = data
        self.pending: Optional[BaseException] = None
        self.signatures: Signatures = module._signatures  # for Caller.call: the module's cache
        self.key = id(self)  # the host data pointer packr keeps for the instance
        _states[self.key] = self

    def forget(self) -> None:
        """The instance is gone (or was never made): no callback can reach this state any more."""
        _states.pop(self.key, None)


# Every live instance's state by its host data pointer, the key packr hands back from
# packr_caller_data and packr_instance_data. (ctypes cannot turn a borrowed pointer back into
# an object cheaply: a py_object restype assumes a new reference, and cast() costs 0.7 us.)
# Entries are per instance and carry nothing between instances: a dict lookup by key.
_states: Dict[int, _State] = {}


def state_at(address: Optional[int]) -> Optional[_State]:
    """The state a host data pointer leads to, or None (NULL, or an instance this binding did not make)."""
    return _states.get(address) if address else None


def _free_instance(ptr: Any, state: _State) -> None:
    _ffi.lib().packr_instance_free(ptr)
    state.forget()


def raise_ctrl_c(status: int) -> None:
    """Raises the KeyboardInterrupt of the Ctrl-C that stopped a call, if one did.

    packr's SIGINT watcher stops only the main thread's call running as the Ctrl-C comes
    (see _sigint), so Python's SIGINT handler is pending when that call returns. CPython
    usually runs it as the C call returns already; this makes sure it runs before an
    `Interrupted` is raised instead. Does nothing for other statuses, on other threads, or
    when no handler is pending (`interrupt()` stopped the call)."""
    if status == INTERRUPTED:
        _sigint.run_handlers()


def host_failure(error: PackrError, state: Optional[_State]) -> BaseException:
    """What a call that got PACKR_ERR_HOST raises: the exception the callback raised (the same
    object, its traceback kept) with packr's report added as a note, or `error` itself when no
    Python exception is behind the failure."""
    pending = None
    if state is not None:
        pending, state.pending = state.pending, None
    if pending is None:
        return error
    add_note(pending, f"{error.status_name}: {error.message}")
    return pending


class _Signature:
    """An export's signature and its prepared call paths, cached per compiled module."""

    __slots__ = ("params", "results", "carriable", "encoded", "pool", "run", "_caller_run")

    def __init__(self, params: Tuple[int, ...], results: Tuple[int, ...], encoded: bytes) -> None:
        self.params = params
        self.results = results
        self.carriable = all(k < CARRIED for k in params + results)
        self.encoded = encoded
        self.pool = _calls.Pool(params, len(results))
        entry = _ffi.unchecked("packr_instance_call")
        self.run = self.prepare(self.pool, "instance", entry, ctypes.c_char_p(encoded))
        self._caller_run: Optional[Callable[[Any, tuple], Result]] = None

    def prepare(self, pool: _calls.Pool, mode: str, entry: Any, target: Any) -> Callable[[Any, tuple], Result]:
        """A call function for this signature; for calls that cannot be prepared (kinds packr
        cannot carry), the generic path, so the core reports what is wrong in its own words."""
        params = self.params if self.carriable else None
        nresults = len(self.results)

        instance = mode == "instance"

        def fallback(owner: Any, args: tuple) -> Result:
            ptr = owner._acquire()
            try:
                status, results = _calls.generic(entry, ptr, target, args, params, nresults, owner if instance else None)
            finally:
                owner._release()
            if status:
                raise owner._failure(status)
            return _calls.unpack(results)

        if not self.carriable:
            return fallback
        return _calls.prepare(pool, self.params, self.results, mode, entry, target, fallback)

    def caller_run(self) -> Callable[[Any, tuple], Result]:
        """The call function for `Caller.call` (made on first use)."""
        run = self._caller_run
        if run is None:
            entry = _ffi.unchecked("packr_caller_call")
            run = self._caller_run = self.prepare(self.pool, "caller", entry, ctypes.c_char_p(self.encoded))
        return run

    def names(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return tuple(map(kind_name, self.params)), tuple(map(kind_name, self.results))


Signatures = Dict[str, _Signature]


def read_signature(sig: _ffi.FuncSignature, encoded: bytes) -> _Signature:
    params = tuple(sig.params[i] for i in range(sig.nparams))
    results = tuple(sig.results[i] for i in range(sig.nresults))
    return _Signature(params, results, encoded)


def cached_signature(handle: Any, query: Callable[..., int], name: str) -> _Signature:
    """The signature of export `name`, from the handle's shared cache or else asked with `query`
    (the module or instance variant), so a hot call never asks the C side again."""
    found = handle._signatures.get(name)
    if found is not None:
        return found
    sig = _ffi.FuncSignature()
    encoded = encode(name)
    with handle._use() as ptr:
        status = query(ptr, encoded, ctypes.byref(sig))
        if status:
            raise error_for(status)
    found = handle._signatures[name] = read_signature(sig, encoded)
    return found


def encode(name: str) -> bytes:
    """`name` as the NUL-terminated UTF-8 the C ABI takes."""
    data = name.encode("utf-8")
    if b"\0" in data:
        raise ValueError(f"name {name!r} contains a NUL")
    return data


def memory_name(memory: Optional[str]) -> Optional[bytes]:
    return None if memory is None else encode(memory)


def check_range(offset: int, length: int) -> None:
    if offset < 0 or length < 0:
        raise ValueError(f"offset and length must not be negative (got {offset} and {length})")


class _Interrupter(_Handle):
    """A packr_interrupter: interrupts its instance from any thread, and is a no-op once the
    instance is freed. Never closed: it is freed when the last reference goes, and a thread
    inside `interrupt()` holds one, so it cannot be freed under a use."""

    __slots__ = ()

    def _init(self, ptr: Any) -> None:
        _Handle.__init__(self, ptr, _ffi.lib().packr_interrupter_free)

    def interrupt(self) -> None:
        with self._use() as ptr:
            check(_ffi.lib().packr_interrupter_interrupt(ptr))

    def interrupt_call(self) -> None:
        with self._use() as ptr:
            check(_ffi.lib().packr_interrupter_interrupt_call(ptr))


class Instance(_Handle):
    """A live instance with its own memory and globals; made by `Module.instantiate`.

    May be used from any thread, by one call at a time: a call that finds it in use by
    another thread (or by a host function of its own further up the stack) raises
    BusyError rather than waiting. `data`, `exit_code`, the captured WASI output
    (`read_stdout` ...), `interrupt()`, `interrupt_call()` and `set_timeout()` may be used
    at any time, also while a call runs on another thread.

    Guardrails (`Module.instantiate(timeout=..., fuel=..., memory_limit=...,
    table_limit=...)`, `interrupt`, `interrupt_call`, `set_timeout`, `add_fuel`) stop a
    call with `Timeout`, `Interrupted` or `OutOfFuel`; after any stop the instance stays
    usable. Ctrl-C during a call on the main thread stops the guest and raises
    KeyboardInterrupt.
    """

    __slots__ = ("_signatures", "_state", "_interrupter")

    def _init(self, ptr: Any, signatures: Signatures, state: _State) -> None:
        _Handle.__init__(self, ptr, functools.partial(_free_instance, state=state))
        self._signatures = signatures
        self._state = state
        self._interrupter: Optional[_Interrupter] = None  # made by the first interrupt or interrupt_call

    def _failure(self, status: int) -> BaseException:
        """The exception for a failed call on this instance (right after it, same thread);
        raises KeyboardInterrupt itself if a Ctrl-C stopped the call."""
        raise_ctrl_c(status)
        error = error_for(status)
        if status == HOST:
            return host_failure(error, self._state)
        if status == EXIT:
            error.exit_code = self.exit_code
        return error

    @property
    def data(self) -> Any:
        """The object given as `Module.instantiate(data=...)` (None if none); host callbacks
        see the same object as `Caller.data`. Read through packr's host data pointer."""
        with self._use() as ptr:
            state = state_at(_ffi.lib().packr_instance_data(ptr))
        return None if state is None else state.data

    def call(self, name: str, *args: Value) -> Result:
        """Calls export `name`, converting `args` by its signature.

        Integers outside the signed range of an i32/i64 parameter raise OverflowError; a
        float for an integer parameter, or a non-number, raises TypeError; a v128 takes 16
        bytes (bytes, bytearray, memoryview; ValueError for another length). Returns None,
        the single result, or a tuple of results (a v128 as bytes).

        An exception raised by a host function during the call is re-raised here, the same
        object (see `Host.func`). Calling the same export many times? `Module.func` resolves
        it once and skips the name lookup.
        """
        sig = self._signatures.get(name) or cached_signature(self, _ffi.lib().packr_instance_func_signature, name)
        return sig.run(self, args)

    def call_func(self, func: Any, *args: Value) -> Result:
        """Calls the resolved `func` (from `Module.func`) on this instance: `func(self, *args)`."""
        return func(self, *args)

    def call_raw(self, name: str, args: Iterable[Tuple[str, Value]], nresults: int) -> list[Tuple[str, Value]]:
        """Calls export `name` with explicitly typed `args` such as [("i32", 2), ("f64", 1.5)],
        passing `nresults` result slots; the core checks them against the signature."""
        args = list(args)
        vals = (_ffi.Val * len(args))()
        for slot, (kind, value) in zip(vals, args):
            store(slot, KIND_NUMBERS[kind], value)
        results = (_ffi.Val * nresults)()
        encoded = encode(name)
        ptr = self._acquire()
        try:
            status = _calls.guarded(self, _ffi.lib().packr_instance_call, ptr, encoded, vals, len(vals), results, nresults)
        finally:
            self._release()
        if status:
            raise self._failure(status)
        return [(KIND_NAMES[r.kind], load(r)) for r in results]

    def memory_size(self, memory: Optional[str] = None) -> int:
        """The size in bytes of the exported memory `memory` (default "memory")."""
        size = ctypes.c_uint64()
        name = memory_name(memory)
        with self._use() as ptr:
            status = _ffi.lib().packr_instance_memory_size(ptr, name, ctypes.byref(size))
            if status:
                raise error_for(status)
        return size.value

    def read_memory(self, offset: int, length: int, memory: Optional[str] = None) -> bytes:
        """Copies `length` bytes at `offset` out of the memory; OutOfBoundsError if not all inside."""
        check_range(offset, length)
        buf = (ctypes.c_uint8 * length)()
        name = memory_name(memory)
        with self._use() as ptr:
            status = _ffi.lib().packr_instance_memory_read(ptr, name, offset, buf, length)
            if status:
                raise error_for(status)
        return bytes(buf)

    def write_memory(self, offset: int, data: Union[bytes, bytearray, memoryview], memory: Optional[str] = None) -> None:
        """Copies `data` into the memory at `offset`; writes nothing unless it all fits."""
        data = bytes(data)
        check_range(offset, len(data))
        name = memory_name(memory)
        with self._use() as ptr:
            status = _ffi.lib().packr_instance_memory_write(ptr, name, offset, data, len(data))
            if status:
                raise error_for(status)

    def get_global(self, name: str) -> Value:
        """The value of the exported global `name` (an int, a float, or 16 bytes for a v128).

        NotFoundError if there is none; TypeMismatchError if the export is not a global or
        holds a reference."""
        return load(self._global(name))

    def get_global_raw(self, name: str) -> Tuple[str, Value]:
        """The global `name` with its kind, such as ("i64", 5); see `get_global`."""
        value = self._global(name)
        return KIND_NAMES[value.kind], load(value)

    def _global(self, name: str) -> _ffi.Val:
        value = _ffi.Val()
        encoded = encode(name)
        with self._use() as ptr:
            status = _ffi.lib().packr_instance_global_get(ptr, encoded, ctypes.byref(value))
            if status:
                raise error_for(status)
        return value

    def set_global(self, name: str, value: Value, kind: Optional[str] = None) -> None:
        """Sets the exported mutable global `name` to `value`, converted as for a call.

        `kind` ("i32" ... "v128") says what `value` is; by default it is the global's own
        kind, read from the global first (one more call; pass `kind` to skip it).
        TypeMismatchError if the global is immutable or of another kind; NotFoundError if
        there is none.
        """
        if kind is None:
            number = self._global(name).kind
        else:
            number = kind_number(kind)
        slot = _ffi.Val()
        store(slot, number, value)
        encoded = encode(name)
        with self._use() as ptr:
            status = _ffi.lib().packr_instance_global_set(ptr, encoded, ctypes.byref(slot))
            if status:
                raise error_for(status)

    # -- guardrails ----------------------------------------------------------------------

    def interrupt(self) -> None:
        """Stops the call running on this instance, which raises `Interrupted`; when no call
        runs, the next call into the guest is stopped instead (several interrupts before a
        call stops count as one). The guest stops at its next function call or loop
        iteration; a host function running at the time finishes first.

        An interrupt that comes as a call ends therefore stops the instance's next call.
        To cancel one call (a request's deadline, a user's "stop") without that risk, use
        `interrupt_call()`.

        Safe from any thread at any time, and never blocks on the call: also while
        another thread closes the instance, and after `close()`, when it does nothing.
        (The instance owns a packr interrupter for this, made on first use, that outlives
        the C instance.)
        """
        interrupter = self._interrupter or self._new_interrupter()
        if interrupter is not None:
            interrupter.interrupt()

    def interrupt_call(self) -> None:
        """Stops the call running on this instance at this moment, which raises
        `Interrupted`, and never a later call: when no call runs, or the call ends before
        the request lands, it does nothing and leaves nothing pending. The guest stops as
        for `interrupt()`; a call a host function makes back into the instance
        (`Caller.call`) is part of the running call and is stopped with it.

        Thread rules as for `interrupt()`: any thread, any time, never blocks; a no-op
        after `close()`. Ctrl-C on the main thread stops calls this way.
        """
        interrupter = self._interrupter or self._new_interrupter()
        if interrupter is not None:
            interrupter.interrupt_call()

    def _new_interrupter(self) -> Optional[_Interrupter]:
        try:
            ptr = self._acquire()
        except ClosedError:
            return None  # no call runs on a closed instance, and none will
        try:
            out = _ffi.InterrupterP()
            check(_ffi.lib().packr_instance_interrupter(ptr, ctypes.byref(out)))
        finally:
            self._release()
        # Two threads racing here each make one; either interrupts the same instance, and
        # the one not kept is freed once its thread is done with it.
        found = self._interrupter = _Interrupter._adopt(out)
        return found

    def set_timeout(self, seconds: Optional[Seconds]) -> None:
        """Bounds each later call on this instance to `seconds` of wall-clock time (an int or
        float, rounded to the millisecond, at least 1 ms); None removes the bound. A call
        past it raises `Timeout`. A call already running keeps the deadline it started with.

        May be called from any thread, also during a call. TypeError for a non-number,
        ValueError for zero, a negative or a non-finite number.
        """
        ms = 0 if seconds is None else milliseconds("timeout", seconds)
        with self._use() as ptr:
            check(_ffi.lib().packr_instance_set_timeout_ms(ptr, ms))

    def add_fuel(self, fuel: int) -> None:
        """Adds `fuel` units (about one wasm instruction each) to the instance's tank, so a
        guest that raised `OutOfFuel` can run again; the tank saturates at 2**64 - 1.

        InvalidArgumentError if the runtime's engine does not count fuel (make it with
        `Config(fuel=True)`); BusyError during a call on the instance (also from its own
        host functions). TypeError / OverflowError for a value that is not a uint64.
        """
        fuel = uint64("fuel", fuel)
        with self._use() as ptr:
            check(_ffi.lib().packr_instance_add_fuel(ptr, fuel))

    def fuel(self) -> int:
        """The fuel left in the instance's tank: what `Module.instantiate(fuel=...)` and
        `add_fuel` put in, less what calls used (2**64 - 1 if never set). Errors as for
        `add_fuel`."""
        left = ctypes.c_uint64()
        with self._use() as ptr:
            check(_ffi.lib().packr_instance_fuel(ptr, ctypes.byref(left)))
        return left.value

    # -- the pack convention ------------------------------------------------------------

    def call_bytes(self, name: str, data: Union[bytes, bytearray, memoryview]) -> bytes:
        """Calls export `name` in upstream packr's pack convention: `data` in, the guest's
        output out, as bytes (b"" for none).

        The guest must export `memory`, `__pack_alloc` and `__pack_free`, and `name` must
        have the pack shape (in_ptr, in_len, out_ptr_ptr, out_len_ptr: i32) -> i32. A
        `bytes` input is passed without a copy (a bytearray or memoryview is copied once);
        the output is copied once out of packr's buffer.

        GuestError if the guest returned -1 (its message after "the guest's NAME failed: ")
        or broke the convention; OutOfBoundsError if it pointed outside its memory;
        NotFoundError if an export is missing; TypeMismatchError if one has another type;
        and the exceptions of `call` (traps, a host function's own exception, ExitError,
        BusyError). For a hot path, resolve the export once: `Module.func(name).call_bytes`.
        """
        return _pack.call_bytes(self, name, data)

    def call_func_bytes(self, func: Any, data: Union[bytes, bytearray, memoryview]) -> bytes:
        """A pack call through the resolved `func` (from `Module.func`): `func.call_bytes(self, data)`."""
        return func.call_bytes(self, data)

    # -- WASI -----------------------------------------------------------------------------

    def run(self) -> int:
        """Runs the WASI command's `_start` and returns its exit code: 0 when `_start`
        returns, N when the guest calls `proc_exit(N)` (no exception either way).

        Arguments, environment, stdin, output streams and directories are the instance's
        options (`Module.instantiate(args=..., ...)`). NotFoundError if the module exports
        no `_start` (a reactor, say); TypeMismatchError if it takes parameters or returns
        results; a trap raises TrapError, and a host function's exception is re-raised.
        """
        code = ctypes.c_int32()
        ptr = self._acquire()
        try:
            status = _calls.guarded(self, _ffi.lib().packr_instance_run, ptr, ctypes.byref(code))
        finally:
            self._release()
        if status:
            raise self._failure(status)
        return code.value

    @property
    def exit_code(self) -> Optional[int]:
        """The code the guest last passed to WASI's `proc_exit` (in `run`, or in a call that
        raised ExitError), or None if it has not exited."""
        code = ctypes.c_int32()
        with self._use() as ptr:
            status = _ffi.lib().packr_instance_exit_code(ptr, ctypes.byref(code))
        return code.value if status == 0 else None

    def read_stdout(self) -> bytes:
        """Takes out what the guest wrote to stdout so far (with `stdout=packr.Output.CAPTURE`):
        the next read returns only what came after. InvalidArgumentError if stdout is not
        captured."""
        return self._output(1)

    def read_stderr(self) -> bytes:
        """Takes out what the guest wrote to stderr so far; see `read_stdout`."""
        return self._output(2)

    def stdout_dropped(self) -> int:
        """How many bytes of captured stdout were dropped since the instance was made,
        because the guest wrote them while the capture held its `capture_limit`; 0 means
        every byte reached `read_stdout`. InvalidArgumentError if stdout is not captured."""
        return self._dropped(1)

    def stderr_dropped(self) -> int:
        """How many bytes of captured stderr were dropped; see `stdout_dropped`."""
        return self._dropped(2)

    def _output(self, fd: int) -> bytes:
        out = _ffi.Bytes()
        lib = _ffi.lib()
        try:  # around the C call, so its output is freed whatever is raised after it
            with self._use() as ptr:
                status = lib.packr_instance_wasi_output(ptr, fd, ctypes.byref(out))
                if status:
                    raise error_for(status)
            return ctypes.string_at(out.data, out.len) if out.data else b""
        finally:
            lib.packr_bytes_free(ctypes.byref(out))  # a no-op for {NULL, 0}

    def _dropped(self, fd: int) -> int:
        dropped = ctypes.c_uint64()
        with self._use() as ptr:
            status = _ffi.lib().packr_instance_wasi_dropped(ptr, fd, ctypes.byref(dropped))
            if status:
                raise error_for(status)
        return dropped.value
