"""Block reductions: Frobenius norms, dot products, the MSE loss and column sums.

A sum over n elements runs in two launches: a grid of at most CUDA_BLOCK_1D blocks walks
the array with a grid-stride loop and reduces in shared memory to one float64 partial per
block; one block then sums the partials and writes ``scale * s`` (or its square root)
into one entry of a device vector.  No atomics, so results are bitwise reproducible.
Sums accumulate in float64, like ``vgbench.kernels.mlp._frobenius`` and ``vgbench.kernels.loss``.
"""

import functools
import math

import numpy as np
from numba import cuda, float64

from vgbench.kernels import config


@cuda.jit(device=True)
def _block_sum(shared, s):
    """Sum ``s`` over the block through ``shared`` (blockDim.x float64); valid in thread 0."""
    t = cuda.threadIdx.x
    shared[t] = s
    cuda.syncthreads()
    n = cuda.blockDim.x
    while n > 1:  # halving that also works for block sizes that are not powers of two
        half = (n + 1) // 2
        if t < n - half:
            shared[t] += shared[t + half]
        cuda.syncthreads()
        n = half
    return shared[0]


@functools.cache
def reduce_kernels(block: int):
    """Compile the reduction kernels for ``block`` threads per block."""

    @cuda.jit
    def dot_partial(a, b, partials):
        """partials[block] = sum a[i] * b[i] over this block's grid-stride share."""
        shared = cuda.shared.array(block, float64)
        s = 0.0
        for i in range(cuda.grid(1), a.size, cuda.gridsize(1)):
            s += float64(a[i]) * float64(b[i])
        s = _block_sum(shared, s)
        if cuda.threadIdx.x == 0:
            partials[cuda.blockIdx.x] = s

    @cuda.jit
    def mse_partial(y_hat, y, inv_b, dy_hat, partials):
        """dy_hat = (y_hat - y) * inv_b; partials[block] = sum (y_hat - y)^2, residuals
        and squares in float64 like the CPU loss (a float32 residual of 1e25 would square
        to inf)."""
        shared = cuda.shared.array(block, float64)
        s = 0.0
        for i in range(cuda.grid(1), y_hat.size, cuda.gridsize(1)):
            r = float64(y_hat[i]) - float64(y[i])
            s += r * r
            dy_hat[i] = r * inv_b
        s = _block_sum(shared, s)
        if cuda.threadIdx.x == 0:
            partials[cuda.blockIdx.x] = s

    @cuda.jit
    def finish(partials, n, scale, root, out, k):
        """out[k] = scale * sum(partials[:n]), square-rooted if ``root``; one block."""
        shared = cuda.shared.array(block, float64)
        s = 0.0
        for i in range(cuda.threadIdx.x, n, cuda.blockDim.x):
            s += partials[i]
        s = _block_sum(shared, s)
        if cuda.threadIdx.x == 0:
            out[k] = math.sqrt(scale * s) if root else scale * s

    return dot_partial, mse_partial, finish


@cuda.jit
def _column_sums(a, out):
    """out[j] = sum_b a[b, j]; one thread per column (grid-stride), rows in order."""
    for j in range(cuda.grid(1), a.shape[1], cuda.gridsize(1)):
        s = a[0, j]
        for b in range(1, a.shape[0]):
            s += a[b, j]
        out[j] = s


def grid_1d(n: int) -> int:
    """Blocks for n items: enough to cover them, at most CUDA_BLOCK_1D (grid-stride)."""
    block = config.CUDA_BLOCK_1D
    return max(1, min(math.ceil(n / block), block))


def _sum_into(partial_kernel, args, n: int, scale: float, root: bool, d_out, k: int,
              d_partials) -> None:
    block = config.CUDA_BLOCK_1D
    _, _, finish = reduce_kernels(block)
    grid = grid_1d(n)
    partial_kernel[grid, block](*args, d_partials)
    finish[1, block](d_partials, grid, scale, root, d_out, k)


def frobenius(d_a, d_out, k: int, d_partials) -> None:
    """d_out[k] = ||a||_F (float64); d_partials: float64 scratch of CUDA_BLOCK_1D."""
    flat = d_a.ravel()
    dot_partial = reduce_kernels(config.CUDA_BLOCK_1D)[0]
    _sum_into(dot_partial, (flat, flat), flat.size, 1.0, True, d_out, k, d_partials)


def dot(d_a, d_b, d_out, k: int, d_partials) -> None:
    """d_out[k] = <a, b> (float64) for arrays of equal size."""
    dot_partial = reduce_kernels(config.CUDA_BLOCK_1D)[0]
    _sum_into(dot_partial, (d_a.ravel(), d_b.ravel()), d_a.size, 1.0, False, d_out, k,
              d_partials)


def mse_forward_backward(d_y_hat, d_y, batch: int, d_dy_hat, d_out, k: int,
                         d_partials) -> None:
    """Twin of ``vgbench.kernels.loss.mse_forward_backward``: d_out[k] = L, d_dy_hat overwritten."""
    inv_b = 1.0 / batch
    mse_partial = reduce_kernels(config.CUDA_BLOCK_1D)[1]
    _sum_into(mse_partial, (d_y_hat.ravel(), d_y.ravel(), inv_b, d_dy_hat.ravel()),
              d_y_hat.size, 0.5 * inv_b, False, d_out, k, d_partials)


def column_sums(d_a, d_out) -> None:
    """d_out[j] = sum_b a[b, j] for a (B, N) device array."""
    _column_sums[grid_1d(d_a.shape[1]), config.CUDA_BLOCK_1D](d_a, d_out)


def partials_buffer():
    """Float64 device scratch for the partial sums of one reduction."""
    return cuda.device_array(config.CUDA_BLOCK_1D, np.float64)
