"""Speed sweep: every case x thread count x implementation x pass, timed as blocks.

Order of work: per thread count, the ceiling (GEMM, copy) first; then per case and thread
count, each implementation's passes one after the other (a block is warm-up then repeats,
never interleaved call by call with another library: on few cores one library's spinning
BLAS threads slow the next one's calls).

The ``data`` of a speed result::

    {"complete": bool, "notes": [...], "versions": {"torch": ..., "jax": ...},
     "loadavg_start": [1, 5, 15 min], "loadavg_end": [...],
     "ceiling": {"<threads>": {"gemm": {"float32": {...}, "float64": {...}}, "copy": {...}}},
     "compile": {"<model> <dtype>": {...compile_times of its first case...}},
     "records": [{<Case fields>, "label", "threads", "impl", "pass", "flops", "gflops",
                  "ceiling_fraction", "loss", <Timing.to_dict()>}, ...]}

Ratios against vgbench are computed when tables are printed (``table_rows``).
"""

import importlib.metadata as md
import os
from dataclasses import asdict

from tqdm import tqdm

from vgbench.env.blas import selection
from vgbench.speed.baselines import IMPLS, Case, build, unavailable, vgbench_case
from vgbench.speed.ceiling import measure_ceiling as _ceiling  # the flag below shadows it
from vgbench.speed.flops import PASSES
from vgbench.speed.timing import compile_times, thread_limit, time_block

DEFAULT_CASES = (
    Case("mlp", 64, 32, depth=10),
    Case("mlp", 256, 128, depth=20),
    Case("mlp", 1024, 256, depth=8),
    Case("rnn", 128, 32, seq_len=100),
    Case("lstm", 128, 32, seq_len=100),
)
QUICK_CASES = (
    Case("mlp", 64, 32, depth=10),
    Case("mlp", 512, 128, depth=4),
    Case("rnn", 128, 32, seq_len=50),
    Case("lstm", 128, 32, seq_len=50),
)


