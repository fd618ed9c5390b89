"""Table and PNG of a subnormal sweep (``vgbench.speed.subnormal``): the time cost of a
vanished float32 gradient, per model, against sequence length or depth."""

import math
from pathlib import Path

from vgbench.report.plotting import pyplot, save_figure
from vgbench.report.tables import render_table


def _length(r: dict) -> int:
    return r.get("seq_len", r.get("depth"))


def _ms(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.4g}"


def subnormal_table(data: dict, markdown: bool = False) -> str:
    """One row per case: keep/flush medians (ms), penalty = keep / flush (and the same from
    the fastest calls), each mode's
    subnormal fraction of the dL/dh (dL/dc) entries, and PyTorch's times beside."""
    head = ["case", "thr", "keep ms", "flush ms", "penalty", "min-based", "subnormal keep",
            "subnormal flush", "zero keep", "torch keep ms", "torch flush ms", "torch penalty"]
    rows = []
    for r in data["records"]:
        mlp = r["model"] == "mlp"
        label = (f"{r['model']} {r['activation']} W{r['width']} L{r['depth']} B{r['batch']}"
                 if mlp else f"{r['model']} H{r['hidden']} T{r['seq_len']} B{r['batch']}")
        t = r.get("torch") or {}
        rows.append([f"{label} {r['dtype']}", str(r["threads"]), _ms(r["keep_ms"]),
                     _ms(r["flush_ms"]), f"{r['penalty']:.2f}x",
                     "-" if "penalty_min" not in r else f"{r['penalty_min']:.2f}x",
                     f"{r['subnormal_fraction_keep']:.1%}",
                     f"{r['subnormal_fraction_flush']:.1%}", f"{r['zero_fraction_keep']:.1%}",
                     _ms(t.get("keep_ms")), _ms(t.get("flush_ms")),
                     "-" if not t else f"{t['penalty']:.2f}x"])
    return render_table(head, rows, markdown)


def plot_subnormal(data: dict, path, title: str = "") -> Path:
    """One panel per model: time per layer/step in keep and flush mode (vgbench solid,
    PyTorch dashed) against T or depth, and the keep-mode subnormal fraction on a second
    axis."""
    plt = pyplot()
    models = list(dict.fromkeys(r["model"] for r in data["records"]))
    fig, axes = plt.subplots(1, max(len(models), 1), figsize=(4.2 * max(len(models), 1), 3.3),
                             squeeze=False, layout="constrained")
    for ax, model in zip(axes.flat, models, strict=False):
        recs = sorted((r for r in data["records"] if r["model"] == model), key=_length)
        n = [_length(r) for r in recs]
        for mode, color in (("keep", "C3"), ("flush", "C0")):
            ax.plot(n, [r[f"{mode}_ms"] / _length(r) * 1e3 for r in recs], "o-", color=color,
                    label=f"vgbench {mode}")
            if all(r.get("torch") for r in recs):
                ax.plot(n, [r["torch"][f"{mode}_ms"] / _length(r) * 1e3 for r in recs], "s--",
                        color=color, alpha=0.6, label=f"torch {mode}")
        ax.set_yscale("log")
        ax.set_xlabel("depth L" if model == "mlp" else "sequence length T", fontsize=8)
        ax.set_ylabel("us per layer/step (median)", fontsize=8)
        ax.set_title(model, fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        ax2 = ax.twinx()
        ax2.plot(n, [100 * r["subnormal_fraction_keep"] for r in recs], ":", color="k",
                 label="subnormal % (keep)")
        ax2.set_ylabel("subnormal entries of dL/dh, % (keep)", fontsize=8)
        ax2.set_ylim(bottom=0)
        ax2.tick_params(labelsize=7)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=6)
    fig.suptitle(title or "subnormal penalty: keep (IEEE) vs flush (FTZ/DAZ)", fontsize=10)
    return save_figure(fig, path)
