"""Mean-field theory, the Pascanu bound and variance scaling against independent numbers."""

import math

import numpy as np
import pytest

from vgbench.analysis import theory
from vgbench.kernels.activations import activation_numpy


def _mc(g, q, n=400_000, seed=0):
    """Monte-Carlo E[g(sqrt(q) z)] and its standard error, with plain NumPy."""
    v = g(math.sqrt(q) * np.random.default_rng(seed).standard_normal(n))
    return v.mean(), v.std() / math.sqrt(n)


NUMPY_F = {"tanh": (np.tanh, lambda u: 1 - np.tanh(u) ** 2),
           "relu": (lambda u: np.maximum(u, 0), lambda u: (u > 0).astype(float)),
           "sigmoid": (lambda u: 1 / (1 + np.exp(-u)),
                       lambda u: np.exp(-u) / (1 + np.exp(-u)) ** 2)}


@pytest.mark.parametrize("act", sorted(NUMPY_F))
@pytest.mark.parametrize("q", [0.3, 2.5])
def test_quadrature_matches_monte_carlo(act, q):
    f, df = NUMPY_F[act]
    for g, h in ((lambda u: f(u) ** 2, lambda u: activation_numpy(act, u) ** 2),
                 (lambda u: df(u) ** 2, lambda u: theory.activation_derivative(act, u) ** 2)):
        mean, se = _mc(g, q)
        assert abs(theory.gaussian_expectation(h, q) - mean) < 5 * se + 1e-12


@pytest.mark.parametrize("act,sw,sb", [("tanh", 1.5, 0.05), ("tanh", 0.8, 0.3),
                                        ("sigmoid", 2.0, 0.1), ("relu", 1.0, 0.5)])
def test_fixed_point_and_chi1_against_monte_carlo(act, sw, sb):
    f, df = NUMPY_F[act]
    mf = theory.mean_field(act, sw, sb)
    mean, se = _mc(lambda u: f(u) ** 2, mf.q_star, seed=1)
    assert abs(sw ** 2 * mean + sb ** 2 - mf.q_star) < 5 * sw ** 2 * se + 1e-10
    mean, se = _mc(lambda u: df(u) ** 2, mf.q_star, seed=2)
    assert abs(sw ** 2 * mean - mf.chi_1) < 5 * sw ** 2 * se + 1e-10
    assert mf.rho == pytest.approx(math.sqrt(mf.chi_1))
    assert mf.depth_scale == pytest.approx(1 / abs(math.log(mf.chi_1)))


