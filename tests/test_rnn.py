"""Elman RNN BPTT: finite differences (float64), the NumPy reference (float64/float32),
PyTorch with detached states, structural properties and input checks.

Truncated gradients are not the gradient of the loss, so finite differences check them
through their definition: the objective sum_s L_s(x[s-k:s], start = h_{s-k} held fixed)
(``truncated_objective``), whose true gradient is the truncated one.

Tolerances.  Central differences with h = 1e-6 on a loss of size |L| have truncation
error O(h^2) ~ 1e-12 and rounding error ~ eps max(1, |L|) / h per entry, so an array of n
entries must satisfy ||g - fd|| <= 1e-6 ||fd|| + 10 sqrt(n) eps max(1, |L|) / h.  Against
the float64 reference only the summation order differs: 1e-10 relative.  float32 loses
~ T sqrt(H) 6e-8 along the chain: 1e-4 relative on these sizes (T <= 12, H = 5).
"""

import numpy as np
import pytest

from tests import oracles, reference
from vgbench.backends import cpu
from vgbench.kernels.activations import ACTIVATIONS
from vgbench.models import RNN

I, H, O, B = 2, 3, 2, 2
FD_STEP = 1e-6


def make_case(T, loss_at="last", dtype="float64", activation="tanh", seed=0, hidden=H,
              batch=B):
    """Model with non-zero biases, and seeded x, y, h0."""
    model = RNN(I, hidden, O, activation, dtype=dtype, seed=seed)
    rng = np.random.default_rng(100 + seed)
    model.params["b_h"] = rng.normal(0, 0.5, hidden).astype(model.dtype)
    model.params["b_y"] = rng.normal(0, 0.5, O).astype(model.dtype)
    x = rng.standard_normal((T, batch, I)).astype(dtype)
    y = rng.standard_normal((batch, O) if loss_at == "last" else (T, batch, O)).astype(dtype)
    h0 = rng.normal(0, 0.5, (batch, hidden)).astype(dtype)
    return model, x, y, h0


def truncated_objective(model, x, y, truncate, loss_at, states):
    """f(**arrays) = sum over read-out steps s of L_s run from h_{s-k}, held fixed.

    ``states`` (T+1, B, H) (or a tuple of such for the LSTM: h, c) are the unperturbed
    states; steps s <= k start from the live h0 (and c0) given to f, so those perturb.
    """
    T = x.shape[0]
    read = range(1, T + 1) if loss_at == "every" else [T]

    def f(x=x, **initial):
        total = 0.0
        for s in read:
            lo = 0 if truncate is None else max(s - truncate, 0)
            start = dict(initial)
            if truncate is not None and s - truncate >= 0:
                start = {name: st[lo].copy() for name, st in zip(initial, states, strict=True)}
            target = y if loss_at == "last" else y[s - 1]
            total += model.loss_and_grads(x[lo:s], target, **start).loss
        return total
    return f


def assert_fd_close(g, fd, loss, name):
    n = fd.size
    bound = 1e-6 * np.linalg.norm(fd) + 10 * np.sqrt(n) * 2.2e-16 * max(1, abs(loss)) / FD_STEP
    err = np.linalg.norm(g - fd)
    assert err <= bound, f"{name}: |g - fd| = {err:.3e} > {bound:.3e}"


def check_against_fd(model, x, y, result, f, initial):
    """FD of f over every parameter, x and the initial states; compare with ``result``."""
    loss = f(**initial)
    for name, p in model.params.items():
        fd = reference.central_difference(lambda: f(**initial), p, FD_STEP)
        assert_fd_close(result.grads[name], fd, loss, name)
    fd = reference.central_difference(lambda: f(**initial), x, FD_STEP)
    assert_fd_close(result.grad_input, fd, loss, "x")
    fd = reference.central_difference(lambda: f(**initial), initial["h0"], FD_STEP)
    assert_fd_close(result.grad_h0, fd, loss, "h0")


@pytest.mark.parametrize("T", [1, 2, 20])
@pytest.mark.parametrize("loss_at", ["last", "every"])
@pytest.mark.parametrize("truncate", [None, 1, 3])
def test_gradients_match_finite_differences(T, loss_at, truncate):
    model, x, y, h0 = make_case(T, loss_at)
    r = model.loss_and_grads(x, y, truncate, loss_at, h0=h0)
    e = reference.rnn_loss_and_grads(model.params, x, y, "tanh", None, loss_at, h0)
    f = truncated_objective(model, x, y, truncate, loss_at, (e["hs"],))
    assert r.loss == pytest.approx(model.loss_and_grads(x, y, None, loss_at, h0=h0).loss)
    check_against_fd(model, x, y, r, f, {"h0": h0})


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss_at,truncate", [("last", None), ("last", 5), ("every", None),
                                              ("every", 4), ("every", 12)])
