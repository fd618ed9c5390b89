"""Text and Markdown tables of every result kind: speed sweeps, comparisons, decay
summaries and training runs.  Pure formatting of plain data; nothing here measures.
"""

import math

import numpy as np

from vgbench.speed import trust
from vgbench.speed.compare import Row
from vgbench.speed.sweep import table_rows


def format_ms(seconds: float | None) -> str:
    """A duration in milliseconds, 4 significant digits ("-" for None)."""
    return "-" if seconds is None else f"{seconds * 1e3:.4g}"


def format_table(data: dict, pass_: str = "fwd_bwd", markdown: bool = False) -> str:
    """The sweep as a text or Markdown table: each time as median ms (IQR ms / n samples),
    ratios, GF/s, ceiling share, and whether the row can be trusted (``vgbench.speed.trust``)."""
    head = ["case", "thr", "vgbench ms (IQR/n)", "numpy ms (IQR/n)", "x", "torch ms (IQR/n)",
            "x", "jax ms (IQR/n)", "x", "GF/s", "% GEMM", "trust"]
    flags = trust.row_flags(data, pass_)
    lines = []
    for row in table_rows(data, pass_):
        def ratio(impl, row=row):
            r = row.get(f"ratio_{impl}")
            return "-" if r is None else f"{r:.2f}"

        def timed(impl, row=row):
            m = row.get(f"median_{impl}")
            if m is None:
                return "-"
            return f"{format_ms(m)} ({format_ms(row[f'iqr_{impl}'])}/{row[f'n_{impl}']})"
        frac = row.get("ceiling_fraction")
        lines.append([row["case"], str(row["threads"]), timed("vgbench"), timed("numpy"),
                      ratio("numpy"), timed("torch"), ratio("torch"), timed("jax"),
                      ratio("jax"),
                      "-" if "gflops" not in row else f"{row['gflops']:.1f}",
                      "-" if frac is None else f"{100 * frac:.0f}",
                      "FLAGGED" if (row["case"], row["threads"]) in flags else "ok"])
    return render_table(head, lines, markdown)


def deepbench_table(data: dict) -> str:
    """DeepBench-style rows: sizes, threads, forward and forward+backward ms, TFLOP/s and
    % of the GEMM ceiling (``vgbench.speed.deepbench``)."""
    head = ["kernel", "M", "N", "K", "op", "hidden", "batch", "T", "thr", "fwd ms",
            "fwd+bwd ms", "TFLOP/s", "% GEMM"]
    lines = []
    for r in data["rows"]:
        gemm = r["kernel"] == "gemm"
        sizes = ([str(r[k]) for k in ("M", "N", "K")] + [r["op"], "", "", ""] if gemm
                 else ["", "", "", ""] + [str(r[k]) for k in ("hidden", "batch", "T")])
        frac = r.get("gemm_fraction")
        fwd_bwd = r.get("fwd_bwd")
        lines.append([r["kernel"], *sizes, str(r["threads"]),
                      format_ms(r["forward"]["median_s"]),
                      "-" if fwd_bwd is None else format_ms(fwd_bwd["median_s"]),
                      f"{r['tflops']:.3g}", "-" if frac is None else f"{100 * frac:.0f}"])
    return render_table(head, lines)


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




# The rule behind every decay verdict; printed with every decay table.
VERDICT_RULE = (
    "Verdict rule: from the fitted factor rho and its 95% CI, never from first/last (which "
    "grows with depth at any fixed rate). CI wholly below 1: the gradient shrinks going "
    "down; wholly above 1: it grows; CI containing 1: **stable**. A shrinking (growing) "
    "gradient is **vanishing** (**exploding**) when the depth L (length T) is at least the "
    "depth scale xi = -1/ln rho in absolute value (an e-fold change or more over the net), "
    "else **mild decay** (**mild growth**). xi < 0 means growth. No fit (fewer than 3 "
    "valid layers/steps): no rate verdict. Units: **dead** = f'(z) = 0 on every example of "
    "the batch (ReLU below zero); **saturated** = f'(z) < 1% of its maximum on every example "
    "(sigmoid/tanh in their flat tails; their f' is never exactly 0 except by rounding).")

