"""LSTM BPTT: finite differences (float64), the NumPy reference, PyTorch's fused nn.LSTM
(gate order) and detached states (truncation), the constant error carousel, input checks.

Tolerances as in tests/test_rnn.py (same finite-difference bound and reference rtol).
"""

import numpy as np
import pytest

from tests import oracles, reference
from tests.test_rnn import FD_STEP, assert_fd_close, check_against_fd, truncated_objective
from vgbench.models import LSTM

I, H, O, B = 2, 3, 2, 2


def make_case(T, loss_at="last", dtype="float64", seed=0, hidden=H, batch=B):
    """Model with a random bias (all four gates in general position) and seeded data."""
    model = LSTM(I, hidden, O, dtype=dtype, seed=seed)
    rng = np.random.default_rng(200 + seed)
    model.params["b"] = rng.normal(0, 0.5, 4 * hidden).astype(model.dtype)
    model.params["b_y"] = rng.normal(0, 0.5, O).astype(model.dtype)
    x = rng.standard_normal((T, batch, I)).astype(dtype)
    y = rng.standard_normal((batch, O) if loss_at == "last" else (T, batch, O)).astype(dtype)
    h0 = rng.normal(0, 0.5, (batch, hidden)).astype(dtype)
    c0 = rng.normal(0, 0.5, (batch, hidden)).astype(dtype)
    return model, x, y, h0, c0


@pytest.mark.parametrize("T", [1, 2, 20])
@pytest.mark.parametrize("loss_at", ["last", "every"])
@pytest.mark.parametrize("truncate", [None, 1, 3])
def test_gradients_match_finite_differences(T, loss_at, truncate):
    model, x, y, h0, c0 = make_case(T, loss_at)
    r = model.loss_and_grads(x, y, truncate, loss_at, h0=h0, c0=c0)
    e = reference.lstm_loss_and_grads(model.params, x, y, None, loss_at, h0, c0)
    f = truncated_objective(model, x, y, truncate, loss_at, (e["hs"], e["cs"]))
    initial = {"h0": h0, "c0": c0}
    check_against_fd(model, x, y, r, f, initial)


def test_initial_cell_gradient_matches_finite_differences_and_reference():
    """GradResult.grad_c0 = dL/dc_0: finite differences (full BPTT) and the float64
    reference (full and truncated)."""
    T = 6
    model, x, y, h0, c0 = make_case(T, "every")
    r = model.loss_and_grads(x, y, loss_at="every", h0=h0, c0=c0)

    def f():
        return model.loss_and_grads(x, y, loss_at="every", h0=h0, c0=c0).loss
    assert_fd_close(r.grad_c0, reference.central_difference(f, c0, FD_STEP), f(), "c0")
    for truncate in (None, 2):
        e = reference.lstm_loss_and_grads(model.params, x, y, truncate, "every", h0, c0)
        assert np.any(e["dc0"] != 0)
        got = model.loss_and_grads(x, y, truncate, "every", h0=h0, c0=c0).grad_c0
        np.testing.assert_allclose(got, e["dc0"], rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss_at,truncate", [("last", None), ("last", 5), ("every", None),
                                              ("every", 4), ("every", 12)])
