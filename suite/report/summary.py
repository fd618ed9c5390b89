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

from vgbench.analysis import theory
from vgbench.analysis.decay import DecayConfig, probe, sweep
from vgbench.env.fingerprint import fingerprint
from vgbench.env.provenance import provenance, provenance_line
from vgbench.report import decayplots
from vgbench.report.progress import CaseProgress, on_terminal
from vgbench.report.remedies import remedies_section
from vgbench.report.results import write_result, write_text_atomic
from vgbench.report.speedplots import plot_speed
from vgbench.report.tables import (
    DECAY_TABLE_HEAD,
    VERDICT_RULE,
    adding_markdown,
    ceiling_summary,
    constant_output_note,
    decay_table_row,
    depth_markdown,
    format_table,
)
from vgbench.report.trainplots import plot_adding_sweep, plot_loss_curves, plot_update_heatmaps
from vgbench.speed import trust
from vgbench.speed.baselines import IMPLS
from vgbench.speed.ceiling import GEMM_N
from vgbench.speed.sweep import QUICK_CASES, default_threads, run_sweep, sweep_config
from vgbench.training.train import (
    ADDING_MODELS,
    DEPTH_CONFIGS,
    LEARNED_FRACTION,
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
    runs = [(f"tanh, sigma_w={sw:g}", sw, DecayConfig(activation="tanh", init="normal", sigma_w=sw,
                                                sigma_b=sigma_b, **base))
            for sw in sigma_ws]
    runs.append(("relu, He", math.sqrt(2.0), DecayConfig(activation="relu", init="he", **base)))
    points = []
    for label, sw, cfg in runs:
        data = sweep(cfg, progress=False)
        s = data["sizes"][-1]
        points.append({"label": label, "sigma_w": sw, "rho": s["fit"]["rho"],
                       "rho_ci95": s["fit"]["rho_ci95"],
                       "predicted": data["theory"]["mean_field"]["rho"],
                       "sigma_b": cfg.sigma_b,
                       "rel_diff": s["rho_rel_diff"]})
    grid = np.linspace(min(sigma_ws), max(sigma_ws), 60)
    curve = {"sigma_w": grid.tolist(),
             "rho": [theory.mean_field("tanh", g, sigma_b).rho for g in grid],
             "measured": [p for p in points if p["label"].startswith("tanh")],
             "critical_sigma_w": theory.critical_sigma_w("tanh", sigma_b), "sigma_b": sigma_b,
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
    with CaseProgress("decay", len(mlp) + len(rec) + 2, progress) as bar:
        for group, cases in (("mlp", mlp), ("recurrent", rec)):
            for label, cfg in cases:
                bar.start(label)
                t0 = time.perf_counter()
                data = sweep(cfg, progress=False)
                results[group].append({"label": label, "seconds": time.perf_counter() - t0,
                                       **data})
                write_result(path, "report-decay", config, {**results, "complete": False})
                bar.done(label)
        bar.start("mean-field check")
        points, curve = theory_sweep(theory_sigma_ws, theory_width, theory_depth, batch, 2)
        results["theory"] = {"points": points, "tanh_curve": curve,
                             "setting": {"width": theory_width, "depth": theory_depth,
                                         "sigma_b": curve["sigma_b"]}}
        bar.done("mean-field check")
        bar.start("variance scaling")
        results["variance_scaling"] = variance_scaling_check(width, 2 * max(depths), 4 * seeds)
        write_result(path, "report-decay", config, {**results, "complete": True})
        bar.done("variance scaling")

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


def _mean_field_table(theory_results: dict) -> list[str]:
    """The mean-field check as a table: every number with its setting."""
    st = theory_results["setting"]
    rows = [f"| {p['label']} | {p['sigma_w']:.3g} | {p['sigma_b']:g} | {p['rho']:.4f} "
            f"[{p['rho_ci95'][0]:.4f}, {p['rho_ci95'][1]:.4f}] | {p['predicted']:.4f} | "
            f"{p['rel_diff']:+.1%} |" for p in theory_results["points"]]
    return [
        f"**Mean-field check** (width {st['width']}, depth {st['depth']}, inputs drawn at "
        f"the fixed point q*, independent random top cotangent: the setting the theory "
        f"describes).  tanh runs use sigma_b = {st['sigma_b']:g}, so their prediction at "
        f"sigma_w = 1 is below the 1.000 of the table's tanh/xavier row (sigma_b = 0).",
        "",
        "| net | sigma_w | sigma_b | measured rho [95% CI] | mean-field sqrt(chi_1) | "
        "measured / predicted - 1 |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def _dead_unit_note(mlp: list[dict]) -> str:
    """Why ReLU/He and ReLU/Xavier show the same dead units (positive homogeneity)."""
    dead = {r["label"]: float(np.mean(r["sizes"][-1].get("dead_fraction", [0.0])))
            for r in mlp}
    he, xavier = dead.get("relu, he"), dead.get("relu, xavier")
    if he is None or xavier is None:
        return ""
    return (f"ReLU/He ({he:.0%} dead) and ReLU/Xavier ({xavier:.0%}) show about the same "
            "dead units, and should: ReLU is positively homogeneous, f(cz) = c f(z), so the "
            "weights' scale (He's variance is twice Xavier's on square layers) changes the "
            "size of every pre-activation but never its sign, and a unit's death depends on "
            "signs only; the two inits draw different matrices (Xavier uniform, He normal) "
            "with the same random directions.  Units die because the rows of a batch grow "
            "more correlated with depth in a ReLU net with zero biases: a unit negative on "
            "one example ends up negative on all of them.  He's scale keeps the gradient's "
            "size (rho near 1); it does not keep units alive.")


def _markdown(results: dict, depths: tuple, lengths: tuple) -> str:
    vs = results["variance_scaling"]
    lines = [
        "## Gradient decay",
        "",
        f"Each row: the largest depth L = {max(depths)} (MLP) or length T = {max(lengths)} "
        f"(RNN/LSTM), {results['mlp'][0]['config']['seeds'] if results['mlp'] else '-'} "
        f"seeds.  rho = fitted factor of ||dL/dh|| per layer (step) going down from the "
        f"readout (< 1 shrinking, > 1 growing), 95% CI; xi = -1/ln rho, the layers (steps) "
        f"over which the gradient changes e-fold; theory = mean-field sqrt(chi_1) or the "
        f"Pascanu bound rate ||W_hh||_2 gamma (an upper bound on the per-step factor); "
        f"first/last = ||dL/dh_1|| / ||dL/dh_top||, geometric mean over seeds.",
        "",
        VERDICT_RULE,
        "",
        DECAY_TABLE_HEAD,
        *[decay_table_row(r["label"], r) for r in results["mlp"] + results["recurrent"]],
        "",
        _dead_unit_note(results["mlp"]),
        "",
        *_mean_field_table(results["theory"]),
        "",
        f"**Variance scaling** (linear net, normal init sigma_w=1, width {vs['width']}, "
        f"depth {vs['depth']}, batch 1, {vs['samples']} layer factors): mean-square factor "
        f"per layer {vs['mean_square_measured']:.4f} +- {vs['mean_square_stderr']:.4f} "
        f"(standard error; predicted {vs['mean_square_predicted']:g}), geometric factor "
        f"{vs['geometric_measured']:.4f} (predicted {vs['geometric_predicted']:.4f}).",
        "",
        "Files: `decay.json` (every curve, fit and diagnostic); `mlp_curves.png` and "
        "`rnn_curves.png` (log gradient norm against layer / step, one line per depth / "
        "length); `heatmap.png` (log10 first/last ratio, case x depth: red vanishing, blue "
        "exploding, grey no value); `rates.png` (measured rho against sqrt(chi_1), and rho "
        "against sigma_w across the tanh order-to-chaos edge); `clipping.png` (an exploding "
        "RNN's gradient norm before and after clipping).",
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
              min_repeats=trust.MIN_SAMPLES, gemm_n=GEMM_N)
    log = CaseProgress("speed", len(QUICK_CASES), progress and not on_terminal())
    config = sweep_config(QUICK_CASES, backend="cpu", seed=0, **kw)
    data = {}
    try:
        run_sweep(QUICK_CASES, ceiling_budget_s=0.3, progress=progress and on_terminal(),
                  data=data, on_case=log.done, **kw)
    except KeyboardInterrupt:  # keep the blocks measured so far, "complete": false
        if data:
            write_result(outdir / "speed.json", "speed", config, data)
        raise
    finally:
        log.close()
    path = write_result(outdir / "speed.json", "speed", config, data)
    doc = {"kind": "speed", "config": config, "data": data, "machine": {}}
    plot_speed([doc], outdir / "speed.png")
    notes = "".join(f"\n* {n}" for n in data["notes"])
    warned = "".join(f"\n* **{w}**" for w in trust.warnings(data))
    ceilings = "".join(f"\n* {line}" for line in ceiling_summary(data).splitlines())
    load = data["loadavg_start"]
    return (f"## Speed\n\nForward+backward, float32 (quick sweep; `vgbench speed` for the "
            f"full one).  Each time: median ms (IQR ms / n timed calls); `x` = baseline "
            f"time / vgbench time (> 1: vgbench faster); GF/s counts matrix products only; "
            f"% GEMM = vgbench's rate / the best {GEMM_N}^3 GEMM rate at the same thread "
            f"count (the same ceiling as `vgbench speed`'s default).  Load average (1 min) "
            f"{load[0] if load else float('nan'):.1f} at the start on "
            f"{data['usable_cpus']} usable cores.\n\n{trust.RULE}\n\n"
            f"{format_table(data, markdown=True)}\n{warned}\n\nCeiling:{ceilings}\n{notes}\n\n"
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
    bars = progress and on_terminal()  # in a log: one line per finished run instead
    log = CaseProgress("training", len(DEPTH_CONFIGS) + 3 * len(ADDING_MODELS),
                       progress and not on_terminal(), unit="run")
    runs = depth_comparison(depth, width, dcfg, progress=bars,
                            on_run=lambda r: log.done(f"depth {depth}: {list(r)[-1]}"))
    dsum = depth_summary(runs)
    as_dicts = {k: r.to_dict() for k, r in runs.items()}
    stopped = any(r.interrupted for r in runs.values())  # train() returns on Ctrl-C
    write_result(outdir / "train_depth.json", "train",
                 {"experiment": "depth", "depth": depth, "width": width, **asdict(dcfg)},
                 {"complete": not stopped, "runs": as_dicts, "summary": dsum,
                  "learned_fraction": LEARNED_FRACTION})
    if stopped:
        raise KeyboardInterrupt
    plot_loss_curves(as_dicts, outdir / "train_depth_loss.png",
                     f"teacher-student, depth {depth}, width {width}")
    plot_update_heatmaps(as_dicts, outdir / "train_depth_update_ratio.png")

    acfg = TrainConfig(**QUICK_ADDING)
    lengths = (10, 20, 40)

    def adding_done(s):  # the run just finished: the last model at the longest list
        most = max(len(v["lengths"]) for v in s.values())
        label = [k for k, v in s.items() if len(v["lengths"]) == most][-1]
        log.done(f"adding: {label} T={s[label]['lengths'][-1]}")

    sweep = adding_sweep(lengths, 32, acfg, progress=bars, on_run=adding_done)
    log.close()
    stopped = any("interrupted" in s["status"] for s in sweep.values())
    write_result(outdir / "train_adding.json", "train",
                 {"experiment": "adding", "hidden": 32, "lengths": lengths, **asdict(acfg)},
                 {"complete": not stopped, "sweep": sweep, "solved_fraction": SOLVED_FRACTION})
    if stopped:
        raise KeyboardInterrupt
    plot_adding_sweep(sweep, outdir / "train_adding.png", SOLVED_FRACTION)
    return "\n".join([
        "## Training consequences", "",
        f"SGD (lr {dcfg.lr}, {dcfg.steps} steps, batch {dcfg.batch}) on a teacher-student "
        f"task (targets standardised: predicting their mean gives MSE / baseline = 1); "
        f"update ratio = ||dW_l|| / ||W_l||, bottom = W_0, top = W_{depth - 1} (the top "
        f"hidden layer; W_{depth} is the linear readout).  Two separate questions: "
        f"**finite** = no NaN/Inf in loss, gradient or weights (did not explode); "
        f"**learned** = held-out MSE below {LEARNED_FRACTION:g} x the baseline's (explains "
        f"at least half of the variance).", "",
        depth_markdown(dsum, depth, LEARNED_FRACTION), "",
        "![loss](train_depth_loss.png)", "![update ratio](train_depth_update_ratio.png)", "",
        f"Adding problem (hidden 32), {acfg.steps} steps of batch {acfg.batch}, lr {acfg.lr}, "
        f"momentum {acfg.momentum}: held-out MSE / baseline (baseline = predicting the mean, "
        f"MSE 1/6); ✓ = solved (below {SOLVED_FRACTION}); > 1 = worse than predicting the "
        f"mean.", "",
        adding_markdown(sweep), "", constant_output_note(sweep), "",
        "![adding](train_adding.png)", ""])


def subnormal_section(outdir: Path, progress: bool = True) -> str:
    """Keep vs flush on a short RNN sweep and a deep sigmoid MLP (seconds): the time cost
    of gradients that vanished into the subnormal range.  Writes ``subnormal.json`` and
    ``subnormal.png``; returns Markdown."""
    from vgbench.report.subnormalplots import plot_subnormal, subnormal_table
    from vgbench.speed.subnormal import SubnormalCase, run_sweep, sweep_config

    outdir = Path(outdir)
    cases = [SubnormalCase("rnn", 100, 128, 32), SubnormalCase("rnn", 300, 128, 32),
             SubnormalCase("mlp", 200, 128, 64, activation="sigmoid")]
    kw = dict(budget_s=0.2, blocks=2, torch=False, seed=0)
    data = run_sweep(cases, progress=progress, **kw)
    path = write_result(outdir / "subnormal.json", "subnormal", sweep_config(cases, **kw), data)
    notes = "".join(f"\n* {n}" for n in data["notes"])
    if not data["records"]:
        return f"## Subnormal numbers\n{notes}\n"
    plot_subnormal(data, outdir / "subnormal.png")
    return ("## Subnormal numbers\n\nA float32 gradient that vanishes passes through the "
            "subnormal range (below 1.2e-38), where many x86 CPUs compute one to two orders "
            "of magnitude slower: penalty = time with subnormals kept (IEEE, the default) / "
            "time with them flushed to zero (`--denormals flush`; `vgbench subnormal` for "
            f"the full sweep).\n\n{subnormal_table(data, markdown=True)}\n{notes}\n\n"
            f"Raw samples: `{path.name}`.\n\n![subnormal](subnormal.png)\n")


SECTIONS: list[Section] = [decay_section, speed_section, subnormal_section, training_section,
                           remedies_section]


def write_report(outdir, progress: bool = True,
                 sections: list[Section] | None = None) -> Path:
    """Run every section into ``outdir``; write ``summary.md`` (atomically, after each).

    ``progress``: a bar per section on a terminal, one line per finished case otherwise.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    m = fingerprint()
    head = (f"# vgbench report\n\n{provenance_line(provenance())}.\n\n"
            f"Machine: {m['cpu']} ({m['num_cpu']} logical CPUs), Python {m['python']}, "
            f"numba {m['numba']}, numpy {m['numpy']}.  Every result JSON in this folder "
            f"carries the same provenance and the full machine fingerprint.\n")
    parts = [head]
    summary = outdir / "summary.md"
    try:
        for section in SECTIONS if sections is None else sections:
            parts.append(section(outdir, progress))
            write_text_atomic(summary, "\n".join(parts))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: say the report is partial, then stop
        write_text_atomic(summary, "\n".join(parts) + "\n**Interrupted**: a partial report "
                          "(complete: false), the sections after the last one shown did not "
                          "finish.\n")
        raise
    return summary