# Activations whose derivative is exactly 0 on a whole half-line: their units die.
_DYING = {"relu"}


def depth_scale(rho: float) -> float:
    """xi = -1 / ln rho: the layers (steps) over which the gradient changes e-fold; > 0
    for decay, < 0 for growth, inf at rho = 1."""
    return math.inf if rho == 1.0 else -1.0 / math.log(rho)


def rate_verdict(fit: dict | None, size: int) -> str | None:
    """"vanishing", "exploding", "mild decay", "mild growth" or "stable" by
    ``VERDICT_RULE`` for a fit at depth / length ``size``; None without a fit."""
    if fit is None:
        return None
    lo, hi = fit["rho_ci95"]
    if lo <= 1.0 <= hi:
        return "stable"
    shrinking = hi < 1.0
    if size >= abs(depth_scale(fit["rho"])):
        return "vanishing" if shrinking else "exploding"
    return "mild decay" if shrinking else "mild growth"


def unit_notes(s: dict, activation: str | None) -> list[str]:
    """Dead / saturated unit notes (``VERDICT_RULE``) for one size's summary, >= 1% only."""
    dead = s.get("dead_fraction")
    sat = s.get("saturated_fraction")
    dead_mean = float(np.mean(dead)) if dead is not None and len(dead) else 0.0
    if activation in _DYING:
        return [f"{dead_mean:.0%} dead units"] if dead_mean >= 0.01 else []
    sat_mean = float(np.mean(sat)) if sat is not None and len(sat) else dead_mean
    if sat_mean < 0.01:
        return []
    rounded = f", {dead_mean:.0%} with f' rounded to 0" if dead_mean >= 0.01 else ""
    return [f"{sat_mean:.0%} saturated units{rounded}"]


def decay_verdict(s: dict, unit: str = "layer", activation: str | None = None) -> str:
    """Plain-words diagnosis of one size's summary (``unit``: "layer" or "step"): the
    rate verdict (``VERDICT_RULE``) first, then what went wrong."""
    notes = []
    if s.get("forward_first_nonfinite") is not None:
        notes.append(f"forward overflow at layer {s['forward_first_nonfinite']}")
    if s["first_nonfinite"] is not None:
        notes.append(f"gradient Inf/NaN from {unit} {s['first_nonfinite']} down")
    underflow = _subnormal_clause(s, unit)
    if underflow:
        notes.append(underflow)
    elif s["first_zero"] is not None:
        what = ("norm below float range (underflow)" if s["zero_is_underflow"]
                else "gradient exactly 0")
        notes.append(f"{what} from {unit} {s['first_zero']} down")
    notes += unit_notes(s, activation)
    if "clipped_norm_geomean" in s:
        notes.append(f"norm {s['grad_norm_geomean']:.2g} clipped to "
                     f"{s['clipped_norm_geomean']:.2g}")
    notes.insert(0, rate_verdict(s["fit"], s["size"]) or "no rate fit")
    return "; ".join(notes)


def _subnormal_clause(s: dict, unit: str) -> str:
    """"float32 underflow: subnormal from step k, zero from j" when the probes counted
    subnormal gradient entries (k, j counted from the top as the other diagnostics), else
    ""."""
    if s.get("first_subnormal") is None:
        return ""
    zero = "" if s["first_zero"] is None else f", zero from {unit} {s['first_zero']}"
    return (f"{s.get('dtype', 'float')} underflow: subnormal from {unit} "
            f"{s['first_subnormal']}{zero}")


def _rho(s: dict) -> str:
    f = s["fit"]
    if f is None:
        return "n/a"
    lo, hi = f["rho_ci95"]
    return f"{f['rho']:.3f} [{lo:.3f}, {hi:.3f}]"


def _xi(s: dict) -> str:
    if s["fit"] is None:
        return "n/a"
    xi = depth_scale(s["fit"]["rho"])
    return "inf" if math.isinf(xi) else f"{xi:.3g}"


