"""The row-major CBLAS ABI the kernels' matrix products are bound to: enum values and the
Numba signatures of ILP64 ``cblas_?gemm`` / ``cblas_?gemv``."""

from numba import types

ROW, NO_TRANS, TRANS = 101, 111, 112  # CBLAS enums
NAMES = {("gemm", types.float32): "sgemm", ("gemm", types.float64): "dgemm",
         ("gemv", types.float32): "sgemv", ("gemv", types.float64): "dgemv"}


def signature(kind: str, dt, typed_pointers: bool = False):
    """Numba signature of row-major ILP64 ``cblas_?gemm`` (kind "gemm") or ``?gemv`` over
    float type ``dt``: array pointers as integers (how the kernels pass ``a.ctypes.data``)
    or, with ``typed_pointers``, as ``CPointer(dt)`` (what ``vgbench.kernels.gemm_fallback``
    reads through ``carray``); both have the same C ABI."""
    i32, i64 = types.int32, types.int64
    p = types.CPointer(dt) if typed_pointers else types.uintp
    if kind == "gemm":
        return types.void(i32, i32, i32, i64, i64, i64, dt, p, i64, p, i64, dt, p, i64)
    return types.void(i32, i32, i64, i64, dt, p, i64, p, i64, dt, p, i64)
