"""Activation table: values and derivatives against the float64 reference, worked numbers
from the seeds, saturation and the conventions at the kinks; the vectorisable float32 and
float64 tanh/sigmoid/exp against NumPy over their whole range, in ulp."""

import numpy as np
import pytest
from numba import njit

from tests import reference
from vgbench.kernels.activations import (
    ACTIVATIONS,
    GAMMA,
    activation_code,
    activation_numpy,
    bias_activate,
    derivative_array,
    exp_float64,
    gamma,
    sigmoid_float64,
    tanh_float64,
)

NAMES = sorted(ACTIVATIONS)


def derivative(name, z):
    y = activation_numpy(name, z)
    d = np.empty_like(y)
    derivative_array(activation_code(name), y, d)
    return d


@pytest.mark.parametrize("name", NAMES)
def test_values_and_derivatives_match_reference(name):
    z = np.random.default_rng(1).uniform(-8, 8, 2001)
    np.testing.assert_allclose(activation_numpy(name, z), reference.act(name, z),
                               rtol=1e-12, atol=1e-300)
    # f' from the output y loses relative accuracy only where f' itself is tiny (1 - y^2
    # near saturation), so compare with an absolute floor of a few ulp of 1.
    np.testing.assert_allclose(derivative(name, z), reference.act_grad(name, z),
                               rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_gamma_bounds_the_derivative(name):
    z = np.linspace(-20, 20, 400001)
    d = np.abs(reference.act_grad(name, z))
    assert d.max() <= gamma(name) * (1 + 1e-12)
    assert d.max() >= gamma(name) * (1 - 1e-3)  # gamma is the supremum, not a loose bound


def test_sigmoid_derivative_at_most_quarter_with_equality_at_zero():
    z = np.linspace(-10, 10, 100001)
    d = derivative("sigmoid", z)
    assert d.max() == pytest.approx(0.25, abs=1e-15)
    assert derivative("sigmoid", np.array([0.0]))[0] == 0.25
    assert GAMMA["sigmoid"] == 0.25


def test_tanh_derivative_is_one_minus_tanh_squared():
    z = np.random.default_rng(2).normal(0, 2, 1000)
    # 1 - y^2 is computed from y = tanh z in both: equal up to a few ulp of 1.
    np.testing.assert_allclose(derivative("tanh", z), 1 - np.tanh(z) ** 2, rtol=1e-12,
                               atol=4e-16)


@pytest.mark.parametrize("name", NAMES)
def test_no_overflow_and_no_nan_at_extremes(name):
    z = np.array([-1000.0, -300.0, 300.0, 1000.0])
    y = activation_numpy(name, z)
    d = derivative(name, z)
    assert np.isfinite(d).all()
    if name in ("sigmoid", "tanh"):
        assert (d <= 1e-100).all()  # saturated: zero (or e^-300) gradient, never NaN
        assert d[-1] == 0.0 and d[0] == 0.0
    if name in ("sigmoid", "softplus", "elu", "selu", "relu", "tanh"):
        assert np.isfinite(y).all()


def test_stable_sigmoid_and_softplus_values():
    assert activation_numpy("sigmoid", np.array([-1000.0]))[0] == 0.0
    assert activation_numpy("sigmoid", np.array([1000.0]))[0] == 1.0
    sp = activation_numpy("softplus", np.array([-50.0, 1000.0, 1e-10]))
    assert sp[0] == pytest.approx(np.exp(-50.0), rel=1e-14)  # log1p(e^-50), not 0
    assert sp[1] == 1000.0
    assert sp[2] == pytest.approx(np.log(2) + 0.5e-10, rel=1e-14)


def test_kink_conventions():
    zero = np.array([0.0])
    assert derivative("relu", zero)[0] == 0.0
    assert derivative("leaky_relu", zero)[0] == 0.01
    assert derivative("selu", zero)[0] == pytest.approx(1.0507009873554805 * 1.6732632423543772)


@pytest.mark.parametrize("name", NAMES)
def test_nan_propagates(name):
    assert np.isnan(activation_numpy(name, np.array([np.nan]))[0])


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="valid: .*tanh"):
        activation_code("swish")


def _fast32(name, z):
    """The float32 kernel path (bias_activate) of activation ``name`` on a 1-D array."""
    y = z.copy()
    bias_activate(activation_code(name), y.reshape(1, -1), np.zeros(z.size, z.dtype))
    return y


