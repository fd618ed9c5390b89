"""Compare result files: speed (ratio of medians with a bootstrap CI) and decay (agreement).

Speed: for every measurement present in both files (same case, threads, implementation,
pass) the ratio ``median(new) / median(base)`` with a percentile-bootstrap confidence
interval from the stored raw samples.  Verdict at a threshold ``f`` (default 1.10):

* ``slower`` when the whole CI lies above f (significantly slower by more than f) and
  the fast end of the distribution moved too: the ratio of 10th percentiles is above f,
* ``faster`` when the whole CI lies below 1/f and so does the 10th-percentile ratio,
* ``no change`` otherwise.

Why both: the bootstrap sees only the spread inside one run, but other processes shift
whole runs (on a busy 2-core machine medians of back-to-back runs of the same code were
measured 40% apart, with tight intervals each).  Contention only adds time to some calls,
so the fast end stays put (minima within a few percent), while a real regression slows
every call.  ``--fail-above f`` makes
``vgbench compare`` exit 1 when any measurement is ``slower``.  Differences in CPU, BLAS
library/core type and thread settings are listed first: they explain most ratios.

Decay and other results: the numbers of both files must agree to rounding (relative
tolerance ``rtol``, default 1e-9 for float64 paths through different BLAS builds); every
differing entry is reported with its largest relative difference.
"""

from dataclasses import dataclass

import numpy as np

from vgbench.speed.sweep import record_key

DEFAULT_THRESHOLD = 1.10


def _median_ratio(base, new, axis=-1):
    return np.median(new, axis=axis) / np.median(base, axis=axis)


