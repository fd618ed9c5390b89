"""Leaky-integrator RNN and skip connections through time (``RNN(..., leak, skip)``):
bit-identity of leak = 1, skip = 0 with the Elman kernels, finite differences, the float64
NumPy reference (``reference.leaky_rnn_loss_and_grads``), PyTorch autograd with detached
states, structure and input checks.

Tolerances are those of tests/test_rnn.py (its module docstring): 1e-10 relative against
the float64 reference (summation order only), 1e-4 in float32 (T <= 8, H = 3), finite
differences through ``assert_fd_close``.
"""

import numpy as np
import pytest

from tests import reference
from tests.test_rnn import FD_STEP, assert_fd_close, truncated_objective
from vgbench.analysis.clip import clip_by_global_norm
from vgbench.kernels.leaky_rnn import leaky_rnn_backward, leaky_rnn_forward
from vgbench.kernels.rnn import rnn_backward, rnn_forward
from vgbench.models import RNN

I, H, O, B = 2, 3, 2, 2


def make_case(T, leak, skip, loss_at="last", dtype="float64", activation="tanh", seed=0):
    """Model with non-zero biases, and fresh seeded x, y, h0."""
    model = RNN(I, H, O, activation, dtype=dtype, seed=seed, leak=leak, skip=skip)
    rng = np.random.default_rng(200 + seed)
    model.params["b_h"] = rng.normal(0, 0.5, H).astype(dtype)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    y = rng.standard_normal((B, O) if loss_at == "last" else (T, B, O)).astype(dtype)
    h0 = rng.normal(0, 0.5, (B, H)).astype(dtype)
    return model, x, y, h0


def relative_error(got, want):
    return np.linalg.norm(np.asarray(got, np.float64) - want) / max(np.linalg.norm(want), 1e-300)


def assert_matches_reference(r, ref, rtol):
    for name, g in ref["grads"].items():
        assert relative_error(r.grads[name], g) <= rtol, name
    assert relative_error(r.grad_input, ref["dx"]) <= rtol
    assert relative_error(r.grad_h0, ref["dh0"]) <= rtol
    assert relative_error(r.delta_norms, ref["delta_norms"]) <= rtol
    assert abs(r.loss - ref["loss"]) <= rtol * max(1.0, abs(ref["loss"]))