def _exact(name, z):
    zd = np.minimum(z.astype(np.float64), 700.0)
    if name == "tanh":
        return np.tanh(zd)
    e = np.exp(-np.abs(zd))  # stable sigmoid in float64
    return np.where(zd >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@pytest.mark.parametrize("name,max_ulp", [("tanh", 5.0), ("sigmoid", 3.0)])
def test_fast_float32_error_over_the_whole_range(name, max_ulp):
    # Every 61st positive float32 bit pattern (35M values, 0 to inf) and their negatives,
    # against float64; counted in ulp wherever the exact value is a normal float32.
    z = np.arange(0, 0x7F800000, 61, dtype=np.uint32).view(np.float32)
    tiny = np.finfo(np.float32).tiny
    for zz in (z, -z):
        exact = _exact(name, zz)
        got = _fast32(name, zz)
        normal = np.abs(exact) >= tiny
        ulp = np.spacing(np.abs(exact[normal]).astype(np.float32)).astype(np.float64)
        assert (np.abs(got[normal] - exact[normal]) / ulp).max() < max_ulp
        assert (np.abs(got[~normal]) <= 2 * tiny).all()  # subnormal results: tiny


def test_fast_float32_saturation_and_nan():
    z = np.array([1e4, -1e4, np.inf, -np.inf, 9.0, np.nan, 0.0, 1e-30], np.float32)
    t = _fast32("tanh", z)
    np.testing.assert_array_equal(t[:5], [1, -1, 1, -1, 1])
    assert np.isnan(t[5]) and t[6] == 0.0 and t[7] == np.float32(1e-30)
    s = _fast32("sigmoid", z)
    assert s[0] == 1 and s[2] == 1 and 0 <= s[1] < 1e-37 and 0 <= s[3] < 1e-37
    assert np.isnan(s[5]) and s[6] == 0.5


def _exact64(name, z):
    """np.tanh, np.exp and the stable sigmoid: NumPy's float64 forms (< 1 ulp)."""
    if name == "tanh":
        return np.tanh(z)
    if name == "exp":
        with np.errstate(over="ignore"):
            return np.exp(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "exp"])
def test_fast_float64_error_over_the_whole_range(name):
    """<= 2 ulp wherever the result is a normal float64, on 4M fresh inputs: magnitudes
    log-uniform over 1e-300..1e3 of both signs, plus uniform ones over the
    transcendental's working range; subnormal results agree to 2 subnormal steps."""
    rng = np.random.default_rng()
    mag = 10.0 ** rng.uniform(-300, 3, 1_000_000)
    z = np.concatenate([mag, -mag, rng.uniform(-760, 720, 1_000_000),
                        rng.uniform(-2, 2, 1_000_000)])
    f = {"tanh": tanh_float64, "sigmoid": sigmoid_float64, "exp": exp_float64}[name]
    got = _map(f, z)
    exact = _exact64(name, z)
    normal = np.isfinite(exact) & (np.abs(exact) >= np.finfo(np.float64).tiny)
    ulp = np.spacing(np.abs(exact[normal]))
    assert (np.abs(got[normal] - exact[normal]) / ulp).max() <= 2.0
    rest = ~normal
    np.testing.assert_allclose(got[rest], exact[rest], rtol=0, atol=1e-323)


def test_fast_float64_ends_and_nan():
    z = np.array([0.0, np.inf, -np.inf, np.nan, 709.78, 710.0, -708.0, -745.0, -746.0,
                  0.625, -0.625, 19.1, 1e4, -1e4, 1e-320])
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(_map(exp_float64, z), np.exp(z), rtol=4.5e-16, atol=0)
    t = _map(tanh_float64, z)
    np.testing.assert_array_equal(t[[1, 2, 11, 12, 13]], [1, -1, 1, 1, -1])
    assert np.isnan(t[3]) and t[0] == 0.0 and t[14] == 1e-320
    sg = _map(sigmoid_float64, z)
    np.testing.assert_array_equal(sg[[0, 1, 2, 5, 12, 13]], [0.5, 1, 0, 1, 1, 0])
    assert np.isnan(sg[3]) and sg[7] == np.exp(-745.0)


def test_float64_kernel_path_uses_the_fast_forms():
    """bias_activate on float64 gives the fast forms' values (same function, same bits)."""
    z = np.random.default_rng().uniform(-30, 30, 4096)
    for name, f in (("tanh", tanh_float64), ("sigmoid", sigmoid_float64)):
        y = z.copy()
        bias_activate(activation_code(name), y.reshape(1, -1), np.zeros(z.size))
        np.testing.assert_array_equal(y, _map(f, z))


@njit
def _map(f, z):
    out = np.empty_like(z)
    for i in range(z.size):
        out[i] = f(z[i])
    return out
