"""MLP kernels: gradients against central finite differences (float64) and against the
NumPy reference (float64 and float32), structural properties and worked numbers.

Tolerances.  Central differences with h = 1e-6 on an O(1) loss have truncation error
O(h^2) ~ 1e-12 and rounding error ~ eps * max(1, |L|) / h ~ 2e-10 per entry, so each
parameter array of n entries must satisfy ||g - fd|| <= 1e-6 ||fd|| + 10 * that rounding
bound * sqrt(n) (the absolute term covers arrays whose exact gradient is 0, e.g. biases
before batch norm).  Against the float64 reference
the kernels differ only by summation order: 1e-10 relative per array.  In float32 the
same computation loses ~depth * sqrt(width) * 6e-8: 1e-4 relative on these tiny nets.
"""

import itertools

import numpy as np
import pytest

from tests import reference
from vgbench.kernels.activations import ACTIVATIONS
from vgbench.models import MLP

NAMES = sorted(ACTIVATIONS)
VARIANTS = [(False, False), (True, False), (False, True), (True, True)]
VARIANT_IDS = ["plain", "residual", "batchnorm", "residual+bn"]


def make_case(activation, depth, residual, batchnorm, dtype="float64", batch=5, in_dim=3,
              width=4, out_dim=2, seed=0):
    model = MLP(in_dim, width, depth, out_dim, activation, init="xavier", residual=residual,
                batchnorm=batchnorm, dtype=dtype, seed=seed)
    rng = np.random.default_rng(1000 + seed)
    # Biases in general position: with zero biases a layer whose inputs are all dead ReLUs
    # has pre-activations exactly at the kink, where finite differences are meaningless.
    for l in range(depth + 1):
        model.params[f"b{l}"][:] = rng.normal(0, 0.5, model.params[f"b{l}"].shape)
    if batchnorm:  # non-trivial gamma/beta so their gradients are tested in general position
        for l in range(depth):
            model.params[f"bn_gamma{l}"][:] = rng.uniform(0.5, 1.5, width)
            model.params[f"bn_beta{l}"][:] = rng.normal(0, 0.3, width)
    x = rng.standard_normal((batch, in_dim)).astype(dtype)
    y = rng.standard_normal((batch, out_dim)).astype(dtype)
    return model, x, y


def reference_result(model, x, y, cotangent=None):
    return reference.mlp_loss_and_grads(model.params, x, y, model.activation, model.depth,
                                        model.residual, model.batchnorm, cotangent)


