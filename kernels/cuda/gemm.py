"""Tiled shared-memory matrix product with fused epilogues, and the launch helper.

``C = op(A) @ op(B)`` with op the identity or the transpose, computed by TILE x TILE
thread blocks that stage TILE x TILE tiles of both operands in shared memory (transposed
operands are loaded so that neighbouring threads read neighbouring addresses).  Output
tiles are visited by a 2-D grid-stride loop, so any grid covers any shape.  The epilogue
is chosen by ``mode``:

=========  ==============================================================================
PLAIN      C = acc
BIAS_ACT   C = f(acc + bias[j]); if ``add``: OUT2 = AUX + C  (residual: C = Y_l, OUT2 = H_l)
ACC_ACT    C = f(C + acc + bias[j])  (recurrent step: C holds x_t W on entry)
DELTA      C = d = (SRC +) acc; OUT2 = d * f'(AUX)  (C = dh, AUX = saved y, OUT2 = dz)
=========  ==============================================================================

In DELTA mode OUT2 may be SRC (each entry is read before it is written).

The accumulator has the arrays' dtype, like the BLAS product of the CPU kernels.
"""

import functools
import math

import numpy as np
from numba import cuda

from vgbench.kernels import config
from vgbench.kernels.cuda.activations import activate, derivative_from_output

PLAIN, BIAS_ACT, ACC_ACT, DELTA = range(4)

# Cap on each grid dimension of a product; larger outputs are covered by the
# grid-stride loop (tests lower it to exercise that loop).
MAX_GRID = 1024


@functools.cache
def gemm_kernel(tile: int, dtype: np.dtype):
    """Compile the product kernel for ``tile`` x ``tile`` blocks and float ``dtype``."""
    zero = dtype.type(0)

    @cuda.jit
    def gemm(A, B, trans_a, trans_b, mode, code, bias, add, SRC, AUX, C, OUT2):
        sA = cuda.shared.array((tile, tile), dtype)
        sB = cuda.shared.array((tile, tile), dtype)
        ty = cuda.threadIdx.y
        tx = cuda.threadIdx.x
        M, N = C.shape
        K = A.shape[0] if trans_a else A.shape[1]
        for bi in range(cuda.blockIdx.y, (M + tile - 1) // tile, cuda.gridDim.y):
            for bj in range(cuda.blockIdx.x, (N + tile - 1) // tile, cuda.gridDim.x):
                i = bi * tile + ty
                j = bj * tile + tx
                acc = zero
                for k0 in range(0, K, tile):
                    if trans_a:  # A is (K, M): thread (ty, tx) reads A[k0+ty, bi*tile+tx]
                        ia = bi * tile + tx
                        ka = k0 + ty
                        sA[tx, ty] = A[ka, ia] if ka < K and ia < M else zero
                    else:
                        ka = k0 + tx
                        sA[ty, tx] = A[i, ka] if i < M and ka < K else zero
                    if trans_b:  # B is (N, K): thread (ty, tx) reads B[bj*tile+ty, k0+tx]
                        jb = bj * tile + ty
                        kb = k0 + tx
                        sB[tx, ty] = B[jb, kb] if jb < N and kb < K else zero
                    else:
                        kb = k0 + ty
                        sB[ty, tx] = B[kb, j] if kb < K and j < N else zero
                    cuda.syncthreads()
                    for kk in range(tile):
                        acc += sA[ty, kk] * sB[kk, tx]
                    cuda.syncthreads()
                if i < M and j < N:
                    if mode == BIAS_ACT:
                        y = activate(code, acc + bias[j])
                        C[i, j] = y
                        if add:
                            OUT2[i, j] = AUX[i, j] + C[i, j]
                    elif mode == ACC_ACT:
                        C[i, j] = activate(code, C[i, j] + acc + bias[j])
                    elif mode == DELTA:
                        d = SRC[i, j] + acc if add else acc
                        C[i, j] = d
                        OUT2[i, j] = d * derivative_from_output(code, AUX[i, j])
                    else:
                        C[i, j] = acc

    return gemm


def gemm(d_A, d_B, trans_a: bool, trans_b: bool, d_C, mode: int = PLAIN, code: int = 0,
         d_bias=None, add: bool = False, d_aux=None, d_out2=None, d_src=None) -> None:
    """Launch ``C = op(A) @ op(B)`` with the epilogue ``mode`` (module docstring).

    Parameters
    ----------
    d_A : (M, K), or (K, M) when ``trans_a``, device array.
    d_B : (K, N), or (N, K) when ``trans_b``, device array.
    d_C : (M, N) device output (read first in DELTA mode with ``add``).
    mode, code : epilogue and activation code.
    d_bias : (N,) bias (BIAS_ACT, ACC_ACT); d_aux, d_out2, d_src : (M, N) (module
        docstring).
    Unused arrays may be left None.
    """
    tile = config.CUDA_TILE
    M, N = d_C.shape
    grid = (min(math.ceil(N / tile), MAX_GRID), min(math.ceil(M / tile), MAX_GRID))
    kernel = gemm_kernel(tile, np.dtype(d_C.dtype))
    kernel[grid, (tile, tile)](d_A, d_B, trans_a, trans_b, mode, code,
                               d_C[0] if d_bias is None else d_bias, add,
                               d_C if d_src is None else d_src,
                               d_C if d_aux is None else d_aux, d_C,
                               d_C if d_out2 is None else d_out2)