def test_matches_reference(dtype, loss_at, truncate):
    T = 12
    model, x, y, h0, c0 = make_case(T, loss_at, dtype, hidden=5, batch=4)
    cot = None
    if loss_at == "every" and truncate == 4:  # also an injected cotangent
        cot = np.random.default_rng(7).standard_normal(y.shape).astype(dtype)
    r = model.loss_and_grads(x, y, truncate, loss_at, h0=h0, c0=c0, cotangent=cot)
    e = reference.lstm_loss_and_grads(model.params, x, y, truncate, loss_at, h0, c0, cot)
    rtol = 1e-10 if dtype == "float64" else 1e-4
    pairs = [(r.grads[k], e["grads"][k], k) for k in e["grads"]] + [
        (r.grad_input, e["dx"], "dx"), (r.grad_h0, e["dh0"], "dh0"),
        (r.grad_c0, e["dc0"], "dc0"),
        (r.delta_norms, e["delta_norms"], "delta_norms"),
        (r.cell_norms, e["cell_norms"], "cell_norms"), (r.output, e["y_hat"], "y_hat"),
        (r.weight_grad_norms, e["weight_grad_norms"], "weight_grad_norms")]
    for got, want, name in pairs:
        assert got.dtype == (np.float64 if "norms" in name else np.dtype(dtype)), name
        err = np.linalg.norm(got - want)
        assert err <= rtol * (np.linalg.norm(want) + 1e-3), f"{name}: {err:.3e}"
    assert r.loss == pytest.approx(e["loss"], rel=rtol, abs=rtol)


