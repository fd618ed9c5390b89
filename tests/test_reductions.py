"""Shared reductions: the scaled Frobenius norm neither underflows nor overflows."""

import numpy as np
import pytest

from vgbench.kernels.reductions import column_sums, frobenius, norm_from_squares


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
def test_norm_from_squares_falls_back_where_the_plain_sum_fails(scale):
    a = np.random.default_rng(2).standard_normal(40) * scale
    with np.errstate(over="ignore", under="ignore"):
        plain = float(np.sum(a * a))  # 0 or inf at the extremes
    assert norm_from_squares(plain, a) == pytest.approx(frobenius(a), rel=1e-14)
    if scale:
        assert norm_from_squares(plain, a) > 0 and np.isfinite(norm_from_squares(plain, a))


def test_norm_from_squares_propagates_nan():
    a = np.array([1.0, np.nan])
    assert np.isnan(norm_from_squares(float(np.sum(a * a)), a))


def test_float32_squares_are_taken_in_float64():
    # numba's float() keeps a float32 a float32: 3e38 squared would overflow there.
    a = np.array([3e38, -3e38], np.float32)
    assert frobenius(a) == pytest.approx(np.sqrt(2) * 3e38, rel=1e-7)
    assert norm_from_squares(float(np.sum(a.astype(np.float64) ** 2)), a) == frobenius(a)