def test_matches_reference(activation, dtype, loss_at, truncate):
    T = 12
    model, x, y, h0 = make_case(T, loss_at, dtype, activation, hidden=5, batch=4)
    cot = None
    if loss_at == "every" and truncate == 4:  # also an injected cotangent
        cot = np.random.default_rng(7).standard_normal(y.shape).astype(dtype)
    r = model.loss_and_grads(x, y, truncate, loss_at, h0=h0, cotangent=cot)
    e = reference.rnn_loss_and_grads(model.params, x, y, activation, truncate, loss_at, h0,
                                     cotangent=cot)
    rtol = 1e-10 if dtype == "float64" else 1e-4
    pairs = [(r.grads[k], e["grads"][k], k) for k in e["grads"]] + [
        (r.grad_input, e["dx"], "dx"), (r.grad_h0, e["dh0"], "dh0"),
        (r.delta_norms, e["delta_norms"], "delta_norms"), (r.output, e["y_hat"], "y_hat"),
        (r.weight_grad_norms, e["weight_grad_norms"], "weight_grad_norms")]
    for got, want, name in pairs:
        assert got.dtype == (np.float64 if "norms" in name else np.dtype(dtype)), name
        err = np.linalg.norm(got - want)
        assert err <= rtol * (np.linalg.norm(want) + 1e-3), f"{name}: {err:.3e}"
    assert r.loss == pytest.approx(e["loss"], rel=rtol, abs=rtol)


@pytest.mark.parametrize("chunk_rows", [1, 20, 10 ** 6])
@pytest.mark.parametrize("loss_at,truncate", [("last", None), ("last", 5), ("every", None),
                                              ("every", 4)])
