"""Cross-machine speed report: one speed result per machine (``vgbench speed --each-worker``
or any set of speed files), side by side.

Rows are (case, threads) of vgbench's forward+backward; per machine two columns, GFLOP/s
and % of that machine's own GEMM ceiling at that thread count.  Thread counts read "1" and
"all" (each machine's largest count in its sweep), so machines with different core counts
share rows.
"""

from pathlib import Path

import numpy as np

from vgbench.report.plotting import pyplot, save_figure
from vgbench.report.tables import render_table


def machine_labels(docs: list[dict]) -> list[str]:
    """A column name per document: the host name, with the worker's port (or an index)
    where several documents come from one host."""
    hosts = [d["machine"].get("machine") or "?" for d in docs]
    out = []
    for i, (doc, host) in enumerate(zip(docs, hosts, strict=True)):
        if hosts.count(host) == 1:
            out.append(host)
            continue
        address = (doc.get("config", {}).get("worker") or {}).get("address", "")
        out.append(f"{host}:{address.rsplit(':', 1)[-1]}" if address else f"{host}#{i}")
    return out


def _thread_label(threads: int, most: int) -> str:
    return "1" if threads == 1 else "all" if threads == most else str(threads)


def fleet_cells(docs: list[dict], pass_: str = "fwd_bwd") -> dict:
    """(case, thread label) -> list per document of (GF/s, ceiling fraction) or None."""
    cells: dict[tuple, list] = {}
    for j, doc in enumerate(docs):
        records = [r for r in doc["data"]["records"]
                   if r["impl"] == "vgbench" and r["pass"] == pass_]
        most = max((r["threads"] for r in records), default=1)
        for r in records:
            key = (r["label"], _thread_label(r["threads"], most))
            cells.setdefault(key, [None] * len(docs))[j] = (r["gflops"],
                                                             r["ceiling_fraction"])
    return cells


def fleet_table(docs: list[dict], labels: list[str], pass_: str = "fwd_bwd",
                markdown: bool = False) -> str:
    """GF/s and % GEMM of vgbench per case and thread label, one column pair per machine."""
    head = ["case", "thr"] + [f"{lab} {what}" for lab in labels for what in ("GF/s", "% GEMM")]
    rows = []
    for (case, thr), per in fleet_cells(docs, pass_).items():
        row = [case, thr]
        for cell in per:
            gf, frac = cell if cell is not None else (None, None)
            row += ["-" if gf is None else f"{gf:.1f}",
                    "-" if frac is None else f"{100 * frac:.0f}"]
        rows.append(row)
    return render_table(head, rows, markdown, left=2)


def machines_table(docs: list[dict], labels: list[str], markdown: bool = False) -> str:
    """One row per machine: CPU, cores, fingerprint hash, GEMM ceilings (1 and all threads)."""
    head = ["machine", "cpu", "cores", "fingerprint", "GEMM f32 GF/s (1 / all)",
            "GEMM f64 GF/s (1 / all)"]
    rows = []
    for doc, lab in zip(docs, labels, strict=True):
        m, ceiling = doc["machine"], doc["data"].get("ceiling", {})
        counts = sorted(ceiling, key=int)

        def gemm(dt, counts=counts, ceiling=ceiling):
            vals = [ceiling[n]["gemm"][dt]["best_gflops"] for n in (counts[:1] + counts[-1:])]
            return " / ".join(f"{v:.1f}" for v in vals) if vals else "-"

        worker = doc.get("config", {}).get("worker") or {}
        rows.append([lab, str(m.get("cpu")), str(m.get("num_cpu")),
                     str(worker.get("fingerprint_hash", "-")), gemm("float32"),
                     gemm("float64")])
    return render_table(head, rows, markdown, left=4)


def plot_fleet(docs: list[dict], labels: list[str], path, pass_: str = "fwd_bwd") -> Path:
    """Grouped bars per (case, threads): GF/s (top) and % of each machine's GEMM ceiling
    (bottom), one colour per machine."""
    cells = fleet_cells(docs, pass_)
    if not cells:
        raise ValueError(f"no vgbench {pass_} records to plot")
    keys = list(cells)
    plt = pyplot()
    fig, (g_ax, c_ax) = plt.subplots(2, 1, figsize=(max(6.0, 0.9 * len(keys) + 2), 7.5),
                                     sharex=True, layout="constrained")
    x = np.arange(len(keys))
    width = 0.8 / len(docs)
    for j, lab in enumerate(labels):
        gf = [cells[k][j][0] if cells[k][j] else np.nan for k in keys]
        frac = [100 * cells[k][j][1] if cells[k][j] and cells[k][j][1] is not None else np.nan
                for k in keys]
        offset = (j - (len(docs) - 1) / 2) * width
        g_ax.bar(x + offset, gf, width, label=lab, color=f"C{j}")
        c_ax.bar(x + offset, frac, width, label=lab, color=f"C{j}")
    g_ax.set(ylabel="GFLOP/s", yscale="log", title=f"vgbench {pass_} rate per machine")
    c_ax.set(ylabel="% of the machine's GEMM ceiling")
    c_ax.set_xticks(x, [f"{case} {thr}t" for case, thr in keys], rotation=40, ha="right",
                    fontsize=7)
    for ax in (g_ax, c_ax):
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)
