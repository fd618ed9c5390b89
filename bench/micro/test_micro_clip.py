"""Gradient clipping by global norm over the gradients of a depth-8, width-256 MLP."""

import numpy as np
import pytest

from vgbench.analysis.clip import clip_by_global_norm

DTYPES = ["float32", "float64"]


@pytest.mark.benchmark(group="clip_by_global_norm")
@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_by_global_norm(benchmark, rng, dtype):
    grads = {f"W{l}": rng.standard_normal((256, 256)).astype(dtype) for l in range(8)}
    grads |= {f"b{l}": rng.standard_normal(256).astype(dtype) for l in range(8)}
    clip_by_global_norm(grads, 1.0)  # compile / load the cache outside the timing
    clipped, norm = benchmark(clip_by_global_norm, grads, 1.0)
    expected = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads.values()))
    np.testing.assert_allclose(norm, expected, rtol=1e-5)
    total = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in clipped.values()))
    np.testing.assert_allclose(total, 1.0, rtol=1e-5)
