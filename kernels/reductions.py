"""Reductions shared by every kernel family: norms and batch sums."""

import math

import numpy as np
from numba import njit

from vgbench.kernels.config import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def frobenius(a):
    """||a||_F of an array of any shape, as a float64, without underflow or overflow.

    A plain float64 sum of squares (one vectorised pass) wherever it is safe; otherwise
    the scaled two-pass form, so a vanished gradient of norm 1e-200 reads 1e-200, not 0,
    and 1e200 does not overflow.  NaN and Inf propagate.
    """
    af = a.ravel()
    s = 0.0
    for i in range(af.size):
        v = np.float64(af[i])
        s += v * v
    return norm_from_squares(s, a)


@njit(**JIT_OPTIONS)
def max_abs(a):
    """max |a| over an array of any shape, as float64; NaN if any entry is NaN."""
    af = a.ravel()
    m = 0.0
    for i in range(af.size):
        v = abs(np.float64(af[i]))
        if v != v:
            return v
        m = max(m, v)
    return m


@njit(**JIT_OPTIONS)
def scaled_sum_squares(a, scale):
    """sum((a / scale)^2) in float64, for a finite ``scale`` >= max |a| > 0."""
    af = a.ravel()
    inv = 1.0 / scale
    s = 0.0
    for i in range(af.size):
        v = np.float64(af[i]) * inv
        s += v * v
    return s


@njit(**JIT_OPTIONS)
def scaled_frobenius(a):
    """||a||_F summing squares after scaling by max |a| (LAPACK nrm2's idea): two passes,
    exact at any scale; NaN and Inf propagate."""
    m = max_abs(a)
    if m == 0.0 or not math.isfinite(m):
        return m
    return m * math.sqrt(scaled_sum_squares(a, m))


@njit(**JIT_OPTIONS)
def norm_from_squares(sum_sq, a):
    """sqrt(sum_sq) where that plain sum of squares of a's entries is safe, else the scaled
    norm of ``a``.

    Fused loops accumulate a plain (vectorisable) float64 sum of squares; it is exact to
    rounding unless it underflowed, overflowed or met a NaN, and only then is ``a`` (which
    must hold the summed values) read again, with scaling.
    """
    if 1e-280 <= sum_sq <= 1e280:
        return math.sqrt(sum_sq)
    return scaled_frobenius(a)


@njit(**JIT_OPTIONS)
def column_sums(a, out):
    """out[j] = sum_r a[r, j] over the rows of a 2-D array; out overwritten."""
    out[:] = 0
    add_column_sums(a, out)


@njit(**JIT_OPTIONS)
def add_column_sums(a, out):
    """out[j] += sum_r a[r, j] over the rows of a 2-D array."""
    for r in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[j] += a[r, j]


@njit(**JIT_OPTIONS)
def count_subnormal_zero(a, out):
    """out[0] = number of subnormal entries of ``a`` (float32 or float64, any shape), out[1]
    = number of exact zeros (+-0).  Read from the bit patterns (exponent field 0, mantissa
    nonzero or zero), not by comparison: with denormals-are-zero set a subnormal compares
    equal to 0."""
    af = a.ravel()
    sub = 0
    zero = 0
    if af.itemsize == 4:
        u = af.view(np.uint32)
        for i in range(u.size):
            m = u[i] & np.uint32(0x7FFFFFFF)
            sub += (m != 0) & (m < np.uint32(0x00800000))
            zero += m == 0
    else:
        w = af.view(np.uint64)
        for i in range(w.size):
            m = w[i] & np.uint64(0x7FFFFFFFFFFFFFFF)
            sub += (m != 0) & (m < np.uint64(0x0010000000000000))
            zero += m == 0
    out[0] = sub
    out[1] = zero
