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
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vgbench import __version__
from vgbench.analysis import theory
from vgbench.analysis.decay import DecayConfig, probe, sweep
from vgbench.env.fingerprint import fingerprint
from vgbench.report import decayplots
from vgbench.report.remedies import remedies_section
from vgbench.report.results import write_result, write_text_atomic
from vgbench.report.speedplots import plot_speed
from vgbench.report.tables import (
    DECAY_TABLE_HEAD,
    adding_markdown,
    ceiling_summary,
    decay_table_row,
    depth_markdown,
    format_table,
)
from vgbench.report.trainplots import plot_adding_sweep, plot_loss_curves, plot_update_heatmaps
from vgbench.speed.baselines import IMPLS
from vgbench.speed.sweep import QUICK_CASES, default_threads, run_sweep, sweep_config
from vgbench.training.train import (
    QUICK_ADDING,
    SOLVED_FRACTION,
    TrainConfig,
    adding_sweep,
    depth_comparison,
    depth_summary,
)

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


def theory_sweep(sigma_ws: tuple, width: int, depth: int, batch: int, seeds: int,
                 sigma_b: float = 0.05) -> tuple[list, dict]:
    """Wide tanh nets at several sigma_w plus ReLU+He, inputs at q*, random top cotangent:
    measured rho against sqrt(chi_1).  Returns (points, theory curve for the plot)."""
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
        DECAY_TABLE_HEAD,
        *[decay_table_row(r["label"], r) for r in results["mlp"] + results["recurrent"]],
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


def speed_section(outdir: Path, progress: bool = True) -> str:
    """A short sweep (well under a minute on 2 cores) for ``vgbench run``.

    Writes ``speed.json`` and ``speed.png`` into ``outdir``; returns a Markdown section
    whose links are relative to ``outdir``.
    """
    outdir = Path(outdir)
    threads = default_threads()
    kw = dict(impls=IMPLS, threads=threads, passes=("fwd_bwd",), budget_s=0.15,
              min_repeats=3, gemm_n=1024)
    data = run_sweep(QUICK_CASES, ceiling_budget_s=0.3, progress=progress, **kw)
    config = sweep_config(QUICK_CASES, backend="cpu", seed=0, **kw)
    path = write_result(outdir / "speed.json", "speed", config, data)
    doc = {"kind": "speed", "config": config, "data": data, "machine": {}}
    plot_speed([doc], outdir / "speed.png")
    notes = "".join(f"\n* {n}" for n in data["notes"])
    return (f"## Speed\n\nForward+backward, float32, medians (quick sweep; `vgbench speed` "
            f"for the full one). `x` = baseline time / vgbench time.\n\n"
            f"{format_table(data, markdown=True)}\n\n{ceiling_summary(data)}\n{notes}\n\n"
            f"Raw samples: `{path.name}`.\n\n![speed](speed.png)\n")


def training_section(outdir: Path, progress: bool = True) -> str:
    """A short training study for ``vgbench run``: JSON + PNGs in outdir, Markdown back.

    Depth-20 teacher-student MLPs (300 SGD steps) for the update-ratio heatmap, and the
    adding problem at T = 10, 20, 40 for RNN, LSTM and clipped RNN.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    depth, width = 20, 64
    dcfg = TrainConfig(steps=300, batch=64, lr=0.05)
    runs = depth_comparison(depth, width, dcfg, progress=progress)
    dsum = depth_summary(runs)
    as_dicts = {k: r.to_dict() for k, r in runs.items()}
    write_result(outdir / "train_depth.json", "train",
                 {"experiment": "depth", "depth": depth, "width": width, **asdict(dcfg)},
                 {"runs": as_dicts, "summary": dsum})
    plot_loss_curves(as_dicts, outdir / "train_depth_loss.png",
                     f"teacher-student, depth {depth}, width {width}")
    plot_update_heatmaps(as_dicts, outdir / "train_depth_update_ratio.png")

    acfg = TrainConfig(**QUICK_ADDING)
    lengths = (10, 20, 40)
    sweep = adding_sweep(lengths, 32, acfg, progress=progress)
    write_result(outdir / "train_adding.json", "train",
                 {"experiment": "adding", "hidden": 32, "lengths": lengths, **asdict(acfg)},
                 {"sweep": sweep, "solved_fraction": SOLVED_FRACTION})
    plot_adding_sweep(sweep, outdir / "train_adding.png", SOLVED_FRACTION)
    return "\n".join([
        "## Training consequences", "",
        f"SGD (lr {dcfg.lr}, {dcfg.steps} steps, batch {dcfg.batch}) on a teacher-student "
        f"task; update ratio = ||dW_l|| / ||W_l||, bottom = W_0, top = W_{depth - 1}.", "",
        depth_markdown(dsum, depth), "",
        "![loss](train_depth_loss.png)", "![update ratio](train_depth_update_ratio.png)", "",
        f"Adding problem, {acfg.steps} steps of batch {acfg.batch}, lr {acfg.lr}, momentum "
        f"{acfg.momentum}: held-out MSE / baseline (1/6); ✓ = solved "
        f"(below {SOLVED_FRACTION}).", "",
        adding_markdown(sweep), "", "![adding](train_adding.png)", ""])


SECTIONS: list[Section] = [decay_section, speed_section, training_section, remedies_section]


def write_report(outdir, progress: bool = True,
                 sections: list[Section] | None = None) -> Path:
    """Run every section into ``outdir``; write ``summary.md`` (atomically, after each)."""
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