def rel_err(a, b):
    return np.linalg.norm(np.asarray(a, np.float64) - b) / max(np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("activation", NAMES)
@pytest.mark.parametrize("depth", [1, 2, 8])
def test_gradients_match_finite_differences(activation, depth, variant):
    residual, batchnorm = variant
    model, x, y = make_case(activation, depth, residual, batchnorm,
                            seed=depth * 31 + NAMES.index(activation))
    r = model.loss_and_grads(x, y)
    loss = lambda: model.loss_and_grads(x, y).loss  # noqa: E731
    rounding = 10 * np.finfo(np.float64).eps * max(1.0, abs(r.loss)) / 1e-6
    for name, p in list(model.params.items()) + [("x", x)]:
        fd = reference.central_difference(loss, p)
        g = r.grad_input if name == "x" else r.grads[name]
        bound = 1e-6 * np.linalg.norm(fd) + rounding * np.sqrt(fd.size)
        assert np.linalg.norm(g - fd) <= bound, name


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("activation", NAMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_matches_reference(activation, variant, dtype):
    residual, batchnorm = variant
    tol = 1e-10 if dtype == "float64" else (1e-3 if batchnorm else 1e-4)
    for depth, batch, (in_dim, width, out_dim) in [(1, 1, (3, 5, 2)), (2, 7, (6, 4, 3)),
                                                   (9, 4, (5, 7, 1))]:
        if batchnorm and batch == 1:
            batch = 2  # batch norm of a single sample is degenerate (xhat = 0)
        model, x, y = make_case(activation, depth, residual, batchnorm, dtype, batch, in_dim,
                                width, out_dim, seed=depth)
        r = model.loss_and_grads(x, y)
        loss, g, dx, dnorms, wnorms, y_hat = reference_result(model, x, y)
        assert r.grads.keys() == g.keys() == model.params.keys()
        assert abs(r.loss - loss) <= tol * abs(loss)
        assert rel_err(r.output, y_hat) <= tol
        for name in g:
            assert r.grads[name].shape == model.params[name].shape
            assert r.grads[name].dtype == np.dtype(dtype)
            if np.linalg.norm(g[name]) > 1e-6 * np.linalg.norm(g["W0"]):
                assert rel_err(r.grads[name], g[name]) <= tol, name
            else:  # exactly-zero gradients (bias under batch norm) stay at rounding level
                assert np.linalg.norm(r.grads[name]) <= tol * np.linalg.norm(g["W0"]), name
        assert rel_err(r.grad_input, dx) <= tol
        np.testing.assert_allclose(r.delta_norms, dnorms, rtol=tol)
        np.testing.assert_allclose(r.weight_grad_norms, wnorms, rtol=tol)
        assert r.delta_norms.shape == r.weight_grad_norms.shape == (depth,)


def test_residual_is_never_applied_to_the_first_layer():
    # in_dim == width would allow a skip on layer 0; the contract says never.
    model, x, y = make_case("tanh", 3, True, False, in_dim=4, width=4)
    r = model.loss_and_grads(x, y)
    loss, g, dx, *_ = reference_result(model, x, y)
    assert rel_err(r.grad_input, dx) <= 1e-10


def test_backward_is_linear_in_the_cotangent_and_repeatable():
    model, x, _ = make_case("tanh", 6, True, True, batch=6)
    c = np.random.default_rng(5).standard_normal((6, 2))
    r1 = model.loss_and_grads(x, None, cotangent=c)
    r2 = model.loss_and_grads(x, None, cotangent=2 * c)
    r1b = model.loss_and_grads(x, None, cotangent=c)
    for k in model.params:
        np.testing.assert_allclose(r2.grads[k], 2 * r1.grads[k], rtol=1e-13, atol=1e-300)
        np.testing.assert_array_equal(r1b.grads[k], r1.grads[k])
    np.testing.assert_allclose(r2.delta_norms, 2 * r1.delta_norms, rtol=1e-13)
    assert r1.loss == pytest.approx(np.vdot(c, r1.output), rel=1e-14)


def test_results_do_not_alias_between_calls():
    model, x, y = make_case("relu", 3, False, False)
    r1 = model.loss_and_grads(x, y)
    saved = {k: v.copy() for k, v in r1.grads.items()}
    model.loss_and_grads(2 * x, y)
    for k in saved:
        np.testing.assert_array_equal(r1.grads[k], saved[k])


def test_saturated_units_give_zero_gradient_not_nan():
    for activation in ("sigmoid", "tanh"):
        model, x, y = make_case(activation, 3, False, False)
        model.params["b0"][:] = 300.0
        model.params["b1"][:] = -300.0
        r = model.loss_and_grads(x, y)
        assert all(np.isfinite(g).all() for g in r.grads.values())
        assert np.all(r.grads["W0"] == 0.0) and np.all(r.grad_input == 0.0)


def test_relu_at_exactly_zero_has_zero_derivative():
    model = MLP(2, 3, 1, 1, "relu", seed=0)
    model.params["W0"][:] = 0.0
    model.params["b0"][:] = 0.0  # every pre-activation is exactly 0
    r = model.loss_and_grads(np.ones((4, 2)), np.ones((4, 1)))
    np.testing.assert_array_equal(r.grads["W0"], 0.0)
    np.testing.assert_array_equal(r.grad_input, 0.0)


def test_chain_rule_worked_example_from_the_seeds():
    # Seed 004: d y_hat / d x through three layers is 0.2 * 0.15 * 0.05 = 0.0015.
    model = MLP(1, 1, 3, 1, "identity", seed=0)
    for name, w in zip(("W0", "W1", "W2", "W3"), (0.2, 0.15, 0.05, 1.0), strict=True):
        model.params[name][:] = w
    for l in range(4):
        model.params[f"b{l}"][:] = 0.0
    r = model.loss_and_grads(np.array([[0.7]]), None, cotangent=np.array([[1.0]]))
    assert r.grad_input[0, 0] == pytest.approx(0.0015, rel=1e-14)
    # ... and the seed's SGD step with learning rate 1 from weight 2.5: 2.5 - 1 * 0.0015.
    assert 2.5 - 1.0 * r.grad_input[0, 0] == pytest.approx(2.4985, rel=1e-14)


@pytest.mark.parametrize("depth", [1, 4, 10])
def test_sigmoid_chain_at_zero_preactivation_gives_quarter_per_layer(depth):
    # Width-1 sigmoid net with unit weights and biases that put every pre-activation at 0:
    # each layer multiplies the gradient by sigmoid'(0) = 1/4, the largest factor possible.
    model = MLP(1, 1, depth, 1, "sigmoid", seed=0)
    for l in range(depth + 1):
        model.params[f"W{l}"][:] = 1.0
        model.params[f"b{l}"][:] = 0.0 if l == 0 else -0.5
    r = model.loss_and_grads(np.zeros((1, 1)), None, cotangent=np.ones((1, 1)))
    assert r.grad_input[0, 0] == pytest.approx(0.25 ** depth, rel=1e-13)
    np.testing.assert_allclose(r.delta_norms, 0.25 ** np.arange(depth - 1, -1, -1),
                               rtol=1e-13)


def test_params_are_live_and_assignment_loads_weights():
    model, x, y = make_case("tanh", 2, False, False)
    before = model.loss_and_grads(x, y).loss
    model.params["W1"] *= 0.0  # in place
    zeroed = model.loss_and_grads(x, y)
    np.testing.assert_array_equal(zeroed.grads["W0"], 0.0)
    new = np.random.default_rng(9).standard_normal(model.params["W1"].shape)
    model.params["W1"] = new  # assignment copies into the live array
    np.testing.assert_array_equal(model.params["W1"], new)
    assert model.loss_and_grads(x, y).loss != before
    with pytest.raises(ValueError, match="shape"):
        model.params["W1"] = np.zeros((2, 2))
    with pytest.raises(KeyError):
        model.params["W9"] = new
    with pytest.raises(TypeError):
        del model.params["W1"]


@pytest.mark.parametrize("value, error, match", [
    (np.zeros((3, 4)), TypeError, "float32, got float64"),        # no silent down-cast
    (np.zeros((3, 4), np.int64), TypeError, "float32, got int64"),
    (np.full((3, 4), np.nan, np.float32), ValueError, "NaN or Inf"),
    ([[0.0] * 4] * 3, TypeError, "numpy array"),
])
def test_assigning_params_refuses_casts_and_non_finite_values(value, error, match):
    model = MLP(3, 4, 2, 1, dtype="float32")
    before = model.params["W0"].copy()
    with pytest.raises(error, match=match):
        model.params["W0"] = value
    np.testing.assert_array_equal(model.params["W0"], before)


def test_params_hold_exactly_the_trainable_arrays():
    m = MLP(3, 4, 2, 1, batchnorm=True)
    expected = ["W0", "b0", "W1", "b1", "W2", "b2", "bn_gamma0", "bn_beta0", "bn_gamma1",
                "bn_beta1"]
    assert sorted(m.params) == sorted(expected)
    assert m.params["W0"].shape == (3, 4) and m.params["W2"].shape == (4, 1)
    assert sorted(MLP(3, 4, 2, 1).params) == sorted(expected[:6])


def test_seed_reproducibility():
    a, b, c = (MLP(4, 5, 3, 2, seed=s) for s in (7, 7, 8))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.array_equal(a.params["W0"], c.params["W0"])


def test_non_contiguous_input_gives_the_same_result():
    model, x, y = make_case("elu", 3, True, False, batch=6)
    x_big = np.zeros((6, 2 * x.shape[1]))
    x_big[:, ::2] = x
    xs = x_big[:, ::2]
    assert not xs.flags.c_contiguous
    yf = np.asfortranarray(y)
    r1, r2 = model.loss_and_grads(x, y), model.loss_and_grads(xs, yf)
    for k in r1.grads:
        np.testing.assert_array_equal(r1.grads[k], r2.grads[k])


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(depth=0), ValueError, "depth"),
    (dict(depth=-3), ValueError, "depth"),
    (dict(width=0), ValueError, "width"),
    (dict(depth=2.5), TypeError, "depth"),
    (dict(activation="swish"), ValueError, "activation"),
    (dict(init="glorot"), ValueError, "init"),
    (dict(dtype="float16"), ValueError, "dtype"),
])
def test_bad_model_arguments(kwargs, exc, match):
    args = dict(in_dim=3, width=4, depth=2, out_dim=1) | kwargs
    with pytest.raises(exc, match=match):
        MLP(**args)


