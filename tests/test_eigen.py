"""The eigenvalue picture (``vgbench.analysis.eigen``): worked numbers and the identity
that makes the kernels' input gradient the per-step dL/dh_t."""

import numpy as np
import pytest

from vgbench.analysis.eigen import eigen_probe, symmetric_with_eigenvalues
from vgbench.cli import main


def test_worked_numbers_lambda_half_after_ten_steps():
    r = eigen_probe([0.5, 0.9, -0.8, 1.1], seq_len=11, batch=4, seed=1)
    assert r.relative[0, 0] == pytest.approx(0.5 ** 10, rel=1e-10)  # 9.765625e-4
    assert r.relative[0, 0] == pytest.approx(9.765625e-4, rel=1e-10)
    assert r.relative[0, 1] == pytest.approx(0.9 ** 10, rel=1e-10)  # 0.3487
    assert r.relative[0, 2] == pytest.approx(0.8 ** 10, rel=1e-10)  # sign gone in |.|
    assert r.relative[0, 3] == pytest.approx(1.1 ** 10, rel=1e-10)  # 2.594: grows
    assert r.max_rel_error < 1e-10


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_random_spectra_follow_their_powers(dtype, rtol):
    """|lambda| in [0.5, 1.15]: a component far below the largest one is only resolved to
    eps times their ratio (the projection's rounding is absolute), so tiny eigenvalues
    would test the rounding of the projection rather than the kernels."""
    rng = np.random.default_rng(3)
    lam = rng.uniform(0.5, 1.15, 6) * rng.choice([-1, 1], 6)
    r = eigen_probe(lam, seq_len=15, batch=5, dtype=dtype, seed=4)
    assert r.max_rel_error < rtol * 15


def test_per_step_gradient_is_the_backward_product_of_w():
    """The probe's dL/dh_t equals dL/dh_T (W^T)^(T-t), computed here by matrix powers: the
    input-gradient identity (W_xh = I, f = identity) holds."""
    from vgbench.models import RNN
    H, T, B = 4, 7, 3
    rng = np.random.default_rng(5)
    W, _ = symmetric_with_eigenvalues([0.3, -0.7, 0.95, 1.2], rng)
    model = RNN(H, H, 2, activation="identity", seed=6)
    model.params["W_xh"] = np.eye(H)
    model.params["W_hh"] = W
    x, cot = rng.standard_normal((T, B, H)), rng.standard_normal((B, 2))
    r = model.loss_and_grads(x, None, cotangent=cot)
    g = cot @ model.params["W_hy"].T
    for t in range(T, 0, -1):
        np.testing.assert_allclose(r.grad_input[t - 1], g, rtol=1e-12, atol=1e-14)
        g = g @ W.T


def test_symmetric_matrix_has_the_given_spectrum():
    lam = [0.2, -0.5, 1.3]
    W, Q = symmetric_with_eigenvalues(lam, np.random.default_rng(0))
    np.testing.assert_allclose(W, W.T, atol=1e-15)
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=1e-14)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(W)), np.sort(lam), atol=1e-14)


def test_cli_writes_json_and_png(tmp_path, capsys):
    assert main(["decay", "--eigenvalues", "0.5", "0.9", "--seq-lens", "11", "--out",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| 0.5 | 0.0009766 | 0.0009766 |" in out
    assert (tmp_path / "eigen.json").exists() and (tmp_path / "eigen.png").exists()
    assert main(["decay", "--eigenvalues", "inf", "--out", str(tmp_path / "x")]) == 2
