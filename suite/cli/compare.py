"""``vgbench compare``: compare result files of two machines or two versions."""

from pathlib import Path

HELP = "compare result files: speed ratios with confidence intervals, decay agreement"


def add_arguments(parser) -> None:
    from vgbench.cli.options import factor, nonneg
    from vgbench.speed.compare import DEFAULT_THRESHOLD

    parser.add_argument("base", help="baseline result file (or a folder: its newest file)")
    parser.add_argument("new", nargs="+",
                        help="result files (or folders of them) compared with the base")
    parser.add_argument("--threshold", type=factor, default=None,
                        help=f"speed: a CI beyond this factor (>= 1) is slower/faster "
                             f"(default {DEFAULT_THRESHOLD})")
    parser.add_argument("--fail-above", type=factor, default=None, metavar="F",
                        help="the CI gate: F (>= 1) is the threshold, and exit 1 when any "
                             "measurement is significantly slower than F x, a decay result "
                             "disagrees, a file is partial or nothing was compared")
    parser.add_argument("--rtol", type=nonneg, default=1e-9,
                        help="decay/other results: relative tolerance of agreement")
    parser.add_argument("--markdown", default=None, help="also write the tables here")
    parser.add_argument("--png", default=None,
                        help="speed: bar chart of ratios (one file per new result, "
                             "numbered when several)")


def _files(spec: str, newest_only: bool) -> list:
    path = Path(spec)
    if path.is_dir():
        found = sorted(path.glob("*.json"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise ValueError(f"{path}: no .json result files")
        return found[-1:] if newest_only else found
    if not path.exists():
        raise ValueError(f"{path}: no such file")
    return [path]


def _threshold(args) -> float:
    """--fail-above F is the threshold everywhere; --threshold only reports."""
    from vgbench.speed.compare import DEFAULT_THRESHOLD

    if args.fail_above is not None:
        if args.threshold is not None and args.threshold != args.fail_above:
            raise ValueError(f"--threshold {args.threshold:g} and --fail-above "
                             f"{args.fail_above:g} differ: --fail-above F sets the threshold "
                             "to F, give one of them")
        return args.fail_above
    return DEFAULT_THRESHOLD if args.threshold is None else args.threshold
def _as_speed(doc: dict) -> dict:
    """A deepbench result's rows as speed records (speed results pass through)."""
    if doc["kind"] != "deepbench":
        return doc
    from vgbench.speed.deepbench import as_records

    return {**doc, "data": {**doc["data"], "records": as_records(doc["data"])}}


def run(args) -> int:
    from vgbench.cli.guard import check_output_path
    from vgbench.report.results import read_result, write_text_atomic
    from vgbench.report.speedplots import plot_ratios
    from vgbench.report.tables import format_rows
    from vgbench.speed import compare

    threshold = _threshold(args)
    for option in ("markdown", "png"):
        if getattr(args, option):
            check_output_path(getattr(args, option), "file", f"--{option}")
    base_path = _files(args.base, newest_only=True)[0]
    base = read_result(base_path)
    news = [p for spec in args.new for p in _files(spec, newest_only=False) if p != base_path]
    if not news:
        raise ValueError("nothing to compare the base with")
    docs = [read_result(path) for path in news]  # every file checked before any work
    for path, new in zip(news, docs, strict=True):
        if new["kind"] != base["kind"]:
            raise ValueError(f"{path} is a {new['kind']!r} result, {base_path} a "
                             f"{base['kind']!r} one")
    gate = []  # why a --fail-above gate fails
    markdown = []
    counts = {"slower": 0, "faster": 0, "no change": 0}
    for path, doc in [(base_path, base), *zip(news, docs, strict=True)]:
        if doc["data"].get("complete") is False:
            line = f"{path} is partial (an interrupted run): its measurements are incomplete"
            print(f"warning: {line}")
            markdown.append(f"* warning: {line}")
            gate.append(line)
    for i, (path, new) in enumerate(zip(news, docs, strict=True)):
        title = f"{base_path.name} -> {path.name}"
        print(f"== {title}")
        markdown.append(f"### {title}\n")
        for line in compare.setup_differences(base, new):
            print(f"  setup: {line}")
            markdown.append(f"* setup: {line}")
        if base["kind"] in ("speed", "deepbench"):
            rows = compare.compare_speed(_as_speed(base), _as_speed(new), threshold)
            if not rows:
                print("  no measurement in common")
                markdown.append("no measurement in common")
                gate.append(f"{title}: no measurement in common, nothing was compared")
                continue
            print(format_rows(rows))
            markdown += ["", format_rows(rows, markdown=True), ""]
            slower = sum(r.verdict == "slower" for r in rows)
            if slower:
                gate.append(f"{title}: {slower} measurement(s) slower than {threshold:g}x")
            for r in rows:
                counts[r.verdict] += 1
            if args.png:
                png = Path(args.png)
                if len(news) > 1:
                    png = png.with_name(f"{png.stem}-{i}{png.suffix}")
                print(f"wrote {plot_ratios(rows, png, title, threshold)}")
        else:
            diffs = compare.compare_values(base, new, rtol=args.rtol)
            print("\n".join(f"  {d}" for d in diffs) if diffs
                  else f"  all values agree (rtol {args.rtol:g})")
            markdown += [f"* {d}" for d in diffs] or [f"all values agree (rtol {args.rtol:g})"]
            if diffs:
                gate.append(f"{title}: {len(diffs)} value(s) disagree (rtol {args.rtol:g})")
    if base["kind"] in ("speed", "deepbench"):
        total = (f"{counts['slower']} slower, {counts['faster']} faster, "
                 f"{counts['no change']} unchanged (of {sum(counts.values())} measurements)")
        print(total)
        markdown.append(total)
    if args.markdown:
        write_text_atomic(args.markdown, "\n".join(markdown) + "\n")
        print(f"wrote {args.markdown}")
    if args.fail_above is not None and gate:
        for line in gate:
            print(f"FAIL: {line}")
        return 1
    return 0
