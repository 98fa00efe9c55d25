import ctypes.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import packr
from packr import _ffi

PYTHON_DIR = Path(__file__).resolve().parents[1]
BUILT = PYTHON_DIR.parent / "target" / "release" / "libpackr.so"


def _run(code, **env):
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PYTHON_DIR, env={**os.environ, **env},
        capture_output=True, text=True, check=False,
    )


def test_build_tree_is_found_without_env():
    env = {k: v for k, v in os.environ.items() if k != "PACKR_LIBRARY"}
    result = subprocess.run(
        [sys.executable, "-c", "import packr, packr._ffi as f; print(packr.version(), f.lib()._name)"],
        cwd=PYTHON_DIR, env=env, capture_output=True, text=True, check=True,
    )
    assert result.stdout.strip().endswith(str(Path("target") / "release" / "libpackr.so"))


def test_missing_library_names_the_places_tried():
    result = _run("import packr; packr.version()", PACKR_LIBRARY="/nonexistent/libpackr.so")
    assert "LibraryNotFoundError" in result.stderr
    assert "/nonexistent/libpackr.so (not found)" in result.stderr


def test_load_library_explicit_path():
    lib = PYTHON_DIR.parent / "target" / "release" / "libpackr.so"
    result = _run(f"import packr; packr.load_library({str(lib)!r}); print(packr.version())",
                  PACKR_LIBRARY="/nonexistent/libpackr.so")
    assert result.returncode == 0, result.stderr


def test_library_path_names_the_loaded_file():
    assert packr.library_path() == str(PYTHON_DIR.parent / "target" / "release" / "libpackr.so")


def _fake_package(root, source_tree):
    package = root / "python" / "packr"
    package.mkdir(parents=True)
    if source_tree:
        (root / "python" / "pyproject.toml").write_text("")
    return package


@pytest.mark.parametrize("source_tree", [True, False])
def test_search_order_package_then_source_tree_then_system(tmp_path, monkeypatch, source_tree):
    package = _fake_package(tmp_path, source_tree)
    monkeypatch.setattr(_ffi, "_PACKAGE_DIR", package)
    monkeypatch.delenv("PACKR_LIBRARY", raising=False)
    places = list(_ffi._candidates())
    expected = [(str(package / "libpackr.so"), True)]
    if source_tree:
        expected.append((str(tmp_path / "target" / "release" / "libpackr.so"), True))
    assert places[: len(expected)] == expected
    system = places[len(expected):]
    assert system and all(not is_path for _, is_path in system)  # names for the loader, last
    assert ("libpackr.so.0", False) in system
    monkeypatch.setenv("PACKR_LIBRARY", "/some/libpackr.so")
    assert list(_ffi._candidates()) == [("/some/libpackr.so", True)]


@pytest.fixture
def installed_copy(tmp_path):
    """This package copied outside the source tree (as site-packages holds it), without a library."""
    site = tmp_path / "site"
    shutil.copytree(PYTHON_DIR / "packr", site / "packr", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    work = tmp_path / "work"
    work.mkdir()

    def run(code, **env):
        clean = {k: v for k, v in os.environ.items() if k not in ("PACKR_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")}
        return subprocess.run(
            [sys.executable, "-c", code], cwd=work, env={**clean, "PYTHONPATH": str(site), **env},
            capture_output=True, text=True, check=False,
        )

    return site / "packr", run


SHOW = "import packr; print(packr.library_path(), packr.version())"


def test_the_system_library_path_is_tried_last(tmp_path, installed_copy):
    package, run = installed_copy
    system = tmp_path / "lib"
    system.mkdir()
    (system / "libpackr.so.0").symlink_to(BUILT)
    result = run(SHOW, LD_LIBRARY_PATH=str(system))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == str(system / "libpackr.so.0")
    # A copy inside the package comes first, and then the system is not even searched.
    (package / "libpackr.so").symlink_to(BUILT)
    result = run("import ctypes.util; ctypes.util.find_library = None; " + SHOW, LD_LIBRARY_PATH=str(system))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == str(package / "libpackr.so")


def test_nothing_found_names_every_place_tried(installed_copy):
    package, run = installed_copy
    result = run(SHOW)
    if ctypes.util.find_library("packr"):  # this machine has libpackr installed: it is found last
        assert result.returncode == 0, result.stderr
        assert not result.stdout.startswith(str(package))
        return
    assert "LibraryNotFoundError" in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert f"{package / 'libpackr.so'} (not found); libpackr.so.0 (system library path: " in message
    assert "target" not in message  # not run from the source tree
