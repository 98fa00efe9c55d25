"""Inside a host callback: the calling instance's data, memories and exports."""

from __future__ import annotations

import ctypes
from typing import Any, List, Optional, Union

from . import _ffi
from ._errors import HOST, ClosedError, error_for
from ._instance import (
    Result, _Signature, _State, check_range, encode, host_failure, memory_name, raise_ctrl_c, read_signature, state_at,
)
from ._values import Value


class Caller:
    """The instance calling a host function: the first argument of every callback.

    Valid only until the callback returns: afterwards every method raises ClosedError, so
    keep the values, not the Caller. It belongs to the thread running the callback.

    Memories are named as the instance exports them (default "memory"), so a module with
    several memories reaches each by name. Failures raise the same exceptions as the
    Instance methods of the same names; left uncaught, they fail the callback like any
    exception (see `Host.func`).
    """

    __slots__ = ("_address", "_pointer", "_views")

    def __init__(self, address: int) -> None:
        """Made by the binding for each host call (not by users), from packr's caller pointer."""
        self._address: Optional[int] = address
        self._pointer: Optional[ctypes.c_void_p] = None
        self._views: Optional[List[memoryview]] = None

    # -- the callback's end, and the plumbing the prepared calls use ------------------------

    def _check(self) -> int:
        address = self._address
        if address is None:
            raise ClosedError("this Caller is no longer valid: its host callback has returned")
        return address

    def _end(self, strict: bool) -> None:
        """Invalidates the caller when its callback returns, releasing the memory views it
        gave out. With `strict`, a view still exported (say, to a numpy array) raises
        BufferError, which fails the callback: that buffer would outlive the memory."""
        self._address = None
        views, self._views = self._views, None
        if views:
            _release(views, strict)

    def _use(self) -> ctypes.c_void_p:
        """The caller pointer for a prepared call back into the guest. The call may grow a
        memory, which can move it, so the views given out so far are released first."""
        address = self._check()
        if self._views:
            views, self._views = self._views, None
            _release(views, True)
        pointer = self._pointer
        if pointer is None:
            pointer = self._pointer = ctypes.c_void_p(address)
        return pointer

    _acquire = _use

    def _release(self) -> None:
        pass

    def _state(self) -> Optional[_State]:
        return state_at(_ffi.lib().packr_caller_data(self._check()))

    def _failure(self, status: int) -> BaseException:
        raise_ctrl_c(status)  # a Ctrl-C stopped the nested call: KeyboardInterrupt, as at the top
        error = error_for(status)
        return host_failure(error, self._state()) if status == HOST else error

    # -- the public API -------------------------------------------------------------------

    @property
    def data(self) -> Any:
        """The calling instance's data: the object given as `Module.instantiate(data=...)`."""
        state = self._state()
        return None if state is None else state.data

    def call(self, name: str, *args: Value) -> Result:
        """Calls the calling instance's export `name` (a guest allocator, a callback export),
        converting as `Instance.call` does. Calls may nest to any depth the wasm stack
        allows: the export may call host functions that call back again. An exception a
        nested host function raises is re-raised here (the same object, with a note). Memory
        views taken before the call are released first (the call may grow the memory)."""
        address = self._check()
        state = self._state()
        if state is None:
            raise ClosedError("the calling instance has no packr state; was it made by this binding?")
        sig = state.signatures.get(name) or _signature(address, name, state)
        return sig.caller_run()(self, args)

    def memory_size(self, memory: Optional[str] = None) -> int:
        """The size in bytes of the calling instance's memory `memory` (default "memory")."""
        size = ctypes.c_uint64()
        status = _ffi.lib().packr_caller_memory_size(self._check(), memory_name(memory), ctypes.byref(size))
        if status:
            raise error_for(status)
        return size.value

    def read_memory(self, offset: int, length: int, memory: Optional[str] = None) -> bytes:
        """Copies `length` bytes at `offset` out of the calling instance's memory;
        OutOfBoundsError (nothing copied) if the range is not all inside."""
        check_range(offset, length)
        buf = (ctypes.c_uint8 * length)()
        status = _ffi.lib().packr_caller_memory_read(self._check(), memory_name(memory), offset, buf, length)
        if status:
            raise error_for(status)
        return bytes(buf)

    def write_memory(self, offset: int, data: Union[bytes, bytearray, memoryview], memory: Optional[str] = None) -> None:
        """Copies `data` into the calling instance's memory at `offset`; writes nothing
        (OutOfBoundsError) unless it all fits."""
        data = bytes(data)
        check_range(offset, len(data))
        status = _ffi.lib().packr_caller_memory_write(self._check(), memory_name(memory), offset, data, len(data))
        if status:
            raise error_for(status)

    def memory_view(self, memory: Optional[str] = None) -> memoryview:
        """The calling instance's memory as a writable memoryview of bytes, without copying.

        The view is valid only during the callback: packr releases it when the callback
        returns and before `call` (which may grow, and so move, the memory); using it after
        that raises ValueError. A buffer still held from the view itself when the callback
        returns (a numpy array over it, a `pickle.PickleBuffer`) fails the callback with
        BufferError rather than outliving the memory silently. Views derived from it
        (slices, `memoryview(view)`, ctypes `from_buffer`) are separate objects that
        Python cannot release for us: do not keep them past the callback. Copy
        (`bytes(view[a:b])`) to keep data; take a new view after `call`.
        """
        data, size = ctypes.c_void_p(), ctypes.c_uint64()
        status = _ffi.lib().packr_caller_memory_data(self._check(), memory_name(memory), ctypes.byref(data), ctypes.byref(size))
        if status:
            raise error_for(status)
        view = _ffi.memory_view(data.value or 0, size.value)
        if self._views is None:
            self._views = []
        self._views.append(view)
        return view

    def __repr__(self) -> str:
        return f"<packr.Caller{' (returned)' if self._address is None else ''}>"


def _signature(address: int, name: str, state: _State) -> _Signature:
    """The export's signature, asked through the caller and kept in the module's shared cache."""
    sig = _ffi.FuncSignature()
    encoded = encode(name)
    status = _ffi.lib().packr_caller_func_signature(address, encoded, ctypes.byref(sig))
    if status:
        raise error_for(status)
    found = state.signatures[name] = read_signature(sig, encoded)
    return found


def _release(views: List[memoryview], strict: bool) -> None:
    stuck = 0
    for view in views:
        try:
            view.release()
        except BufferError:
            stuck += 1
    if stuck and strict:
        raise BufferError(
            f"{stuck} memory view(s) from Caller.memory_view are still exported (a buffer was made "
            "from them) after the callback returned or called back into the guest; copy the bytes instead"
        )
