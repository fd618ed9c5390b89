"""Gradient clipping kernels: an overflow-safe norm and the two clipping maps.

The global norm of an exploding gradient can exceed the float range even when every entry
is finite (float32 squares overflow at 1.8e19, float64 ones at 1.3e154), so norms are
taken as ``m * sqrt(sum((a / m)^2))`` with m the largest |entry| (LAPACK's nrm2 idea),
accumulated in float64.
"""

import numpy as np
from numba import njit

from kernels.config import JIT_OPTIONS


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
def scale_into(a, factor, out):
    """out = a * factor (same shape and dtype; out may be a)."""
    af = a.ravel()
    of = out.ravel()
    f = af.dtype.type(factor)
    for i in range(af.size):
        of[i] = af[i] * f


@njit(**JIT_OPTIONS)
def clip_values_into(a, limit, out):
    """out = a clipped elementwise to [-limit, limit]; NaN stays NaN (out may be a)."""
    af = a.ravel()
    of = out.ravel()
    hi = af.dtype.type(limit)
    lo = -hi
    for i in range(af.size):
        v = af[i]
        of[i] = hi if v > hi else (lo if v < lo else v)
