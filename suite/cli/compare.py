"""``vgbench compare``: compare result files of two machines or two versions."""

from pathlib import Path

HELP = "compare result files: speed ratios with confidence intervals, decay agreement"


def add_arguments(parser) -> None:
    from vgbench.speed.compare import DEFAULT_THRESHOLD

    parser.add_argument("base", help="baseline result file (or a folder: its newest file)")
    parser.add_argument("new", nargs="+",
                        help="result files (or folders of them) compared with the base")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="speed: a CI beyond this factor is slower/faster")
    parser.add_argument("--fail-above", type=float, default=None, metavar="F",
                        help="exit 1 when any measurement is significantly slower than F x "
                             "(or a decay result disagrees)")
    parser.add_argument("--rtol", type=float, default=1e-9,
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


def _as_speed(doc: dict) -> dict:
    """A deepbench result's rows as speed records (speed results pass through)."""
    if doc["kind"] != "deepbench":
        return doc
    from vgbench.speed.deepbench import as_records

    return {**doc, "data": {**doc["data"], "records": as_records(doc["data"])}}


def run(args) -> int:
    from vgbench.report.results import read_result
    from vgbench.report.speedplots import plot_ratios
    from vgbench.report.tables import format_rows
    from vgbench.speed import compare

    base_path = _files(args.base, newest_only=True)[0]
    base = read_result(base_path)
    news = [p for spec in args.new for p in _files(spec, newest_only=False) if p != base_path]
    if not news:
        raise ValueError("nothing to compare the base with")
    threshold = args.fail_above or args.threshold
    failed = False
    markdown = []
    counts = {"slower": 0, "faster": 0, "no change": 0}
    for i, path in enumerate(news):
        new = read_result(path)
        if new["kind"] != base["kind"]:
            raise ValueError(f"{path} is a {new['kind']!r} result, {base_path} a "
                             f"{base['kind']!r} one")
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
                continue
            print(format_rows(rows))
            markdown += ["", format_rows(rows, markdown=True), ""]
            failed |= any(r.verdict == "slower" for r in rows)
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
            failed |= bool(diffs)
    if base["kind"] in ("speed", "deepbench"):
        total = (f"{counts['slower']} slower, {counts['faster']} faster, "
                 f"{counts['no change']} unchanged (of {sum(counts.values())} measurements)")
        print(total)
        markdown.append(total)
    if args.markdown:
        Path(args.markdown).write_text("\n".join(markdown) + "\n")
        print(f"wrote {args.markdown}")
    if args.fail_above is not None and failed:
        print(f"FAIL: slower than {args.fail_above}x or disagreeing results")
        return 1
    return 0