@pytest.mark.parametrize("loss_at", ["last", "every"])
@pytest.mark.parametrize("truncate", [None, 3])
def test_leak_one_skip_zero_is_the_elman_rnn_bit_for_bit(loss_at, truncate):
    """The model path with leak = 1, skip = 0 is today's kernels' result, bit for bit; the
    leaky kernels given a = 1, k = 0 reproduce the forward bit for bit and the backward to
    rounding (their sums run in another order)."""
    T = 6
    plain, x, y, h0 = make_case(T, 1.0, 0, loss_at, dtype="float32", seed=3)
    same = RNN(I, H, O, dtype="float32", seed=3, leak=1.0, skip=0)
    same.params["b_h"] = plain.params["b_h"]
    a = plain.loss_and_grads(x, y, truncate, loss_at, h0=h0)
    b = same.loss_and_grads(x, y, truncate, loss_at, h0=h0)
    p = plain.params
    S = T if loss_at == "every" else 1
    HS = np.empty((T + 1, B, H), np.float32)
    y_hat = np.empty((S, B, O), np.float32)
    rnn_forward(x, p["W_xh"], p["W_hh"], p["b_h"], p["W_hy"], p["b_y"], h0, plain.act_code,
                HS, y_hat)
    dy = ((y_hat - y.reshape(S, B, O)) / B).astype(np.float32)
    g = {k: np.empty_like(v) for k, v in p.items()}
    dx, dh0 = np.empty_like(x), np.empty_like(h0)
    norms, wn = np.empty(T), np.empty(2)
    slots = min(truncate, T) if truncate and loss_at == "every" else 1
    rnn_backward(x, p["W_xh"], p["W_hh"], p["W_hy"], plain.act_code, truncate or 0, HS, dy,
                 g["W_xh"], g["W_hh"], g["b_h"], g["W_hy"], g["b_y"], dx, dh0, norms, wn,
                 np.empty((T, B, H), np.float32), np.empty((2, slots, B, H), np.float32))
    for r in (a, b):
        assert all(np.array_equal(r.grads[k], g[k]) for k in g)
        assert np.array_equal(r.grad_input, dx) and np.array_equal(r.grad_h0, dh0)
        assert np.array_equal(r.delta_norms, norms)
        assert np.array_equal(r.output, y_hat if loss_at == "every" else y_hat[0])
    HS2, US = np.empty_like(HS), np.empty((T, B, H), np.float32)
    y2 = np.empty_like(y_hat)
    W_skip = np.zeros((1, 1), np.float32)
    leaky_rnn_forward(x, p["W_xh"], p["W_hh"], W_skip, p["b_h"], p["W_hy"], p["b_y"], h0,
                      plain.act_code, 1.0, 0, HS2, US, y2)
    assert np.array_equal(HS2, HS) and np.array_equal(y2, y_hat)
    g2 = {k: np.empty_like(v) for k, v in p.items()}
    dx2, dh02, norms2 = np.empty_like(x), np.empty_like(h0), np.empty(T)
    leaky_rnn_backward(x, p["W_xh"], p["W_hh"], W_skip, p["W_hy"], plain.act_code, 1.0, 0,
                       truncate or 0, HS2, US, dy, g2["W_xh"], g2["W_hh"], W_skip, g2["b_h"],
                       g2["W_hy"], g2["b_y"], dx2, dh02, norms2, np.empty(2),
                       np.empty((T + 1, B, H), np.float32), np.empty((T + 1, B, H), np.float32),
                       np.empty((T, B, H), np.float32), np.empty((B, H), np.float32))
    for k in g:
        assert relative_error(g2[k], g[k]) <= 1e-5, k
    assert relative_error(dx2, dx) <= 1e-5 and relative_error(norms2, norms) <= 1e-5


CASES = [  # leak, skip, truncate, loss_at
    (0.5, 0, None, "last"),
    (0.3, 0, None, "every"),
    (1.0, 2, None, "last"),
    (0.7, 3, None, "every"),
    (0.4, 2, 3, "last"),
    (0.6, 3, 4, "every"),  # skip targets older than the window are cut off
    (0.8, 2, 2, "every"),
    (0.5, 9, None, "every"),  # skip longer than T: every step reads h_0
]


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-4)])
@pytest.mark.parametrize("leak,skip,truncate,loss_at", CASES)
def test_matches_reference(leak, skip, truncate, loss_at, dtype, rtol):
    model, x, y, h0 = make_case(8, leak, skip, loss_at, dtype, seed=int(10 * leak) + skip)
    r = model.loss_and_grads(x, y, truncate, loss_at, h0=h0)
    ref = reference.leaky_rnn_loss_and_grads(model.params, x, y, "tanh", leak, skip,
                                             truncate, loss_at, h0)
    assert_matches_reference(r, ref, rtol)
    assert set(r.grads) == set(model.params) == ({"W_skip"} if skip else set()) | {
        "W_xh", "W_hh", "b_h", "W_hy", "b_y"}


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "identity"])
def test_other_activations_match_reference(activation):
    model, x, y, h0 = make_case(5, 0.6, 2, "every", activation=activation, seed=4)
    r = model.loss_and_grads(x, y, None, "every", h0=h0)
    ref = reference.leaky_rnn_loss_and_grads(model.params, x, y, activation, 0.6, 2,
                                             None, "every", h0)
    assert_matches_reference(r, ref, 1e-10)


@pytest.mark.parametrize("leak,skip,loss_at,truncate", [
    (0.4, 0, "every", None), (0.7, 2, "last", None), (0.5, 3, "every", None),
    (0.6, 0, "every", 2), (0.3, 0, "last", 3)])