def test_published_facts():
    # Poole et al. 2016: tanh's order-to-chaos edge at sigma_b = 0 is sigma_w = 1.
    assert theory.critical_sigma_w("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)
    assert theory.mean_field("tanh", 0.9, 0.0).regime == "ordered"
    assert theory.mean_field("tanh", 1.1, 0.0).regime == "chaotic"
    # A bias pushes the edge to larger sigma_w.
    assert theory.critical_sigma_w("tanh", 0.3) > 1.2
    # He et al. 2015: ReLU with variance 2/fan_in keeps chi_1 = 1; variance 1/fan_in halves it.
    assert theory.mean_field("relu", math.sqrt(2), 0.0).chi_1 == pytest.approx(1, abs=1e-12)
    assert theory.mean_field("relu", 1.0, 0.0).chi_1 == pytest.approx(0.5, abs=1e-12)
    assert theory.mean_field("relu", 1.0, 0.0).regime == "ordered"
    # sigmoid' <= 1/4, so chi_1 <= sigma_w^2 / 16 whatever q*.
    for sw in (0.5, 1.0, 2.0, 4.0, 8.0):
        for sb in (0.0, 0.5, 2.0):
            assert theory.mean_field("sigmoid", sw, sb).chi_1 <= sw ** 2 / 16 + 1e-15
    # With q* = 0 (tanh below the edge, no bias) the net is linear around 0: chi_1 = sigma_w^2.
    mf = theory.mean_field("tanh", 0.7, 0.0)
    assert mf.q_star == 0.0 and mf.chi_1 == pytest.approx(0.49)


def test_effective_sigma_w_matches_drawn_weights():
    from vgbench.models.init import init_weight

    rng = np.random.default_rng(3)
    for init in ("normal", "xavier", "xavier_normal", "he", "he_uniform", "small", "large"):
        w = init_weight(init, 400, 400, rng, sigma_w=1.7, gain=1.3)
        expected = theory.effective_sigma_w(init, 400, 400, sigma_w=1.7, gain=1.3)
        assert math.sqrt(w.var() * 400) == pytest.approx(expected, rel=0.01), init
    assert theory.effective_sigma_w("identity", 4, 4) is None


def test_fixed_point_inputs_have_variance_q_star():
    mf = theory.mean_field("tanh", 1.5, 0.1)
    x = theory.fixed_point_inputs("tanh", mf.q_star, 200, 500, np.random.default_rng(4))
    q1 = mf.sigma_w ** 2 * np.mean(x ** 2) + mf.sigma_b ** 2  # first layer's variance
    assert q1 == pytest.approx(mf.q_star, rel=0.01)


def _rnn_curve(W_hh, act, T, rng, B=4):
    """||dL/dh_t|| for a loss at step T with an independent cotangent, plain NumPy."""
    f, df = NUMPY_F[act]
    H = W_hh.shape[0]
    h, a_s = np.zeros((B, H)), []
    for _ in range(T):
        a = rng.standard_normal((B, H)) + h @ W_hh
        a_s.append(a)
        h = f(a)
    g = rng.standard_normal((B, H))
    norms = [np.linalg.norm(g)]
    for t in range(T - 1, 0, -1):
        g = (g * df(a_s[t])) @ W_hh.T
        norms.append(np.linalg.norm(g))
    return np.array(norms[::-1])


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu"])
def test_pascanu_bound_never_violated_on_random_rnns(act):
    rng = np.random.default_rng(5)
    for scale in (0.5, 1.0, 2.0, 4.0):
        W = rng.standard_normal((32, 32)) * scale / math.sqrt(32)
        b = theory.pascanu_bound(W, act)
        assert b.sigma_max == pytest.approx(np.linalg.norm(W, 2))
        assert b.vanishing_sufficient == (np.linalg.norm(W, 2) * {"sigmoid": 0.25}.get(act, 1)
                                          < 1)
        assert theory.bound_violations(_rnn_curve(W, act, 40, rng), b.rate) == []


def test_bound_violations_detects_a_curve_that_grows_too_fast():
    curve = 1.5 ** np.arange(10, 0, -1.0)  # grows by 1.5 per step going back
    assert theory.bound_violations(curve, 1.2) == list(range(1, 10))
    assert theory.bound_violations(curve, 1.5) == []


def test_variance_scaling_against_monte_carlo():
    rng = np.random.default_rng(6)
    n, layers, trials = 24, 8, 400
    logs, squares = [], []
    for _ in range(trials):
        g = rng.standard_normal(n)
        for _ in range(layers):
            g2 = g @ rng.standard_normal((n, n)).T * (1.3 / math.sqrt(n))
            squares.append(np.sum(g2 ** 2) / np.sum(g ** 2))
            logs.append(math.log(np.linalg.norm(g2) / np.linalg.norm(g)))
            g = g2
    pred = theory.variance_scaling(1.3, n)
    se_sq = np.std(squares) / math.sqrt(len(squares))
    se_log = np.std(logs) / math.sqrt(len(logs))
    assert abs(np.mean(squares) - pred["mean_square"]) < 4 * se_sq
    assert abs(np.mean(logs) - math.log(pred["geometric"])) < 4 * se_log
    assert pred["geometric"] < 1.3  # the typical norm shrinks relative to the mean


def test_bad_inputs():
    with pytest.raises(ValueError):
        theory.mean_field("nope", 1.0)
    with pytest.raises(ValueError):
        theory.fixed_point_q("tanh", -1.0, 0.0)
    with pytest.raises(ValueError):
        theory.pascanu_bound(np.ones((2, 3)), "tanh")
    with pytest.raises(ValueError):
        theory.gaussian_expectation(np.square, -1.0)
