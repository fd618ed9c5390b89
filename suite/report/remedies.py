"""``vgbench run``'s remedies section: the remedies beyond the classic ones, side by side.

One decay plot: the per-step gradient norm of one vanishing tanh RNN (orthogonal W_hh,
gain 0.8) as an Elman RNN, with leaky units, with a skip connection through time and
with both, beside the LSTM and an echo state network's ||dh_T/dh_t|| (which nothing is
trained through), all normalised at the last step.  One training table, each row a short
run: L2 weight decay on an exploding tanh MLP, greedy layer-wise pre-training of a deep
sigmoid MLP, a genetic algorithm on that net beside SGD at the same compute, and an echo
state network on the copy task.  Sized to run well under a minute on 2 cores.
"""

import time
from pathlib import Path

import numpy as np

from vgbench.analysis.decay import DecayConfig, sweep
from vgbench.analysis.eigen import eigen_probe
from vgbench.models import ESN
from vgbench.report.remedyplots import plot_remedy_curves
from vgbench.report.results import write_result
from vgbench.training.esn import fit_on_task
from vgbench.training.evolution import GAConfig, evolution_comparison
from vgbench.training.pretrain import pretrain_comparison, pretrain_summary
from vgbench.training.tasks import CopyMemory
from vgbench.training.train import TrainConfig
from vgbench.training.weight_decay import weight_decay_comparison, weight_decay_summary

T, HIDDEN = 60, 32
DECAY_CASES = {  # label -> DecayConfig keyword arguments
    "RNN": {},
    "RNN, leak 0.3": {"leak": 0.3},
    "RNN, skip 6": {"skip": 6},
    "RNN, leak 0.3 + skip 6": {"leak": 0.3, "skip": 6},
    "LSTM": {"model": "lstm"},
}


def remedy_curves(seeds: int = 2) -> dict:
    """label -> geometric-mean ||dL/dh_t|| (t = 1..T) over seeds, plus the ESN's
    ||dh_T/dh_t|| (t = 1..T) for one example."""
    curves = {}
    for label, kw in DECAY_CASES.items():
        cfg = DecayConfig(**{"model": "rnn", **kw}, seq_lens=(T,), width=HIDDEN, in_dim=8,
                          batch=8, seeds=seeds, recurrent_init="orthogonal", gain=0.8)
        curves[label] = np.asarray(sweep(cfg, progress=False)["sizes"][0]["curve_geomean"])
    esn = ESN(8, 100, 1, spectral_radius=0.9, input_scale=0.1)  # tanh off saturation
    x = np.random.default_rng(0).standard_normal((T, 1, 8)) * 0.1
    label = "ESN radius 0.9, input scale 0.1 (||dh_T/dh_t||)"
    curves[label] = esn.state_jacobian_norms(x)[1:, 0]
    return curves


def remedy_table() -> list[dict]:
    """Short runs of every trained remedy: one row each (remedy, setting, bottom/top
    update ratio, held-out MSE / baseline, cost)."""
    rows = []
    wd = weight_decay_summary(weight_decay_comparison(
        (0.0, 0.1), depth=12, width=32, config=TrainConfig(steps=150, lr=0.01)))
    for label, s in wd.items():
        rows.append({"remedy": "L2 weight decay" if label != "wd=0" else "none (exploding)",
                     "setting": f"tanh MLP sigma_w 3, depth 12, {label}",
                     "bottom_over_top": s["bottom_over_top"],
                     "mse": s["eval_mse"] / s["baseline_mse"], "cost": "150 SGD steps"})
    pre = pretrain_comparison(6, 16, TrainConfig(steps=150, lr=0.1, momentum=0.9),
                              TrainConfig(steps=150, lr=0.1, momentum=0.9, eval_batch=500),
                              eval_every=75)
    for label, s in pretrain_summary(pre).items():
        rows.append({"remedy": "layer-wise pre-training" if label == "pre-trained"
                     else "none (vanishing)",
                     "setting": f"sigmoid MLP depth 6, {label}",
                     "bottom_over_top": s["bottom_over_top"],
                     "mse": s["eval_mse_end"] / s["baseline_mse"],
                     "cost": "150 SGD steps" + (" + 6 x 150 AE steps"
                                                if label == "pre-trained" else "")})
    ga = evolution_comparison(6, 16, GAConfig(population=24, parents=6, generations=60,
                                              eval_every=30))
    for label, r in ga.items():
        n = r["forward_passes"][-1]
        rows.append({"remedy": "genetic algorithm" if label == "GA" else "SGD (same compute)",
                     "setting": "sigmoid MLP depth 6, width 16", "bottom_over_top": None,
                     "mse": r["eval_mse"] / r["baseline_mse"],
                     "cost": f"{n} forward passes" + (f" + {n} backward" if label == "SGD"
                                                      else "")})
    task = CopyMemory(delay=10)
    r = fit_on_task(ESN(task.in_dim, 100, task.out_dim), task, 1000, 500)
    rows.append({"remedy": "echo state network", "setting": "copy task, delay 10, 100 units",
                 "bottom_over_top": None, "mse": r["eval_mse"] / r["baseline_mse"],
                 "cost": f"1 ridge solve on 1000 sequences (accuracy {r['eval_accuracy']:.2f})"})
    return rows


def remedies_section(outdir: Path, progress: bool = True) -> str:
    """Run the decay comparison and the training table; write ``remedies.json`` and
    ``remedies_decay.png``; return Markdown."""
    outdir = Path(outdir)
    t0 = time.perf_counter()
    curves = remedy_curves()
    eig = eigen_probe([0.5, 0.9, 1.05], seq_len=11)
    rows = remedy_table()
    write_result(outdir / "remedies.json", "report-remedies", {"seq_len": T, "hidden": HIDDEN},
                 {"curves": {k: v.tolist() for k, v in curves.items()}, "table": rows,
                  "eigen": eig.as_dict(), "seconds": time.perf_counter() - t0})
    plot_remedy_curves(curves, outdir / "remedies_decay.png",
                       f"tanh RNN, orthogonal W_hh gain 0.8, T = {T}, H = {HIDDEN}")
    ratio = {k: v[0] / v[-1] for k, v in curves.items()}
    lines = ["## Remedies", "",
             f"Per-step gradient norm back over {T} steps, first/last: "
             + ", ".join(f"{k}: {v:.2g}" for k, v in ratio.items()) + ".", "",
             "![remedies decay](remedies_decay.png)", "",
             "Eigenvalue picture (linear RNN, symmetric W_hh): the component along "
             "eigenvalue lambda after 10 steps is "
             + ", ".join(f"{lam:g}: {eig.relative[0, i]:.4g} (lambda^10 "
                         f"{eig.predicted[0, i]:.4g})" for i, lam in enumerate(eig.eigenvalues))
             + ".", "",
             "| remedy | setting | bottom/top update ratio | held-out MSE / baseline | cost |",
             "|---|---|---|---|---|"]
    for r in rows:
        bt = "-" if r["bottom_over_top"] is None else f"{r['bottom_over_top']:.3g}"
        lines.append(f"| {r['remedy']} | {r['setting']} | {bt} | {r['mse']:.3g} | "
                     f"{r['cost']} |")
    lines += ["", "`vgbench train --experiment weight-decay | pretrain | evolution | "
              "memory-capacity`, `vgbench train --model esn` and `vgbench decay --leak/--skip/"
              "--eigenvalues` run the full versions.  Data: `remedies.json`.", ""]
    return "\n".join(lines)
