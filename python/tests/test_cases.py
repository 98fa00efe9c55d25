"""The shared case table every binding runs (tests/cases/cases.tsv; its header says the format)."""

import pytest

import packr
from conftest import CASES_DIR


def _values(field):
    if field == "-":
        return []
    values = []
    for item in field.split(" "):
        kind, text = item.split(":", 1)
        values.append((kind, float(text) if kind in ("f32", "f64") else int(text)))
    return values


def _rows():
    with open(CASES_DIR / "cases.tsv", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, file, op, export, args, nresults, status, results, message = line.rstrip("\n").split("\t")
            marks = [pytest.mark.skip(reason="`bad` kinds are C/C++ only")] if "bad:" in args else []
            yield pytest.param(file, op, export, args, int(nresults), status, results, message, id=name, marks=marks)


def _run(runtime, file, op, export, args, nresults):
    with runtime.load((CASES_DIR / file).read_bytes()) as module:
        if op == "load":
            return []
        with module.instantiate() as instance:
            if op == "instantiate":
                return []
            return instance.call_raw(export, _values(args), nresults)


@pytest.mark.parametrize("file, op, export, args, nresults, status, results, message", list(_rows()))
def test_case(runtime, file, op, export, args, nresults, status, results, message):
    if status == "PACKR_OK":
        assert _run(runtime, file, op, export, args, nresults) == _values(results)
        return
    with pytest.raises(packr.PackrError) as caught:
        _run(runtime, file, op, export, args, nresults)
    assert caught.value.status_name == status
    assert message in caught.value.message
