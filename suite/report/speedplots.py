"""PNG plots of speed results: time and GFLOP/s against problem size, log-log.

One row per model family (MLP, RNN, LSTM), two panels: median forward+backward time and
GFLOP/s, against the work of one call (GFLOP: cases of one family differ in width, depth,
batch and length, and flops put them on one axis).  One line per implementation and
thread count (and per result file when several are given); each vgbench point is labelled
with its case; the GEMM ceiling of each thread count is drawn as a horizontal line.
"""

from pathlib import Path

import numpy as np

from vgbench.report.plotting import pyplot, save_figure
from vgbench.speed import trust
from vgbench.speed.compare import DEFAULT_THRESHOLD, Row

_STYLE = {"vgbench": "C0", "numpy": "C1", "torch": "C2", "jax": "C3"}


def _doc_label(doc: dict, i: int, n: int) -> str:
    if n == 1:
        return ""
    return f"{doc.get('machine', {}).get('machine') or 'run'}#{i} "


def plot_speed(docs: list[dict], path, pass_: str = "fwd_bwd") -> Path:
    """Plot the records of one or more speed result documents into ``path``."""
    from matplotlib.ticker import NullFormatter
    models = [m for m in ("mlp", "rnn", "lstm")
              if any(r["model"] == m and r["pass"] == pass_ for d in docs
                     for r in d["data"]["records"])]
    if not models:
        raise ValueError(f"no {pass_} records to plot")
    fig, axes = pyplot().subplots(len(models), 2, figsize=(11, 4.6 * len(models)), squeeze=False)
    for row, model in zip(axes, models, strict=True):
        t_ax, g_ax = row
        for i, doc in enumerate(docs):
            prefix = _doc_label(doc, i, len(docs))
            records = [r for r in doc["data"]["records"]
                       if r["model"] == model and r["pass"] == pass_]
            lines = sorted({(r["impl"], r["threads"], r["dtype"]) for r in records})
            most = max((t for _, t, _ in lines), default=1)
            for impl, threads, dtype in lines:
                pts = sorted((r["flops"] / 1e9, r["median_s"], r["gflops"], r["label"])
                             for r in records if (r["impl"], r["threads"], r["dtype"])
                             == (impl, threads, dtype))
                # thread counts differ by marker and line style (and shade), not only style
                style = dict(color=_STYLE.get(impl), marker="o" if threads == 1 else "s",
                             mfc="white" if threads == 1 else None,
                             linestyle="--" if threads == 1 else "-",
                             alpha=1.0 if threads == most else 0.75,
                             label=f"{prefix}{impl} {threads} thread{'s' * (threads > 1)} "
                                   f"{dtype}")
                t_ax.plot([p[0] for p in pts], [p[1] * 1e3 for p in pts], **style)
                g_ax.plot([p[0] for p in pts], [p[2] for p in pts], **style)
                if impl == "vgbench" and i == 0 and threads == most:
                    for k, (gf, t, _, label) in enumerate(pts):
                        # alternate above/below the point, kept inside the axes
                        t_ax.annotate(label.rsplit(" ", 1)[0], (gf, t * 1e3), fontsize=6,
                                      alpha=0.8, xytext=(4, 8 if k % 2 else -12),
                                      textcoords="offset points", annotation_clip=True,
                                      ha="right" if 0 < k == len(pts) - 1 else "left")
            flags = trust.row_flags(doc["data"], pass_)
            bad = [r for r in records if (r["label"], r["threads"]) in flags]
            for ax, y in ((t_ax, lambda r: r["median_s"] * 1e3), (g_ax, lambda r: r["gflops"])):
                if bad:
                    ax.scatter([r["flops"] / 1e9 for r in bad], [y(r) for r in bad], s=90,
                               facecolors="none", edgecolors="red", lw=0.8, zorder=3,
                               label=f"{prefix}flagged: untrustworthy (trust rule)")
            for n, c in doc["data"].get("ceiling", {}).items():
                for dtype in sorted({r["dtype"] for r in records}):
                    rate = c["gemm"][dtype]["best_gflops"]
                    g_ax.axhline(rate, color="grey", lw=0.8,
                                 linestyle="-" if int(n) > 1 else "--")
                    g_ax.text(1.0, rate, f" {prefix}GEMM {c['gemm'][dtype]['size']}^3 "
                              f"{dtype}, {n} thr: {rate:.0f}", transform=g_ax.get_yaxis_transform(),
                              fontsize=6, color="dimgrey", va="center", ha="left",
                              clip_on=False)
        t_ax.set(xscale="log", yscale="log", xlabel="GFLOP per call", ylabel="median ms",
                 title=f"{model.upper()} {pass_} time")
        g_ax.set(xscale="log", yscale="log", xlabel="GFLOP per call", ylabel="GFLOP/s",
                 title=f"{model.upper()} {pass_} rate (grey: GEMM ceiling, labelled at right)")
        t_ax.margins(x=0.15, y=0.2)
        for ax in (t_ax, g_ax):  # decade labels only: no "6x10^0" crowding narrow ranges
            ax.yaxis.set_minor_formatter(NullFormatter())
        # below the panel: inside, it covered points of single-case families
        t_ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
        t_ax.grid(True, which="both", alpha=0.3)
        g_ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_ratios(rows: list[Row], path, title: str = "", threshold: float = DEFAULT_THRESHOLD):
    """Horizontal bar chart of new/base time ratios with CI whiskers (log axis)."""
    plt = pyplot()

    colors = {"slower": "C3", "faster": "C2", "no change": "C7"}
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.5))
    y = np.arange(len(rows))
    ratios = np.array([r.ratio for r in rows])
    err = np.array([[r.ratio - r.low for r in rows], [r.high - r.ratio for r in rows]])
    ax.barh(y, ratios - 1, left=1, color=[colors[r.verdict] for r in rows], xerr=err,
            ecolor="black", capsize=2)
    ax.set_yticks(y, [f"{r.key[0]} {r.key[3]}t {r.key[4]} {r.key[5]}" for r in rows],
                  fontsize=7)
    ax.axvline(1, color="black", lw=0.8)
    for f in (threshold, 1 / threshold):
        ax.axvline(f, color="grey", lw=0.8, linestyle="--")
    ax.set_xscale("log")
    # a few plain ticks: log-axis minor labels (6x10^-1, ...) overlapped each other
    from matplotlib.ticker import NullFormatter

    lo, hi = ax.get_xlim()
    gap = np.log10(hi / lo) / 9  # at most about 9 labels across the axis
    ticks = [1.0]
    for t in (1.1, 1.25, 1.5, 2.0, 4.0, 10.0, 0.9, 0.8, 0.67, 0.5, 0.25, 0.1):
        if lo <= t <= hi and all(abs(np.log10(t / k)) >= gap for k in ticks):
            ticks.append(t)
    ticks.sort()
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("time ratio new / base (< 1: new is faster); red slower, green faster, "
                  "grey no change; dashed: threshold")
    ax.set_title(title or "speed comparison")
    ax.invert_yaxis()
    fig.tight_layout()
    return save_figure(fig, path)
