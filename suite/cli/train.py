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

    parser.add_argument("--experiment", default="single", choices=["single", "depth", "adding"],
                        help="single: one run of the options below; depth: sigmoid/naive vs "
                        "ReLU/He vs residual vs batch norm MLPs; adding: RNN vs LSTM vs "
                        "clipped RNN over --lengths")
    parser.add_argument("--model", default="mlp", choices=["mlp", "rnn", "lstm"])
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
                          "seed": args.seed})


def _single(args, progress: bool, out) -> int:
    from vgbench import models
    from vgbench.cli.guard import save_or_rescue
    from vgbench.report.results import write_result
    from vgbench.report.trainplots import plot_loss_curves, plot_update_heatmaps
    from vgbench.training.tasks import accuracy_rule, make_task
    from vgbench.training.train import LEARNED_FRACTION, train

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
                           init=init, gain=args.gain, dtype=args.dtype, seed=args.seed)
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
        write_result(out / "train_depth.json", "train", meta,
                     {"complete": len(results) == len(DEPTH_CONFIGS) and not _stopped(results)
                      and not marks,
                      "runs": {k: r.to_dict() for k, r in results.items()},
                      "summary": depth_summary(results), **marks})
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
        write_result(out / "train_adding.json", "train", meta,
                     {"complete": len(statuses) == len(sweep) * len(lengths)
                      and "interrupted" not in statuses and not marks,
                      "sweep": sweep, "solved_fraction": SOLVED_FRACTION, **marks})
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


def run(args) -> int:
    from vgbench.cli.guard import check_output_path
    from vgbench.cli.options import apply_denormals

    if args.scheduler is not None and args.experiment == "single":
        raise ValueError("--scheduler applies to --experiment depth and adding (one run "
                         "has nothing to distribute)")
    apply_denormals(args)
    out = check_output_path(args.out, "dir")  # created by the first file written
    progress = not args.no_progress and (sys.stderr.isatty() or args.scheduler is not None)
    return {"single": _single, "depth": _depth, "adding": _adding}[args.experiment](
        args, progress, out)