def test_gradients_match_finite_differences(leak, skip, loss_at, truncate):
    """Central differences of the loss (truncated: of ``truncated_objective``, which holds
    h_{s-k} fixed; exact for leak alone, as a skip would reach states older than it)."""
    T = 5
    model, x, y, h0 = make_case(T, leak, skip, loss_at, seed=7)
    r = model.loss_and_grads(x, y, truncate, loss_at, h0=h0)
    if truncate is None:
        def f():
            return model.loss_and_grads(x, y, None, loss_at, h0=h0).loss
    else:
        states = reference.leaky_rnn_loss_and_grads(model.params, x, y, "tanh", leak, 0,
                                                    None, loss_at, h0)["hs"]
        g = truncated_objective(model, x, y, truncate, loss_at, (states,))

        def f():
            return g(h0=h0)
    loss = f()
    for name, p in model.params.items():
        assert_fd_close(r.grads[name], reference.central_difference(f, p, FD_STEP), loss,
                        name)
    assert_fd_close(r.grad_input, reference.central_difference(f, x, FD_STEP), loss, "x")
    assert_fd_close(r.grad_h0, reference.central_difference(f, h0, FD_STEP), loss, "h0")


def torch_leaky(params, x, y, leak, skip, truncate, loss_at, h0):
    """PyTorch autograd of the same model; the loss at step s runs from states detached
    below its window (every state older than s-k+1)."""
    torch = pytest.importorskip("torch")
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    T = x.shape[0]

    def run(s, oldest):
        hs = [h0t if oldest <= 0 else h0t.detach()]
        for t in range(1, s + 1):
            z = xt[t - 1] @ p["W_xh"] + hs[t - 1] @ p["W_hh"] + p["b_h"]
            if skip:
                z = z + hs[max(t - skip, 0)] @ p["W_skip"]
            h = (1 - leak) * hs[t - 1] + leak * torch.tanh(z)
            hs.append(h if t >= oldest else h.detach())
        return hs[s] @ p["W_hy"] + p["b_y"]

    total = 0.0
    for s in (range(1, T + 1) if loss_at == "every" else [T]):
        oldest = 0 if truncate is None else s - truncate + 1
        target = torch.tensor(y if loss_at == "last" else y[s - 1])
        total = total + 0.5 / x.shape[1] * ((run(s, oldest) - target) ** 2).sum()
    total.backward()
    def grad(v):  # None where nothing reached it
        return np.zeros(tuple(v.shape)) if v.grad is None else v.grad.numpy()
    return {k: grad(v) for k, v in p.items()}, grad(xt), grad(h0t)


@pytest.mark.parametrize("leak,skip,truncate,loss_at", CASES[:6])
def test_matches_pytorch_autograd(leak, skip, truncate, loss_at):
    model, x, y, h0 = make_case(7, leak, skip, loss_at, seed=5)
    grads, dx, dh0 = torch_leaky(model.params, x, y, leak, skip, truncate, loss_at, h0)
    r = model.loss_and_grads(x, y, truncate, loss_at, h0=h0)
    for name, g in grads.items():
        assert relative_error(r.grads[name], g) <= 1e-10, name
    assert relative_error(r.grad_input, dx) <= 1e-10
    assert relative_error(r.grad_h0, dh0) <= 1e-10


def test_skip_carries_the_gradient_k_steps_in_one_hop():
    """With W_hh = 0 and leak 1 only the skip path links steps: the last-state loss reaches
    exactly the states T, T-k, T-2k, ... (and h_0 through the first hop below 1)."""
    T, k = 10, 3
    model, x, y, h0 = make_case(T, 1.0, k, "last", seed=2)
    model.params["W_hh"][:] = 0
    r = model.loss_and_grads(x, y, h0=h0)
    reached = np.flatnonzero(r.delta_norms) + 1
    assert list(reached) == [1, 4, 7, 10]
    assert np.abs(r.grad_h0).max() > 0  # step 1 reads h_{1-3} = h_0


