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
from vgbench.speed.compare import DEFAULT_THRESHOLD, Row

_STYLE = {"vgbench": "C0", "numpy": "C1", "torch": "C2", "jax": "C3"}


def _doc_label(doc: dict, i: int, n: int) -> str:
    if n == 1:
        return ""
    return f"{doc.get('machine', {}).get('machine') or 'run'}#{i} "


def plot_speed(docs: list[dict], path, pass_: str = "fwd_bwd") -> Path:
    """Plot the records of one or more speed result documents into ``path``."""
    models = [m for m in ("mlp", "rnn", "lstm")
              if any(r["model"] == m and r["pass"] == pass_ for d in docs
                     for r in d["data"]["records"])]
    if not models:
        raise ValueError(f"no {pass_} records to plot")
    fig, axes = pyplot().subplots(len(models), 2, figsize=(11, 3.8 * len(models)), squeeze=False)
    for row, model in zip(axes, models, strict=True):
        t_ax, g_ax = row
        for i, doc in enumerate(docs):
            prefix = _doc_label(doc, i, len(docs))
            records = [r for r in doc["data"]["records"]
                       if r["model"] == model and r["pass"] == pass_]
            lines = sorted({(r["impl"], r["threads"], r["dtype"]) for r in records})
            for impl, threads, dtype in lines:
                pts = sorted((r["flops"] / 1e9, r["median_s"], r["gflops"], r["label"])
                             for r in records if (r["impl"], r["threads"], r["dtype"])
                             == (impl, threads, dtype))
                style = dict(color=_STYLE.get(impl), marker="o",
                             linestyle="-" if threads > 1 else "--",
                             label=f"{prefix}{impl} {threads}t {dtype}")
                t_ax.plot([p[0] for p in pts], [p[1] * 1e3 for p in pts], **style)
                g_ax.plot([p[0] for p in pts], [p[2] for p in pts], **style)
                if impl == "vgbench" and i == 0 and threads == lines[-1][1]:
                    for gf, t, _, label in pts:
                        t_ax.annotate(label, (gf, t * 1e3), fontsize=7, alpha=0.7)
            for n, c in doc["data"].get("ceiling", {}).items():
                for dtype in sorted({r["dtype"] for r in records}):
                    g_ax.axhline(c["gemm"][dtype]["best_gflops"], color="grey", lw=0.8,
                                 linestyle="-" if int(n) > 1 else "--")
                    g_ax.annotate(f"{prefix}GEMM {dtype} {n}t",
                                  (g_ax.get_xlim()[0], c["gemm"][dtype]["best_gflops"]),
                                  fontsize=7, color="grey", va="bottom")
        t_ax.set(xscale="log", yscale="log", xlabel="GFLOP per call", ylabel="median ms",
                 title=f"{model.upper()} {pass_} time")
        g_ax.set(xscale="log", yscale="log", xlabel="GFLOP per call", ylabel="GFLOP/s",
                 title=f"{model.upper()} {pass_} rate (grey: GEMM ceiling)")
        t_ax.legend(fontsize=7)
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
    ax.set_xlabel("time ratio new / base (< 1: new is faster); red slower, green faster")
    ax.set_title(title or "speed comparison")
    ax.invert_yaxis()
    fig.tight_layout()
    return save_figure(fig, path)
