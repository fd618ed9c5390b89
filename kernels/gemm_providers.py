"""The CBLAS libraries the kernels' matrix products can be bound to ("providers").

* ``openblas``: NumPy's bundled ILP64 OpenBLAS (``numpy.libs`` / ``numpy/.dylibs``), always
  there with NumPy >= 2 wheels.
* ``scipy-openblas64``: the newer OpenBLAS of the ``scipy-openblas64`` wheel (ILP64, the same
  ABI and symbol names as NumPy's copy, loaded as a second, separate library).
* ``scipy-openblas32``: the ``scipy-openblas32`` wheel (LP64).
* ``mkl``: ``libmkl_rt`` from the ``mkl`` wheel (the ``vgbench[mkl]`` extra), through its
  ILP64 entry points ``cblas_?gemm_64``.
* ``user``: a library the user names by path (``VGBENCH_GEMM=/path/to/libblas.so``), with
  ILP64 ``cblas_?gemm_64`` / ``cblas_?gemm64_`` or LP64 ``cblas_?gemm`` entry points.

LP64 libraries (32-bit integers) are bound to the kernels' ILP64 signature only on x86-64:
there (System V and Windows ABIs alike) every integer argument travels in a 64-bit
register or an 8-byte stack slot and an LP64 callee reads its low half, so a dimension
below 2^31 arrives intact.  Elsewhere they are skipped.

Finding a provider (``discover``) only looks at files; ``Provider.addresses`` loads the
library.  ``stamp`` (path, size, mtime) identifies the build for the calibration cache.
"""

import ctypes
import glob
import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec

import numpy as np

ROUTINES = ("sgemm", "dgemm", "sgemv", "dgemv")
OPTIONAL = ("scipy-openblas64", "scipy-openblas32", "mkl")
# Names a user may force (besides a library path and "numba", the np.dot fallback).
NAMES = ("openblas", *OPTIONAL)
_X86_64 = platform.machine().lower() in ("x86_64", "amd64")


@dataclass(frozen=True)
class Provider:
    """One CBLAS library: where it is and how its entry points are spelled."""

    name: str      # "openblas", "scipy-openblas64", "scipy-openblas32", "mkl", "user"
    path: str      # the shared library file (real path)
    version: str   # package version, for people (the cache keys on ``stamp``)
    pattern: str   # symbol of a routine: pattern.format("sgemm")
    ilp64: bool    # 64-bit integers (False: LP64, bound on x86-64 only)

    def addresses(self) -> dict:
        """{"sgemm": address, ...} of the four routines (loads the library); OSError or
        AttributeError when the library or a routine is missing."""
        lib = ctypes.CDLL(self.path)
        return {r: ctypes.cast(getattr(lib, self.pattern.format(r)), ctypes.c_void_p).value
                for r in ROUTINES}

    def stamp(self) -> list:
        """[path, size, mtime]: changes whenever the library file does."""
        st = os.stat(self.path)
        return [self.path, st.st_size, int(st.st_mtime)]

    def record(self) -> dict:
        """What a result stores about this provider."""
        return {"path": self.path, "version": self.version,
                "abi": "ILP64" if self.ilp64 else "LP64"}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _first(paths) -> str | None:
    found = sorted(p for p in paths if os.path.isfile(p))
    return os.path.realpath(found[0]) if found else None


def _numpy_openblas() -> Provider | None:
    here = os.path.dirname(np.__file__)
    path = _first(p for d in (os.path.join(here, os.pardir, "numpy.libs"),
                              os.path.join(here, ".dylibs"))
                  for p in glob.glob(os.path.join(d, "libscipy_openblas64_*")))
    return path and Provider("openblas", path, f"numpy {np.__version__} bundled",
                             "scipy_cblas_{}64_", True)


def _wheel_openblas(bits: str) -> Provider | None:
    spec = find_spec(f"scipy_openblas{bits}")
    if spec is None or not spec.submodule_search_locations:
        return None
    lib_dir = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    path = _first(glob.glob(os.path.join(lib_dir, "libscipy_openblas*"))
                  + glob.glob(os.path.join(lib_dir, "scipy_openblas*.dll")))
    ilp64 = bits == "64"
    if path is None or not (ilp64 or _X86_64):
        return None
    return Provider(f"scipy-openblas{bits}", path, _version(f"scipy-openblas{bits}"),
                    "scipy_cblas_{}64_" if ilp64 else "scipy_cblas_{}", ilp64)


def _mkl() -> Provider | None:
    # The wheel puts its libraries in <prefix>/lib (Linux) or <prefix>/Library/bin (Windows).
    path = _first(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*"))
                  + glob.glob(os.path.join(sys.prefix, "Library", "bin", "mkl_rt*.dll")))
    return path and Provider("mkl", path, _version("mkl"), "cblas_{}_64", True)


def user_library(path: str) -> Provider:
    """The library at ``path`` as the provider "user"; ValueError if it cannot serve."""
    real = os.path.realpath(path)
    try:
        lib = ctypes.CDLL(real)
    except OSError as exc:
        raise ValueError(f"VGBENCH_GEMM={path}: cannot load it ({exc})") from None
    for pattern, ilp64 in (("cblas_{}_64", True), ("cblas_{}64_", True),
                           ("scipy_cblas_{}64_", True), ("cblas_{}", False),
                           ("scipy_cblas_{}", False)):
        if all(hasattr(lib, pattern.format(r)) for r in ROUTINES) and (ilp64 or _X86_64):
            return Provider("user", real, "user", pattern, ilp64)
    raise ValueError(f"VGBENCH_GEMM={path}: no cblas_sgemm/dgemm/sgemv/dgemv entry points "
                     "(ILP64 *_64 or, on x86-64, LP64)")


def discover() -> dict[str, Provider]:
    """Every provider installed, by name ("openblas" first when NumPy bundles it)."""
    found = [_numpy_openblas(), _wheel_openblas("64"), _wheel_openblas("32"), _mkl()]
    return {p.name: p for p in found if p}
