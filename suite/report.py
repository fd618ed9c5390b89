"""``vgbench run``: the main job, one report folder (JSON, PNGs, ``summary.md``).

The report is a list of sections; each is a function ``(outdir, progress) -> str`` that
writes its own files into ``outdir`` and returns its Markdown.  Adding a section is one
entry in ``SECTIONS`` (or one ``sections=`` argument).  ``summary.md`` is rewritten
atomically after every section, so an interrupted run keeps the finished ones.

The decay section draws the comparison the literature draws: sigmoid vs tanh vs ReLU at
increasing depth with naive and careful init, residual connections and batch norm, dead
ReLUs, an overflowing net, measured rates against mean-field theory, the variance-scaling
argument, RNN vs LSTM at increasing length with the Pascanu bound, and clipping and
truncation on an exploding RNN.
"""

import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from suite.decay import DecayConfig, probe, sweep
from suite.results import write_result, write_text_atomic
from suite.speed import quick_speed_report
from suite.train import quick_training_report

Section = Callable[[Path, bool], str]


def mlp_cases(depths: tuple, width: int, batch: int, seeds: int) -> list[tuple[str, DecayConfig]]:
    """MLP configs of the report: (label, config)."""
    base = dict(depths=tuple(depths), width=width, batch=batch, seeds=seeds, inputs="normal")
    cases = [
        ("sigmoid, xavier", dict(activation="sigmoid", init="xavier")),
        ("sigmoid, xavier, residual", dict(activation="sigmoid", init="xavier", residual=True)),
        ("sigmoid, xavier, batchnorm", dict(activation="sigmoid", init="xavier",
                                            batchnorm=True)),
        ("tanh, small (std 0.01)", dict(activation="tanh", init="small")),
        ("tanh, xavier", dict(activation="tanh", init="xavier")),
        ("tanh, normal sigma_w=2.5", dict(activation="tanh", init="normal", sigma_w=2.5)),
        ("relu, xavier", dict(activation="relu", init="xavier")),
        ("relu, he", dict(activation="relu", init="he")),
        ("relu, he, batchnorm", dict(activation="relu", init="he", batchnorm=True)),
        ("relu, normal sigma_b=1 (dead units)", dict(activation="relu", init="normal",
                                                      sigma_b=1.0)),
        ("leaky_relu, normal sigma_b=1", dict(activation="leaky_relu", init="normal",
                                              sigma_b=1.0)),
        ("relu, large (std 1), float32", dict(activation="relu", init="large",
                                              dtype="float32")),
    ]
    return [(label, DecayConfig(**base, **kw)) for label, kw in cases]


def recurrent_cases(lengths: tuple, hidden: int, batch: int,
                    seeds: int) -> list[tuple[str, DecayConfig]]:
    """RNN / LSTM configs of the report: (label, config)."""
    base = dict(seq_lens=tuple(lengths), width=hidden, in_dim=8, batch=batch, seeds=seeds)
    cases = [
        ("RNN sigmoid, xavier", dict(model="rnn", activation="sigmoid")),
        ("RNN tanh, orthogonal W_hh", dict(model="rnn", recurrent_init="orthogonal")),
        ("LSTM, forget bias 1", dict(model="lstm")),
        ("RNN relu, identity W_hh gain 1.05, clip 1", dict(
            model="rnn", activation="relu", recurrent_init="identity", gain=1.05, clip=1.0)),
        ("same, truncated BPTT k=20", dict(
            model="rnn", activation="relu", recurrent_init="identity", gain=1.05, clip=1.0,
            truncate=20)),
    ]
    return [(label, DecayConfig(**base, **kw)) for label, kw in cases]


def verdict(s: dict, unit: str = "layer") -> str:
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


def table_row(label: str, data: dict, index: int = -1) -> str:
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
    return f"| {label} | {s['size']} | {_rho(s)} | {pred} | {ratio} | {verdict(s, unit)} |"


TABLE_HEAD = ("| case | L or T | rho per layer/step [95% CI] | theory | first/last | "
              "verdict |\n|---|---|---|---|---|---|")


