"""What the package ships besides code: type hints, docstrings help() shows, one version."""

import inspect
import pydoc
import re
from pathlib import Path

import packr

PYTHON_DIR = Path(__file__).resolve().parents[1]


def test_py_typed_marks_the_package_typed():
    assert (Path(packr.__file__).parent / "py.typed").is_file()
    pyproject = (PYTHON_DIR / "pyproject.toml").read_text()
    assert re.search(r'^packr = \[[^\]]*"py\.typed"', pyproject, re.M), "py.typed must be package data"


def _public_members(cls):
    """(name, function or property) of what help(cls) lists from packr's own classes: public
    methods and properties wherever defined, and __init__ where the class defines one."""
    seen = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("packr"):
            continue  # object, Exception, Enum, NamedTuple: documented by Python
        for name, value in vars(klass).items():
            if name in seen or (name.startswith("_") and not (name == "__init__" and klass is cls)):
                continue
            seen.add(name)
            if isinstance(value, (classmethod, staticmethod)):
                value = value.__func__
            if inspect.isfunction(value) or isinstance(value, property):
                yield f"{cls.__name__}.{name}", value


def test_every_public_name_has_a_docstring_help_shows():
    undocumented = []
    for name in packr.__all__:
        obj = getattr(packr, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue  # the value-kind strings
        if not inspect.getdoc(obj):
            undocumented.append(name)
        if inspect.isclass(obj):
            # dataclasses and NamedTuples make __init__/__new__ themselves; the class documents them.
            generated = {"__init__"} if hasattr(obj, "__dataclass_fields__") else set()
            undocumented += [
                member for member, value in _public_members(obj)
                if member.split(".")[1] not in generated and not (value.__doc__ or "").strip()
            ]
    assert undocumented == []
    text = pydoc.render_doc(packr.Runtime, renderer=pydoc.plaintext)
    assert "A wasmtime engine plus the host definitions instances link against." in text
    assert "sharing_engine" in text and "Methods inherited from" in text
    assert "Tried in this order" in pydoc.render_doc(packr.library_path, renderer=pydoc.plaintext)


def test_the_version_is_the_crates():
    cargo = (PYTHON_DIR.parent / "Cargo.toml").read_text()
    package = cargo[cargo.index("[package]"):]
    version = re.search(r'^version = "([^"]+)"', package, re.M).group(1)
    assert packr.version() == version
    pyproject = (PYTHON_DIR / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.M)
    assert not re.search(r"^version\s*=", pyproject, re.M)  # setup.py takes it from Cargo.toml
