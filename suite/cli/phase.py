"""``vgbench phase``: the order/chaos phase diagram of gradient decay against mean field."""

import sys

HELP = ("order/chaos phase diagram: measured per-layer gradient factor over sigma_w x "
        "sigma_b (tanh) and sigma_w (ReLU) against mean field; JSON, table, heatmap")


def add_arguments(parser) -> None:
    from vgbench.analysis.phase import PhaseConfig
    from vgbench.cli.cluster_options import add_scheduler_argument
    from vgbench.cli.options import FloatList

    d = PhaseConfig()
    parser.add_argument("--sigma-w", action=FloatList, default=list(d.sigma_ws), metavar="X",
                        help="tanh weight scales sigma_w")
    parser.add_argument("--sigma-b", action=FloatList, default=list(d.sigma_bs), metavar="X",
                        help="tanh bias scales sigma_b")
    parser.add_argument("--relu-sigma-w", action=FloatList, default=list(d.relu_sigma_ws),
                        metavar="X", help="ReLU weight scales (sigma_b 0)")
    parser.add_argument("--no-relu", action="store_true", help="skip the ReLU line")
    parser.add_argument("--depth", type=int, default=d.depth, help="hidden layers L (>= 5)")
    parser.add_argument("--width", type=int, default=d.width, help="hidden width N")
    parser.add_argument("--batch", type=int, default=d.batch)
    parser.add_argument("--seeds", type=int, default=d.seeds, help="nets per grid point")
    parser.add_argument("--dtype", default=d.dtype, choices=["float32", "float64"])
    parser.add_argument("--out", default="vgbench-phase", help="output folder")
    add_scheduler_argument(parser)


def run(args) -> int:
    from vgbench.analysis.phase import PhaseConfig, phase_diagram, summarize
    from vgbench.cluster.tasks import session
    from vgbench.report.phase import phase_markdown, plot_phase
    from vgbench.report.results import write_result, write_text_atomic

    config = PhaseConfig(sigma_ws=tuple(args.sigma_w), sigma_bs=tuple(args.sigma_b),
                         relu_sigma_ws=() if args.no_relu else tuple(args.relu_sigma_w),
                         depth=args.depth, width=args.width, batch=args.batch,
                         seeds=args.seeds, dtype=args.dtype)
    from vgbench.cli.guard import check_output_path

    out = check_output_path(args.out, "dir")
    path = out / "phase.json"
    meta = {**config.as_dict(), "scheduler": args.scheduler}
    finished = []
    progress = sys.stderr.isatty() or args.scheduler is not None
    try:
        with session(args.scheduler) as scheduler:
            data = phase_diagram(config, scheduler, progress, on_case=finished.append)
    except KeyboardInterrupt:
        write_result(path, "phase", meta, {**summarize(config, finished), "complete": False})
        print(f"partial results ({len(finished)} probes, complete: false) written to {path}",
              file=sys.stderr)
        raise
    write_result(path, "phase", meta, {**data, "complete": True})
    title = (f"gradient factor per layer: depth {config.depth}, width {config.width}, "
             f"{config.seeds} seeds")
    png = plot_phase(data, out / "phase.png", title)
    table = phase_markdown(data)
    md = write_text_atomic(out / "phase.md", f"# {title}\n\n{table}\n")
    print(table)
    print(f"wrote {path}, {md} and {png}")
    return 0
