"""``vgbench train``: SGD runs that show what vanishing/exploding gradients do to training."""

import sys
from dataclasses import asdict

HELP = "train a model with SGD on a synthetic task; record update ratios, dead units, loss"


def add_arguments(parser) -> None:
    from vgbench.cli.cluster_options import add_scheduler_argument
    from vgbench.cli.options import (
        IntList,
        add_denormals,
        fraction,
        nonneg,
        nonneg_int,
        positive,
        positive_int,
    )
    from vgbench.kernels.activations import ACTIVATIONS
    from vgbench.models.init import INITS
    from vgbench.training.tasks import TASKS

    parser.add_argument("--experiment", default="single",
                        choices=["single", "depth", "adding", "weight-decay",
                                 "memory-capacity", "pretrain", "evolution"],
                        help="single: one run of the options below; depth: sigmoid/naive vs "
                        "ReLU/He vs residual vs batch norm MLPs; adding: RNN vs LSTM vs "
                        "clipped RNN over --lengths; weight-decay: an exploding tanh MLP "
                        "(sigma_w 3) at L2 decays 0, 0.01, 0.1; memory-capacity: ESN recall "
                        "r^2 per delay at spectral radii 0.5, 0.9, 0.99, 1.2; pretrain: a "
                        "deep sigmoid MLP (--depth, --width) fine-tuned after greedy "
                        "layer-wise autoencoder pre-training vs from random init; "
                        "evolution: a genetic algorithm (forward passes only) vs SGD on "
                        "that net, and its cost against the parameter count")
    parser.add_argument("--model", default="mlp", choices=["mlp", "rnn", "lstm", "esn"],
                        help="esn: echo state network, readout fitted in closed form on "
                        "--batch sequences (default 2000), reservoir size --width")
    parser.add_argument("--task", default=None, choices=TASKS,
                        help="default: teacher for mlp, adding for rnn/lstm")
    parser.add_argument("--depth", type=positive_int, default=20, help="MLP hidden layers")
    parser.add_argument("--width", type=positive_int, default=64,
                        help="MLP width / recurrent hidden size")
    parser.add_argument("--activation", default=None, choices=sorted(ACTIVATIONS),
                        help="MLP and RNN activation (default: sigmoid for mlp, tanh for rnn)")
    parser.add_argument("--init", default=None, choices=INITS,
                        help="default: normal (naive) for mlp, xavier for rnn/lstm")
    parser.add_argument("--gain", type=nonneg, default=1.0, help="gain of xavier/he/orthogonal")
    parser.add_argument("--residual", action="store_true")
    parser.add_argument("--batchnorm", action="store_true")
    parser.add_argument("--seq-len", type=positive_int, default=50,
                        help="adding: sequence length T; copy: delay")
    parser.add_argument("--lengths", action=IntList, default=[10, 25, 50, 100, 200],
                        help="sequence lengths T for --experiment adding")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="SGD steps (default 300; 3000 for recurrent runs)")
    parser.add_argument("--batch", type=positive_int, default=None,
                        help="batch size (default 64; 32 for recurrent runs)")
    parser.add_argument("--lr", type=positive, default=None,
                        help="learning rate (default 0.05; 0.1 for recurrent runs)")
    parser.add_argument("--momentum", type=fraction, default=None,
                        help="momentum (default 0; 0.9 for recurrent runs)")
    parser.add_argument("--clip", type=positive, default=None, help="max global gradient norm")
    parser.add_argument("--truncate", type=positive_int, default=None, help="truncated BPTT window")
    parser.add_argument("--weight-decay", type=nonneg, default=0.0,
                        help="L2 regularisation wd (adds wd/2 ||W||^2 per weight matrix)")
    parser.add_argument("--leak", type=float, default=1.0,
                        help="RNN leak a in (0, 1] (1: Elman RNN)")
    parser.add_argument("--spectral-radius", type=positive, default=0.9,
                        help="ESN reservoir spectral radius (> 0)")
    parser.add_argument("--skip", type=nonneg_int, default=0,
                        help="RNN skip connection through time k (0: none, else >= 2)")
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--seed", type=nonneg_int, default=0)
    parser.add_argument("--out", default="results/train", help="directory for JSON and PNGs")
    add_denormals(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_scheduler_argument(parser)


def _config(args, recurrent: bool):
    from vgbench.training.train import RECURRENT_DEFAULTS, TrainConfig

    base = RECURRENT_DEFAULTS if recurrent else {}
    chosen = {k: getattr(args, k) for k in ("steps", "batch", "lr", "momentum")
              if getattr(args, k) is not None}
    return TrainConfig(**{**base, **chosen, "clip": args.clip, "truncate": args.truncate,
                          "seed": args.seed, "weight_decay": args.weight_decay})


def _esn(args, out) -> int:
    from vgbench.models import ESN
    from vgbench.report.results import write_result
    from vgbench.training.esn import fit_on_task
    from vgbench.training.tasks import make_task

    task = make_task(args.task or "adding", dtype=args.dtype, seq_len=args.seq_len,
                     seed=args.seed)
    model = ESN(task.in_dim, args.width, task.out_dim, args.spectral_radius, args.leak,
                dtype=args.dtype, seed=args.seed)
    r = fit_on_task(model, task, args.batch or 2000, seed=args.seed)
    write_result(out / "train.json", "train", {"experiment": "single", "model": repr(model),
                                               "task": repr(task)}, {"runs": {"esn": r}})
    print(model)
    print(task)
    print(f"readout fitted on {args.batch or 2000} sequences in {r['wall_s']:.2f} s; "
          f"measured spectral radius {model.measured_radius:.4g}")
    print(f"train MSE {r['train_mse']:.4g}; held-out MSE {r['eval_mse']:.4g} (baseline "
          f"{r['baseline_mse']:.4g}), accuracy {r['eval_accuracy']:.3f}")
    print(f"wrote {out / 'train.json'}")
    return 0


def _memory_capacity(args, out) -> int:
    from vgbench.report.remedyplots import plot_memory_capacity
    from vgbench.report.results import write_result
    from vgbench.training.esn import memory_capacity

    R = args.width
    delays = 2 * R
    runs = [memory_capacity(R, delays, rho, washout=max(200, delays), seed=args.seed,
                            leak=args.leak, input_scale=0.1, dtype=args.dtype)
            for rho in (0.5, 0.9, 0.99, 1.2)]
    write_result(out / "memory_capacity.json", "train",
                 {"experiment": "memory-capacity", "reservoir": R, "input_scale": 0.1,
                  "leak": args.leak}, {"runs": runs})
    png = plot_memory_capacity(runs, out / "memory_capacity.png")
    print("| spectral radius | MC = sum r^2 | r^2 at d = 1, 5, 10, 20 |\n|---|---|---|")
    for r in runs:
        at = ", ".join(f"{r['r2'][d - 1]:.2f}" for d in (1, 5, 10, 20) if d <= delays)
        print(f"| {r['spectral_radius']:g} | {r['capacity']:.2f} | {at} |")
    print(f"(reservoir {R}, input scale 0.1; MC <= {R})")
    print(f"wrote {out / 'memory_capacity.json'} and {png}")
    return 0


def _pretrain(args, out) -> int:
    from dataclasses import replace

    from vgbench.report.remedyplots import plot_eval_curves
    from vgbench.report.results import write_result
    from vgbench.report.trainplots import plot_update_heatmaps
    from vgbench.training.pretrain import (
        FINETUNE,
        PRETRAIN,
        pretrain_comparison,
        pretrain_summary,
    )

    chosen = {k: getattr(args, k) for k in ("steps", "batch", "lr", "momentum")
              if getattr(args, k) is not None}
    config = replace(FINETUNE, **chosen, seed=args.seed, weight_decay=args.weight_decay)
    res = pretrain_comparison(args.depth, args.width, replace(PRETRAIN, seed=args.seed),
                              config, dtype=args.dtype, seed=args.seed)
    summary = pretrain_summary(res)
    runs = {k: {**v, "weight_names": [f"W{i}" for i in range(args.depth + 1)]}
            for k, v in res.items()}
    write_result(out / "train_pretrain.json", "train",
                 {"experiment": "pretrain", "depth": args.depth, "width": args.width,
                  "pretrain": asdict(PRETRAIN), "finetune": asdict(config)},
                 {"runs": runs, "summary": summary})
    plot_update_heatmaps(runs, out / "train_pretrain_update_ratio.png")
    plot_eval_curves(runs, out / "train_pretrain_eval.png",
                     f"deep sigmoid MLP (depth {args.depth}): fine-tuning")
    print(f"deep sigmoid MLP, depth {args.depth}, width {args.width}, teacher-student task")
    print("| init | W0 update ratio | top hidden ratio | bottom/top | held-out MSE start "
          "-> end | status |\n|---|---|---|---|---|---|")
    for label, s in summary.items():
        print(f"| {label} | {s['bottom_ratio']:.3g} | {s['top_ratio']:.3g} | "
              f"{s['bottom_over_top']:.3g} | {s['eval_mse_start']:.3g} -> "
              f"{s['eval_mse_end']:.3g} | {s['status']} |")
    scores = ", ".join(f"{v:.2f}" for v in res["pre-trained"]["pretrain_scores"])
    print(f"autoencoder reconstruction MSE / baseline per layer: {scores}")
    print(f"wrote {out}/train_pretrain.json, train_pretrain_update_ratio.png, "
          "train_pretrain_eval.png")
    return 0


def _evolution(args, out) -> int:
    from dataclasses import replace

    from vgbench.report.remedyplots import plot_evolution
    from vgbench.report.results import write_result
    from vgbench.training.evolution import (
        SGD,
        TARGET_MSE,
        GAConfig,
        cost_vs_params,
        evolution_comparison,
    )

    ga = GAConfig(seed=args.seed, **({"generations": args.steps} if args.steps else {}))
    chosen = {k: getattr(args, k) for k in ("batch", "lr", "momentum")
              if getattr(args, k) is not None}
    sgd = replace(SGD, **chosen, seed=args.seed)
    res = evolution_comparison(args.depth, args.width, ga, sgd, args.dtype, args.seed)
    widths = sorted({4, 8, 16, args.width})
    cost = cost_vs_params(widths, args.depth, ga, args.dtype, args.seed)
    write_result(out / "train_evolution.json", "train",
                 {"experiment": "evolution", "depth": args.depth, "width": args.width,
                  "ga": asdict(ga), "sgd": asdict(sgd), "target_mse": TARGET_MSE},
                 {"runs": res, "cost_vs_params": cost})
    png = plot_evolution(res, out / "train_evolution.png")
    print(f"deep sigmoid MLP, depth {args.depth}, width {args.width} "
          f"({res['GA']['n_params']} parameters), teacher-student task")
    print("| method | forward passes | backward passes | wall s | held-out MSE |\n"
          "|---|---|---|---|---|")
    for label, r in res.items():
        n = r["forward_passes"][-1]
        print(f"| {label} | {n} | {n if label == 'SGD' else 0} | {r['wall_s'][-1]:.2f} | "
              f"{r['eval_mse']:.3g} |")
    print(f"GA cost at a fixed budget of {ga.population * ga.generations} forward passes:")
    print(f"| width | parameters | us per pass | passes to held-out MSE <= {TARGET_MSE} | "
          "final held-out MSE |\n|---|---|---|---|---|")
    for c in cost:
        reach = c["passes_to_target"] if c["passes_to_target"] is not None else "never"
        print(f"| {c['width']} | {c['n_params']} | {c['us_per_pass']:.0f} | {reach} | "
              f"{c['eval_mse']:.3g} |")
    print(f"wrote {out / 'train_evolution.json'} and {png}")
    return 0


def _single(args, progress: bool, out) -> int:
    from vgbench import models
    from vgbench.cli.guard import save_or_rescue
    from vgbench.report.results import write_result
    from vgbench.report.trainplots import plot_loss_curves, plot_update_heatmaps
    from vgbench.training.tasks import accuracy_rule, make_task
    from vgbench.training.train import LEARNED_FRACTION, train

    if args.model == "esn":
        return _esn(args, out)
    recurrent = args.model != "mlp"
    activation = args.activation or ("tanh" if recurrent else "sigmoid")
    init = args.init or ("xavier" if recurrent else "normal")
    task = make_task(args.task or ("adding" if recurrent else "teacher"), dtype=args.dtype,
                     seq_len=args.seq_len, seed=args.seed)
    if args.model == "mlp":
        model = models.MLP(task.in_dim, args.width, args.depth, task.out_dim,
                           activation=activation, init=init, gain=args.gain,
                           residual=args.residual, batchnorm=args.batchnorm,
                           dtype=args.dtype, seed=args.seed)
    elif args.model == "rnn":
        model = models.RNN(task.in_dim, args.width, task.out_dim, activation=activation,
                           init=init, gain=args.gain, dtype=args.dtype, seed=args.seed,
                           leak=args.leak, skip=args.skip)
    else:
        model = models.LSTM(task.in_dim, args.width, task.out_dim, init=init,
                            gain=args.gain, dtype=args.dtype, seed=args.seed)
    config = _config(args, recurrent)
    r = train(model, task, config, progress, desc=repr(model))
    label = f"{args.model} {activation} {init}"
    meta = {"experiment": "single", "model": repr(model), "task": repr(task), **asdict(config)}
    data = {"complete": not r.interrupted, "runs": {label: r.to_dict()}}
    save_or_rescue(lambda p: write_result(p, "train", meta, data), out / "train.json")
    plot_loss_curves({label: r.to_dict()}, out / "train_loss.png", repr(task))
    plot_update_heatmaps({label: r.to_dict()}, out / "train_update_ratio.png")
    print(model)
    print(task)
    print(f"status: {r.status()}; {r.steps_done} steps in {r.wall_s:.2f} s")
    print(f"loss: first {r.loss[0]:.4g}, last {r.loss[-1]:.4g}; held-out MSE "
          f"{r.eval_mse:.4g} (baseline {r.baseline_mse:.4g}: predicting the mean); "
          f"learned: {'yes' if r.eval_mse < LEARNED_FRACTION * r.baseline_mse else 'no'} "
          f"(MSE < {LEARNED_FRACTION:g} x baseline)")
    print(f"accuracy {r.eval_accuracy:.3f} ({accuracy_rule(task)})")
    import numpy as np

    with np.errstate(all="ignore"):
        med_ratio = np.median(r.update_ratio, axis=0)
        med_grad = np.median(r.grad_norm, axis=0)
    print(f"{'weight':>8}  {'median ||dW||/||W||':>19}  {'median ||g||':>12}")
    for i, name in enumerate(r.weight_names):
        print(f"{name:>8}  {med_ratio[i]:19.3e}  {med_grad[i]:12.3e}")
    if r.dead_fraction is not None and len(r.dead_fraction):
        dead = ", ".join(f"{d:.2f}" for d in r.dead_fraction[-1])
        print(f"dead ReLU fraction per layer at step {r.dead_steps[-1]}: {dead}")
    print(f"wrote {out / 'train.json'}, {out / 'train_loss.png'}, {out / 'train_update_ratio.png'}")
    return _done(r.interrupted)


def _depth(args, progress: bool, out) -> int:
    from vgbench.cli.guard import save_or_rescue
    from vgbench.report.progress import CaseProgress
    from vgbench.report.results import write_result
    from vgbench.report.tables import depth_markdown
    from vgbench.report.trainplots import plot_loss_curves, plot_update_heatmaps
    from vgbench.training.train import (
        DEPTH_CONFIGS,
        LEARNED_FRACTION,
        depth_comparison,
        depth_summary,
    )

    config = _config(args, recurrent=False)
    meta = {"experiment": "depth", "depth": args.depth, "width": args.width, **asdict(config)}

    saved = {}
    log = CaseProgress("train depth", len(DEPTH_CONFIGS),
                       not args.no_progress and not sys.stderr.isatty(), unit="run")

    def save(results, **marks):  # after every run; complete once the last one finished in full
        saved.update(results)
        doc = {"complete": len(results) == len(DEPTH_CONFIGS) and not _stopped(results)
               and not marks,
               "runs": {k: r.to_dict() for k, r in results.items()},
               "summary": depth_summary(results), **marks}
        save_or_rescue(lambda p: write_result(p, "train", meta, doc), out / "train_depth.json")
        if results and not marks:
            log.done(list(results)[-1])

    try:
        results = depth_comparison(args.depth, args.width, config, args.dtype, args.seed,
                                   progress, on_run=save, scheduler=args.scheduler)
    except KeyboardInterrupt:
        save(saved, interrupted=True)
        raise
    runs = {k: r.to_dict() for k, r in results.items()}
    plot_loss_curves(runs, out / "train_depth_loss.png", f"teacher-student, depth {args.depth}")
    plot_update_heatmaps(runs, out / "train_depth_update_ratio.png")
    print(depth_markdown(depth_summary(results), args.depth, LEARNED_FRACTION))
    print(f"wrote {out}/train_depth.json, train_depth_loss.png, train_depth_update_ratio.png")
    return _done(_stopped(results))


def _adding(args, progress: bool, out) -> int:
    from vgbench.cli.guard import save_or_rescue
    from vgbench.report.progress import CaseProgress
    from vgbench.report.results import write_result
    from vgbench.report.tables import adding_markdown, constant_output_note
    from vgbench.report.trainplots import plot_adding_sweep
    from vgbench.training.train import SOLVED_FRACTION, adding_sweep

    lengths = list(args.lengths)
    config = _config(args, recurrent=True)
    meta = {"experiment": "adding", "hidden": args.width, "lengths": lengths, **asdict(config)}

    saved = {}
    log = CaseProgress("train adding", 3 * len(lengths),
                       not args.no_progress and not sys.stderr.isatty(), unit="run")

    def save(sweep, **marks):  # after every run; complete once every model ran at every length
        saved.update(sweep)
        statuses = [s for entry in sweep.values() for s in entry["status"]]
        doc = {"complete": len(statuses) == len(sweep) * len(lengths)
               and "interrupted" not in statuses and not marks,
               "sweep": sweep, "solved_fraction": SOLVED_FRACTION, **marks}
        save_or_rescue(lambda p: write_result(p, "train", meta, doc), out / "train_adding.json")
        if statuses and not marks:
            most = max(len(v["lengths"]) for v in sweep.values())
            label = [k for k, v in sweep.items() if len(v["lengths"]) == most][-1]
            log.done(f"{label} T={sweep[label]['lengths'][-1]}")

    try:
        sweep = adding_sweep(lengths, args.width, config, args.dtype, args.seed, progress,
                             on_run=save, scheduler=args.scheduler)
    except KeyboardInterrupt:
        save(saved, interrupted=True)
        raise
    plot_adding_sweep(sweep, out / "train_adding.png", SOLVED_FRACTION)
    print(adding_markdown(sweep))
    note = constant_output_note(sweep)
    if note:
        print(note)
    print(f"solved = held-out MSE < {SOLVED_FRACTION} x baseline 1/6 after {config.steps} steps")
    print(f"wrote {out}/train_adding.json, train_adding.png")
    return _done(any("interrupted" in entry["status"] for entry in sweep.values()))


def _stopped(results: dict) -> bool:
    return any(r.interrupted for r in results.values())


def _done(interrupted: bool) -> int:
    """0, or (the partial results written) the Ctrl-C/SIGTERM that stopped training."""
    if interrupted:
        raise KeyboardInterrupt  # main: exit 130, or 143 after SIGTERM
    return 0


def _weight_decay(args, progress: bool, out) -> int:
    from dataclasses import replace

    from vgbench.report.results import write_result
    from vgbench.report.trainplots import plot_loss_curves, plot_update_heatmaps
    from vgbench.training.weight_decay import (
        DECAYS,
        EXPLODING,
        weight_decay_comparison,
        weight_decay_summary,
    )

    config = _config(args, recurrent=False)
    if args.lr is None:
        config = replace(config, lr=0.01)  # the exploding net diverges at the default 0.05
    results = weight_decay_comparison(DECAYS, args.depth, args.width, config, args.dtype,
                                      args.seed, progress)
    runs = {k: r.to_dict() for k, r in results.items()}
    summary = weight_decay_summary(results)
    write_result(out / "train_weight_decay.json", "train",
                 {"experiment": "weight-decay", "depth": args.depth, "width": args.width,
                  "model": EXPLODING, **asdict(config)}, {"runs": runs, "summary": summary})
    plot_loss_curves(runs, out / "train_weight_decay_loss.png",
                     f"exploding tanh MLP, depth {args.depth}")
    plot_update_heatmaps(runs, out / "train_weight_decay_update_ratio.png")
    print("| L2 decay | W0 update ratio | top hidden ratio | bottom/top | held-out MSE | "
          "status |\n|---|---|---|---|---|---|")
    for label, s in summary.items():
        print(f"| {label} | {s['bottom_ratio']:.3g} | {s['top_ratio']:.3g} | "
              f"{s['bottom_over_top']:.3g} | {s['eval_mse']:.3g} | {s['status']} |")
    print("(medians over the last third of the steps)")
    print(f"wrote {out}/train_weight_decay.json, train_weight_decay_loss.png, "
          "train_weight_decay_update_ratio.png")
    return 0


def _check_recurrent_options(args) -> None:
    """Leak, skip and weight decay: a bad value is a usage error before any work."""
    import math

    from vgbench.models.validate import check_leak, check_skip

    check_leak(args.leak)
    check_skip(args.skip)
    if args.skip and not (args.model == "rnn" and args.experiment == "single"):
        raise ValueError("--skip applies to --model rnn in a single run")
    if args.leak != 1.0 and not (args.model in ("rnn", "esn")
                                 and args.experiment in ("single", "memory-capacity")):
        raise ValueError("--leak applies to --model rnn or esn")
    if not (args.spectral_radius > 0 and math.isfinite(args.spectral_radius)):
        raise ValueError(f"--spectral-radius must be a finite number > 0, got "
                         f"{args.spectral_radius}")
    if args.model == "esn" and args.task == "teacher":
        raise ValueError("--model esn takes a sequence task: adding or copy")
    if not (args.weight_decay >= 0 and math.isfinite(args.weight_decay)):
        raise ValueError(f"--weight-decay must be a finite number >= 0, got "
                         f"{args.weight_decay}")


def run(args) -> int:
    from vgbench.cli.guard import check_output_path
    from vgbench.cli.options import apply_denormals

    if args.scheduler is not None and args.experiment not in ("depth", "adding"):
        raise ValueError("--scheduler applies to --experiment depth and adding (the other "
                         "experiments run in this process)")
    _check_recurrent_options(args)
    apply_denormals(args)
    out = check_output_path(args.out, "dir")  # created by the first file written
    progress = not args.no_progress and (sys.stderr.isatty() or args.scheduler is not None)
    return {"single": _single, "depth": _depth, "adding": _adding,
            "weight-decay": _weight_decay,
            "memory-capacity": lambda a, _, o: _memory_capacity(a, o),
            "pretrain": lambda a, _, o: _pretrain(a, o),
            "evolution": lambda a, _, o: _evolution(a, o)}[args.experiment](
        args, progress, out)
