"""Matrix products of a recurrent step (B = 32): ``vgbench.kernels.gemm.gemm`` (NumPy's OpenBLAS)
against ``np.dot`` inside njit (SciPy's OpenBLAS), one call per timed round, same inputs.
Groups pair the two so ``--benchmark-compare`` shows a regression of either."""

import numpy as np
import pytest
from numba import njit

from vgbench.kernels.gemm import gemm

SHAPES = [(32, 128, 128), (32, 128, 512), (32, 512, 128)]


@njit(cache=True)
def _np_dot(a, b, c):
    np.dot(a, b, c)


@njit(cache=True)
def _gemm(a, b, c):
    gemm(a, b, c, 0.0)


@pytest.mark.parametrize("impl", ["gemm", "np_dot"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_step_product(benchmark, rng, shape, dtype, impl):
    M, K, N = shape
    benchmark.group = f"gemm_{M}x{K}x{N}_{dtype}"
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    c = np.empty((M, N), dtype)
    f = _gemm if impl == "gemm" else _np_dot
    f(a, b, c)  # compile / load the cache outside the timing
    benchmark(f, a, b, c)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