def test_leak_slows_the_decay_through_an_identity_path():
    """Linear units, W_hh = 0: dL/dh_{t-1} = (1 - a) dL/dh_t exactly."""
    T, a = 8, 0.25
    model, x, y, h0 = make_case(T, a, 0, "last", activation="identity", seed=1)
    model.params["W_hh"][:] = 0
    r = model.loss_and_grads(x, y, h0=h0)
    np.testing.assert_allclose(r.delta_norms[:-1] / r.delta_norms[1:], 1 - a, rtol=1e-12)


def test_clipping_covers_the_skip_weights():
    model, x, y, h0 = make_case(6, 0.5, 2, "every", seed=8)
    r = model.loss_and_grads(x, y, 2, "every", h0=h0)
    clipped, norm = clip_by_global_norm(r.grads, 1e-3)
    assert norm == pytest.approx(np.sqrt(sum(np.sum(g ** 2) for g in r.grads.values())))
    np.testing.assert_allclose(clipped["W_skip"], r.grads["W_skip"] * 1e-3 / norm)


def test_forward_and_workspace_of_a_leaky_model():
    model, x, y, h0 = make_case(5, 0.5, 2, "last", seed=6)
    r = model.loss_and_grads(x, y, h0=h0)
    np.testing.assert_array_equal(model.forward(x, h0), r.output)
    assert model.caches == ("HS", "US")
    assert model.workspace(5, B)["US"].shape == (5, B, H)
    assert "leak=0.5, skip=2" in repr(model)


def test_seed_draws_the_same_shared_parameters_with_or_without_skip():
    a, b = RNN(I, H, O, seed=4), RNN(I, H, O, seed=4, leak=0.5, skip=3)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert b.params["W_skip"].shape == (H, H)


@pytest.mark.parametrize("kw,exc", [
    ({"leak": 0.0}, ValueError), ({"leak": 1.5}, ValueError), ({"leak": float("nan")},
                                                                  ValueError),
    ({"leak": "0.5"}, TypeError), ({"skip": 1}, ValueError), ({"skip": -2}, ValueError),
    ({"skip": 2.0}, ValueError), ({"skip": True}, ValueError)])
def test_bad_leak_or_skip_is_rejected(kw, exc):
    with pytest.raises(exc, match="leak|skip"):
        RNN(I, H, O, **kw)


# --- theory and decay probes ------------------------------------------------------------

def test_leaky_bound_worked_numbers():
    from vgbench.analysis import theory
    W = 0.5 * np.eye(4)
    b = theory.leaky_bound(W, "tanh", leak=0.2)
    assert b.step_rate == pytest.approx(0.9) and b.rate == pytest.approx(0.9)  # 0.8 + 0.2*0.5
    assert b.floor == pytest.approx(0.7) and b.vanishing_sufficient  # 0.8 - 0.1
    # a = 1, k = 2, ||W_hh|| = ||W_skip|| = 0.5: lambda^2 = 0.5 lambda + 0.5 -> lambda = 1
    s = theory.leaky_bound(W, "tanh", 1.0, W, 2)
    assert s.rate == pytest.approx(1.0, abs=1e-12) and s.floor is None
    # sigmoid (gamma 1/4), a = 0.5, k = 3, ||W|| = 2: r1 = 0.75, rs = 0.25,
    # lambda^3 = 0.75 lambda^2 + 0.25 -> lambda = 1 (1 - 0.75 - 0.25 = 0)
    s = theory.leaky_bound(4 * W, "sigmoid", 0.5, 4 * W, 3)
    assert (s.step_rate, s.skip_rate) == pytest.approx((0.75, 0.25))
    assert s.rate == pytest.approx(1.0, abs=1e-12)
    plain = theory.pascanu_bound(3 * W, "tanh")
    assert theory.leaky_bound(3 * W, "tanh").rate == pytest.approx(plain.rate)


