"""The machine's own ceiling, measured in the same run as the benchmarks.

* GEMM: ``np.dot(a, b, out=c)`` on n x n x n float32 and float64 operands (numpy's BLAS,
  under the process's core-type choice and the caller's thread limit), and the same
  product through every other CBLAS provider installed (``vgbench.kernels.gemm_providers``:
  a newer OpenBLAS, MKL), each in ``gemm_providers``.  Rate = 2 n^3 / time;
  ``best_gflops`` (from the fastest call) of the fastest provider is the ceiling results
  are divided by (``gemm``, with its ``provider``), ``median_gflops`` is reported beside it.
* Memory bandwidth: ``np.copyto`` of a ``copy_mib`` MiB array (several times the last
  cache level), counting bytes read + bytes written.
"""

import numpy as np

from vgbench.kernels.cblas import NO_TRANS, ROW
from vgbench.kernels.gemm_choice import cblas_caller
from vgbench.kernels.gemm_providers import discover
from vgbench.speed.timing import time_block

# The one ceiling definition: `vgbench speed` and `vgbench run` both divide by the rate of
# this GEMM size, so their "% GEMM" columns compare.
GEMM_N = 2048


def gemm_rate(n: int, dtype: str, budget_s: float = 1.0, seed: int = 0,
              provider=None) -> dict:
    """GF/s of an n x n x n GEMM: best, median, and the timing stats; through ``np.dot``
    or, given a ``vgbench.kernels.gemm_providers.Provider``, through its ``cblas_?gemm``."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype)
    if provider is None:
        def call():
            np.dot(a, b, out=c)
    else:
        routine = "sgemm" if dtype == "float32" else "dgemm"
        fn = cblas_caller(provider.addresses()[routine], routine)
        pa, pb, pc = a.ctypes.data, b.ctypes.data, c.ctypes.data

        def call():
            fn(ROW, NO_TRANS, NO_TRANS, n, n, n, 1.0, pa, n, pb, n, 0.0, pc, n)
    t = time_block(call, budget_s=budget_s, min_repeats=3)
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


def provider_rates(gemm_n: int = GEMM_N, budget_s: float = 1.0) -> dict:
    """{provider: {dtype: gemm_rate}} for every CBLAS provider installed ("openblas",
    NumPy's own, through ``np.dot``)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    # A thread limit covers only the libraries loaded when it was set: read the caller's
    # from the BLAS already loaded, load every provider, and set it again.
    limit = min((lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"),
                default=None)
    found = discover()
    for provider in found.values():
        provider.addresses()
    out = {}
    with threadpool_limits(limits=limit, user_api="blas"):
        for name, provider in found.items():
            via = None if name == "openblas" else provider
            out[name] = {dt: gemm_rate(gemm_n, dt, budget_s, provider=via)
                         for dt in ("float32", "float64")}
    return out


def measure_ceiling(gemm_n: int = GEMM_N, copy_mib: int = 256, budget_s: float = 1.0) -> dict:
    """The ceiling at the current thread limit: GEMM per dtype (the fastest provider's,
    named in ``provider``; every provider's in ``gemm_providers``) and copy bandwidth."""
    rates = provider_rates(gemm_n, budget_s) or {
        "numpy": {dt: gemm_rate(gemm_n, dt, budget_s) for dt in ("float32", "float64")}}
    best = {}
    for dt in ("float32", "float64"):
        name = max(rates, key=lambda p: rates[p][dt]["best_gflops"])
        best[dt] = {**rates[name][dt], "provider": name}
    return {"gemm": best, "gemm_providers": rates, "copy": copy_bandwidth(copy_mib, budget_s)}