def test_matches_fused_torch_lstm_gate_order():
    torch = oracles.oracle("torch")
    Hh, Bb = 4, 3
    model, x, y, h0, c0 = make_case(15, hidden=Hh, batch=Bb)
    p = model.params
    lstm = torch.nn.LSTM(I, Hh, dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.tensor(p["W_ih"].T))
        lstm.weight_hh_l0.copy_(torch.tensor(p["W_hh"].T))
        lstm.bias_ih_l0.copy_(torch.tensor(p["b"]))
        lstm.bias_hh_l0.zero_()
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, _ = lstm(xt, (h0t, torch.tensor(c0[None])))
    y_hat = out[-1] @ torch.tensor(p["W_hy"]) + torch.tensor(p["b_y"])
    loss = 0.5 / Bb * ((y_hat - torch.tensor(y)) ** 2).sum()
    loss.backward()
    r = model.loss_and_grads(x, y, h0=h0, c0=c0)
    assert r.loss == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(r.grads["W_ih"], lstm.weight_ih_l0.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(r.grads["W_hh"], lstm.weight_hh_l0.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(r.grads["b"], lstm.bias_ih_l0.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(r.grad_input, xt.grad.numpy(), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(r.grad_h0, h0t.grad.numpy()[0], rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("loss_at", ["last", "every"])
@pytest.mark.parametrize("truncate", [1, 3])
def test_truncation_equals_pytorch_with_detached_states(loss_at, truncate):
    torch = oracles.oracle("torch")
    model, x, y, h0, c0 = make_case(7, loss_at)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    xt = torch.tensor(x, requires_grad=True)
    h0t, c0t = torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True)

    def step(x_t, h, c):
        i, f, g, o = (x_t @ p["W_ih"] + h @ p["W_hh"] + p["b"]).split(H, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    states = [(h0t, c0t)]
    for t in range(7):
        states.append(step(xt[t], *states[-1]))
    total = 0.0
    for s in (range(1, 8) if loss_at == "every" else [7]):
        lo = max(s - truncate, 0)
        h, c = (v.detach() for v in states[lo]) if s >= truncate else (h0t, c0t)
        for t in range(lo, s):
            h, c = step(xt[t], h, c)
        target = torch.tensor(y if loss_at == "last" else y[s - 1])
        total = total + 0.5 / B * ((h @ p["W_hy"] + p["b_y"] - target) ** 2).sum()
    total.backward()
    r = model.loss_and_grads(x, y, truncate, loss_at, h0=h0, c0=c0)
    for k, v in p.items():
        np.testing.assert_allclose(r.grads[k], v.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(r.grad_input, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    dh0 = np.zeros_like(h0) if h0t.grad is None else h0t.grad.numpy()
    np.testing.assert_allclose(r.grad_h0, dh0, rtol=1e-10, atol=1e-14)


def test_constant_error_carousel():
    """Open forget gates and no recurrent weights: dL/dc_t is carried unchanged while
    dL/dh_t is zero before the last step."""
    T = 30
    model, x, y, h0, c0 = make_case(T)
    model.params["W_hh"][:] = 0
    model.params["b"][H:2 * H] = 50.0  # sigmoid(50) == 1.0 exactly in float64
    r = model.loss_and_grads(x, y, h0=h0, c0=c0)
    assert np.all(r.delta_norms[:-1] == 0) and r.delta_norms[-1] > 0
    np.testing.assert_array_equal(r.cell_norms[:-1], r.cell_norms[-1])
    assert r.cell_norms[0] > 0 and np.all(r.grad_h0 == 0)


def test_truncation_structure_and_cell_norms():
    T, k = 12, 4
    model, x, y, h0, c0 = make_case(T)
    r = model.loss_and_grads(x, y, truncate=k, h0=h0, c0=c0)
    assert np.all(r.delta_norms[:T - k] == 0) and np.all(r.cell_norms[:T - k] == 0)
    assert np.all(r.cell_norms[T - k:] > 0) and np.all(r.grad_input[:T - k] == 0)
    full = model.loss_and_grads(x, y, h0=h0, c0=c0)
    np.testing.assert_array_equal(r.cell_norms[T - k:], full.cell_norms[T - k:])


def test_backward_is_linear_in_the_cotangent_and_repeatable():
    model, x, y, h0, c0 = make_case(9, "every")
    cot = np.random.default_rng(5).standard_normal(y.shape)
    r1 = model.loss_and_grads(x, None, 3, "every", h0=h0, c0=c0, cotangent=cot)
    r2 = model.loss_and_grads(x, None, 3, "every", h0=h0, c0=c0, cotangent=2 * cot)
    r1b = model.loss_and_grads(x, None, 3, "every", h0=h0, c0=c0, cotangent=cot)
    for name in r1.grads:
        np.testing.assert_allclose(r2.grads[name], 2 * r1.grads[name], rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(r1b.grads[name], r1.grads[name])
    np.testing.assert_array_equal(r1b.cell_norms, r1.cell_norms)


def test_params_initialisation_and_forward():
    m = LSTM(3, 4, 2, "xavier", forget_bias=2.0, dtype="float32", seed=1,
             recurrent_init="identity", gain=0.5)
    shapes = {"W_ih": (3, 16), "W_hh": (4, 16), "b": (16,), "W_hy": (4, 2), "b_y": (2,)}
    assert {k: v.shape for k, v in m.params.items()} == shapes
    assert all(v.dtype == np.float32 for v in m.params.values())
    np.testing.assert_array_equal(m.params["b"], np.repeat([0, 2, 0, 0], 4).astype("f4"))
    np.testing.assert_array_equal(m.params["W_hh"], np.tile(0.5 * np.eye(4, dtype="f4"), 4))
    model, x, y, h0, c0 = make_case(5)
    np.testing.assert_array_equal(model.forward(x, h0, c0),
                                  model.loss_and_grads(x, y, h0=h0, c0=c0).output)


@pytest.mark.parametrize("call,exc,match", [
    (lambda m, x, y: m.loss_and_grads(x[:0], y), ValueError, "T = 0"),
    (lambda m, x, y: m.loss_and_grads(x[..., :1], y), ValueError, "x has shape"),
    (lambda m, x, y: m.loss_and_grads(x, y, loss_at="every"), ValueError, "y has shape"),
    (lambda m, x, y: m.loss_and_grads(x, y, c0=np.zeros((2, 4))), ValueError, "c0 has shape"),
    (lambda m, x, y: m.loss_and_grads(np.where(x > 0, np.nan, x), y), ValueError, "NaN"),
    (lambda m, x, y: m.loss_and_grads(x, y, truncate=0), ValueError, "truncate"),
    (lambda m, x, y: m.loss_and_grads(x, y, loss_at="all"), ValueError, "loss_at"),
])
def test_bad_input_gets_a_clear_error(call, exc, match):
    model, x, y, _, _ = make_case(4)
    with pytest.raises(exc, match=match):
        call(model, x, y)