@pytest.mark.parametrize("leak,skip", [(0.3, 0), (1.0, 3), (0.5, 2), (0.15, 5)])
def test_leaky_bound_holds_and_the_floor_too(leak, skip):
    from vgbench.analysis import theory
    T = 30
    model = RNN(4, 8, 1, dtype="float64", seed=int(100 * leak) + skip, leak=leak, skip=skip,
                recurrent_init="orthogonal", gain=1.3)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((T, 5, 4))
    r = model.loss_and_grads(x, None, cotangent=rng.standard_normal((5, 1)))
    b = theory.leaky_bound(model.params["W_hh"], "tanh", leak, model.params.get("W_skip"),
                           skip)
    assert theory.bound_violations(r.delta_norms, b.rate) == []
    if b.floor is not None:
        assert np.all(r.delta_norms[:-1] >= b.floor * r.delta_norms[1:] * (1 - 1e-12))


def test_leaky_bound_is_tight_for_a_linear_scaled_identity():
    """f = identity, W_hh = s I: dL/dh_{t-1} = ((1 - a) + a s) dL/dh_t exactly."""
    from vgbench.analysis import theory
    T, a, s = 12, 0.4, 0.6
    model, x, y, h0 = make_case(T, a, 0, "last", activation="identity", seed=3)
    model.params["W_hh"] = s * np.eye(H)
    r = model.loss_and_grads(x, y, h0=h0)
    rate = theory.leaky_bound(model.params["W_hh"], "identity", a).rate
    assert rate == pytest.approx(0.84)  # 0.6 + 0.4 * 0.6
    np.testing.assert_allclose(r.delta_norms[:-1] / r.delta_norms[1:], rate, rtol=1e-12)


def test_decay_sweep_against_leak_and_skip():
    """A contracting tanh RNN: a smaller leak and a skip both slow the decay
    (first/last ratio nearer 1), and no curve breaks its bound."""
    from vgbench.analysis.decay import DecayConfig, sweep

    def ratio(**kw):
        cfg = DecayConfig(model="rnn", seq_lens=(40,), width=16, batch=4, seeds=2,
                          recurrent_init="orthogonal", gain=0.7, **kw)
        s = sweep(cfg, progress=False)["sizes"][0]
        assert s["pascanu_violations"] == 0
        return s["first_last_ratio"]

    plain, leaky, skipped = ratio(), ratio(leak=0.3), ratio(skip=5)
    assert plain < 1e-5 < leaky < 1 and plain * 1e3 < skipped
    with pytest.raises(ValueError, match="RNN options"):
        DecayConfig(model="lstm", leak=0.5)
    with pytest.raises(ValueError, match="skip"):
        DecayConfig(model="rnn", skip=1)


def test_decay_command_sweeps_leak_and_skip(tmp_path, capsys):
    from vgbench.cli import main
    from vgbench.report.results import read_result
    assert main(["decay", "--model", "rnn", "--seq-lens", "12", "--width", "6", "--batch",
                 "2", "--seeds", "1", "--leak", "1", "0.5", "--skip", "0", "3", "--out",
                 str(tmp_path)]) == 0
    doc = read_result(tmp_path / "decay.json", "decay")
    assert [r["label"] for r in doc["data"]["runs"]] == [
        "rnn tanh", "rnn tanh skip=3", "rnn tanh a=0.5", "rnn tanh a=0.5 skip=3"]
    assert "| rnn tanh a=0.5 skip=3 | 12 | " in capsys.readouterr().out
    assert main(["decay", "--model", "rnn", "--skip", "1", "--out", str(tmp_path)]) == 2
    assert "skip must be 0 (none) or an integer >= 2" in capsys.readouterr().err


def test_train_command_with_leak_and_skip(tmp_path, capsys):
    from vgbench.cli import main
    assert main(["train", "--model", "rnn", "--leak", "0.5", "--skip", "2", "--task", "adding",
                 "--seq-len", "6", "--width", "4", "--steps", "3", "--clip", "1", "--out",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "leak=0.5, skip=2" in out and "W_skip" in out
    from vgbench.training.train import weight_names
    assert weight_names(RNN(2, 3, 1, skip=2)) == ["W_xh", "W_hh", "W_skip", "W_hy"]
