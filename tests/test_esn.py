"""Echo state networks (``vgbench.models.ESN``): the state-loop kernel against a float64
NumPy loop, the measured spectral radius, the closed-form ridge readout against an
independent least-squares solve, ||dh_T/dh_t|| against finite differences, the echo
state property, memory capacity and the command line."""

import numpy as np
import pytest

from vgbench.cli import main
from vgbench.models import ESN
from vgbench.training.esn import delayed_inputs, fit_on_task, memory_capacity
from vgbench.training.tasks import CopyMemory


def numpy_states(model, x, h0=None, start=0):
    """The ESN recurrence in float64 from h_start = h0 over steps start+1..T."""
    p = {k: np.asarray(v, np.float64) for k, v in model.params.items()}
    h = np.zeros((x.shape[1], model.reservoir)) if h0 is None else h0
    hs = [h]
    for t in range(start, x.shape[0]):
        u = np.tanh(x[t] @ p["W_in"] + h @ p["W_res"] + p["b"])
        h = (1 - model.leak) * h + model.leak * u
        hs.append(h)
    return np.stack(hs)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("leak", [1.0, 0.3])
def test_state_kernel_matches_numpy(dtype, rtol, leak):
    model = ESN(3, 20, 2, spectral_radius=0.95, leak=leak, dtype=dtype, seed=1)
    x = np.random.default_rng(2).standard_normal((15, 4, 3)).astype(dtype)
    got = model.states(x)
    want = numpy_states(model, x.astype(np.float64))
    assert np.abs(got - want).max() <= rtol * np.abs(want).max()


@pytest.mark.parametrize("radius", [0.5, 0.9, 1.3])
def test_reservoir_is_sparse_and_scaled_to_the_measured_radius(radius):
    model = ESN(2, 200, 1, spectral_radius=radius, density=0.05, seed=3)
    W = model.params["W_res"]
    assert np.abs(np.linalg.eigvals(W)).max() == pytest.approx(radius, rel=1e-10)
    assert model.measured_radius == pytest.approx(radius, rel=1e-10)
    assert 0.04 < np.mean(W != 0) < 0.06  # 40000 Bernoulli(0.05) draws: sd 0.0011


def test_ridge_readout_matches_an_independent_least_squares_solve():
    """min ||S W - Y||^2 + ridge ||W||^2 is the least-squares solution of the stacked
    system [S; sqrt(ridge) I] W = [Y; 0] (numpy.linalg.lstsq, an SVD)."""
    task = CopyMemory(delay=3)
    model = ESN(task.in_dim, 30, task.out_dim, ridge=1e-2, seed=4)
    x, y = task.batch(np.random.default_rng(5), 200)
    model.fit(x, y)
    S = np.hstack([model.states(x)[-1], np.ones((200, 1))])
    A = np.vstack([S, np.sqrt(1e-2) * np.eye(31)])
    want = np.linalg.lstsq(A, np.vstack([y, np.zeros((31, task.out_dim))]), rcond=None)[0]
    np.testing.assert_allclose(model.params["W_out"], want, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.predict(x), S @ want, rtol=1e-8, atol=1e-10)


def test_every_step_fit_drops_the_washout():
    model = ESN(1, 10, 2, washout=5, seed=6)
    u = np.random.default_rng(7).uniform(-1, 1, (30, 2, 1))
    model.fit(u, np.repeat(u, 2, axis=2), loss_at="every")
    assert model.predict(u, loss_at="every").shape == (25, 2, 2)
    with pytest.raises(ValueError, match="washout"):
        model.fit(u[:5], np.repeat(u[:5], 2, axis=2), loss_at="every")


def test_state_jacobian_norms_match_finite_differences():
    model = ESN(2, 6, 1, spectral_radius=0.9, leak=0.6, density=0.5, seed=8)
    x = np.random.default_rng(9).standard_normal((8, 2, 2))
    norms = model.state_jacobian_norms(x)
    hs = numpy_states(model, x)
    assert norms.shape == (9, 2) and np.all(norms[-1] == 1.0)
    for t in (0, 3, 7):
        for e in range(2):
            J = np.empty((6, 6))
            for i in range(6):
                d = np.zeros((2, 6))
                d[e, i] = 1e-6
                plus = numpy_states(model, x, hs[t] + d, start=t)[-1, e]
                minus = numpy_states(model, x, hs[t] - d, start=t)[-1, e]
                J[i] = (plus - minus) / 2e-6
            assert norms[t, e] == pytest.approx(np.linalg.norm(J, 2), rel=1e-6)


