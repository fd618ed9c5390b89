"""C callbacks with the row-major CBLAS ``?gemm`` / ``?gemv`` signatures, built on
``np.dot`` inside Numba (SciPy's BLAS).  ``vgbench.kernels.gemm`` binds them only when
NumPy's bundled OpenBLAS is not found, or with ``VGBENCH_GEMM=numba``; importing this
module compiles them (cached)."""

import numpy as np
from numba import carray, cfunc, njit, types

from vgbench.kernels.cblas import TRANS, signature


@njit(cache=True)
def _store(res, alpha, beta, c):
    """c = alpha * res + beta * c (beta = 0 ignores c, as BLAS does)."""
    if beta == 0:
        c[...] = alpha * res
    else:
        c[...] = alpha * res + beta * c


def _gemm(order, ta, tb, M, N, K, alpha, pa, lda, pb, ldb, beta, pc, ldc):
    if ta == TRANS:
        a = np.ascontiguousarray(carray(pa, (K, lda))[:, :M].T)
    else:
        a = np.ascontiguousarray(carray(pa, (M, lda))[:, :K])
    if tb == TRANS:
        b = np.ascontiguousarray(carray(pb, (N, ldb))[:, :K].T)
    else:
        b = np.ascontiguousarray(carray(pb, (K, ldb))[:, :N])
    _store(np.dot(a, b), alpha, beta, carray(pc, (M, ldc))[:, :N])


def _gemv(order, trans, rows, cols, alpha, pa, lda, px, incx, beta, py, incy):
    a = carray(pa, (rows, lda))[:, :cols]
    n_in, n_out = (rows, cols) if trans == TRANS else (cols, rows)
    x = np.ascontiguousarray(carray(px, ((n_in - 1) * incx + 1,))[::incx])
    y = carray(py, ((n_out - 1) * incy + 1,))[::incy]
    if trans == TRANS:
        _store(np.dot(np.ascontiguousarray(a.T), x), alpha, beta, y)
    else:
        _store(np.dot(np.ascontiguousarray(a), x), alpha, beta, y)


gemm_float32 = cfunc(signature("gemm", types.float32, True), cache=True)(_gemm)
gemm_float64 = cfunc(signature("gemm", types.float64, True), cache=True)(_gemm)
gemv_float32 = cfunc(signature("gemv", types.float32, True), cache=True)(_gemv)
gemv_float64 = cfunc(signature("gemv", types.float64, True), cache=True)(_gemv)