@pytest.mark.parametrize("x_shape,y_shape,match", [
    ((5, 4), (5, 1), "x has shape"),
    ((5,), (5, 1), "x has shape"),
    ((5, 3), (4, 1), "y has shape"),
    ((5, 3), (5, 2), "y has shape"),
    ((0, 3), (0, 1), "empty"),
])
def test_bad_shapes(x_shape, y_shape, match):
    model = MLP(3, 4, 2, 1)
    with pytest.raises(ValueError, match=match):
        model.loss_and_grads(np.ones(x_shape), np.ones(y_shape))


def test_bad_dtypes_and_values():
    model = MLP(3, 4, 2, 1)
    x, y = np.ones((5, 3)), np.ones((5, 1))
    with pytest.raises(TypeError, match="dtype"):
        model.loss_and_grads(x.astype(np.float32), y)
    with pytest.raises(TypeError, match="dtype"):
        model.loss_and_grads(np.ones((5, 3), dtype=int), y)
    with pytest.raises(TypeError, match="numpy array"):
        model.loss_and_grads([[1.0, 2.0, 3.0]], y)
    for bad in (np.nan, np.inf):
        xb = x.copy()
        xb[2, 1] = bad
        with pytest.raises(ValueError, match="x contains NaN or Inf"):
            model.loss_and_grads(xb, y)
        with pytest.raises(ValueError, match="y contains NaN or Inf"):
            model.loss_and_grads(x, np.full((5, 1), bad))
    with pytest.raises(ValueError, match="backend"):
        model.loss_and_grads(x, y, backend="tpu")
    with pytest.raises(ValueError, match="y is required"):
        model.loss_and_grads(x, None)


def test_float32_model_keeps_float32_everywhere():
    model, x, y = make_case("softplus", 3, True, True, dtype="float32")
    r = model.loss_and_grads(x, y)
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert all(g.dtype == np.float32 for g in r.grads.values())
    assert r.grad_input.dtype == np.float32 and r.output.dtype == np.float32


@pytest.mark.parametrize("activation,residual",
                         list(itertools.product(["tanh", "relu"], [0, 1])))
def test_deep_net_delta_norms_follow_reference(activation, residual):
    model = MLP(8, 16, 40, 2, activation, init="normal", residual=bool(residual), seed=3,
                sigma_w=1.3)
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((9, 8)), rng.standard_normal((9, 2))
    r = model.loss_and_grads(x, y)
    _, _, _, dnorms, wnorms, _ = reference_result(model, x, y)
    np.testing.assert_allclose(r.delta_norms, dnorms, rtol=1e-10)
    np.testing.assert_allclose(r.weight_grad_norms, wnorms, rtol=1e-10)
