"""Matrix products for the kernels, through the CBLAS chosen per shape class.

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

Which library runs a product depends on its shape class (``vgbench.kernels.gemm_choice``:
tiny, small_k, mid, large, gemv) and is fixed when this module is imported: NumPy's
bundled OpenBLAS unless a calibration found another provider clearly faster (today one
library per dtype for every class: two thread pools in one process fight), or
``VGBENCH_GEMM`` forced one (``numba``: C callbacks compiled from ``np.dot``,
SciPy's BLAS).  Each (routine, class) is a symbol of its own (``vgbench_cblas_sgemm_mid``
and friends, registered with LLVM below) bound to the chosen library's entry point, so
kernels that call them stay cacheable: the symbols resolve when a cached kernel loads.
``CHOICE`` holds the choice, ``record()`` what a result stores; ``BACKEND`` and
``LIBRARY`` summarise it.  M = 1 (batch 1) goes to ``?gemv``, several times faster than
``?gemm`` there.
"""

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types

from vgbench.kernels.cblas import NAMES, NO_TRANS, ROW, TRANS, signature
from vgbench.kernels.config import JIT_OPTIONS
from vgbench.kernels.gemm_choice import (
    CLASSES,
    GEMV,
    LARGE,
    SMALL_K,
    TINY,
    describe,
    resolve,
    shape_class,
)


def _fallback_address(kind: str, dtype) -> int:
    """Address of a C callback with the CBLAS signature, computed with ``np.dot``."""
    # Imported here: loading it compiles (or loads from cache) four C callbacks that only
    # this fallback needs.
    from vgbench.kernels import gemm_fallback

    return getattr(gemm_fallback, f"{kind}_{dtype}").address


def _symbol(routine: str, cls: str) -> str:
    return f"vgbench_cblas_{routine}" if cls == "gemv" else f"vgbench_cblas_{routine}_{cls}"


def _bind(choice: dict) -> None:
    """Register every ``vgbench_cblas_*`` symbol for ``choice``."""
    addresses = {n: p.addresses() for n, p in choice["providers"].items()}
    for (kind, dtype), routine in NAMES.items():
        for cls in CLASSES:
            if (kind == "gemv") != (cls == "gemv"):
                continue
            if choice["classes"] is None:
                address = _fallback_address(kind, dtype)
            else:
                address = addresses[choice["classes"][cls][str(dtype)]][routine]
            llvm.add_symbol(_symbol(routine, cls), address)
            if cls == "mid":
                # The one gemm symbol of earlier versions: numba's cache keys a kernel on
                # its own file only, so a kernel cached before the per-class symbols
                # existed still asks for it (and gets a library of this choice).
                llvm.add_symbol(f"vgbench_cblas_{routine}", address)


CHOICE = resolve()
_bind(CHOICE)
_used = {n for per in (CHOICE["classes"] or {}).values() for n in per.values()}
if CHOICE["classes"] is None:
    BACKEND, LIBRARY = "numba-np.dot", None
elif _used == {"openblas"}:
    BACKEND, LIBRARY = "numpy-openblas", CHOICE["providers"]["openblas"].path
elif len(_used) == 1:
    BACKEND, LIBRARY = _used.pop(), next(iter(CHOICE["providers"].values())).path
else:
    BACKEND, LIBRARY = "per-shape-class", None


def record() -> dict:
    """The GEMM binding of this process, as results store it (``machine.kernel_gemm``)."""
    return {"backend": BACKEND, "library": LIBRARY, **describe(CHOICE)}


def _external(routine: str, cls: str, kind: str, dt):
    return types.ExternalFunction(_symbol(routine, cls), signature(kind, dt))


_sgemm_tiny = _external("sgemm", "tiny", "gemm", types.float32)
_sgemm_small_k = _external("sgemm", "small_k", "gemm", types.float32)
_sgemm_mid = _external("sgemm", "mid", "gemm", types.float32)
_sgemm_large = _external("sgemm", "large", "gemm", types.float32)
_dgemm_tiny = _external("dgemm", "tiny", "gemm", types.float64)
_dgemm_small_k = _external("dgemm", "small_k", "gemm", types.float64)
_dgemm_mid = _external("dgemm", "mid", "gemm", types.float64)
_dgemm_large = _external("dgemm", "large", "gemm", types.float64)
_sgemv = _external("sgemv", "gemv", "gemv", types.float32)
_dgemv = _external("dgemv", "gemv", "gemv", types.float64)


@njit(**JIT_OPTIONS)
def _sgemm(cls, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc):
    """The float32 gemm of shape class ``cls``."""
    if cls == TINY:
        _sgemm_tiny(ROW, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)
    elif cls == SMALL_K:
        _sgemm_small_k(ROW, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)
    elif cls == LARGE:
        _sgemm_large(ROW, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)
    else:
        _sgemm_mid(ROW, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)


@njit(**JIT_OPTIONS)
def _dgemm(cls, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc):
    """The float64 gemm of shape class ``cls``."""
    if cls == TINY:
        _dgemm_tiny(ROW, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)
    elif cls == SMALL_K:
        _dgemm_small_k(ROW, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)
    elif cls == LARGE:
        _dgemm_large(ROW, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)
    else:
        _dgemm_mid(ROW, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc)


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
    cls = shape_class(M, N, K)
    if cls == GEMV:
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
        _sgemm(cls, ta, tb, M, N, K, one, a.ctypes.data, lda, b.ctypes.data, ldb, bet,
               c.ctypes.data, ldc)
    else:
        _dgemm(cls, ta, tb, M, N, K, one, a.ctypes.data, lda, b.ctypes.data, ldb, bet,
               c.ctypes.data, ldc)
