"""``vgbench.kernels.gemm.gemm``: c = a @ b + beta c against float64 NumPy, for every operand
layout the kernels pass (row-major, transposed, row slices), batch 1 (gemv), empty
dimensions and beta in {0, 1, 0.5}; on NumPy's OpenBLAS and on the np.dot fallback
(``VGBENCH_GEMM=numba``, in a subprocess since the binding is made at import).

Tolerance: one dot product of length K <= 33 in float32 has error <= K eps32 sum|a||b|;
relative to max|ref| that is well under 1e-5 (float64: 1e-13).  beta = 0 must ignore c,
even when c holds NaN (BLAS semantics).
"""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

from vgbench.kernels import gemm as gemm_module
from vgbench.kernels.gemm import gemm

SHAPES = [(1, 5, 7), (3, 1, 4), (4, 6, 1), (1, 1, 1), (5, 7, 3), (33, 17, 9), (0, 3, 4),
          (3, 0, 4)]
# One product of each larger shape class of ``vgbench.kernels.gemm_choice`` (small_k,
# mid, large), so every class's symbol is called.
CLASS_SHAPES = [(160, 40, 96), (24, 200, 120), (256, 520, 1024)]


def _check_all(seed: int = 0) -> float:
    """Worst error / tolerance over every case (<= 1 passes).

    The tolerance grows with K past 32 (the error bound above is linear in K; relative to
    max|ref| it grows like sqrt(K) for random data, so K / 32 is generous but still
    10-100x below what a wrong transpose or leading dimension gives)."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for dt in (np.float32, np.float64):
        for (M, K, N), ta, tb, beta, pad in itertools.product(SHAPES + CLASS_SHAPES, (0, 1),
                                                               (0, 1), (0.0, 1.0, 0.5),
                                                               (0, 2)):
            tol = (1e-5 if dt == np.float32 else 1e-13) * max(1.0, K / 32)
            A = rng.standard_normal((K, M) if ta else (M, K)).astype(dt)
            Bm = rng.standard_normal((N, K) if tb else (K, N)).astype(dt)
            if pad:  # a row slice of a taller array: leading dimension != width
                A = np.vstack([rng.standard_normal((pad, A.shape[1])).astype(dt), A])[pad:]
            a = A.T if ta else A
            b = Bm.T if tb else Bm
            c0 = rng.standard_normal((M, N)).astype(dt)
            c = np.full_like(c0, np.nan) if beta == 0 else c0.copy()
            gemm(a, b, c, beta)
            ref = a.astype(np.float64) @ b.astype(np.float64) + beta * c0
            err = np.abs(c - ref).max(initial=0.0) / max(1.0, np.abs(ref).max(initial=0.0))
            worst = max(worst, err / tol)
    return worst


def test_gemm_matches_numpy_on_every_layout():
    assert _check_all() <= 1.0


def test_gemm_fallback_matches_numpy_on_every_layout():
    env = dict(os.environ, VGBENCH_GEMM="numba")
    code = ("from vgbench.kernels import gemm; from tests.test_gemm import _check_all; "
            "assert gemm.BACKEND == 'numba-np.dot', gemm.BACKEND; print(_check_all(1))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=600, cwd=os.path.dirname(os.path.dirname(
                             os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split()[-1]) <= 1.0


def test_gemm_binds_numpys_openblas_when_it_is_the_only_provider():
    from vgbench.kernels.gemm_providers import discover

    found = discover()
    if list(found) != ["openblas"]:
        pytest.skip(f"providers installed: {list(found)}")
    assert gemm_module.BACKEND == "numpy-openblas"
    assert gemm_module.LIBRARY == found["openblas"].path


def test_gemm_rejects_mismatched_shapes_and_column_major_output():
    a = np.ones((3, 4))
    with pytest.raises(ValueError, match="shapes"):
        gemm(a, np.ones((5, 2)), np.empty((3, 2)), 0.0)
    with pytest.raises(ValueError, match="row-major"):
        gemm(a, np.ones((4, 2)), np.empty((2, 3)).T, 0.0)


def test_gemm_copies_operands_with_no_unit_stride():
    rng = np.random.default_rng(3)
    big = rng.standard_normal((8, 10))
    a = big[::2, ::2]  # (4, 5), strides (160, 16): neither is the item size
    b = rng.standard_normal((5, 3))
    c = np.empty((4, 3))
    gemm(a, b, c, 0.0)
    np.testing.assert_allclose(c, a @ b, rtol=1e-13)
