import os
import subprocess
import sys
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parents[1]


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
