"""A tiny parallel kernel whose only job is to initialise Numba's threading layer."""

from numba import njit, prange


@njit(parallel=True)
def touch_parallel():
    """Sum 0..63 in parallel (the value is irrelevant)."""
    s = 0
    for i in prange(64):
        s += i
    return s
