"""Can a timing be trusted?  Rules applied to a speed result's rows, stated once here and
printed with every speed table.

A row (case x thread count) is flagged when

* **load**: the 1-minute load average when one of its blocks ended exceeded the usable
  cores (more runnable threads than cores: some waited, ours or another's);
* **spread**: an implementation's IQR is more than ``IQR_LIMIT`` of its median;
* **few samples**: fewer than ``MIN_SAMPLES`` timed calls;
* **ceiling**: the GEMM ceiling at this thread count is below the 1-thread one (the extra
  cores were busy), or the row runs above 100% of its ceiling (the ceiling was measured
  while the machine was busier than during the row).
"""

IQR_LIMIT = 0.10
MIN_SAMPLES = 5

RULE = (f"Trust rule: a row is flagged when the 1-minute load average exceeded the usable "
        f"cores while it ran (load), an IQR exceeds {IQR_LIMIT:.0%} of its median (spread), "
        f"n < {MIN_SAMPLES} (few samples), or its GEMM ceiling is below the 1-thread one or "
        f"below the row's own rate (ceiling).  Flagged rows are not results.")


def _ceiling_problems(data: dict) -> dict[tuple[int, str], str]:
    """(threads, dtype) -> why that thread count's ceiling is not a ceiling."""
    out = {}
    ceil = data.get("ceiling", {})
    one = ceil.get("1", {}).get("gemm", {})
    for n, c in ceil.items():
        for dtype, g in c["gemm"].items():
            if int(n) > 1 and dtype in one and g["best_gflops"] < one[dtype]["best_gflops"]:
                out[(int(n), dtype)] = (f"{n}-thread GEMM ceiling {g['best_gflops']:.0f} GF/s "
                                        f"below the 1-thread {one[dtype]['best_gflops']:.0f}")
    return out


def row_flags(data: dict, pass_: str = "fwd_bwd") -> dict[tuple[str, int], list[str]]:
    """(case label, threads) -> reasons the row is untrustworthy (only flagged rows)."""
    cores = data.get("usable_cpus")
    bad_ceiling = _ceiling_problems(data)
    flags: dict[tuple[str, int], list[str]] = {}

    def add(key, reason):
        if reason not in flags.setdefault(key, []):
            flags[key].append(reason)

    for r in data["records"]:
        if r["pass"] != pass_:
            continue
        key = (r["label"], r["threads"])
        load = r.get("loadavg_1min")
        if (cores and load is not None and load > cores
                and not any(f.startswith("load") for f in flags.get(key, []))):
            add(key, f"load {load:.1f} > {cores} cores")
        if r["median_s"] > 0 and r["iqr_s"] > IQR_LIMIT * r["median_s"]:
            add(key, f"{r['impl']} IQR {r['iqr_s'] / r['median_s']:.0%} of median")
        if r["n"] < MIN_SAMPLES:
            add(key, f"{r['impl']} n={r['n']}")
        if (r["threads"], r["dtype"]) in bad_ceiling:
            add(key, bad_ceiling[(r["threads"], r["dtype"])])
        if r["impl"] == "vgbench" and (r.get("ceiling_fraction") or 0) > 1:
            add(key, f"{r['ceiling_fraction']:.0%} of the GEMM ceiling")
    return flags


def warnings(data: dict, pass_: str = "fwd_bwd") -> list[str]:
    """One line per flagged row, plus the sweep's load at start and end."""
    out = [f"untrustworthy: {label} at {n} thread(s): {'; '.join(reasons)}"
           for (label, n), reasons in row_flags(data, pass_).items()]
    start, end = data.get("loadavg_start"), data.get("loadavg_end")
    cores = data.get("usable_cpus")
    if out and start and cores:
        out.append(f"load average (1 min) {start[0]:.1f} at the start"
                   + (f", {end[0]:.1f} at the end" if end else "")
                   + f" on {cores} usable cores: rerun on an idle machine "
                   "(or `flock`/`nice` the other jobs) before comparing these rows")
    return out
