"""CUDA twin of ``vgbench.kernels.clip`` and of the ``max_abs``/``scaled_sum_squares`` reductions
in ``vgbench.kernels.reductions``, plus clipping by global norm on device arrays.

The norm is overflow-safe as on the CPU: ``m * sqrt(sum((a / m)^2))`` with m the largest
|entry| over all arrays, each reduction in float64 by block reduction (vgbench.kernels.cuda.reduce).
"""

import functools
import math

import numpy as np
from numba import cuda, float64

from vgbench.kernels import config
from vgbench.kernels.cuda.reduce import _block_sum, grid_1d, partials_buffer, reduce_kernels


@cuda.jit(device=True)
def _nan_max(m, v):
    """max(m, v) that keeps a NaN from either side."""
    return v if (v != v or v > m) else m


@functools.cache
def _kernels(block: int):
    @cuda.jit
    def max_abs_partial(a, partials):
        shared = cuda.shared.array(block, float64)
        t = cuda.threadIdx.x
        m = 0.0
        for i in range(cuda.grid(1), a.size, cuda.gridsize(1)):
            m = _nan_max(m, abs(np.float64(a[i])))
        shared[t] = m
        cuda.syncthreads()
        if t == 0:  # blocks are small: a serial pass keeps the NaN rule in one place
            for q in range(1, cuda.blockDim.x):
                m = _nan_max(m, shared[q])
            partials[cuda.blockIdx.x] = m

    @cuda.jit
    def max_finish(partials, n, out, k):
        if cuda.threadIdx.x == 0:
            m = 0.0
            for i in range(n):
                m = _nan_max(m, partials[i])
            out[k] = m

    @cuda.jit
    def scaled_sq_partial(a, inv, partials):
        shared = cuda.shared.array(block, float64)
        s = 0.0
        for i in range(cuda.grid(1), a.size, cuda.gridsize(1)):
            v = np.float64(a[i]) * inv
            s += v * v
        s = _block_sum(shared, s)
        if cuda.threadIdx.x == 0:
            partials[cuda.blockIdx.x] = s

    return max_abs_partial, max_finish, scaled_sq_partial


@cuda.jit
def _scale_into(a, factor, out):
    for i in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        out[i] = a[i] * factor


@cuda.jit
def _clip_values_into(a, hi, out):
    lo = -hi
    for i in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        v = a[i]
        out[i] = hi if v > hi else (lo if v < lo else v)


def max_abs(d_a, d_out, k: int, d_partials) -> None:
    """d_out[k] = max |a| (float64), NaN if any entry is NaN."""
    block = config.CUDA_BLOCK_1D
    partial, finish, _ = _kernels(block)
    flat = d_a.ravel()
    grid = grid_1d(flat.size)
    partial[grid, block](flat, d_partials)
    finish[1, 1](d_partials, grid, d_out, k)


def scaled_sum_squares(d_a, scale: float, d_out, k: int, d_partials) -> None:
    """d_out[k] = sum((a / scale)^2) in float64, for a finite scale >= max |a| > 0."""
    block = config.CUDA_BLOCK_1D
    partial = _kernels(block)[2]
    flat = d_a.ravel()
    grid = grid_1d(flat.size)
    partial[grid, block](flat, 1.0 / scale, d_partials)
    reduce_kernels(block)[2][1, block](d_partials, grid, 1.0, False, d_out, k)


def scale_into(d_a, factor: float, d_out) -> None:
    """out = a * factor, the factor rounded to the arrays' dtype (out may be a)."""
    flat = d_a.ravel()
    f = np.dtype(d_a.dtype).type(factor)
    _scale_into[grid_1d(flat.size), config.CUDA_BLOCK_1D](flat, f, d_out.ravel())


def clip_values_into(d_a, limit: float, d_out) -> None:
    """out = a clipped to [-limit, limit]; NaN stays NaN (out may be a)."""
    flat = d_a.ravel()
    hi = np.dtype(d_a.dtype).type(limit)
    _clip_values_into[grid_1d(flat.size), config.CUDA_BLOCK_1D](flat, hi, d_out.ravel())


def clip_by_global_norm(d_grads: list, max_norm: float) -> float:
    """Scale the device arrays ``d_grads`` in place by max_norm / ||g|| when the global
    norm ||g|| > max_norm; return ||g|| before clipping.  A non-finite norm raises
    FloatingPointError (naming the arrays' positions) and leaves the arrays unchanged."""
    n = len(d_grads)
    partials = partials_buffer()
    d_vals = cuda.device_array(n, np.float64)
    for q, d_g in enumerate(d_grads):
        max_abs(d_g, d_vals, q, partials)
    maxima = d_vals.copy_to_host()
    m = float(maxima.max()) if not np.isnan(maxima).any() else math.nan
    if not math.isfinite(m):
        bad = [str(q) for q in range(n) if not math.isfinite(maxima[q])]
        raise FloatingPointError(f"gradient global norm is {m}; in: {', '.join(bad)}")
    if m == 0.0:
        return 0.0
    for q, d_g in enumerate(d_grads):
        scaled_sum_squares(d_g, m, d_vals, q, partials)
    norm = m * math.sqrt(sum(d_vals.copy_to_host().tolist()))
    if norm > max_norm:
        for d_g in d_grads:
            scale_into(d_g, max_norm / norm, d_g)
    return norm
