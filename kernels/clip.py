"""Gradient clipping kernels: the two clipping maps.

The overflow-safe global norm they are applied with is built from
``vgbench.kernels.reductions.max_abs`` and ``scaled_sum_squares``
(``vgbench.analysis.clip.global_norm``).
"""

from numba import njit

from vgbench.kernels.config import JIT_OPTIONS


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
