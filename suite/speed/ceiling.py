"""The machine's own ceiling, measured in the same run as the benchmarks.

* GEMM: ``np.dot(a, b, out=c)`` on n x n x n float32 and float64 operands (numpy's BLAS,
  under the process's core-type choice and the caller's thread limit).  Rate = 2 n^3 /
  time; ``best_gflops`` (from the fastest call) is the ceiling results are divided by,
  ``median_gflops`` is reported beside it.
* Memory bandwidth: ``np.copyto`` of a ``copy_mib`` MiB array (several times the last
  cache level), counting bytes read + bytes written.
"""

import numpy as np

from vgbench.speed.timing import time_block

# The one ceiling definition: `vgbench speed` and `vgbench run` both divide by the rate of
# this GEMM size, so their "% GEMM" columns compare.
GEMM_N = 2048


def gemm_rate(n: int, dtype: str, budget_s: float = 1.0, seed: int = 0) -> dict:
    """GF/s of an n x n x n GEMM: best, median, and the timing stats."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype)
    t = time_block(lambda: np.dot(a, b, out=c), budget_s=budget_s, min_repeats=3)
    st = t.stats()
    flop = 2.0 * n ** 3
    return {"size": n, "dtype": dtype, "best_gflops": flop / st["min_s"] / 1e9,
            "median_gflops": flop / st["median_s"] / 1e9, **st}


def copy_bandwidth(copy_mib: int = 256, budget_s: float = 1.0) -> dict:
    """GB/s (1e9 bytes) of a large array copy, read + write bytes counted."""
    src = np.ones(copy_mib * 2 ** 20 // 8)
    dst = np.empty_like(src)
    t = time_block(lambda: np.copyto(dst, src), budget_s=budget_s, min_repeats=3)
    st = t.stats()
    moved = 2.0 * src.nbytes
    return {"mib": copy_mib, "best_gbps": moved / st["min_s"] / 1e9,
            "median_gbps": moved / st["median_s"] / 1e9, **st}


def measure_ceiling(gemm_n: int = GEMM_N, copy_mib: int = 256, budget_s: float = 1.0) -> dict:
    """The ceiling at the current thread limit: GEMM per dtype and copy bandwidth."""
    return {"gemm": {dt: gemm_rate(gemm_n, dt, budget_s) for dt in ("float32", "float64")},
            "copy": copy_bandwidth(copy_mib, budget_s)}
