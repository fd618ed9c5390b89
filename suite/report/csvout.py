"""Speed results as CSV, one row per measurement, for spreadsheets and for reading beside
DeepBench's published tables (README "DeepBench-style tables").

Columns (``COLUMNS``): kernel (gemm, vanilla, lstm, or mlp/rnn for vgbench's own cases),
impl (who computed it: vgbench, numpy, torch, jax, or blas for DeepBench GEMMs), the sizes
M, N, K, op (GEMM: C = op(A) op(B), A M x K) or hidden, batch, T (RNN/LSTM; an MLP's
width goes in hidden, its depth in depth), precision, threads, forward ms and
forward+backward ms (medians; empty where not timed), TFLOP/s (of forward+backward when
timed, else forward), and % of the machine's GEMM ceiling at the same thread count.
"""

import csv
import io
from pathlib import Path

from vgbench.report.results import write_text_atomic

COLUMNS = ("kernel", "impl", "M", "N", "K", "op", "hidden", "batch", "T", "depth",
           "precision", "threads", "fwd_ms", "fwd_bwd_ms", "tflops", "pct_gemm_ceiling")


def _ms(stats: dict | None) -> str:
    return "" if stats is None else f"{stats['median_s'] * 1e3:.4g}"


def speed_rows(data: dict) -> list[dict]:
    """Rows of a ``vgbench speed`` sweep: one per case, thread count and implementation."""
    rows: dict[tuple, dict] = {}
    for r in data["records"]:
        key = (r["label"], r["in_dim"], r["out_dim"], r["threads"], r["impl"])
        row = rows.setdefault(key, {
            "kernel": r["model"], "impl": r["impl"], "hidden": r["size"], "batch": r["batch"],
            "T": r["seq_len"] if r["model"] != "mlp" else "",
            "depth": r["depth"] if r["model"] == "mlp" else "", "precision": r["dtype"],
            "threads": r["threads"]})
        row["fwd_ms" if r["pass"] == "forward" else "fwd_bwd_ms"] = _ms(r)
        if r["pass"] == "fwd_bwd" or "tflops" not in row:
            row["tflops"] = f"{r['gflops'] / 1e3:.4g}"
            frac = r.get("ceiling_fraction")
            row["pct_gemm_ceiling"] = "" if frac is None else f"{100 * frac:.1f}"
    return list(rows.values())


def deepbench_rows(data: dict) -> list[dict]:
    """Rows of a ``vgbench speed --suite deepbench`` run (``vgbench.speed.deepbench``)."""
    out = []
    for r in data["rows"]:
        gemm = r["kernel"] == "gemm"
        frac = r.get("gemm_fraction")
        out.append({
            "kernel": r["kernel"], "impl": "blas" if gemm else "vgbench",
            **{k: r[k] if gemm else "" for k in ("M", "N", "K", "op")},
            **{k: "" if gemm else r[k] for k in ("hidden", "batch", "T")},
            "precision": r["precision"], "threads": r["threads"],
            "fwd_ms": _ms(r.get("forward")), "fwd_bwd_ms": _ms(r.get("fwd_bwd")),
            "tflops": f"{r['tflops']:.4g}",
            "pct_gemm_ceiling": "" if frac is None else f"{100 * frac:.1f}"})
    return out


def write_csv(path, rows: list[dict]) -> Path:
    """Write rows (missing columns empty) with a header line, atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text_atomic(path, buf.getvalue())
