"""``vgbench decay``: gradient-norm curves over depths or sequence lengths, fits and theory."""

import math
import sys

HELP = "gradient decay sweep: per-layer/step norms, fitted rates, theory, JSON and PNG plots"


def add_arguments(parser) -> None:
    from vgbench.analysis.decay import INPUTS, TOPS
    from vgbench.cli.cluster_options import add_scheduler_argument
    from vgbench.cli.options import IntList, add_denormals, nonneg, positive, positive_int
    from vgbench.kernels.activations import ACTIVATIONS
    from vgbench.models import MODELS
    from vgbench.models.init import INITS

    parser.add_argument("--model", default="mlp", choices=MODELS)
    parser.add_argument("--activation", nargs="+", default=["tanh"], choices=sorted(ACTIVATIONS),
                        help="one or more (one sweep each; MLP heatmap over them)")
    parser.add_argument("--init", default="xavier", choices=INITS)
    parser.add_argument("--recurrent-init", default=None, choices=INITS,
                        help="W_hh init for rnn/lstm (default: --init)")
    parser.add_argument("--sigma-w", type=nonneg, default=1.0)
    parser.add_argument("--sigma-b", type=nonneg, default=0.0)
    parser.add_argument("--gain", type=nonneg, default=1.0)
    parser.add_argument("--depths", action=IntList, default=[4, 8, 16, 32, 64],
                        help="MLP depths")
    parser.add_argument("--seq-lens", action=IntList, default=[10, 30, 100, 300],
                        help="RNN/LSTM sequence lengths")
    parser.add_argument("--width", type=positive_int, default=128, help="hidden width")
    parser.add_argument("--batch", type=positive_int, default=32)
    parser.add_argument("--residual", action="store_true")
    parser.add_argument("--batchnorm", action="store_true")
    parser.add_argument("--clip", type=positive, default=None, help="global-norm clip threshold")
    parser.add_argument("--truncate", type=positive_int, default=None, help="truncated BPTT window")
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--top", default="random", choices=TOPS,
                        help="random top cotangent (theory setting) or MSE loss")
    parser.add_argument("--inputs", default="fixed_point", choices=INPUTS,
                        help="MLP inputs at the mean-field fixed point q* or N(0, 1)")
    parser.add_argument("--backend", default="cpu", choices=["cpu", "cuda", "auto"],
                        help="kernels to probe with (cuda: needs a GPU or the simulator)")
    parser.add_argument("--leak", nargs="+", type=float, default=[1.0], metavar="A",
                        help="RNN leak(s) a in (0, 1], one sweep each (1: Elman RNN)")
    parser.add_argument("--skip", action=IntList, minimum=0, default=[0],
                        help="RNN skip(s) through time k (0: none, else >= 2), one sweep each")
    parser.add_argument("--eigenvalues", nargs="+", type=float, default=None, metavar="L",
                        help="instead of a sweep: the eigenvalue picture of a linear RNN with "
                        "symmetric W_hh of these eigenvalues, over the first --seq-lens")
    parser.add_argument("--out", default="vgbench-decay", help="output folder")
    add_denormals(parser)
    add_scheduler_argument(parser)


def _eigen(args) -> int:
    from vgbench.analysis.eigen import eigen_probe
    from vgbench.cli.guard import check_output_path
    from vgbench.report.remedyplots import plot_eigen
    from vgbench.report.results import write_result

    out = check_output_path(args.out, "dir")
    T = args.seq_lens[0]
    r = eigen_probe(args.eigenvalues, T, args.batch, args.dtype)
    write_result(out / "eigen.json", "decay", {"eigenvalues": list(args.eigenvalues),
                                               "seq_len": T, "batch": args.batch,
                                               "dtype": args.dtype}, r.as_dict())
    png = plot_eigen(r.as_dict(), out / "eigen.png")
    print(f"| lambda | measured after {T - 1} steps | lambda^{T - 1} |\n|---|---|---|")
    for i, lam in enumerate(r.eigenvalues):
        print(f"| {lam:g} | {r.relative[0, i]:.4g} | {r.predicted[0, i]:.4g} |")
    print(f"max relative deviation from |lambda|^k: {r.max_rel_error:.2e}")
    print(f"wrote {out / 'eigen.json'} and {png}")
    return 0