def theory_sweep(sigma_ws: tuple, width: int, depth: int, batch: int, seeds: int,
                 sigma_b: float = 0.05) -> tuple[list, dict]:
    """Wide tanh nets at several sigma_w plus ReLU+He, inputs at q*, random top cotangent:
    measured rho against sqrt(chi_1).  Returns (points, theory curve for the plot)."""
    from suite import theory

    base = dict(depths=(depth,), width=width, batch=batch, seeds=seeds, inputs="fixed_point",
                top="random")
    runs = [(f"tanh sw={sw:g}", sw, DecayConfig(activation="tanh", init="normal", sigma_w=sw,
                                                sigma_b=sigma_b, **base))
            for sw in sigma_ws]
    runs.append(("relu he", math.sqrt(2.0), DecayConfig(activation="relu", init="he", **base)))
    points = []
    for label, sw, cfg in runs:
        data = sweep(cfg, progress=False)
        s = data["sizes"][-1]
        points.append({"label": label, "sigma_w": sw, "rho": s["fit"]["rho"],
                       "rho_ci95": s["fit"]["rho_ci95"],
                       "predicted": data["theory"]["mean_field"]["rho"],
                       "rel_diff": s["rho_rel_diff"]})
    grid = np.linspace(min(sigma_ws), max(sigma_ws), 60)
    curve = {"sigma_w": grid.tolist(),
             "rho": [theory.mean_field("tanh", g, sigma_b).rho for g in grid],
             "measured": [p for p in points if p["label"].startswith("tanh")],
             "critical_sigma_w": theory.critical_sigma_w("tanh", sigma_b),
             "title": f"tanh, sigma_b={sigma_b:g}, width {width}, depth {depth}"}
    return points, curve


def variance_scaling_check(width: int, depth: int, seeds: int) -> dict:
    """Linear net, ``normal`` init sigma_w = 1, batch 1: per-layer mean-square factor of the
    gradient (predicted exactly 1) and geometric factor (predicted just below 1)."""
    from suite import theory

    cfg = DecayConfig(activation="identity", init="normal", sigma_w=1.0, depths=(depth,),
                      width=width, batch=1, seeds=seeds, inputs="normal")
    ratios = np.concatenate([np.diff(np.log(probe(cfg, depth, s)["curve"]))
                             for s in range(seeds)])  # ln(||d_{l+1}|| / ||d_l||)
    # Backward factors are ||d_l|| / ||d_{l+1}|| = exp(-ratio).
    pred = theory.variance_scaling(1.0, width)
    return {"width": width, "depth": depth, "samples": int(ratios.size),
            "mean_square_measured": float(np.mean(np.exp(-2 * ratios))),
            "mean_square_stderr": float(np.std(np.exp(-2 * ratios)) / math.sqrt(ratios.size)),
            "mean_square_predicted": pred["mean_square"],
            "geometric_measured": float(np.exp(np.mean(-ratios))),
            "geometric_predicted": pred["geometric"]}


def decay_section(outdir: Path, progress: bool = True, *, depths: tuple = (4, 8, 16, 32, 64),
                  lengths: tuple = (10, 30, 100, 300), width: int = 128, hidden: int = 64,
                  batch: int = 32, seeds: int = 3, theory_width: int = 256,
                  theory_depth: int = 32, theory_sigma_ws: tuple = (0.7, 1.0, 1.3, 1.7, 2.2),
                  backend: str = "cpu") -> str:
    """Gradient decay: MLP and recurrent sweeps, theory, plots; returns Markdown.

    ``backend`` ("cpu", "cuda", "auto") runs the sweep cases' probes on those kernels.
    """
    from tqdm import tqdm

    from suite import decayplots

    outdir = Path(outdir)
    mlp = [(label, replace(c, backend=backend))
           for label, c in mlp_cases(depths, width, batch, seeds)]
    rec = [(label, replace(c, backend=backend))
           for label, c in recurrent_cases(lengths, hidden, batch, seeds)]
    results = {"mlp": [], "recurrent": []}
    config = {"mlp": {label: c.as_dict() for label, c in mlp},
              "recurrent": {label: c.as_dict() for label, c in rec}}
    path = outdir / "decay.json"
    with tqdm(total=len(mlp) + len(rec) + 2, desc="decay report", unit="case",
              disable=not progress) as bar:
        for group, cases in (("mlp", mlp), ("recurrent", rec)):
            for label, cfg in cases:
                bar.set_postfix_str(label)
                t0 = time.perf_counter()
                data = sweep(cfg, progress=False)
                results[group].append({"label": label, "seconds": time.perf_counter() - t0,
                                       **data})
                write_result(path, "report-decay", config, results)
                bar.update()
        points, curve = theory_sweep(theory_sigma_ws, theory_width, theory_depth, batch, 2)
        results["theory"] = {"points": points, "tanh_curve": curve}
        bar.update()
        results["variance_scaling"] = variance_scaling_check(width, 2 * max(depths), 4 * seeds)
        write_result(path, "report-decay", config, results)
        bar.update()

    mlp_runs = [(r["label"], r) for r in results["mlp"]]
    rec_runs = [(r["label"], r) for r in results["recurrent"]]
    decayplots.plot_curves(mlp_runs, outdir / "mlp_curves.png")
    decayplots.plot_curves(rec_runs, outdir / "rnn_curves.png", xlabel="step t")
    decayplots.plot_rates(points, outdir / "rates.png", theory_curve=curve)
    heat = np.array([[math.log10(s["first_last_ratio"])
                      if s["first_last_ratio"] > 0 and math.isfinite(s["first_last_ratio"])
                      else math.nan for s in r["sizes"]] for r in results["mlp"]])
    decayplots.plot_heatmap(heat, [r["label"] for r in results["mlp"]], list(depths),
                            outdir / "heatmap.png")
    clip = next(r for r in results["recurrent"] if r["label"].endswith("clip 1"))
    decayplots.plot_clipping([s["size"] for s in clip["sizes"]],
                             [s["grad_norm_geomean"] for s in clip["sizes"]],
                             [s["clipped_norm_geomean"] for s in clip["sizes"]], 1.0,
                             outdir / "clipping.png")
    return _markdown(results, depths, lengths)


