"""PNG plots of decay sweeps (matplotlib, Agg backend): curves, rates vs theory, heatmaps.

Every function takes plain data (the dicts ``vgbench.analysis.decay.sweep`` returns) and a path, and
returns the path written.
"""

import math
from pathlib import Path

import numpy as np

from vgbench.report.plotting import pyplot, save_figure


def plot_curves(runs: list[tuple[str, dict]], path, xlabel: str = "layer l") -> Path:
    """One panel per run: geometric-mean ||dL/dh|| (log scale) against layer or step,
    one line per depth / length, with the log10 spread over seeds shaded; dots mark the
    layers/steps where some entries of dL/dh were subnormal."""
    plt = pyplot()
    n = len(runs)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False,
                             layout="constrained")
    for ax, (label, data) in zip(axes.flat, runs, strict=False):
        for s in data["sizes"]:
            c = np.asarray(s["curve_geomean"], dtype=float)
            sd = np.asarray(s["curve_log10_std"], dtype=float)
            x = np.arange(1, len(c) + 1)
            (line,) = ax.semilogy(x, c, lw=1.2, label=str(s["size"]))
            ax.fill_between(x, c / 10 ** sd, c * 10 ** sd, color=line.get_color(), alpha=0.15,
                            lw=0)
            sub = np.asarray(s.get("subnormal_fraction", []), dtype=float) > 0
            if sub.any():
                ax.semilogy(x[sub], c[sub], ls="none", marker=".", ms=3,
                            color=line.get_color())
        ax.set_title(label, fontsize=8)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.flat[n:]:
        ax.axis("off")
    axes[0, 0].set_ylabel("||dL/dh|| (geometric mean)", fontsize=8)
    axes[0, 0].legend(title="size", fontsize=6, title_fontsize=6)
    fig.suptitle("gradient norm per layer / step (top = readout side; dots: subnormal "
                 "entries)", fontsize=10)
    return save_figure(fig, path)


def plot_rates(points: list[dict], path, theory_curve: dict | None = None) -> Path:
    """Measured per-layer factor rho (95% CI) against the mean-field prediction
    sqrt(chi_1); with ``theory_curve`` ({"sigma_w": [...], "rho": [...], "measured": [...]})
    a second panel shows rho against sigma_w."""
    plt = pyplot()
    panels = 2 if theory_curve else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 4.0), squeeze=False)
    ax = axes[0, 0]
    for p in points:
        lo, hi = p["rho_ci95"]
        ax.errorbar(p["predicted"], p["rho"], yerr=[[p["rho"] - lo], [hi - p["rho"]]],
                    fmt="o", ms=4, capsize=2)
        ax.annotate(p["label"], (p["predicted"], p["rho"]), fontsize=6,
                    xytext=(3, -8), textcoords="offset points")
    vals = [p["predicted"] for p in points] + [p["rho"] for p in points]
    if vals:
        lo, hi = min(vals) * 0.95, max(vals) * 1.05
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="measured = predicted")
        ax.legend(fontsize=7)
    ax.set_xlabel("predicted rho = sqrt(chi_1)")
    ax.set_ylabel("measured rho (fit, 95% CI)")
    ax.set_title("per-layer gradient factor: measured vs mean field", fontsize=9)
    ax.grid(alpha=0.3)
    if theory_curve:
        ax = axes[0, 1]
        ax.plot(theory_curve["sigma_w"], theory_curve["rho"], "-", label="mean field")
        m = theory_curve["measured"]
        ax.errorbar([p["sigma_w"] for p in m], [p["rho"] for p in m],
                    yerr=np.array([[p["rho"] - p["rho_ci95"][0], p["rho_ci95"][1] - p["rho"]]
                                   for p in m]).T, fmt="o", ms=4, capsize=2, label="measured")
        ax.axhline(1.0, color="k", lw=0.6)
        ax.axvline(theory_curve["critical_sigma_w"], color="r", lw=0.8, ls=":",
                   label="order-to-chaos edge")
        ax.set_xlabel("sigma_w")
        ax.set_ylabel("rho per layer")
        ax.set_title(theory_curve["title"], fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_heatmap(values: np.ndarray, rows: list[str], cols: list, path,
                 title: str = "log10(||dL/dh_1|| / ||dL/dh_L||)") -> Path:
    """Heatmap (rows x cols) of log10 first/last ratios, annotated; NaN cells are blank."""
    plt = pyplot()
    values = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(cols), 0.9 + 0.45 * len(rows)))
    finite = values[np.isfinite(values)]
    lim = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
    im = ax.imshow(values, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = values[i, j]
            ax.text(j, i, "n/a" if not np.isfinite(v) else f"{v:.1f}", ha="center",
                    va="center", fontsize=7)
    ax.set_xticks(range(len(cols)), [str(c) for c in cols])
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_xlabel("depth")
    fig.colorbar(im, ax=ax, label="log10 first/last (<0 vanishing, >0 exploding)")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def plot_clipping(lengths: list, norms: list, clipped: list, threshold: float, path,
                  title: str = "global gradient norm of an exploding RNN") -> Path:
    """Gradient norm before and after global-norm clipping against sequence length."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    ax.semilogy(lengths, norms, "o-", label="before clipping")
    ax.semilogy(lengths, clipped, "s--", label=f"clipped at {threshold:g}")
    ax.set_xscale("log")
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("||grad||")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)
