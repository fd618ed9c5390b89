"""Flop formulas against hand counts and against the matrix products NumPy really runs;
the NumPy, PyTorch and JAX baselines compute what vgbench computes."""

import numpy as np
import pytest

from tests import oracles
from vgbench.speed import baselines
from vgbench.speed import numpy_ref as ref
from vgbench.speed.baselines import IMPLS, Case, build, unavailable, vgbench_case
from vgbench.speed.flops import flops, lstm_forward_flops, mlp_forward_flops, rnn_forward_flops


class Counting(np.ndarray):
    """An array that adds 2 m k n to ``Counting.flops`` for every (m, k) @ (k, n) product."""

    flops = 0

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        args = [a.view(np.ndarray) if isinstance(a, Counting) else a for a in inputs]
        if out is not None:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, Counting) else o
                                  for o in out)
        if ufunc is np.matmul and method == "__call__":
            a, b = args
            assert a.ndim == 2 and b.ndim == 2
            Counting.flops += 2 * a.shape[0] * a.shape[1] * b.shape[1]
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0]
        return result.view(Counting) if isinstance(result, np.ndarray) else result


def _counted(fn, *args):
    Counting.flops = 0
    fn(*args)
    return Counting.flops


def _inputs(case, seed):
    model, x, y = vgbench_case(case, seed)
    p = {k: np.array(v).view(Counting) for k, v in model.params.items()}
    return p, x.view(Counting), y.view(Counting)



def _jax_loss_and_grads(case, p, x, y):
    """(loss, grads, dL/dx) of one JAX forward + backward, as NumPy."""
    vg, _, args = baselines.jax_compiled(case, p, x, y)
    loss, (g, dx) = vg(*args)
    return float(loss), {k: np.asarray(v) for k, v in g.items()}, np.asarray(dx)

def test_hand_counts():
    # B=5, I=3, W=4, L=2, O=1: products 5x3x4, 5x4x4, 5x4x1 -> 2*5*(12 + 16 + 4)
    assert mlp_forward_flops(5, 3, 4, 2, 1) == 320
    # T=2, B=3, I=4, H=5, O=2: 2*2*3*4*5 + 2*2*3*5*5 + 2*3*5*2
    assert rnn_forward_flops(2, 3, 4, 5, 2) == 240 + 300 + 60
    assert lstm_forward_flops(2, 3, 4, 5, 2) == 4 * 240 + 4 * 300 + 60
    assert flops("mlp", "fwd_bwd", B=5, I=3, size=4, O=1, depth=2) == 3 * 320


@pytest.mark.parametrize("B,I,W,L,O", [(5, 3, 4, 2, 1), (7, 6, 9, 4, 3), (1, 2, 2, 1, 2)])
def test_mlp_counts_match_numpy_products(B, I, W, L, O):
    case = Case("mlp", W, B, depth=L, in_dim=I, out_dim=O, dtype="float64")
    p, x, y = _inputs(case, seed=B + W)
    assert _counted(ref.mlp_forward, p, x, "tanh", L) == case.flops("forward")
    assert _counted(ref.mlp_loss_and_grads, p, x, y, "tanh", L) == case.flops("fwd_bwd")


@pytest.mark.parametrize("model", ["rnn", "lstm"])
@pytest.mark.parametrize("T,B,I,H,O", [(3, 2, 4, 5, 2), (6, 1, 3, 7, 1)])
def test_recurrent_counts_match_numpy_products(model, T, B, I, H, O):
    case = Case(model, H, B, seq_len=T, in_dim=I, out_dim=O, dtype="float64")
    p, x, y = _inputs(case, seed=T * H)
    if model == "rnn":
        fwd, fb = (ref.rnn_forward, p, x, "tanh"), (ref.rnn_loss_and_grads, p, x, y, "tanh")
    else:
        fwd, fb = (ref.lstm_forward, p, x), (ref.lstm_loss_and_grads, p, x, y)
    assert _counted(*fwd) == case.flops("forward")
    assert _counted(*fb) == case.flops("fwd_bwd")


def test_bad_model_or_pass():
    with pytest.raises(ValueError, match="model"):
        flops("gru", "forward", B=1, I=1, size=1, O=1)
    with pytest.raises(ValueError, match="pass"):
        flops("mlp", "backward", B=1, I=1, size=1, O=1)


F64_CASES = [
    Case("mlp", 6, 5, depth=3, in_dim=4, out_dim=2, activation="relu", dtype="float64"),
    Case("rnn", 6, 3, seq_len=5, in_dim=4, out_dim=2, dtype="float64"),
    Case("lstm", 6, 3, seq_len=5, in_dim=4, out_dim=2, dtype="float64"),
]