def _markdown(results: dict, depths: tuple, lengths: tuple) -> str:
    vs = results["variance_scaling"]
    worst = max(abs(p["rel_diff"]) for p in results["theory"]["points"])
    lines = [
        "## Gradient decay",
        "",
        f"rho = fitted per-layer (per-step) factor of ||dL/dh|| going down from the readout "
        f"(<1 vanishing, >1 exploding), at the largest depth {max(depths)} / length "
        f"{max(lengths)}; first/last = ||dL/dh_1|| / ||dL/dh_top||; theory = mean-field "
        f"sqrt(chi_1) or the Pascanu bound rate ||W_hh||_2 gamma.",
        "",
        TABLE_HEAD,
        *[table_row(r["label"], r) for r in results["mlp"] + results["recurrent"]],
        "",
        "**Mean-field check** (inputs at q*, independent random top cotangent): "
        + ", ".join(f"{p['label']}: {p['rho']:.4f} vs {p['predicted']:.4f}"
                    for p in results["theory"]["points"])
        + f" (largest relative gap {worst:.1%}).",
        "",
        f"**Variance scaling** (linear net, normal init sigma_w=1, width {vs['width']}): "
        f"mean-square factor per layer {vs['mean_square_measured']:.4f} "
        f"+- {vs['mean_square_stderr']:.4f} (predicted {vs['mean_square_predicted']:g}), "
        f"geometric factor {vs['geometric_measured']:.4f} "
        f"(predicted {vs['geometric_predicted']:.4f}).",
        "",
        "Files: `decay.json` (every curve, fit and diagnostic); `mlp_curves.png` and "
        "`rnn_curves.png` (log gradient norm against layer / step, one line per depth / "
        "length); `heatmap.png` (log10 first/last ratio, case x depth: red vanishing, blue "
        "exploding); `rates.png` (measured rho against sqrt(chi_1), and rho against sigma_w "
        "across the tanh order-to-chaos edge); `clipping.png` (an exploding RNN's gradient "
        "norm before and after clipping).",
        "",
    ]
    return "\n".join(lines)


SECTIONS: list[Section] = [decay_section, quick_speed_report, quick_training_report]


def write_report(outdir, progress: bool = True,
                 sections: list[Section] | None = None) -> Path:
    """Run every section into ``outdir``; write ``summary.md`` (atomically, after each)."""
    from suite import __version__
    from suite.machine import fingerprint

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    m = fingerprint()
    head = (f"# vgbench report\n\nvgbench {__version__} on {m['cpu']} ({m['num_cpu']} CPUs), "
            f"Python {m['python']}, numba {m['numba']}, numpy {m['numpy']}.\n")
    parts = [head]
    summary = outdir / "summary.md"
    t0 = time.perf_counter()
    for section in SECTIONS if sections is None else sections:
        parts.append(section(outdir, progress))
        write_text_atomic(summary, "\n".join(parts)
                           + f"\nWall time so far: {time.perf_counter() - t0:.0f} s.\n")
    return summary
