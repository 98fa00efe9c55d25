"""The shared case table every binding runs (tests/cases/cases.tsv; its header says the format)."""

import pytest

import packr
from conftest import CASES_DIR


class Refused(Exception):
    """What the case host's `fail` raises."""


def case_host():
    """The case host (see cases.tsv), defined through the decorator API."""
    host = packr.Host(wasi=True)

    @host.func("host", "add", [packr.I32, packr.I32], [packr.I32])
    def add(caller, a, b):
        return (a + b + 2**31) % 2**32 - 2**31  # wrapping, as wasm's i32.add

    @host.func("host", "fail", [packr.I32], [packr.I32])
    def fail(caller, n):
        raise Refused(f"refused {n}")

    @host.func("host", "peek", [packr.I32], [packr.I32])
    def peek(caller, address):
        # A failed read raises OutOfBoundsError; left uncaught it fails the callback, and
        # its own message becomes packr's.
        return caller.read_memory(address & 0xFFFFFFFF, 1, "memory")[0]

    @host.func("host", "twice", [packr.I32], [packr.I32])
    def twice(caller, n):
        return caller.call("double", n) + 1

    @host.func("host", "swap", [packr.V128], [packr.V128])
    def swap(caller, vector):
        return vector[8:] + vector[:8]

    @host.bytes_func("host", "transform")
    def transform(caller, data):
        if data == b"guest-error":
            raise packr.GuestError("refused to the guest")
        if data == b"host-error":
            raise Refused("transform refused")
        return data.upper()  # ASCII only, for bytes

    return host


def _value(kind, text):
    if kind == "v128":
        return bytes.fromhex(text)
    return float(text) if kind in ("f32", "f64") else int(text)


def _values(field):
    if field == "-":
        return []
    return [(kind, _value(kind, text)) for kind, text in (item.split(":", 1) for item in field.split(" "))]


def _bytes(field):
    """A BYTES value of the table: str:TEXT (\\n a newline) or rep:N:C; "-" is empty."""
    if field == "-":
        return b""
    form, _, value = field.partition(":")
    if form == "str":
        return value.replace("\\n", "\n").encode("utf-8")
    if form == "rep":
        count, _, char = value.partition(":")
        return char.encode("utf-8") * int(count)
    raise ValueError(f"not BYTES: {field!r}")


def _expected(op, results):
    if op == "bytes":
        return _bytes(results)
    if op == "run":
        exit_field, out_field = results.split(" ", 1)
        assert exit_field.startswith("exit:") and out_field.startswith("out:")
        return int(exit_field[5:]), _bytes("str:" + out_field[4:])
    return _values(results)


def _rows():
    with open(CASES_DIR / "cases.tsv", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, file, op, export, args, nresults, status, results, message = line.rstrip("\n").split("\t")
            marks = [pytest.mark.skip(reason="`bad` kinds are C/C++ only")] if "bad:" in args else []
            yield pytest.param(file, op, export, args, int(nresults), status, results, message, id=name, marks=marks)


# The guardrail ops' instance options (see cases.tsv), as Module.instantiate takes them.
GUARDS = {
    "timeout": {"timeout": 0.010},
    "fuel": {"fuel": 10_000},
    "limit": {"memory_limit": 262_144, "table_limit": 10},
}


def _run(base, file, op, export, args, nresults):
    if op in ("hostcall", "instantiate_host", "bytes", "run"):
        with case_host() as host:
            runtime = packr.Runtime.with_host(base, host)
        op = {"hostcall": "call", "instantiate_host": "instantiate"}.get(op, op)
    elif op == "fuel":
        runtime = packr.Runtime(packr.Config(fuel=True))  # an engine of its own: fuel is engine-wide
    else:
        runtime = packr.Runtime.sharing_engine(base)
    with runtime, runtime.load((CASES_DIR / file).read_bytes()) as module:
        if op == "load":
            return []
        if op == "run":
            argv = ["case"] + [_bytes(arg).decode("utf-8") for arg in args.split(" ") if arg != "-"]
            with module.instantiate(args=argv, stdout=packr.Output.CAPTURE) as instance:
                code = instance.run()
                return code, instance.read_stdout()
        if op in GUARDS:
            with module.instantiate(**GUARDS[op]) as instance:
                return [] if export == "-" else instance.call_raw(export, _values(args), nresults)
        with module.instantiate() as instance:
            if op == "bytes":
                return instance.call_bytes(export, _bytes(args))
            if op == "instantiate":
                return []
            if op == "call":
                return instance.call_raw(export, _values(args), nresults)
            if op == "global_set":
                (kind, value), = _values(args)
                instance.set_global(export, value, kind=kind)
            kind, value = instance.get_global_raw(export)
            assert instance.get_global(export) == value
            return [(kind, value)]


# The guardrails' own exception classes.
STOPS = {
    "PACKR_ERR_TIMEOUT": packr.Timeout,
    "PACKR_ERR_INTERRUPTED": packr.Interrupted,
    "PACKR_ERR_OUT_OF_FUEL": packr.OutOfFuel,
    "PACKR_ERR_LIMIT": packr.LimitError,
}


@pytest.mark.parametrize("file, op, export, args, nresults, status, results, message", list(_rows()))
def test_case(runtime, file, op, export, args, nresults, status, results, message):
    if status == "PACKR_OK":
        assert _run(runtime, file, op, export, args, nresults) == _expected(op, results)
        return
    if status != "PACKR_ERR_HOST":
        with pytest.raises(packr.PackrError) as caught:
            _run(runtime, file, op, export, args, nresults)
        assert caught.value.status_name == status
        assert message in caught.value.message
        assert isinstance(caught.value, STOPS.get(status, packr.PackrError))
        if status == "PACKR_ERR_EXIT":  # the code comes from the instance, not the message
            assert isinstance(caught.value, packr.ExitError)
            assert f"exited with code {caught.value.exit_code}" in caught.value.message
        return
    # A failed host function re-raises the callback's own exception (the same object), and
    # packr's report, "PACKR_ERR_HOST: <packr's message>", is its last note: that is where
    # this binding carries the row's status and message.
    with pytest.raises(BaseException) as caught:
        _run(runtime, file, op, export, args, nresults)
    raised = caught.value
    assert isinstance(raised, (Refused, packr.OutOfBoundsError)), repr(raised)
    status_name, packr_message = raised.__notes__[-1].split(": ", 1)
    assert status_name == status
    assert packr_message.startswith("host function host::")
    assert message in packr_message