def bootstrap_ratio_ci(base, new, n_boot: int = 2000, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float, float]:
    """(ratio, low, high): median(new)/median(base) and its percentile-bootstrap CI
    (``scipy.stats.bootstrap``, each sample resampled on its own)."""
    a = np.asarray(base, dtype=np.float64)
    b = np.asarray(new, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("bootstrap needs samples on both sides")
    # Imported here: scipy.stats takes 0.5 s to load, and every `vgbench` command's parser
    # imports this module for its defaults (cold start of `vgbench grad`).
    from scipy import stats

    res = stats.bootstrap((a, b), _median_ratio, n_resamples=n_boot, confidence_level=level,
                          method="percentile", vectorized=True,
                          batch=max(1, 2_000_000 // max(a.size, b.size)),
                          rng=np.random.default_rng(seed))
    ci = res.confidence_interval
    return float(_median_ratio(a, b)), float(ci.low), float(ci.high)


def fast_end_ratio(base, new, q: float = 10) -> float:
    """Ratio of the q-th percentiles, new / base: how the fast calls moved."""
    return float(np.percentile(new, q) / np.percentile(base, q))


def speed_verdict(low: float, high: float, threshold: float = DEFAULT_THRESHOLD,
            fast_ratio: float | None = None) -> str:
    """``slower``, ``faster`` or ``no change`` from the CI of new/base median time and the
    10th-percentile ratio (module doc; None skips that condition)."""
    if threshold < 1:
        raise ValueError(f"threshold must be >= 1, got {threshold}")
    fast = (low + high) / 2 if fast_ratio is None else fast_ratio
    if low > threshold and fast > threshold:
        return "slower"
    if high < 1 / threshold and fast < 1 / threshold:
        return "faster"
    return "no change"


@dataclass(frozen=True)
class Row:
    """One speed measurement compared."""

    key: tuple  # (case label, in_dim, out_dim, threads, impl, pass)
    base_s: float  # median time in the base file
    new_s: float  # median time in the new file
    ratio: float  # new / base
    low: float  # CI bounds of the ratio
    high: float
    fast_ratio: float  # new / base of the 10th percentiles
    verdict: str


def compare_speed(base: dict, new: dict, threshold: float = DEFAULT_THRESHOLD,
                  n_boot: int = 2000) -> list[Row]:
    """Rows for the measurements two speed documents share, in the base file's order."""
    new_by_key = {record_key(r): r for r in new["data"]["records"]}
    rows = []
    for r in base["data"]["records"]:
        key = record_key(r)
        other = new_by_key.get(key)
        if other is None:
            continue
        ratio, low, high = bootstrap_ratio_ci(r["samples_ns"], other["samples_ns"], n_boot)
        fast = fast_end_ratio(r["samples_ns"], other["samples_ns"])
        rows.append(Row(key, r["median_s"], other["median_s"], ratio, low, high, fast,
                        speed_verdict(low, high, threshold, fast)))
    return rows


def _gemm_providers(machine: dict) -> str:
    """The kernels' GEMM binding in one line: backend, then the provider per shape class
    and dtype where a calibration or a user chose one (``machine.kernel_gemm``)."""
    kg = machine.get("kernel_gemm") or {}
    classes = kg.get("classes") or {}
    per = ", ".join(f"{cls} {'/'.join(v.values())}" for cls, v in classes.items())
    versions = ", ".join(f"{n} {p.get('version')}"
                         for n, p in (kg.get("providers") or {}).items())
    return f"{kg.get('backend')} ({per}; {versions})" if per else str(kg.get("backend"))


def setup_differences(base: dict, new: dict) -> list[str]:
    """Machine, BLAS, ceiling (> 5%) and load differences between two results."""
    mb, mn = base.get("machine", {}), new.get("machine", {})
    out = []
    for key in ("machine", "cpu", "num_cpu", "simd", "numba", "numpy", "scipy",
                "numba_threading_layer", "cuda_device"):
        if mb.get(key) != mn.get(key):
            out.append(f"{key}: {mb.get(key)} -> {mn.get(key)}")
    if _gemm_providers(mb) != _gemm_providers(mn):
        out.append(f"kernel_gemm: {_gemm_providers(mb)} -> {_gemm_providers(mn)}")

    def blas(m):
        return sorted(f"{lib.get('internal_api')} {lib.get('version')} "
                      f"core={lib.get('architecture')}" for lib in m.get("blas", [])
                      if lib.get("user_api") == "blas")
    if blas(mb) != blas(mn):
        out.append(f"BLAS: {'; '.join(blas(mb))} -> {'; '.join(blas(mn))}")
    cb, cn = mb.get("blas_coretype") or {}, mn.get("blas_coretype") or {}
    if (cb.get("mode"), cb.get("coretype")) != (cn.get("mode"), cn.get("coretype")):
        out.append(f"BLAS core-type choice: {cb.get('mode')}/{cb.get('coretype') or 'detected'}"
                   f" -> {cn.get('mode')}/{cn.get('coretype') or 'detected'}")
    modes = [(m.get("denormals") or {}).get("mode", "not recorded") for m in (mb, mn)]
    if modes[0] != modes[1]:
        out.append(f"denormals: {modes[0]} -> {modes[1]} (flush-to-zero changes the speed of "
                   "nets whose gradients reach the subnormal range)")
    commits = [(d.get("provenance") or {}).get("git_commit") for d in (base, new)]
    if commits[0] != commits[1]:
        out.append(f"vgbench commit: {(commits[0] or 'unknown')[:12]} -> "
                   f"{(commits[1] or 'unknown')[:12]}")
    loads = [d["data"].get("loadavg_start") for d in (base, new)]
    if all(loads) and max(loads[0][0], loads[1][0]) > 0.5 * (mn.get("num_cpu") or 1):
        out.append(f"load average at start: {loads[0][0]:.1f} -> {loads[1][0]:.1f} "
                   "(other processes were running)")
    for dtype in ("float32", "float64"):
        for n in sorted(set(base["data"].get("ceiling", {})) & set(new["data"]
                                                                  .get("ceiling", {}))):
            gb = base["data"]["ceiling"][n]["gemm"][dtype]["best_gflops"]
            gn = new["data"]["ceiling"][n]["gemm"][dtype]["best_gflops"]
            if abs(gn / gb - 1) > 0.05:
                out.append(f"GEMM ceiling {dtype} {n}t: {gb:.1f} -> {gn:.1f} GF/s "
                           f"(x{gn / gb:.2f})")
    return out


def _leaves(obj, path=""):
    """(path, value) for every number or numeric list in a nested document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list) and obj and all(isinstance(v, (dict, list)) for v in obj):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]")
    elif isinstance(obj, (int, float, list)) and not isinstance(obj, bool):
        yield path, obj


def compare_values(base: dict, new: dict, rtol: float = 1e-9, atol: float = 0.0) -> list[str]:
    """Every number in ``data`` (and ``config``) that differs beyond rounding, described."""
    out = []
    for part in ("config", "data"):
        a = dict(_leaves(base.get(part, {})))
        b = dict(_leaves(new.get(part, {})))
        for path in sorted(set(a) | set(b)):
            if path not in a or path not in b:
                out.append(f"{part}.{path}: only in {'new' if path in b else 'base'}")
                continue
            try:
                x = np.asarray(a[path], dtype=np.float64)
                y = np.asarray(b[path], dtype=np.float64)
            except (TypeError, ValueError):
                if a[path] != b[path]:
                    out.append(f"{part}.{path}: {a[path]!r} -> {b[path]!r}")
                continue
            if x.shape != y.shape:
                out.append(f"{part}.{path}: shape {x.shape} -> {y.shape}")
            elif not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
                with np.errstate(divide="ignore", invalid="ignore"):
                    rel = np.abs(x - y) / np.maximum(np.abs(x), np.abs(y))
                worst = float(np.nanmax(np.where(np.isfinite(rel), rel, np.inf)))
                out.append(f"{part}.{path}: differs, max relative difference {worst:.3g}")
    return out


