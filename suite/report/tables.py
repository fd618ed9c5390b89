"""Text and Markdown tables of every result kind: speed sweeps, comparisons, decay
summaries and training runs.  Pure formatting of plain data; nothing here measures.
"""

import math

import numpy as np

from vgbench.speed.compare import Row
from vgbench.speed.sweep import table_rows


def format_ms(seconds: float | None) -> str:
    """A duration in milliseconds, 4 significant digits ("-" for None)."""
    return "-" if seconds is None else f"{seconds * 1e3:.4g}"


def format_table(data: dict, pass_: str = "fwd_bwd", markdown: bool = False) -> str:
    """The sweep as a text or Markdown table: times in ms, ratios, GF/s, ceiling share."""
    head = ["case", "thr", "vgbench ms", "numpy ms", "x", "torch ms", "x", "jax ms", "x",
            "GF/s", "% GEMM"]
    lines = []
    for row in table_rows(data, pass_):
        def ratio(impl, row=row):
            r = row.get(f"ratio_{impl}")
            return "-" if r is None else f"{r:.2f}"
        frac = row.get("ceiling_fraction")
        lines.append([row["case"], str(row["threads"]), format_ms(row.get("median_vgbench")),
                      format_ms(row.get("median_numpy")), ratio("numpy"),
                      format_ms(row.get("median_torch")), ratio("torch"),
                      format_ms(row.get("median_jax")), ratio("jax"),
                      "-" if "gflops" not in row else f"{row['gflops']:.1f}",
                      "-" if frac is None else f"{100 * frac:.0f}"])
    return render_table(head, lines, markdown)


def render_table(head: list[str], rows: list[list[str]], markdown: bool = False,
                 left: int = 1) -> str:
    """Rows of strings as Markdown or as aligned text (first ``left`` columns left-aligned)."""
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(out + ["| " + " | ".join(cells) + " |" for cells in rows])
    widths = [max(len(c) for c in col) for col in zip(head, *rows, strict=True)]
    fmt = "  ".join(f"{{:{'<' if i < left else '>'}{w}}}" for i, w in enumerate(widths))
    return "\n".join(fmt.format(*cells) for cells in [head, *rows])


def ceiling_summary(data: dict) -> str:
    """One line per thread count: GEMM GF/s (best) per dtype and copy GB/s."""
    out = []
    for n, c in sorted(data["ceiling"].items(), key=lambda kv: int(kv[0])):
        g = c["gemm"]
        out.append(f"{n} thread(s): GEMM {g['float32']['size']}^3 float32 "
                   f"{g['float32']['best_gflops']:.1f} GF/s, float64 "
                   f"{g['float64']['best_gflops']:.1f} GF/s; copy "
                   f"{c['copy']['best_gbps']:.1f} GB/s")
        if len(c.get("gemm_providers", {})) > 1:
            out.append("  GEMM by provider, float32 / float64 GF/s: " + ", ".join(
                f"{p} {r['float32']['best_gflops']:.1f} / {r['float64']['best_gflops']:.1f}"
                for p, r in c["gemm_providers"].items()))
    return "\n".join(out)




def format_rows(rows: list[Row], markdown: bool = False) -> str:
    """A table of compared measurements (times in ms)."""
    head = ["case", "thr", "impl", "pass", "base ms", "new ms", "new/base", "95% CI",
            "p10 ratio", "verdict"]
    cells = [[k[0], str(k[3]), k[4], k[5], format_ms(r.base_s), format_ms(r.new_s),
              f"{r.ratio:.3f}",
              f"{r.low:.3f}-{r.high:.3f}", f"{r.fast_ratio:.3f}", r.verdict]
             for r in rows for k in [r.key]]
    return render_table(head, cells, markdown, left=4)




def decay_verdict(s: dict, unit: str = "layer") -> str:
    """Plain-words diagnosis of one size's summary (``unit``: "layer" or "step")."""
    notes = []
    if s.get("forward_first_nonfinite") is not None:
        notes.append(f"forward overflow at layer {s['forward_first_nonfinite']}")
    if s["first_nonfinite"] is not None:
        notes.append(f"gradient Inf/NaN from {unit} {s['first_nonfinite']} down")
    if s["first_zero"] is not None:
        what = ("norm below float range (underflow)" if s["zero_is_underflow"]
                else "gradient exactly 0")
        notes.append(f"{what} from {unit} {s['first_zero']} down")
    dead = s.get("dead_fraction")
    if dead is not None and len(dead) and float(np.mean(dead)) >= 0.01:
        notes.append(f"{np.mean(dead):.0%} dead units")
    if "clipped_norm_geomean" in s:
        notes.append(f"norm {s['grad_norm_geomean']:.2g} clipped to "
                     f"{s['clipped_norm_geomean']:.2g}")
    r = s["first_last_ratio"]
    if math.isfinite(r) and r > 0:
        notes.insert(0, "vanishing" if r < 1e-3 else "exploding" if r > 1e3 else "stable")
    return "; ".join(notes)


def _rho(s: dict) -> str:
    f = s["fit"]
    if f is None:
        return "n/a"
    lo, hi = f["rho_ci95"]
    return f"{f['rho']:.3f} [{lo:.3f}, {hi:.3f}]"


def decay_table_row(label: str, data: dict, index: int = -1) -> str:
    """One Markdown row for size ``data["sizes"][index]`` of a sweep (default: largest)."""
    s = data["sizes"][index]
    mf = data["theory"]["mean_field"]
    pred = f"{mf['rho']:.3f}" if mf is not None else "-"
    if "pascanu_rate" in s:
        rate = max(s["pascanu_rate"])
        ok = "never violated" if s["pascanu_violations"] == 0 else (
            f"{s['pascanu_violations']} violations")
        pred = f"bound {rate:.3g} ({ok})"
    r = s["first_last_ratio"]
    ratio = f"{r:.2g}" if math.isfinite(r) else "n/a"
    unit = "step" if "pascanu_rate" in s or "cell_curve_geomean" in s else "layer"
    return f"| {label} | {s['size']} | {_rho(s)} | {pred} | {ratio} | {decay_verdict(s, unit)} |"


DECAY_TABLE_HEAD = ("| case | L or T | rho per layer/step [95% CI] | theory | first/last | "
              "verdict |\n|---|---|---|---|---|---|")




def depth_markdown(summary: dict, depth: int) -> str:
    lines = [f"| depth {depth} MLP | median bottom/top update ratio | held-out MSE / baseline "
             "| status |", "| --- | --- | --- | --- |"]
    for label, s in summary.items():
        lines.append(f"| {label} | {s['bottom_over_top']:.3g} | "
                     f"{s['eval_mse'] / s['baseline_mse']:.3g} | {s['status']} |")
    return "\n".join(lines)


def adding_markdown(sweep: dict) -> str:
    lengths = next(iter(sweep.values()))["lengths"]
    lines = ["| model | " + " | ".join(f"T={T}" for T in lengths) + " | longest solved |",
             "| --- " * (len(lengths) + 2) + "|"]
    for label, s in sweep.items():
        cells = ["exploded" if st.startswith("exploded") else
                 f"{m / s['baseline_mse']:.2g}{' ✓' if ok else ''}"
                 for m, ok, st in zip(s["eval_mse"], s["solved"], s["status"], strict=True)]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {s['longest_solved'] or 'none'} |")
    return "\n".join(lines)


