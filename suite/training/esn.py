"""Echo state networks on the tasks: a closed-form readout fit, and memory capacity.

``fit_on_task`` fits an ``ESN``'s readout on ``n_train`` fresh sequences of a task and
scores it on ``n_eval`` held-out ones (the same held-out MSE / accuracy as SGD runs).

``memory_capacity`` is Jaeger's (2001) short-term memory benchmark: a scalar input u_t ~
U(-1, 1), one readout per delay d = 1..D trained to output u_{t-d}; the score per d is
the squared correlation r^2 between output and target on a held-out sequence, and the
capacity MC = sum_d r^2_d, which cannot exceed the reservoir size.
"""

import time

import numpy as np

from vgbench.models import ESN
from vgbench.training.tasks import accuracy


def fit_on_task(model: ESN, task, n_train: int = 2000, n_eval: int = 1000,
                seed: int = 0) -> dict:
    """Fit on n_train sequences, evaluate on n_eval others; a dict of train_mse, eval_mse,
    baseline_mse, eval_accuracy, wall_s (fit and evaluation)."""
    if model.in_dim != task.in_dim or model.out_dim != task.out_dim:
        raise ValueError(f"model is {model.in_dim} -> {model.out_dim}, task needs "
                         f"{task.in_dim} -> {task.out_dim}")
    x, y = task.batch(np.random.default_rng((seed, 0)), n_train)
    xe, ye = task.batch(np.random.default_rng((seed, 1)), n_eval)
    t0 = time.perf_counter()
    train_mse = model.fit(x, y)
    y_hat = model.predict(xe)
    wall = time.perf_counter() - t0
    return {"train_mse": train_mse, "eval_mse": float(np.mean((y_hat - ye) ** 2)),
            "baseline_mse": float(task.baseline_mse),
            "eval_accuracy": accuracy(task, y_hat, ye), "wall_s": wall}


def delayed_inputs(u: np.ndarray, delays: int) -> np.ndarray:
    """Targets (T, 1, D) with y[t, 0, d-1] = u[t-d] (0 before the sequence) for u (T, 1, 1)."""
    T = u.shape[0]
    y = np.zeros((T, 1, delays), u.dtype)
    for d in range(1, delays + 1):
        y[d:, 0, d - 1] = u[:T - d, 0, 0]
    return y


def memory_capacity(reservoir: int = 50, delays: int = 80, spectral_radius: float = 0.9,
                    seq_len: int = 3000, washout: int = 200, seed: int = 0,
                    **esn_kwargs) -> dict:
    """Squared correlation r^2 per delay d = 1..delays and MC = sum r^2 (module docstring)
    of one ESN(1, reservoir, delays, spectral_radius, washout=washout, **esn_kwargs)."""
    if washout < delays:
        raise ValueError(f"washout {washout} must be >= delays {delays} (targets before "
                         "the sequence are undefined)")
    model = ESN(1, reservoir, delays, spectral_radius, washout=washout, seed=seed,
                **esn_kwargs)
    rng = np.random.default_rng((seed, 3))
    u = rng.uniform(-1, 1, (seq_len, 1, 1)).astype(model.dtype)
    ut = rng.uniform(-1, 1, (seq_len, 1, 1)).astype(model.dtype)
    model.fit(u, delayed_inputs(u, delays), loss_at="every")
    y_hat = model.predict(ut, loss_at="every")[:, 0, :]
    y = delayed_inputs(ut, delays)[washout:, 0, :]
    r2 = np.array([np.corrcoef(y_hat[:, d], y[:, d])[0, 1] ** 2 for d in range(delays)])
    return {"delays": list(range(1, delays + 1)), "r2": r2.tolist(),
            "capacity": float(r2.sum()), "reservoir": reservoir,
            "spectral_radius": spectral_radius, "measured_radius": model.measured_radius}
