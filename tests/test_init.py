"""Initialisers: the variances the literature prescribes, reproducibility, orthogonality."""

import numpy as np
import pytest

from vgbench.models.init import INITS, init_bias, init_weight

N_IN, N_OUT = 300, 200


def draw(name, seed=0, **kw):
    return init_weight(name, N_IN, N_OUT, np.random.default_rng(seed), **kw)


@pytest.mark.parametrize("name,var", [
    ("normal", 1.7 ** 2 / N_IN),
    ("small", 1e-4),
    ("large", 1.0),
    ("xavier", 2.0 / (N_IN + N_OUT)),
    ("xavier_uniform", 2.0 / (N_IN + N_OUT)),
    ("xavier_normal", 2.0 / (N_IN + N_OUT)),
    ("he", 2.0 / N_IN),
    ("he_normal", 2.0 / N_IN),
    ("he_uniform", 2.0 / N_IN),
])
def test_variance(name, var):
    w = draw(name, sigma_w=1.7)
    # 60000 draws: the sample variance has relative std sqrt(2/n) ~ 0.6% (uniform: less).
    assert w.var() == pytest.approx(var, rel=0.03)
    assert abs(w.mean()) < 4 * np.sqrt(var / w.size)


def test_uniform_schemes_are_bounded():
    a = np.sqrt(6.0 / (N_IN + N_OUT))
    w = draw("xavier")
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.99 * a
    assert np.abs(draw("he_uniform")).max() <= np.sqrt(6.0 / N_IN)


@pytest.mark.parametrize("shape", [(50, 50), (80, 30), (30, 80)])
def test_orthogonal_with_gain(shape):
    w = init_weight("orthogonal", *shape, np.random.default_rng(3), gain=2.0)
    k = min(shape)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(k), atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(w, compute_uv=False), 2.0, rtol=1e-12)


def test_identity_for_irnn():
    w = init_weight("identity", 6, 6, np.random.default_rng(0), gain=0.5)
    np.testing.assert_array_equal(w, 0.5 * np.eye(6))


@pytest.mark.parametrize("name", INITS)
def test_reproducible_dtype_and_contiguous(name):
    a = init_weight(name, 7, 5, np.random.default_rng(11), np.float32)
    b = init_weight(name, 7, 5, np.random.default_rng(11), np.float32)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.flags.c_contiguous and a.shape == (7, 5)


def test_biases():
    rng = np.random.default_rng(0)
    b = init_bias("normal", 40000, rng, sigma_b=0.3)
    assert b.std() == pytest.approx(0.3, rel=0.03)
    np.testing.assert_array_equal(init_bias("xavier", 5, rng), 0.0)
    np.testing.assert_array_equal(init_bias("normal", 5, rng), 0.0)  # sigma_b = 0


def test_unknown_init_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid: .*orthogonal"):
        init_weight("glorot", 3, 3, np.random.default_rng(0))
