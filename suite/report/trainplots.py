"""PNG plots of training runs (matplotlib, Agg backend).

Every function takes runs in their JSON form (``TrainResult.to_dict()`` or the ``data``
of a ``train`` result file), so a saved result can be re-plotted without re-training.
"""

from pathlib import Path

import numpy as np

from vgbench.report.plotting import pyplot, save_figure


def plot_loss_curves(runs: dict, path: Path, title: str = "training loss") -> Path:
    """Loss per step (log scale) for each run; a cross marks a run that exploded."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, run in runs.items():
        loss = np.asarray(run["loss"], dtype=float)
        (line,) = ax.plot(np.arange(len(loss)), loss, lw=1, label=label)
        if run["exploded_at"] is not None:
            finite = loss[np.isfinite(loss)]
            ax.plot(run["exploded_at"], finite[-1] if len(finite) else 1.0, "x",
                    color=line.get_color(), ms=9)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss 0.5/B sum (y_hat - y)^2")
    ax.set_title(title)
    # outside the axes: inside, it covered the curves of the runs that stall at the top
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_update_heatmaps(runs: dict, path: Path) -> Path:
    """One heatmap per run of log10(||Delta W_l|| / ||W_l||), weight (bottom = W_0) x step.

    All panels share one colour scale, so a frozen bottom shows up as a dark lower band.
    Rows are the run's ``weight_names`` (integer ticks); an MLP's last one is the linear
    readout and is labelled so.
    """
    plt = pyplot()
    logs = {}
    for label, run in runs.items():
        r = np.asarray(run["update_ratio"], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs[label] = np.log10(np.where(r > 0, r, np.nan)).T
    finite = np.concatenate([v[np.isfinite(v)] for v in logs.values()] + [np.zeros(1)])
    vmin, vmax = np.percentile(finite, [1, 99])
    n = len(runs)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n + 1.2, 3.8), squeeze=False,
                             sharey=True, layout="constrained")
    names = next(iter(runs.values()))["weight_names"]
    ticks = sorted(set(range(0, len(names), max(1, len(names) // 6))) | {len(names) - 1})
    mlp = "W_hh" not in names
    labels = [f"{names[i]} (readout)" if mlp and i == len(names) - 1 else names[i]
              for i in ticks]
    for ax, (label, img) in zip(axes[0], logs.items(), strict=True):
        im = ax.imshow(img, aspect="auto", origin="lower", interpolation="nearest",
                       cmap="viridis", vmin=vmin, vmax=vmax)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("step")
        ax.set_yticks(ticks, labels, fontsize=7)
    axes[0, 0].set_ylabel("weight matrix (W_0 = bottom)")
    fig.colorbar(im, ax=axes[0].tolist(), label="log10 ||dW_l|| / ||W_l||")
    return save_figure(fig, path)


def plot_adding_sweep(sweep: dict, path: Path, solved_fraction: float) -> Path:
    """Held-out MSE / baseline and accuracy vs sequence length, one line per model.

    ``sweep`` maps label -> {"lengths": [...], "eval_mse": [...], "eval_accuracy": [...],
    "baseline_mse": float}; the dashed line is the "solved" threshold.
    """
    plt = pyplot()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    for label, s in sweep.items():
        T = np.asarray(s["lengths"])
        ax0.plot(T, np.asarray(s["eval_mse"], dtype=float) / s["baseline_mse"], "o-",
                 label=label)
        ax1.plot(T, s["eval_accuracy"], "o-", label=label)
    ax0.axhline(solved_fraction, ls="--", color="gray", lw=1, label="solved below")
    ax0.axhline(1.0, ls=":", color="black", lw=1, label="predicting the mean")
    ax0.set_yscale("log")
    ax0.set_ylabel("held-out MSE / baseline (predict mean)")
    ax1.set_ylabel("accuracy: share of sequences with |error| < 0.04")
    ax1.set_ylim(-0.02, 1.02)
    lengths = sorted({T for s in sweep.values() for T in s["lengths"]})
    for ax in (ax0, ax1):
        ax.set_xscale("log")
        ax.set_xticks(lengths, [str(T) for T in lengths])
        ax.minorticks_off()
        ax.set_xlabel("sequence length T")
        ax.legend(fontsize=8)
    fig.suptitle("adding problem after a fixed step budget")
    fig.tight_layout()
    return save_figure(fig, path)
