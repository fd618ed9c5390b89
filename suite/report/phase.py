"""The phase diagram's table and figure (``vgbench.analysis.phase`` data).

Figure: tanh's measured per-layer factor rho as a heatmap over sigma_w x sigma_b with the
mean-field edge chi_1 = 1 drawn on it; |measured - theory| on the same grid; ReLU's rho
against sigma_w with sqrt(chi_1) = sigma_w / sqrt(2) and its edge sqrt(2).
"""

import math
from pathlib import Path

import numpy as np

from vgbench.report.plotting import pyplot, save_figure


def _fmt(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.3f}"


def phase_markdown(data: dict) -> str:
    """Markdown tables: measured rho (theory) per grid point, tanh then ReLU."""
    t = data["tanh"]
    lines = ["tanh: measured rho per layer (mean-field sqrt(chi_1))", "",
             "| sigma_b \\ sigma_w | " + " | ".join(f"{w:g}" for w in t["sigma_w"]) + " |",
             "|---" * (len(t["sigma_w"]) + 1) + "|"]
    for i, sb in enumerate(t["sigma_b"]):
        cells = [f"{_fmt(m)} ({_fmt(p)})" for m, p in zip(t["rho"][i], t["theory_rho"][i],
                                                           strict=True)]
        lines.append(f"| {sb:g} | " + " | ".join(cells) + " |")
    r = data["relu"]
    if r["sigma_w"]:
        lines += ["", "ReLU (sigma_b 0): measured rho per layer (sigma_w / sqrt 2)", "",
                  "| sigma_w | " + " | ".join(f"{w:g}" for w in r["sigma_w"]) + " |",
                  "|---" * (len(r["sigma_w"]) + 1) + "|",
                  "| rho | " + " | ".join(f"{_fmt(m)} ({_fmt(p)})" for m, p in
                                          zip(r["rho"], r["theory_rho"], strict=True)) + " |"]
    diffs = [d for row in t["abs_diff"] for d in row] + list(r["abs_diff"])
    finite = [d for d in diffs if math.isfinite(d)]
    if finite:
        lines += ["", f"|measured - theory|: median {np.median(finite):.3f}, "
                      f"max {max(finite):.3f} over {len(finite)} points"]
    return "\n".join(lines)


def _edges(centres: list) -> np.ndarray:
    """Cell edges around sorted centres (half-way between neighbours)."""
    c = np.asarray(centres, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.05, c[0] + 0.05])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def plot_phase(data: dict, path, title: str = "") -> Path:
    """The three-panel phase figure (module docstring) into ``path``."""
    plt = pyplot()
    from matplotlib.colors import TwoSlopeNorm

    t, r, edge = data["tanh"], data["relu"], data["edge"]
    panels = 3 if r["sigma_w"] else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.3), layout="constrained")
    xe, ye = _edges(t["sigma_w"]), _edges(t["sigma_b"])
    rho = np.asarray(t["rho"], dtype=float)
    finite = rho[np.isfinite(rho)]
    lo = min(0.99, float(finite.min())) if finite.size else 0.5
    hi = max(1.01, float(finite.max())) if finite.size else 1.5
    panels_2d = [(axes[0], rho, "RdBu_r", TwoSlopeNorm(1.0, lo, hi),
                  "measured rho per layer (<1 vanishing)", "tanh: measured gradient factor"),
                 (axes[1], np.asarray(t["abs_diff"], dtype=float), "viridis", None,
                  "|measured - sqrt(chi_1)|", "tanh: |measured - mean field|")]
    for ax, values, cmap, norm, label, panel_title in panels_2d:
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(values), cmap=cmap, norm=norm)
        fig.colorbar(mesh, ax=ax, label=label)
        ax.plot(edge["tanh"]["sigma_w"], edge["tanh"]["sigma_b"], "k-", lw=1.5,
                label="chi_1 = 1 (order/chaos edge)")
        ax.set(xlim=(xe[0], xe[-1]), ylim=(ye[0], ye[-1]), xlabel="sigma_w",
               ylabel="sigma_b", title=panel_title)
        ax.legend(fontsize=7, loc="upper left")
    if panels == 3:
        ax = axes[2]
        sw = np.asarray(r["sigma_w"], dtype=float)
        m = np.asarray(r["rho"], dtype=float)
        err = np.abs(np.array([m - np.asarray(r["rho_ci95_low"], dtype=float),
                               np.asarray(r["rho_ci95_high"], dtype=float) - m]))
        ax.errorbar(sw, m, yerr=err, fmt="o", ms=4, capsize=2, label="measured (95% CI)")
        ax.plot(sw, r["theory_rho"], "-", label="mean field sigma_w / sqrt(2)")
        ax.axvline(edge["relu"]["sigma_w"], color="k", lw=0.8, ls=":",
                   label="chi_1 = 1 (sqrt 2)")
        ax.axhline(1.0, color="grey", lw=0.6)
        ax.set(xlabel="sigma_w", ylabel="rho per layer", title="ReLU (sigma_b = 0)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
