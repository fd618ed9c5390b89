"""``vgbench run``: the main job, a report folder (JSON, PNGs, summary.md) on a built-in default."""

import time

HELP = ("the main job: gradient decay vs theory, a short speed sweep, the subnormal "
        "penalty, training symptoms and the remedies, as one report folder (JSON, PNG plots, "
        "summary.md) in a few minutes")


def add_arguments(parser) -> None:
    from vgbench.cli.options import add_denormals

    parser.add_argument("--out", default="vgbench-report", help="report folder")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress (default: bars on a terminal, one line per "
                             "finished case on stderr otherwise)")
    parser.add_argument("--backend", default="cpu", choices=["cpu", "cuda", "auto"],
                        help="kernels for the decay probes (speed and training stay on CPU)")
    add_denormals(parser)


def run(args) -> int:
    from functools import partial

    from vgbench.cli.guard import check_output_path
    from vgbench.cli.options import apply_denormals
    from vgbench.report.summary import SECTIONS, decay_section, write_report

    check_output_path(args.out, "dir")
    apply_denormals(args)
    sections = [partial(decay_section, backend=args.backend) if s is decay_section else s
                for s in SECTIONS]
    t0 = time.perf_counter()
    summary = write_report(args.out, progress=not args.no_progress, sections=sections)
    print(summary.read_text())
    print(f"report: {summary.parent}/ ({time.perf_counter() - t0:.0f} s)")
    return 0
