"""``vgbench memory``: peak RSS of one BPTT call against its stored activations."""

HELP = "peak memory of RNN/LSTM forward+BPTT against the bytes of the stored activations"


def add_arguments(parser) -> None:
    from vgbench.cli.options import positive_int

    parser.add_argument("--models", nargs="+", default=["rnn", "lstm"], choices=["rnn", "lstm"])
    parser.add_argument("--hidden", type=positive_int, default=512)
    parser.add_argument("--seq-len", type=positive_int, default=1000)
    parser.add_argument("--batch", type=positive_int, default=32)
    parser.add_argument("--in-dim", type=positive_int, default=None,
                        help="input width (default: hidden)")
    parser.add_argument("--loss-at", default="last", choices=["last", "every"])
    parser.add_argument("--truncate", type=positive_int, default=None)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--out", default=None, help="also write the rows as a result JSON")


def run(args) -> int:
    from vgbench.cli.guard import check_output_path
    from vgbench.models import LSTM, RNN
    from vgbench.models.footprint import check_fits, recurrent_bytes
    from vgbench.speed.memory import measure_peak_memory

    if args.out:
        check_output_path(args.out, "file")
    in_dim = args.hidden if args.in_dim is None else args.in_dim
    for name in args.models:
        check_fits(f"{name} --hidden {args.hidden} --seq-len {args.seq_len} --batch "
                   f"{args.batch} --in-dim {in_dim} ({args.dtype})",
                   recurrent_bytes(name, in_dim, args.hidden, 1, args.seq_len, args.batch,
                                   args.dtype, args.loss_at, args.truncate)["total"])
    rows = []
    for name in args.models:
        cls = {"rnn": RNN, "lstm": LSTM}[name]
        model = cls(in_dim, args.hidden, 1, dtype=args.dtype)
        rows.append(measure_peak_memory(model, args.seq_len, args.batch, args.loss_at,
                                        args.truncate))
    mib = 2.0 ** 20
    print(f"dtype {args.dtype}; sizes in MiB (2^20 bytes)")
    print(f"{'model':5} {'T':>5} {'B':>4} {'I':>5} {'H':>5}  {'peak MiB':>9} "
          f"{'activ. MiB':>10} {'scratch MiB':>11} {'outputs MiB':>11}  {'ratio':>6} "
          f"{'w/o out':>7}")
    for r in rows:
        print(f"{r['model']:5} {r['seq_len']:5d} {r['batch']:4d} {r['in_dim']:5d} "
              f"{r['hidden']:5d}  {r['peak_bytes'] / mib:9.1f} {r['activation_bytes'] / mib:10.1f} "
              f"{r['scratch_bytes'] / mib:11.1f} {r['output_bytes'] / mib:11.1f}  "
              f"{r['ratio']:6.3f} {r['ratio_without_outputs']:7.3f}")
    print("ratio = peak RSS of the call / stored activations; 'w/o out' leaves out the "
          "returned dL/dx and parameter gradients")
    if args.out:
        from vgbench.report.results import write_result

        config = {k: getattr(args, k) for k in ("models", "hidden", "seq_len", "batch",
                                                "loss_at", "truncate", "dtype")}
        path = write_result(args.out, "memory", {**config, "in_dim": in_dim}, {"rows": rows})
        print(f"wrote {path}")
    return 0
