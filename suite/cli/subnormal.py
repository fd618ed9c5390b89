"""``vgbench subnormal``: the time cost of subnormal gradients, keep vs flush mode."""

import platform
import sys
import time

HELP = ("time forward+backward with subnormals kept (IEEE) and flushed (FTZ/DAZ) over "
        "sequence lengths (RNN, LSTM) and depths (MLP), with each mode's subnormal fraction")


def add_arguments(parser) -> None:
    from vgbench.cli.cluster_options import add_scheduler_argument
    from vgbench.cli.options import IntList, nonneg_int, positive, positive_int

    parser.epilog = (
        "Both modes run in one process on the same weights and inputs (the cases of "
        "`vgbench speed`: RNN tanh, MLP sigmoid by default), in alternating blocks; "
        "penalty = keep_ms / flush_ms.  PyTorch is timed beside where installed.")
    parser.add_argument("--models", nargs="+", default=["rnn", "lstm", "mlp"],
                        choices=["rnn", "lstm", "mlp"])
    parser.add_argument("--hidden", type=positive_int, default=128, help="RNN/LSTM hidden size H")
    parser.add_argument("--width", type=positive_int, default=256, help="MLP width W")
    parser.add_argument("--batch", type=positive_int, default=None,
                        help="batch B (default 32 for RNN/LSTM, 128 for the MLP)")
    parser.add_argument("--seq-lens", action=IntList, default=[50, 100, 200, 400, 600],
                        help="RNN/LSTM sequence lengths T")
    parser.add_argument("--depths", action=IntList, default=[25, 50, 100, 200],
                        help="MLP depths L")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="threads for Numba, BLAS and PyTorch")
    parser.add_argument("--activation", default=None,
                        help="MLP/RNN activation (default: sigmoid for the MLP, tanh for "
                             "the RNN)")
    parser.add_argument("--budget", type=positive, default=0.6,
                        help="seconds of timed calls per case and mode, over all blocks")
    parser.add_argument("--blocks", type=positive_int, default=3,
                        help="alternating keep/flush blocks per case and implementation")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch columns")
    parser.add_argument("--seed", type=nonneg_int, default=0)
    parser.add_argument("--out", default=None,
                        help="result JSON (default results/subnormal-<host>-<time>.json)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument("--no-progress", action="store_true")
    add_scheduler_argument(parser)


def run(args) -> int:
    import numba

    from vgbench.cli.guard import check_output_path
    from vgbench.cluster.tasks import session
    from vgbench.report.results import write_result
    from vgbench.report.subnormalplots import plot_subnormal, subnormal_table
    from vgbench.speed.subnormal import cases, run_sweep, sweep_config

    if not 1 <= args.threads <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"--threads must be in 1..{numba.config.NUMBA_NUM_THREADS}, "
                         f"got {args.threads}")
    act = args.activation
    case_list = cases(args.models, args.seq_lens, args.depths, args.hidden, args.width,
                      args.batch, args.dtype, args.threads,
                      mlp_activation=act or "sigmoid", rnn_activation=act or "tanh")
    out = check_output_path(args.out or f"results/subnormal-{platform.node()}-"
                            f"{time.strftime('%Y%m%d-%H%M%S')}.json", "file")
    if not args.no_plot:  # the PNG goes beside the JSON
        check_output_path(out.with_suffix(".png"), "file", "--out (its .png)")
    config = sweep_config(case_list, args.budget, args.blocks, not args.no_torch, args.seed)
    data = {}
    try:
        with session(args.scheduler) as scheduler:
            run_sweep(case_list, args.budget, args.blocks, torch=not args.no_torch,
                      seed=args.seed,
                      progress=not args.no_progress and (sys.stderr.isatty()
                                                         or args.scheduler is not None),
                      data=data, scheduler=scheduler)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: what finished, "complete": false
        if data.get("records"):
            write_result(out, "subnormal", config, data)
            print(f"partial results (complete: false) written to {out}", file=sys.stderr)
        raise
    write_result(out, "subnormal", config, data)
    print(subnormal_table(data))
    for note in data["notes"]:
        print(f"note: {note}")
    print(f"\nwrote {out}")
    if not args.no_plot and data["records"]:
        print(f"wrote {plot_subnormal(data, out.with_suffix('.png'))}")
    return 0