def default_threads() -> list[int]:
    """1 and every usable core (just [1] on a single core)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return sorted({1, n or 1})


def _loadavg() -> list | None:
    """1/5/15-minute load averages: a busy machine explains a slow run."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def _versions() -> dict:
    out = {}
    for pkg in ("torch", "jax"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def run_sweep(cases, impls=IMPLS, threads=None, passes=PASSES, budget_s: float = 0.5,
              min_repeats: int = 5, gemm_n: int = 2048, ceiling_budget_s: float = 1.0,
              compile_time: bool = False, measure_ceiling: bool = True,
              backend: str = "cpu", seed: int = 0,
              progress: bool = False, data: dict | None = None) -> dict:
    """Measure and return the ``data`` dict (module docstring).

    ``data`` may be passed in to be filled as the sweep goes: after a KeyboardInterrupt it
    holds every finished block (``complete`` stays False).
    """
    threads = default_threads() if threads is None else list(threads)
    data = {} if data is None else data
    data.update(complete=False, notes=[], versions=_versions(), ceiling={}, compile={},
                records=[], loadavg_start=_loadavg())
    impls = list(impls)
    for impl in list(impls):
        note = unavailable(impl)
        if note:
            data["notes"].append(note)
            impls.remove(impl)
    cases = list(cases)
    if "torch" in impls:
        import torch  # noqa: F401  (loaded now so thread_limit sets its threads too)
    if "jax" in impls and threads != [default_threads()[-1]]:
        data["notes"].append("jax: XLA sizes its CPU thread pool once per process (all "
                             "cores unless XLA_FLAGS pins it), so its times ignore the "
                             "thread count")
    compile_keys = {}  # the smallest case of each model and dtype: its compile is theirs
    for c in sorted(cases, key=lambda c: c.flops("fwd_bwd")) if compile_time else ():
        compile_keys.setdefault(f"{c.model} {c.dtype}", c)
    blocks = len(cases) * len(threads) * len(impls) * len(passes)
    total = len(threads) * measure_ceiling + len(compile_keys) + blocks
    bar = tqdm(total=total, disable=not progress, unit="block", leave=False)
    for n in threads if measure_ceiling else ():
        bar.set_description(f"ceiling, {n} thread(s)")
        with thread_limit(n):
            data["ceiling"][str(n)] = _ceiling(gemm_n, budget_s=ceiling_budget_s)
        bar.update()
    for key, case in compile_keys.items():
        bar.set_description(f"{key} JIT compile")
        data["compile"][key] = compile_times(case)
        bar.update()
    for case in cases:
        model, x, y = vgbench_case(case, seed)
        runners = {}
        for impl in impls:
            try:
                runners[impl] = build(impl, case, model, x, y, backend)
            except ValueError as exc:
                data["notes"].append(f"{impl} skipped for {case.label()}: {exc}")
                bar.update(len(threads) * len(passes))
        for n in threads:
            for impl, runner in runners.items():
                with thread_limit(n):
                    for pass_ in passes:
                        bar.set_description(f"{case.label()} {impl} {pass_} {n}t")
                        fn = runner.fwd_bwd if pass_ == "fwd_bwd" else runner.forward
                        t = time_block(fn, budget_s=budget_s, min_repeats=min_repeats)
                        loss = runner.fwd_bwd() if pass_ == "fwd_bwd" else None
                        data["records"].append(_record(case, n, impl, pass_, t, loss, data))
                        bar.update()
        data["notes"] += _loss_disagreements(case, data["records"])
    bar.close()
    data["loadavg_end"] = _loadavg()
    data["complete"] = True
    return data


def _record(case: Case, threads: int, impl: str, pass_: str, timing, loss, data) -> dict:
    flops = case.flops(pass_)
    stats = timing.stats()
    gflops = flops / stats["median_s"] / 1e9
    gemm = data["ceiling"].get(str(threads), {}).get("gemm", {}).get(case.dtype)
    return {**asdict(case), "label": case.label(), "threads": threads, "impl": impl,
            "pass": pass_, "flops": flops, "gflops": gflops,
            "ceiling_fraction": gflops / gemm["best_gflops"] if gemm else None,
            "loss": loss, **timing.to_dict()}


def _loss_disagreements(case: Case, records: list) -> list[str]:
    """Notes for implementations whose loss differs from vgbench's on ``case``."""
    tol = 1e-3 if case.dtype == "float32" else 1e-9
    losses = {r["impl"]: r["loss"] for r in records
              if r["label"] == case.label() and r["loss"] is not None}
    ref = losses.get("vgbench")
    if ref is None:
        return []
    return [f"{impl} loss {loss:.6g} differs from vgbench's {ref:.6g} on {case.label()}"
            for impl, loss in losses.items() if abs(loss - ref) > tol * max(abs(ref), 1e-30)]


def record_key(r: dict) -> tuple:
    """What identifies a measurement across result files."""
    return (r["label"], r["in_dim"], r["out_dim"], r["threads"], r["impl"], r["pass"])


def table_rows(data: dict, pass_: str = "fwd_bwd") -> list[dict]:
    """One row per (case, threads): each implementation's median and its ratio to vgbench.

    ``ratio_<impl>`` = impl median / vgbench median (> 1: vgbench is faster).
    """
    rows = {}
    for r in data["records"]:
        if r["pass"] != pass_:
            continue
        row = rows.setdefault((r["label"], r["threads"]),
                              {"case": r["label"], "threads": r["threads"]})
        row[f"median_{r['impl']}"] = r["median_s"]
        row[f"iqr_{r['impl']}"] = r["iqr_s"]
        if r["impl"] == "vgbench":
            row["gflops"] = r["gflops"]
            row["ceiling_fraction"] = r["ceiling_fraction"]
    for row in rows.values():
        base = row.get("median_vgbench")
        for impl in IMPLS[1:]:
            if base and f"median_{impl}" in row:
                row[f"ratio_{impl}"] = row[f"median_{impl}"] / base
    return list(rows.values())


def sweep_config(cases, impls, threads, passes, budget_s, min_repeats, gemm_n, backend,
                 seed) -> dict:
    """The ``config`` stored with a speed result."""
    return {"cases": [asdict(c) for c in cases], "impls": list(impls),
            "threads": list(threads), "passes": list(passes), "budget_s": budget_s,
            "min_repeats": min_repeats, "gemm_n": gemm_n, "backend": backend, "seed": seed,
            "blas_coretype": selection()}


