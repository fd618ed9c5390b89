"""``vgbench speed``: time vgbench against NumPy, PyTorch and JAX, with the machine's ceiling."""

import itertools
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

HELP = "time forward+backward of MLP/RNN/LSTM against NumPy, PyTorch, JAX; GEMM ceiling"


def add_arguments(parser) -> None:
    from vgbench.cli.cluster_options import add_scheduler_argument
    from vgbench.cli.options import IntList, add_denormals, nonneg, nonneg_int, positive_int
    from vgbench.env.blas import CORETYPES
    from vgbench.models import MODELS
    from vgbench.speed.baselines import IMPLS
    from vgbench.speed.ceiling import GEMM_N
    from vgbench.speed.flops import PASSES

    parser.epilog = (
        "Without --width/--hidden/--depth/--batch/--seq-len the built-in cases run (MLP "
        "W64 L10 B32, W256 L20 B128, W1024 L8 B256; RNN and LSTM H128 T100 B32); with any "
        "of them, each chosen model sweeps their product.")
    parser.add_argument("--suite", default="default", choices=["default", "deepbench"],
                        help="deepbench: DeepBench's training sizes for GEMM, vanilla RNN "
                             "and LSTM (float32), capped by --max-row-s; the case options "
                             "below are then ignored")
    parser.add_argument("--max-row-s", type=float, default=5.0,
                        help="deepbench: skip (and list) problems estimated to take longer "
                             "than this many seconds")
    parser.add_argument("--kernels", nargs="+", default=["gemm", "vanilla", "lstm"],
                        choices=["gemm", "vanilla", "lstm"],
                        help="deepbench: which of DeepBench's kernel lists to run")
    parser.add_argument("--csv", default=None, metavar="FILE",
                        help="also write one CSV row per measurement (README: beside "
                             "DeepBench's tables)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--width", action=IntList, help="MLP widths W")
    parser.add_argument("--depth", action=IntList, help="MLP depths L (default 10)")
    parser.add_argument("--hidden", action=IntList, help="RNN/LSTM hidden sizes H")
    parser.add_argument("--seq-len", action=IntList, help="RNN/LSTM lengths (def. 100)")
    parser.add_argument("--batch", action=IntList, help="batch sizes B (default 32)")
    parser.add_argument("--activation", default="tanh", help="MLP/RNN activation")
    parser.add_argument("--dtype", nargs="+", default=["float32"],
                        choices=["float32", "float64"])
    parser.add_argument("--threads", action=IntList,
                        help="thread counts (default: 1 and all usable cores)")
    parser.add_argument("--impl", nargs="+", default=list(IMPLS), choices=IMPLS,
                        help="implementations (missing ones are skipped with a note)")
    parser.add_argument("--passes", nargs="+", default=list(PASSES), choices=PASSES)
    parser.add_argument("--budget", type=nonneg, default=0.5,
                        help="seconds of repeats per timed block (after warm-up)")
    parser.add_argument("--min-repeats", type=positive_int, default=5)
    parser.add_argument("--gemm-n", type=positive_int, default=GEMM_N,
                        help="GEMM ceiling size n^3 (keep the default to compare %% GEMM "
                             "with `vgbench run`)")
    parser.add_argument("--no-compile-time", action="store_true",
                        help="skip measuring cold/cached JIT compile in fresh processes")
    parser.add_argument("--blas-coretype", default="auto",
                        help="OpenBLAS kernels: auto (best the CPU flags allow), detected, "
                             f"or one of {', '.join(CORETYPES)}")
    parser.add_argument("--backend", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--seed", type=nonneg_int, default=0)
    parser.add_argument("--out", default=None,
                        help="result JSON (default results/speed-<host>-<time>.json)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument("--no-progress", action="store_true")
    add_denormals(parser)
    add_scheduler_argument(parser)
    parser.add_argument("--each-worker", action="store_true",
                        help="with --scheduler ADDRESS: the same sweep on every worker's "
                             "machine in turn; one result per machine in the --out folder "
                             "(default results/fleet-<time>), a cross-machine table and plot")


def cases_from_args(args) -> list:
    """The cases the options ask for (module epilog)."""
    from vgbench.speed.baselines import Case
    from vgbench.speed.sweep import DEFAULT_CASES

    swept = any(getattr(args, k) for k in ("width", "hidden", "depth", "batch", "seq_len"))
    if not swept:
        base = [c for c in DEFAULT_CASES if c.model in args.models]
    else:
        base = []
        batches = args.batch or [32]
        if "mlp" in args.models:
            for w, d, b in itertools.product(args.width or [64], args.depth or [10], batches):
                base.append(Case("mlp", w, b, depth=d))
        for model in ("rnn", "lstm"):
            if model in args.models:
                for h, t, b in itertools.product(args.hidden or [128], args.seq_len or [100],
                                                 batches):
                    base.append(Case(model, h, b, seq_len=t))

    return [replace(c, dtype=dt, activation=args.activation if c.model != "lstm"
                    else c.activation) for dt in args.dtype for c in base]


def _check_cases(cases, threads) -> None:
    """Refuse, before any timing, thread counts Numba cannot run and cases that cannot fit
    in memory (vgbench's own model and call; each baseline holds about as much again)."""
    import numba

    from vgbench.models.footprint import check_fits, mlp_bytes, recurrent_bytes

    most = numba.config.NUMBA_NUM_THREADS
    for n in threads:
        if n > most:
            raise ValueError(f"--threads {n}: Numba runs at most {most} threads here")
    for c in cases:
        need = (mlp_bytes(c.I, c.size, c.depth, c.out_dim, c.batch, c.dtype) if c.model == "mlp"
                else recurrent_bytes(c.model, c.I, c.size, c.out_dim, c.seq_len, c.batch,
                                     c.dtype))
        check_fits(f"case {c.label()}", need["total"])
def _each_worker(args, cases) -> int:
    """``--each-worker``: sweep every worker's machine, one file each, then the fleet table."""
    from vgbench.report.fleet import fleet_table, machine_labels, machines_table, plot_fleet
    from vgbench.report.results import read_result, write_result, write_text_atomic
    from vgbench.speed.fleet import sweep_each_worker
    from vgbench.speed.sweep import sweep_config

    outdir = Path(args.out or f"results/fleet-{time.strftime('%Y%m%d-%H%M%S')}")
    paths = []

    def save(run):
        w = run["worker"]
        threads = sorted({r["threads"] for r in run["data"]["records"]})
        config = {**sweep_config(cases, args.impl, args.threads or threads, args.passes,
                                 args.budget, args.min_repeats, args.gemm_n, args.backend,
                                 args.seed), "worker": w, "scheduler": args.scheduler}
        path = outdir / f"speed-{w['host']}-{w['address'].rsplit(':', 1)[-1]}.json"
        paths.append(write_result(path, "speed", config, run["data"], machine=run["machine"]))
        print(f"wrote {path} ({w['host']}, {w['address']}, {run['seconds']:.0f} s)")

    def report(interrupted: bool) -> None:
        if not paths:
            return
        docs = [read_result(p, "speed") for p in paths]
        labels = machine_labels(docs)
        head = f"interrupted: {len(docs)} machine(s) finished\n\n" if interrupted else ""
        md = write_text_atomic(outdir / "fleet.md", head + machines_table(docs, labels, True)
                               + "\n\n" + fleet_table(docs, labels, markdown=True) + "\n")
        print(machines_table(docs, labels))
        print("\nvgbench fwd_bwd per machine (GF/s, % of its own GEMM ceiling)")
        print(fleet_table(docs, labels))
        png = "" if args.no_plot else f", {plot_fleet(docs, labels, outdir / 'fleet.png')}"
        print(f"wrote {md}{png}")

    kwargs = dict(impls=args.impl, threads=args.threads, passes=args.passes,
                  budget_s=args.budget, min_repeats=args.min_repeats, gemm_n=args.gemm_n,
                  compile_time=not args.no_compile_time, backend=args.backend, seed=args.seed)
    try:
        sweep_each_worker(cases, args.scheduler, progress=not args.no_progress,
                          on_machine=save, **kwargs)
    except KeyboardInterrupt:
        report(interrupted=True)
        raise
    report(interrupted=False)
    return 0


def run(args) -> int:
    from vgbench.cli.guard import check_output_path, save_or_rescue
    from vgbench.cli.options import apply_denormals
    from vgbench.env.blas import canonical, select_coretype, selection
    from vgbench.report.progress import CaseProgress
    from vgbench.report.results import write_result
    from vgbench.report.tables import ceiling_summary, format_table
    from vgbench.speed import trust
    from vgbench.speed.sweep import default_threads, run_sweep, sweep_config

    mode = canonical(args.blas_coretype)
    if selection().get("mode") != mode:
        select_coretype(mode)
    if args.backend == "cuda":
        from vgbench.backends import require_cuda

        require_cuda()
        if "forward" in args.passes:
            print("note: forward alone has no CUDA path; timing fwd_bwd only")
            args.passes = ["fwd_bwd"]
    apply_denormals(args)
    threads = args.threads or default_threads()
    if args.suite == "deepbench":
        return _deepbench(args, threads)
    cases = cases_from_args(args)
    if args.each_worker or args.scheduler is not None:
        if args.scheduler in (None, "local") or not args.each_worker:
            raise ValueError("timings are not split over workers: use --scheduler ADDRESS "
                             "--each-worker (a running cluster; 'local' workers share this "
                             "machine)")
        return _each_worker(args, cases)
    out = check_output_path(args.out or f"results/speed-{platform.node()}-"
                            f"{time.strftime('%Y%m%d-%H%M%S')}.json", "file")
    if not args.no_plot:  # the PNG goes beside the JSON
        check_output_path(out.with_suffix(".png"), "file", "--out (its .png)")
    _check_cases(cases, threads)
    config = sweep_config(cases, args.impl, threads, args.passes, args.budget,
                          args.min_repeats, args.gemm_n, args.backend, args.seed)
    data = {}
    log = CaseProgress("speed", len(cases), not args.no_progress and not sys.stderr.isatty())
    try:
        run_sweep(cases, args.impl, threads, args.passes, args.budget, args.min_repeats,
                  args.gemm_n, compile_time=not args.no_compile_time, backend=args.backend,
                  seed=args.seed, progress=not args.no_progress and sys.stderr.isatty(),
                  data=data, on_case=log.done)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: keep what was measured, marked partial
        if data:  # the sweep had started
            data["complete"] = False
            out = save_or_rescue(lambda p: write_result(p, "speed", config, data), out)
            print(f"partial results (complete: false) written to {out}", file=sys.stderr)
        raise
    out = save_or_rescue(lambda p: write_result(p, "speed", config, data), out)
    sel = selection()
    print(f"BLAS core type: {sel['note']}")
    print(ceiling_summary(data))
    for pass_ in args.passes:
        print(f"\n{pass_} (median ms (IQR ms / n calls); x = baseline time / vgbench time)")
        print(format_table(data, pass_))
    for label, c in data["compile"].items():
        print(f"compile {label}: cold {c['cold_compile_s']:.2f} s, "
              f"cached {c['cached_load_s']:.2f} s")
    for note in data["notes"]:
        print(f"note: {note}")
    shown = set()
    for pass_ in args.passes:
        for warning in trust.warnings(data, pass_):
            if warning not in shown:  # the load line is the same for every pass
                shown.add(warning)
                print(f"warning ({pass_}): {warning}")
    if any(trust.row_flags(data, p) for p in args.passes):
        print(trust.RULE)
    print(f"\nwrote {out}")
    if args.csv:
        from vgbench.report.csvout import speed_rows, write_csv

        print(f"wrote {write_csv(args.csv, speed_rows(data))}")
    if not args.no_plot and data["records"]:
        from vgbench.report.results import read_result
        from vgbench.report.speedplots import plot_speed

        png = plot_speed([read_result(out, "speed")], out.with_suffix(".png"))
        print(f"wrote {png}")
    return 0


def _deepbench(args, threads: list[int]) -> int:
    """``--suite deepbench``: DeepBench's training rows, capped, as JSON, table and CSV."""
    from vgbench.cli.guard import check_output_path
    from vgbench.report.csvout import deepbench_rows, write_csv
    from vgbench.report.progress import CaseProgress
    from vgbench.report.results import write_result
    from vgbench.report.tables import ceiling_summary, deepbench_table
    from vgbench.speed import deepbench

    if args.backend != "cpu":
        raise ValueError("--suite deepbench runs on the CPU only (--backend cpu)")
    out = check_output_path(args.out or f"results/deepbench-{platform.node()}-"
                            f"{time.strftime('%Y%m%d-%H%M%S')}.json", "file")
    if args.csv:
        check_output_path(args.csv, "file", "--csv")
    config = {"suite": "deepbench", "kernels": args.kernels, "threads": threads,
              "budget_s": args.budget,
              "min_repeats": args.min_repeats, "max_row_s": args.max_row_s}
    log = CaseProgress("deepbench", 0, not args.no_progress)
    data = {}
    try:
        deepbench.run_suite(threads, args.budget, args.min_repeats, args.max_row_s,
                            on_row=log.done, on_plan=log.set_total, data=data,
                            kernels=tuple(args.kernels))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: keep what was measured, marked partial
        if data.get("rows"):
            data["complete"] = False
            write_result(out, "deepbench", config, data)
            print(f"partial results (complete: false) written to {out}", file=sys.stderr)
        raise
    finally:
        log.close()
    write_result(out, "deepbench", config, data)
    print(ceiling_summary(data))
    print(deepbench_table(data))
    if data["skipped"]:
        total = len(data["skipped"]) + len(data["rows"]) // len(threads)
        print(f"\nskipped {len(data['skipped'])} of {total} problems (this machine's caps):")
        for s in data["skipped"]:
            print(f"  {s['label']}: {s['reason']}")
    print(f"\nwrote {out}")
    if args.csv:
        print(f"wrote {write_csv(args.csv, deepbench_rows(data))}")
    return 0