def test_echo_state_property_fades_below_radius_one_not_above():
    """Tiny inputs keep tanh near its linear regime: ||dh_T/dh_0|| ~ radius^T."""
    x = np.random.default_rng(10).standard_normal((40, 1, 2)) * 1e-4
    small = ESN(2, 40, 1, spectral_radius=0.7, input_scale=1e-4, seed=11)
    large = ESN(2, 40, 1, spectral_radius=1.3, input_scale=1e-4, seed=11)
    assert small.state_jacobian_norms(x)[0, 0] < 1e-3  # 0.7^40 = 6e-7 times transients
    assert large.state_jacobian_norms(x)[0, 0] > 1e3  # 1.3^40 = 3.6e4


def test_memory_capacity_is_bounded_and_peaks_below_radius_one():
    runs = {rho: memory_capacity(20, 40, rho, seq_len=1500, washout=100, input_scale=0.1,
                                 seed=1) for rho in (0.3, 0.9, 1.5)}
    for r in runs.values():
        assert 0 < r["capacity"] <= 20 + 1e-9
        assert all(0 <= v <= 1 for v in r["r2"])
    assert runs[0.9]["r2"][0] > 0.99  # the last input is recalled almost exactly
    assert runs[0.9]["capacity"] > runs[0.3]["capacity"]
    assert runs[0.9]["capacity"] > runs[1.5]["capacity"]


def test_delayed_inputs():
    u = np.arange(1.0, 6.0).reshape(5, 1, 1)
    y = delayed_inputs(u, 2)
    np.testing.assert_array_equal(y[:, 0, 0], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(y[:, 0, 1], [0, 0, 1, 2, 3])


def test_copy_task_is_solved_by_the_readout_alone():
    task = CopyMemory(delay=5)
    r = fit_on_task(ESN(task.in_dim, 100, task.out_dim, seed=12), task, 1000, 500)
    assert r["eval_accuracy"] > 0.9 and r["eval_mse"] < 0.5 * r["baseline_mse"]


@pytest.mark.parametrize("kw", [{"spectral_radius": 0.0}, {"density": 1.5}, {"ridge": -1.0},
                                {"leak": 0.0}, {"input_scale": float("inf")}])
def test_bad_arguments_are_rejected(kw):
    with pytest.raises(ValueError):
        ESN(2, 10, 1, **kw)


def test_argument_order_is_the_contract():
    m = ESN(3, 12, 2, 0.8, 0.5, 0.2, 0.3, 1e-3, 7, "float32", 9)
    assert (m.in_dim, m.reservoir, m.out_dim, m.spectral_radius, m.leak, m.input_scale,
            m.density, m.ridge, m.washout, m.dtype.name, m.seed) == (
        3, 12, 2, 0.8, 0.5, 0.2, 0.3, 1e-3, 7, "float32", 9)
    with pytest.raises(RuntimeError, match="fit"):
        m.predict(np.zeros((2, 1, 3), np.float32))


def test_cli_esn_runs(tmp_path, capsys):
    assert main(["train", "--model", "esn", "--task", "copy", "--seq-len", "4", "--width",
                 "40", "--batch", "300", "--out", str(tmp_path)]) == 0
    assert "held-out MSE" in capsys.readouterr().out
    assert (tmp_path / "train.json").exists()


def test_state_jacobian_norms_match_pytorch_autograd():
    torch = pytest.importorskip("torch")
    model = ESN(2, 8, 1, spectral_radius=1.1, leak=0.4, density=0.5, seed=13)
    x = np.random.default_rng(14).standard_normal((6, 1, 2))
    p = {k: torch.tensor(v) for k, v in model.params.items()}
    hs = torch.tensor(numpy_states(model, x))

    def run_from(h, t):
        for s in range(t, 6):
            u = torch.tanh(torch.tensor(x[s, 0]) @ p["W_in"] + h @ p["W_res"] + p["b"])
            h = (1 - model.leak) * h + model.leak * u
        return h

    got = model.state_jacobian_norms(x)[:, 0]
    for t in range(6):
        J = torch.autograd.functional.jacobian(lambda h, t=t: run_from(h, t), hs[t, 0])
        assert got[t] == pytest.approx(torch.linalg.matrix_norm(J, 2).item(), rel=1e-10)
