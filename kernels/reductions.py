"""Reductions shared by every kernel family: norms and batch sums."""

import math

from numba import njit

from kernels.config import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def frobenius(a):
    """||a||_F of an array of any shape, as a float64, without underflow or overflow.

    Squares are summed after scaling by max |a| (LAPACK nrm2's idea), so a vanished
    gradient of norm 1e-200 reads 1e-200, not 0, and 1e200 does not overflow.  NaN and Inf
    propagate.
    """
    af = a.ravel()
    m = 0.0
    for i in range(af.size):
        v = abs(float(af[i]))
        if not v <= m:  # also true for NaN, which then propagates
            m = v
    if m == 0.0 or not math.isfinite(m):
        return m
    inv = 1.0 / m
    s = 0.0
    for i in range(af.size):
        v = float(af[i]) * inv
        s += v * v
    return m * math.sqrt(s)


@njit(**JIT_OPTIONS)
def column_sums(a, out):
    """out[j] = sum_r a[r, j] over the rows of a 2-D array; out overwritten."""
    out[:] = 0
    for r in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[j] += a[r, j]


@njit(**JIT_OPTIONS)
def ssq_add(scale, ssq, v):
    """Add v to a running norm kept as (scale, ssq), norm = scale * sqrt(ssq).

    LAPACK's one-pass scaled sum of squares, for loops that see each value once (fused
    backward passes): no underflow for vanished gradients, no overflow for exploding ones,
    NaN propagates.  Start from (0.0, 1.0).
    """
    a = abs(float(v))
    if not a <= scale:  # also NaN
        r = scale / a
        return a, 1.0 + ssq * r * r
    if a > 0.0:
        r = a / scale
        return scale, ssq + r * r
    return scale, ssq
