"""Matrix products for the kernels, through NumPy's own OpenBLAS.

``gemm(a, b, c, beta)`` sets ``c = a @ b + beta * c`` for 2-D operands of one float
dtype: ``a`` (M, K), ``b`` (K, N), ``c`` (M, N).  ``a`` and ``b`` may be row-major (unit
stride along their last axis, any row stride: C arrays and row slices of them) or the
``.T`` of such an array (passed to BLAS as a transpose flag, never copied); ``c`` must be
row-major.  Anything else (a strided view with no unit stride) is copied first.  With
``beta = 0`` the old contents of ``c`` are ignored, as in BLAS.

Why not ``np.dot(a, b, c)`` inside njit: that goes to SciPy's bundled OpenBLAS, whose
small-matrix sgemm measured 1.4-1.6x slower than NumPy's on the products of a recurrent
step (docs/performance.md, entry 5, has the table).  It also cannot accumulate
(``beta = 1``), which the recurrent kernels use to add the recurrent term straight into
the gate pre-activations.

The BLAS entry points are bound by symbol name (``vgbench_cblas_sgemm`` and friends,
registered with LLVM below), so kernels that call them stay cacheable.  They resolve to
NumPy's bundled ILP64 OpenBLAS (``scipy_cblas_?gemm64_``; NumPy >= 2 wheels) when it is
found, and otherwise, or with ``VGBENCH_GEMM=numba`` in the environment, to C callbacks
compiled from ``np.dot`` (SciPy's BLAS).  ``BACKEND`` says which, ``LIBRARY``
gives the library's path (recorded in every result's machine fingerprint).  M = 1
(batch 1) goes to ``?gemv``, which is several times faster than ``?gemm`` there.
"""

import ctypes
import glob
import os

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types

from vgbench.kernels.cblas import NAMES, NO_TRANS, ROW, TRANS, signature
from vgbench.kernels.config import JIT_OPTIONS


def _numpy_openblas() -> tuple[str, dict] | None:
    """(path, {"sgemm": address, ...}) of NumPy's bundled ILP64 OpenBLAS (already loaded
    by NumPy), or None.

    Wheels keep it in ``numpy.libs`` beside the package (Linux, Windows) or in
    ``numpy/.dylibs`` (macOS); a library without all four entry points is skipped.
    """
    here = os.path.dirname(np.__file__)
    dirs = [os.path.join(here, os.pardir, "numpy.libs"), os.path.join(here, ".dylibs")]
    found = [p for d in dirs for p in glob.glob(os.path.join(d, "libscipy_openblas64_*"))]
    for path in sorted(found):
        try:
            lib = ctypes.CDLL(path)
            return os.path.realpath(path), {
                name: ctypes.cast(getattr(lib, f"scipy_cblas_{name}64_"), ctypes.c_void_p).value
                for name in NAMES.values()}
        except (OSError, AttributeError):
            continue
    return None


def _fallback_address(kind: str, dtype) -> int:
    """Address of a C callback with the CBLAS signature, computed with ``np.dot``."""
    # Imported here: loading it compiles (or loads from cache) four C callbacks that only
    # this fallback needs.
    from vgbench.kernels import gemm_fallback

    return getattr(gemm_fallback, f"{kind}_{dtype}").address


def _bind() -> str | None:
    """Register the four ``vgbench_cblas_*`` symbols; return the bound library's path, or
    None when the ``np.dot`` callbacks were bound."""
    found = None if os.environ.get("VGBENCH_GEMM") == "numba" else _numpy_openblas()
    for (kind, dtype), name in NAMES.items():
        address = found[1][name] if found else _fallback_address(kind, dtype)
        llvm.add_symbol(f"vgbench_cblas_{name}", address)
    return found[0] if found else None


LIBRARY = _bind()
BACKEND = "numpy-openblas" if LIBRARY is not None else "numba-np.dot"

_sgemm = types.ExternalFunction("vgbench_cblas_sgemm", signature("gemm", types.float32))
_dgemm = types.ExternalFunction("vgbench_cblas_dgemm", signature("gemm", types.float64))
_sgemv = types.ExternalFunction("vgbench_cblas_sgemv", signature("gemv", types.float32))
_dgemv = types.ExternalFunction("vgbench_cblas_dgemv", signature("gemv", types.float64))


@njit(**JIT_OPTIONS)
def _operand(a):
    """(array, transpose flag, leading dimension) describing ``a`` to BLAS."""
    size = a.itemsize
    if a.strides[1] == size or a.shape[1] == 1:
        return a, NO_TRANS, max(a.strides[0] // size, a.shape[1], 1)
    if a.strides[0] == size or a.shape[0] == 1:
        return a, TRANS, max(a.strides[1] // size, a.shape[0], 1)
    c = np.ascontiguousarray(a)
    return c, NO_TRANS, max(c.shape[1], 1)


@njit(**JIT_OPTIONS)
def gemm(a, b, c, beta):
    """c = a @ b + beta * c (module docstring); a (M, K), b (K, N), c (M, N)."""
    M, K = a.shape
    N = b.shape[1]
    if b.shape[0] != K or c.shape[0] != M or c.shape[1] != N:
        raise ValueError("gemm: operand shapes do not match")
    if M == 0 or N == 0:
        return
    if c.strides[1] != c.itemsize and N > 1:
        raise ValueError("gemm: the output must be row-major")
    if K == 0:
        if beta == 0:
            c[:] = 0
        else:
            c *= beta
        return
    a, ta, lda = _operand(a)
    b, tb, ldb = _operand(b)
    ldc = max(c.strides[0] // c.itemsize, N)
    one = c.dtype.type(1)
    bet = c.dtype.type(beta)
    if M == 1:
        # c[0] = op(b)^T a[0] + beta c[0]: a gemv on b, whose row-major transpose flag
        # flips because BLAS sees b as (K, N) and we want b^T a.
        tv = TRANS if tb == NO_TRANS else NO_TRANS
        rows, cols = (K, N) if tb == NO_TRANS else (N, K)
        inca = lda if ta == TRANS else 1
        if c.itemsize == 4:
            _sgemv(ROW, tv, rows, cols, one, b.ctypes.data, ldb, a.ctypes.data, inca, bet,
                   c.ctypes.data, 1)
        else:
            _dgemv(ROW, tv, rows, cols, one, b.ctypes.data, ldb, a.ctypes.data, inca, bet,
                   c.ctypes.data, 1)
        return
    if c.itemsize == 4:
        _sgemm(ROW, ta, tb, M, N, K, one, a.ctypes.data, lda, b.ctypes.data, ldb, bet,
               c.ctypes.data, ldc)
    else:
        _dgemm(ROW, ta, tb, M, N, K, one, a.ctypes.data, lda, b.ctypes.data, ldb, bet,
               c.ctypes.data, ldc)
