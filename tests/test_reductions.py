"""Shared reductions: the scaled Frobenius norm neither underflows nor overflows."""

import numpy as np
import pytest

from kernels.reductions import column_sums, frobenius, ssq_add


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-160, 1.0, 1e150, 1e300])
def test_frobenius_at_extreme_scales(scale):
    a = np.random.default_rng(0).standard_normal((7, 5))
    exact = np.linalg.norm(a) * scale  # LAPACK's scaled nrm2
    assert frobenius(a * scale) == pytest.approx(exact, rel=1e-14)


def test_frobenius_float32_and_special_values():
    a = np.random.default_rng(1).standard_normal(50).astype(np.float32)
    assert frobenius(a) == pytest.approx(np.linalg.norm(a.astype(np.float64)), rel=1e-12)
    assert frobenius(np.zeros(4)) == 0.0
    assert np.isnan(frobenius(np.array([1.0, np.nan, 2.0])))
    assert frobenius(np.array([1.0, -np.inf])) == np.inf


def test_column_sums_overwrite():
    a = np.arange(12.0).reshape(4, 3)
    out = np.full(3, 99.0)
    column_sums(a, out)
    np.testing.assert_array_equal(out, a.sum(0))


@pytest.mark.parametrize("scale", [0.0, 1e-300, 1e-170, 1.0, 1e170, 1e300])
def test_running_scaled_sum_of_squares(scale):
    v = np.random.default_rng(2).standard_normal(40) * scale
    v[::7] = 0.0
    s, q = 0.0, 1.0
    for x in v:
        s, q = ssq_add(s, q, x)
    assert s * np.sqrt(q) == pytest.approx(np.linalg.norm(v / max(scale, 1e-300))
                                           * max(scale, 1e-300) if scale else 0.0, rel=1e-14)


def test_running_sum_of_squares_propagates_nan_and_inf():
    for bad, check in ((np.nan, np.isnan), (np.inf, np.isposinf)):
        s, q = 0.0, 1.0
        for x in (1.0, bad, 2.0):
            s, q = ssq_add(s, q, x)
        assert check(s * np.sqrt(q))