def decay_table_row(label: str, data: dict, index: int = -1) -> str:
    """One Markdown row for size ``data["sizes"][index]`` of a sweep (default: largest)."""
    s = data["sizes"][index]
    mf = data["theory"]["mean_field"]
    pred = f"mean field {mf['rho']:.3f}" if mf is not None else "-"
    if "pascanu_rate" in s:
        rate = max(s["pascanu_rate"])
        ok = "never violated" if s["pascanu_violations"] == 0 else (
            f"{s['pascanu_violations']} violations")
        pred = f"Pascanu bound {rate:.3g} ({ok})"
    r = s["first_last_ratio"]
    ratio = f"{r:.2g}" if math.isfinite(r) else "n/a"
    unit = "step" if "pascanu_rate" in s or "cell_curve_geomean" in s else "layer"
    activation = data.get("config", {}).get("activation")
    return (f"| {label} | {s['size']} | {_rho(s)} | {_xi(s)} | {pred} | {ratio} | "
            f"{decay_verdict(s, unit, activation)} |")


DECAY_TABLE_HEAD = ("| case | L or T | rho per layer/step [95% CI] | xi = -1/ln rho | theory "
                    "(rho) | first/last | verdict |\n|---|---|---|---|---|---|---|")


def depth_markdown(summary: dict, depth: int, learned_fraction: float) -> str:
    """The depth comparison: update ratios, held-out MSE, finite/exploded, learned."""
    lines = [f"| depth {depth} MLP | median bottom/top update ratio | held-out MSE / baseline "
             f"| finite (did not explode) | learned (MSE / baseline < {learned_fraction:g}) |",
             "| --- | --- | --- | --- | --- |"]
    for label, s in summary.items():
        finite = "yes" if s["status"] == "ok" else s["status"]
        learned = "-" if s["status"] != "ok" else ("yes" if s["learned"] else "no")
        lines.append(f"| {label} | {s['bottom_over_top']:.3g} | "
                     f"{s['eval_mse'] / s['baseline_mse']:.3g} | {finite} | {learned} |")
    return "\n".join(lines)


def adding_markdown(sweep: dict) -> str:
    """Held-out MSE / baseline per model and length; ✓ solved, "flat" a nearly constant
    output (``constant_output_note``)."""
    lengths = next(iter(sweep.values()))["lengths"]
    lines = ["| model | " + " | ".join(f"T={T}" for T in lengths) + " | longest solved |",
             "| --- " * (len(lengths) + 2) + "|"]
    for label, s in sweep.items():
        const = s.get("constant_output", [False] * len(lengths))
        cells = ["exploded" if st.startswith("exploded") else
                 f"{m / s['baseline_mse']:.2g}{' ✓' if ok else ''}{' (flat)' if c else ''}"
                 for m, ok, st, c in zip(s["eval_mse"], s["solved"], s["status"], const,
                                         strict=True)]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {s['longest_solved'] or 'none'} |")
    return "\n".join(lines)


def constant_output_note(sweep: dict) -> str:
    """Explain each run whose trained net predicts a constant (saturated hidden units)."""
    runs = [(label, T, g, m / s["baseline_mse"])
            for label, s in sweep.items()
            for T, g, m, c in zip(s["lengths"], s.get("max_grad_norm", []), s["eval_mse"],
                                  s.get("constant_output", []), strict=False) if c]
    if not runs:
        return ""
    which = "; ".join(f"{label} at T={T} (largest gradient norm {g:.3g}, MSE / baseline "
                      f"{r:.2g})" for label, T, g, r in runs)
    return ("(flat) = the trained net's output barely depends on the input (its spread over "
            "held-out sequences is below 5% of the targets'): "
            f"{which}.  An early gradient spike times the step size (lr x 1/(1 - momentum) = "
            "10x lr at momentum 0.9) threw W_hh far out, every tanh unit saturated to +-1 "
            "whatever the input, and no gradient flows back any more: the exploding-gradient "
            "failure without an Inf, so the status stays finite.  The readout alone then "
            "sees one fixed feature vector; with momentum 0.9 it keeps oscillating instead of "
            "settling on the mean, and the constant it stops at is off the mean (hence "
            "worse than the baseline).  Short sequences are hit hardest because their "
            "gradients do not vanish; clipping (the clipped RNN row, same T) prevents it.")
