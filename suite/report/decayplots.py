"""PNG plots of decay sweeps (matplotlib, Agg backend): curves, rates vs theory, heatmaps.

Every function takes plain data (the dicts ``vgbench.analysis.decay.sweep`` returns) and a path, and
returns the path written.
"""

import math
from pathlib import Path

import numpy as np

from vgbench.report.plotting import pyplot, save_figure


def _log_axis_readable(ax) -> None:
    """Decade ticks only, and at least one decade shown: narrow ranges otherwise get
    labels like 9x10^0 crowding the axis."""
    from matplotlib.ticker import LogLocator, NullFormatter

    lo, hi = ax.get_ylim()
    if lo > 0 and hi / lo < 10:
        ax.set_ylim(10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi)))
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=6))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _missing_notes(s: dict, unit: str) -> list[str]:
    """What of one size's curve a log axis cannot draw, in words."""
    notes = []
    if s.get("forward_first_nonfinite") is not None:
        return [f"{s['size']}: forward overflowed at layer {s['forward_first_nonfinite']}, "
                "gradient not drawn"]
    if s.get("first_nonfinite") is not None:
        notes.append(f"{s['size']}: overflowed (Inf/NaN) from {unit} {s['first_nonfinite']} "
                     "down, not drawn")
    if s.get("first_zero") is not None:
        notes.append(f"{s['size']}: exactly 0 at {unit}s 1..{s['first_zero']}"
                     f"{' (truncated BPTT)' if unit == 'step' else ''}, not drawn")
    return notes


def plot_curves(runs: list[tuple[str, dict]], path, xlabel: str = "layer l") -> Path:
    """One panel per run: geometric-mean ||dL/dh|| (log scale) against layer or step,
    one line per depth / length (one colour per size across panels, one legend), with
    +-1 standard deviation of log10 over seeds shaded; dots mark the layers/steps where some
    entries of dL/dh were subnormal; what a log axis cannot show (overflow, exact zeros)
    is written in the panel."""
    plt = pyplot()
    n = len(runs)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 3.0 * rows), squeeze=False,
                             layout="constrained")
    unit = "layer" if xlabel.startswith("layer") else "step"
    sizes = sorted({s["size"] for _, data in runs for s in data["sizes"]})
    colour = {size: f"C{i}" for i, size in enumerate(sizes)}
    for ax, (label, data) in zip(axes.flat, runs, strict=False):
        notes = []
        for s in data["sizes"]:
            c = np.asarray(s["curve_geomean"], dtype=float)
            sd = np.asarray(s["curve_log10_std"], dtype=float)
            x = np.arange(1, len(c) + 1)
            ax.semilogy(x, c, lw=1.2, color=colour[s["size"]])
            ax.fill_between(x, c / 10 ** sd, c * 10 ** sd, color=colour[s["size"]],
                            alpha=0.15, lw=0)
            sub = np.asarray(s.get("subnormal_fraction", []), dtype=float) > 0
            if sub.any():
                ax.semilogy(x[sub], c[sub], ls="none", marker=".", ms=3,
                            color=colour[s["size"]])
            notes += _missing_notes(s, unit)
        ax.set_title("\n".join([label, *notes]), fontsize=8 if not notes else 7)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        _log_axis_readable(ax)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("||dL/dh|| (geometric mean)", fontsize=8)
    handles = [plt.Line2D([], [], color=colour[size], lw=1.5) for size in sizes]
    fig.legend(handles, [str(size) for size in sizes], loc="outside right upper",
               title="depth L" if unit == "layer" else "length T", fontsize=8,
               title_fontsize=8)
    fig.suptitle(f"gradient norm per {unit} ({unit} 1 = input side, readout at the right "
                 f"end); shaded: +-1 s.d. of log10 over seeds; dots: subnormal entries",
                 fontsize=10)
    return save_figure(fig, path)


def plot_rates(points: list[dict], path, theory_curve: dict | None = None) -> Path:
    """Measured per-layer factor rho (95% CI) against the mean-field prediction
    sqrt(chi_1); with ``theory_curve`` ({"sigma_w": [...], "rho": [...], "measured": [...]})
    a second panel shows rho against sigma_w."""
    plt = pyplot()
    panels = 2 if theory_curve else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 4.0), squeeze=False)
    ax = axes[0, 0]
    vals = [p["predicted"] for p in points] + [p["rho"] for p in points]
    order = sorted(range(len(points)), key=lambda i: points[i]["predicted"])
    for rank, i in enumerate(order):
        p = points[i]
        lo, hi = p["rho_ci95"]
        ax.errorbar(p["predicted"], p["rho"], yerr=[[p["rho"] - lo], [hi - p["rho"]]],
                    fmt="o", ms=4, capsize=2)
        # alternate above-left / below-right of the diagonal, the largest above-left:
        # neighbours do not collide and no label runs off the right edge
        above = rank % 2 == 1 or rank == len(order) - 1
        ax.annotate(p["label"], (p["predicted"], p["rho"]), fontsize=6,
                    xytext=(-5, 4) if above else (5, -9), textcoords="offset points",
                    ha="right" if above else "left")
    if vals:
        lo, hi = min(vals) * 0.95, max(vals) * 1.05
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="measured = predicted")
        ax.legend(fontsize=7)
    ax.set_xlabel("predicted rho = sqrt(chi_1)")
    ax.set_ylabel("measured rho (fit, 95% CI)")
    biases = {p["label"].split(",")[0]: f"{p['sigma_b']:g}" for p in points if "sigma_b" in p}
    ax.set_title("per-layer gradient factor: measured vs mean field"
                 + ("\n(sigma_b: " + ", ".join(f"{k} {v}" for k, v in biases.items()) + ")"
                    if biases else ""), fontsize=9)
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
    """Heatmap (rows x cols) of log10 first/last ratios, annotated.  The colour scale is
    linear within +-1 decade and logarithmic beyond (small and huge values both show);
    NaN cells (no finite ratio: overflow or an exact zero) are hatched grey, "n/a"."""
    from matplotlib.colors import SymLogNorm

    plt = pyplot()
    values = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(1.4 + 0.9 * len(cols), 0.9 + 0.45 * len(rows)))
    finite = values[np.isfinite(values)]
    lim = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
    norm = SymLogNorm(linthresh=1.0, vmin=-lim, vmax=lim)
    ax.set_facecolor("0.75")
    im = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu", norm=norm, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            v = values[i, j]
            if not np.isfinite(v):
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//",
                                           edgecolor="0.45", lw=0))
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=7)
                continue
            v = 0.0 if abs(v) < 0.05 else v  # no "-0.0"
            dark = abs(norm(v) - 0.5) > 0.35
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")
    ax.set_xticks(range(len(cols)), [str(c) for c in cols])
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_xlabel("depth")
    bar = fig.colorbar(im, ax=ax, label="log10 first/last (<0 vanishing, >0 exploding)")
    ticks = [t for t in (-100, -30, -10, -3, -1, 0, 1, 3, 10, 30, 100) if abs(t) <= lim]
    bar.set_ticks(ticks, labels=[str(t) for t in ticks])
    ax.set_title(f"{title}\nn/a (hatched) = no finite ratio: overflow or an exact zero",
                 fontsize=9)
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
