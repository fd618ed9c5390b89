"""PNG plots of the remedies (matplotlib, Agg backend): the eigenvalue picture and the
comparison of remedies on one decay plot.

Every function takes plain data and a path, and returns the path written.
"""

from pathlib import Path

import numpy as np

from vgbench.report.plotting import pyplot, save_figure


def plot_eigen(result: dict, path) -> Path:
    """Each eigencomponent's measured decay |<dL/dh_t, q_i>| / |<dL/dh_T, q_i>| against
    k = T - t (markers), with |lambda_i|^k (dashed); ``result`` is ``EigenResult.as_dict()``."""
    plt = pyplot()
    rel = np.asarray(result["relative"], float)
    pred = np.asarray(result["predicted"], float)
    T = rel.shape[0]
    k = np.arange(T - 1, -1, -1)
    fig, ax = plt.subplots(figsize=(5.2, 3.6), layout="constrained")
    for i, lam in enumerate(result["eigenvalues"]):
        (line,) = ax.semilogy(k, rel[:, i], "o", ms=3, label=f"lambda = {lam:g}")
        ax.semilogy(k, pred[:, i], "--", lw=1, color=line.get_color())
    ax.set_xlabel("steps back k = T - t")
    ax.set_ylabel("component / component at T")
    ax.set_title("linear RNN, W_hh = Q diag(lambda) Q^T: markers measured, dashed |lambda|^k",
                 fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_remedy_curves(curves: dict, path, title: str) -> Path:
    """One decay plot: label -> ||dL/dh_t|| (t = 1..T) normalised by its value at T,
    against steps back k = T - t."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.8), layout="constrained")
    for label, c in curves.items():
        c = np.asarray(c, float)
        with np.errstate(all="ignore"):
            ax.semilogy(np.arange(len(c) - 1, -1, -1), c / c[-1], lw=1.3, label=label)
    ax.set_xlabel("steps back k = T - t")
    ax.set_ylabel("||dL/dh_t|| / ||dL/dh_T||")
    ax.set_title(title, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_memory_capacity(runs: list[dict], path) -> Path:
    """r^2 per delay d, one line per spectral radius (``memory_capacity`` results)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.6), layout="constrained")
    for r in runs:
        ax.plot(r["delays"], r["r2"], lw=1.3,
                label=f"radius {r['spectral_radius']:g}: MC {r['capacity']:.1f}")
    ax.set_xlabel("delay d")
    ax.set_ylabel("r^2 of recalling u_{t-d}")
    ax.set_title(f"ESN memory capacity, {runs[0]['reservoir']} units", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_eval_curves(runs: dict, path, title: str) -> Path:
    """Held-out MSE against training step, one line per run (label -> dict with
    ``eval_steps``, ``eval_mse`` and ``baseline_mse``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.6), layout="constrained")
    for label, r in runs.items():
        ax.plot(r["eval_steps"], r["eval_mse"], "o-", ms=3, lw=1.2, label=label)
    base = next(iter(runs.values()))["baseline_mse"]
    ax.axhline(base, color="grey", ls=":", lw=1, label="predict the mean")
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("held-out MSE")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_evolution(runs: dict, path) -> Path:
    """Two panels: MSE against forward passes and against wall seconds, one line per
    method (``evolution_comparison`` result: batch MSE, thin; held-out, markers)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6), layout="constrained", sharey=True)
    for label, r in runs.items():
        passes = np.asarray(r["forward_passes"], float)
        wall = np.asarray(r["wall_s"], float)
        (line,) = axes[0].plot(passes, r["best_batch_mse"], lw=0.8, alpha=0.6,
                               label=f"{label} (batch)")
        axes[1].plot(wall, r["best_batch_mse"], lw=0.8, alpha=0.6, color=line.get_color())
        at = np.searchsorted(passes, r["eval_passes"])
        axes[0].plot(r["eval_passes"], r["eval_curve"], "o", ms=3, color=line.get_color(),
                     label=f"{label} (held-out)")
        axes[1].plot(wall[np.minimum(at, len(wall) - 1)], r["eval_curve"], "o", ms=3,
                     color=line.get_color())
    axes[0].set_xscale("log")
    axes[0].set_xlabel("forward passes (SGD: + one backward each)")
    axes[1].set_xlabel("wall seconds")
    axes[0].set_ylabel("MSE")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("genetic algorithm vs SGD on a deep sigmoid MLP", fontsize=9)
    return save_figure(fig, path)