def run(args) -> int:
    import numpy as np

    if args.eigenvalues is not None:
        return _eigen(args)

    from vgbench.analysis.decay import DecayConfig, sweep
    from vgbench.cli.guard import check_output_path, save_or_rescue
    from vgbench.cli.options import apply_denormals
    from vgbench.cluster.tasks import session
    from vgbench.report import decayplots
    from vgbench.report.progress import CaseProgress
    from vgbench.report.results import write_result
    from vgbench.report.tables import DECAY_TABLE_HEAD, VERDICT_RULE, decay_table_row

    configs = [DecayConfig(
        model=args.model, activation=act, init=args.init, recurrent_init=args.recurrent_init,
        sigma_w=args.sigma_w, sigma_b=args.sigma_b, gain=args.gain, depths=tuple(args.depths),
        seq_lens=tuple(args.seq_lens), width=args.width, batch=args.batch,
        residual=args.residual, batchnorm=args.batchnorm, clip=args.clip,
        truncate=args.truncate, seeds=args.seeds, dtype=args.dtype, top=args.top,
        inputs=args.inputs, backend=args.backend, leak=leak, skip=skip)
        for act in args.activation for leak in args.leak for skip in args.skip]
    apply_denormals(args)
    out = check_output_path(args.out, "dir")
    meta = {"runs": [c.as_dict() for c in configs]}
    runs = []
    progress = sys.stderr.isatty() or args.scheduler is not None
    # one line per finished size in a log (a scheduler's task progress does that itself)
    log = CaseProgress("decay", sum(len(c.sizes) for c in configs),
                       not sys.stderr.isatty() and args.scheduler is None)

    def save(partial, label, done):  # after each size: partial until the end
        write_result(out / "decay.json", "decay", meta,
                     {"complete": False, "runs": done + [{"label": label, **partial}]})
        log.done(f"{label} size {partial['sizes'][-1]['size']}")

    with session(args.scheduler) as scheduler:
        for cfg in configs:
            label = (f"{cfg.model} {cfg.activation}"
                     + (f" a={cfg.leak:g}" if cfg.leak != 1 else "")
                     + (f" skip={cfg.skip}" if cfg.skip else ""))
            data = sweep(cfg, progress=progress, scheduler=scheduler,
                         on_size=lambda p, label=label, done=list(runs): save(p, label, done))
            runs.append({"label": label, **data})
    path = save_or_rescue(lambda p: write_result(p, "decay", meta, {"complete": True,
                                                                    "runs": runs}),
                          out / "decay.json")

    pairs = [(r["label"], r) for r in runs]
    mlp = args.model == "mlp"
    plots = [decayplots.plot_curves(pairs, out / "curves.png",
                                    xlabel="layer l" if mlp else "step t")]
    points = [{"label": r["label"], "rho": s["fit"]["rho"], "rho_ci95": s["fit"]["rho_ci95"],
               "predicted": s["rho_predicted"]}
              for r in runs for s in r["sizes"] if "rho_predicted" in s]
    if points:
        plots.append(decayplots.plot_rates(points, out / "rates.png"))
    if mlp:
        heat = np.array([[math.log10(s["first_last_ratio"])
                          if 0 < s["first_last_ratio"] < math.inf else math.nan
                          for s in r["sizes"]] for r in runs])
        plots.append(decayplots.plot_heatmap(heat, [r["label"] for r in runs],
                                             list(configs[0].sizes), out / "heatmap.png"))
    print(VERDICT_RULE)
    print(DECAY_TABLE_HEAD)
    for r in runs:
        for i in range(len(r["sizes"])):
            print(decay_table_row(r["label"], r, i))
    print(f"wrote {path} and {', '.join(str(p) for p in plots)}")
    return 0