@pytest.mark.parametrize("case", F64_CASES, ids=lambda c: c.model)
def test_numpy_baseline_gradients_match_vgbench(case):
    model, x, y = vgbench_case(case, seed=3)
    r = model.loss_and_grads(x, y)
    p = {k: np.array(v) for k, v in model.params.items()}
    if case.model == "mlp":
        loss, g, dx = ref.mlp_loss_and_grads(p, x, y, case.activation, case.depth)
    elif case.model == "rnn":
        loss, g, dx = ref.rnn_loss_and_grads(p, x, y, case.activation)
    else:
        loss, g, dx = ref.lstm_loss_and_grads(p, x, y)
    assert loss == pytest.approx(r.loss, rel=1e-12)
    assert g.keys() == r.grads.keys()
    for k in g:
        np.testing.assert_allclose(g[k], r.grads[k], rtol=1e-10, atol=1e-13, err_msg=k)
    np.testing.assert_allclose(dx, r.grad_input, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("model", ["mlp", "rnn", "lstm"])
def test_every_baseline_computes_the_same_loss(model):
    case = Case(model, 5, 3, depth=2, seq_len=4, in_dim=3, out_dim=2, dtype="float64")
    m, x, y = vgbench_case(case, seed=5)
    impls = [i for i in IMPLS if i not in oracles.ORACLES or oracles.available(i)]
    losses = {i: build(i, case, m, x, y).fwd_bwd() for i in impls}
    for impl, loss in losses.items():
        assert loss == pytest.approx(losses["vgbench"], rel=1e-12), impl


@pytest.mark.parametrize("case", F64_CASES + [
    Case("mlp", 5, 4, depth=2, in_dim=3, out_dim=2, activation="softplus", dtype="float64"),
    Case("rnn", 5, 2, seq_len=6, in_dim=3, out_dim=1, activation="sigmoid", dtype="float64"),
], ids=lambda c: f"{c.model}-{c.activation}")
def test_jax_baseline_gradients_match_vgbench(case):
    """Independent autodiff (JAX) against the hand-written kernels, float64."""
    oracles.oracle("jax")
    model, x, y = vgbench_case(case, seed=7)
    r = model.loss_and_grads(x, y)
    p = {k: np.array(v) for k, v in model.params.items()}
    loss, g, dx = _jax_loss_and_grads(case, p, x, y)
    assert loss == pytest.approx(r.loss, rel=1e-12)
    assert g.keys() == r.grads.keys()
    for k in g:
        assert g[k].dtype == np.float64, k
        np.testing.assert_allclose(g[k], r.grads[k], rtol=1e-10, atol=1e-13, err_msg=k)
    np.testing.assert_allclose(dx, r.grad_input, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("model", ["mlp", "lstm"])
def test_jax_baseline_float32_stays_float32(model):
    """Once a float64 case has turned x64 on, a float32 case still computes in float32."""
    jax = oracles.oracle("jax")
    jax.config.update("jax_enable_x64", True)
    case = Case(model, 8, 4, depth=2, seq_len=3, in_dim=5, out_dim=2)
    m, x, y = vgbench_case(case, seed=9)
    r = m.loss_and_grads(x, y)
    loss, g, dx = _jax_loss_and_grads(case, {k: np.array(v) for k, v in
                                                      m.params.items()}, x, y)
    assert dx.dtype == np.float32 and all(v.dtype == np.float32 for v in g.values())
    assert loss == pytest.approx(r.loss, rel=1e-5)  # float32 rounding, sums of ~40 terms
    np.testing.assert_allclose(dx, r.grad_input, rtol=1e-3, atol=1e-6)


def test_missing_baselines_are_skipped_with_a_note(monkeypatch):
    from vgbench.speed.sweep import run_sweep

    find_spec = baselines.importlib.util.find_spec
    monkeypatch.setattr(baselines.importlib.util, "find_spec",
                        lambda name: None if name in ("torch", "jax") else find_spec(name))
    for impl in ("torch", "jax"):
        assert "skipped" in unavailable(impl)
    data = run_sweep([Case("mlp", 4, 2, depth=1)], impls=["vgbench", "torch", "jax"],
                     threads=[1], passes=["fwd_bwd"], budget_s=0.0, min_repeats=1,
                     measure_ceiling=False)
    assert {r["impl"] for r in data["records"]} == {"vgbench"}
    assert sum("jax baseline skipped" in n for n in data["notes"]) == 1
    assert sum("torch baseline skipped" in n for n in data["notes"]) == 1
