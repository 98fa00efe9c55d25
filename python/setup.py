"""Builds packr's wheel: cargo compiles libpackr (the crate one level up) in release mode,
and the library goes inside the package as packr/libpackr.so, where packr/_ffi.py looks
first. The package calls it through ctypes, not the Python C API, so the wheel is tagged
py3-none-<platform>: any Python 3 on this platform can use it.

The configuration is in pyproject.toml; this file holds what setuptools cannot be told there.
"""

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools_rust import Binding, RustExtension, build_rust

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

CRATE = Path(__file__).resolve().parent.parent / "Cargo.toml"
# The file name _ffi.LIBRARY_NAME looks for.
LIBRARY_NAME = {"win32": "packr.dll", "darwin": "libpackr.dylib"}.get(sys.platform, "libpackr.so")


def crate_version() -> str:
    with CRATE.open("rb") as f:
        return tomllib.load(f)["package"]["version"]


class build_library(build_rust):
    """Names the library as the package loads it, not as a Python extension module
    (packr/libpackr.so, not packr/libpackr.cpython-311-x86_64-linux-gnu.so)."""

    def get_dylib_ext_path(self, ext, target_fname):
        extension_path = super().get_dylib_ext_path(ext, target_fname)
        return os.path.join(os.path.dirname(extension_path), LIBRARY_NAME)


class bdist_wheel_abi_free(bdist_wheel):
    """py3-none-<platform>: the platform's wheel, for every Python 3 and no Python ABI."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(
    version=crate_version(),
    rust_extensions=[
        RustExtension(
            "packr.libpackr",
            path=os.path.relpath(CRATE),
            binding=Binding.NoBinding,
            debug=False,  # --release, also for editable installs
            # The same build as `cargo build --release --locked` (`make lib`): all the crate's
            # library kinds, so either reuses what the other left in target/.
            cargo_manifest_args=["--locked"],
            args=["--crate-type", "cdylib,staticlib,rlib"],
        )
    ],
    cmdclass={"build_rust": build_library, "bdist_wheel": bdist_wheel_abi_free},
    zip_safe=False,
)