def test_chunked_backward_matches_reference(monkeypatch, chunk_rows, loss_at, truncate):
    """The backward runs in chunks of C steps (C = 1, 5 of T = 12 leaving a ragged last
    chunk, and all T at once); every chunking gives the reference gradients."""
    monkeypatch.setattr(cpu, "BPTT_CHUNK_ROWS", chunk_rows)
    T = 12
    model, x, y, h0 = make_case(T, loss_at, hidden=5, batch=4)
    r = model.loss_and_grads(x, y, truncate, loss_at, h0=h0)
    e = reference.rnn_loss_and_grads(model.params, x, y, "tanh", truncate, loss_at, h0)
    assert model.workspace(T, 4, truncate, loss_at)["DZ"].shape[0] == \
        min(T, -(-chunk_rows // 4))
    for got, want in [(r.grads[k], e["grads"][k]) for k in e["grads"]] + [
            (r.grad_input, e["dx"]), (r.grad_h0, e["dh0"]), (r.delta_norms, e["delta_norms"])]:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def torch_truncated(params, x, y, truncate, loss_at, h0):
    """The same loss in PyTorch autograd, each loss s run from h_{s-k}.detach()."""
    torch = oracles.oracle("torch")
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    hs = [h0t]
    for t in range(x.shape[0]):
        hs.append(torch.tanh(xt[t] @ p["W_xh"] + hs[-1] @ p["W_hh"] + p["b_h"]))
    T = x.shape[0]
    total = 0.0
    for s in (range(1, T + 1) if loss_at == "every" else [T]):
        lo = max(s - truncate, 0)
        h = hs[lo].detach() if s - truncate >= 0 else h0t
        for t in range(lo, s):
            h = torch.tanh(xt[t] @ p["W_xh"] + h @ p["W_hh"] + p["b_h"])
        target = torch.tensor(y if loss_at == "last" else y[s - 1])
        total = total + 0.5 / x.shape[1] * ((h @ p["W_hy"] + p["b_y"] - target) ** 2).sum()
    total.backward()
    dh0 = np.zeros_like(h0) if h0t.grad is None else h0t.grad.numpy()  # nothing reached it
    return {k: v.grad.numpy() for k, v in p.items()}, xt.grad.numpy(), dh0


@pytest.mark.parametrize("loss_at", ["last", "every"])
@pytest.mark.parametrize("truncate", [1, 3, 8])
def test_truncation_equals_pytorch_with_detached_state(loss_at, truncate):
    model, x, y, h0 = make_case(8, loss_at)
    grads, dx, dh0 = torch_truncated(model.params, x, y, truncate, loss_at, h0)
    r = model.loss_and_grads(x, y, truncate, loss_at, h0=h0)
    for k in grads:
        np.testing.assert_allclose(r.grads[k], grads[k], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(r.grad_input, dx, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(r.grad_h0, dh0, rtol=1e-10, atol=1e-13)


def test_matches_fused_torch_rnn():
    torch = oracles.oracle("torch")
    model, x, y, h0 = make_case(15, hidden=4, batch=3)
    p = model.params
    rnn = torch.nn.RNN(I, 4, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(p["W_xh"].T))
        rnn.weight_hh_l0.copy_(torch.tensor(p["W_hh"].T))
        rnn.bias_ih_l0.copy_(torch.tensor(p["b_h"]))
        rnn.bias_hh_l0.zero_()
    xt = torch.tensor(x, requires_grad=True)
    out, _ = rnn(xt, torch.tensor(h0)[None])
    y_hat = out[-1] @ torch.tensor(p["W_hy"]) + torch.tensor(p["b_y"])
    loss = 0.5 / 3 * ((y_hat - torch.tensor(y)) ** 2).sum()
    loss.backward()
    r = model.loss_and_grads(x, y, h0=h0)
    assert r.loss == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(r.grads["W_hh"], rnn.weight_hh_l0.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(r.grads["b_h"], rnn.bias_ih_l0.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(r.grad_input, xt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_zero_recurrent_weights_leave_only_the_last_step():
    model, x, y, h0 = make_case(10)
    model.params["W_hh"][:] = 0
    r = model.loss_and_grads(x, y, h0=h0)
    assert np.all(r.delta_norms[:-1] == 0) and r.delta_norms[-1] > 0
    assert np.all(r.grad_input[:-1] == 0) and np.all(r.grad_h0 == 0)


@pytest.mark.parametrize("gain", [1.0, 1.5, 0.5])
def test_orthogonal_linear_rnn_scales_norms_by_gain_per_step(gain):
    T = 40
    model = RNN(3, 6, 2, "identity", recurrent_init="orthogonal", gain=gain, seed=3)
    rng = np.random.default_rng(4)
    r = model.loss_and_grads(rng.standard_normal((T, 5, 3)), rng.standard_normal((5, 2)))
    # dL/dh_{t-1} = dL/dh_t (gain Q)^T, and Q^T is an isometry: exact up to rounding.
    ratios = r.delta_norms[:-1] / r.delta_norms[1:]
    np.testing.assert_allclose(ratios, gain, rtol=1e-12)


def test_truncation_structure_of_the_last_state_loss():
    T, k = 12, 4
    model, x, y, h0 = make_case(T)
    r = model.loss_and_grads(x, y, truncate=k, h0=h0)
    assert np.all(r.delta_norms[:T - k] == 0) and np.all(r.delta_norms[T - k:] > 0)
    assert np.all(r.grad_input[:T - k] == 0) and np.all(r.grad_h0 == 0)
    full = model.loss_and_grads(x, y, h0=h0)
    np.testing.assert_array_equal(r.delta_norms[T - k:], full.delta_norms[T - k:])
    # k = T detaches h_0 only; k > T is full BPTT.
    assert np.all(model.loss_and_grads(x, y, truncate=T, h0=h0).grad_h0 == 0)
    longer = model.loss_and_grads(x, y, truncate=T + 1, h0=h0)
    for name in full.grads:
        np.testing.assert_array_equal(longer.grads[name], full.grads[name])
    np.testing.assert_array_equal(longer.grad_h0, full.grad_h0)


def test_backward_is_linear_in_the_cotangent_and_repeatable():
    model, x, y, h0 = make_case(9, "every")
    cot = np.random.default_rng(5).standard_normal(y.shape)
    r1 = model.loss_and_grads(x, None, 3, "every", h0=h0, cotangent=cot)
    r2 = model.loss_and_grads(x, None, 3, "every", h0=h0, cotangent=2 * cot)
    r1b = model.loss_and_grads(x, None, 3, "every", h0=h0, cotangent=cot)
    for name in r1.grads:
        np.testing.assert_allclose(r2.grads[name], 2 * r1.grads[name], rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(r1b.grads[name], r1.grads[name])
    assert r1.grads["W_hh"] is not r1b.grads["W_hh"]
    np.testing.assert_array_equal(r1b.grad_input, r1.grad_input)
    assert r1.loss == pytest.approx(float(np.vdot(cot, r1.output)))


def test_forward_matches_loss_and_grads_output():
    model, x, y, h0 = make_case(6)
    np.testing.assert_array_equal(model.forward(x, h0), model.loss_and_grads(x, y, h0=h0).output)


def test_params_initialisation_and_attributes():
    m = RNN(4, 6, 3, "relu", "he", "float32", seed=2, recurrent_init="identity", gain=0.9)
    shapes = {"W_xh": (4, 6), "W_hh": (6, 6), "b_h": (6,), "W_hy": (6, 3), "b_y": (3,)}
    assert {k: v.shape for k, v in m.params.items()} == shapes
    assert all(v.dtype == np.float32 for v in m.params.values())
    np.testing.assert_array_equal(m.params["W_hh"], np.float32(0.9) * np.eye(6, dtype="f4"))
    assert (m.in_dim, m.hidden, m.out_dim, m.activation, m.init, m.seed) == (
        4, 6, 3, "relu", "he", 2)
    same = RNN(4, 6, 3, "relu", "he", "float32", seed=2, recurrent_init="identity", gain=0.9)
    np.testing.assert_array_equal(same.params["W_xh"], m.params["W_xh"])
    q = RNN(4, 6, 3, recurrent_init="orthogonal", gain=1.2).params["W_hh"]
    np.testing.assert_allclose(q @ q.T, 1.44 * np.eye(6), atol=1e-12)


def test_float32_model_keeps_float32_everywhere():
    model, x, y, h0 = make_case(5, "every", "float32")
    r = model.loss_and_grads(x, y, 2, "every", h0=h0)
    assert all(g.dtype == np.float32 for g in r.grads.values())
    assert r.grad_input.dtype == r.grad_h0.dtype == r.output.dtype == np.float32


@pytest.mark.parametrize("call,exc,match", [
    (lambda m, x, y: m.loss_and_grads(x[:0], y), ValueError, "T = 0"),
    (lambda m, x, y: m.loss_and_grads(x[..., :1], y), ValueError, "x has shape"),
    (lambda m, x, y: m.loss_and_grads(x, y[:, :1]), ValueError, "y has shape"),
    (lambda m, x, y: m.loss_and_grads(x, y, loss_at="every"), ValueError, "y has shape"),
    (lambda m, x, y: m.loss_and_grads(x, y, h0=np.zeros((2, 4))), ValueError, "h0 has shape"),
    (lambda m, x, y: m.loss_and_grads(np.where(x > 0, np.nan, x), y), ValueError, "NaN"),
    (lambda m, x, y: m.loss_and_grads(x, y, truncate=0), ValueError, "truncate"),
    (lambda m, x, y: m.loss_and_grads(x, y, truncate=-2), ValueError, "truncate"),
    (lambda m, x, y: m.loss_and_grads(x, y, truncate=1.5), TypeError, "truncate"),
    (lambda m, x, y: m.loss_and_grads(x, y, loss_at="first"), ValueError, "loss_at"),
    (lambda m, x, y: m.loss_and_grads(x, y, backend="tpu"), ValueError, "backend"),
    (lambda m, x, y: m.loss_and_grads(x, None), ValueError, "y is required"),
    (lambda m, x, y: m.loss_and_grads(x.astype("f4"), y), TypeError, "dtype"),
    (lambda m, x, y: m.forward(x[0]), ValueError, "x has shape"),
])
def test_bad_input_gets_a_clear_error(call, exc, match):
    model, x, y, _ = make_case(4)
    with pytest.raises(exc, match=match):
        call(model, x, y)


@pytest.mark.parametrize("kwargs,match", [
    ({"activation": "swish"}, "activation"), ({"init": "zeros"}, "init"),
    ({"recurrent_init": "zeros"}, "init"), ({"dtype": "float16"}, "dtype"),
])
def test_bad_model_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RNN(2, 3, 1, **kwargs)


def test_vanished_gradient_norms_do_not_underflow():
    # A sigmoid RNN shrinks the gradient ~4x per step: after 400 steps ~1e-240, still a
    # float64 number.  Squaring it would underflow; the kernels keep a scaled sum instead.
    model = RNN(2, 6, 1, activation="sigmoid", seed=0)
    rng = np.random.default_rng(1)
    r = model.loss_and_grads(rng.standard_normal((400, 3, 2)), rng.standard_normal((3, 1)))
    assert (r.delta_norms > 0).all() and r.delta_norms[0] < 1e-160
    ratios = r.delta_norms[1:] / r.delta_norms[:-1]
    assert np.all((ratios > 1) & (ratios < 1e3))  # smooth decay, no cliff to 0
