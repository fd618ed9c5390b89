"""Which CBLAS provider serves each class of matrix product, chosen by measurement.

Products fall into shape classes (``shape_class``; M x K x N = rows of a, inner, columns
of b): ``tiny`` (M N K <= 2^19: a recurrent step at H <= 128), ``small_k`` (K <= 64),
``large`` (M N K >= 2^27), ``mid`` (the rest), and ``gemv`` (M = 1, its own routine).
Providers differ by class: on an Intel Xeon MKL beat OpenBLAS by 15-100% on mid and
small-K products and lost tiny ones to call overhead (docs/performance.md).

``resolve(spec)`` turns a request into a choice, by precedence: ``--gemm`` (the command
line puts it in ``VGBENCH_GEMM`` before the kernels load), then ``VGBENCH_GEMM``, then
``auto``:

* ``auto``: with one provider installed, that one; with more, a calibration (1 thread,
  ctypes calls, two or three representative products per class and dtype, providers
  alternated in rounds, best of each, about 3-6 s) measures each, and a dtype leaves
  OpenBLAS only for a provider at least ``MARGIN`` faster over all classes (``choose``:
  one library per dtype, since two thread pools in one process fight at 2 threads).
  The symbols stay per class, so a per-class binding needs no kernel change.
  The rates are cached per machine and library build in ``cache_dir()``
  (``VGBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/vgbench``, else ``~/.cache/vgbench``);
  the cache is the only I/O here, as numba's own kernel cache is.
* a provider name (``openblas``, ``scipy-openblas64``, ``scipy-openblas32``, ``mkl``) or a
  library path: that library for every class; ``numba``: the ``np.dot`` fallback.

Unknown names and providers that are not installed are ValueErrors.
"""

import ctypes
import hashlib
import json
import math
import os
import platform
import tempfile
import time

import numpy as np
from numba import njit

from vgbench.kernels.cblas import NO_TRANS, ROW, TRANS
from vgbench.kernels.gemm_providers import NAMES, discover, user_library

ENV = "VGBENCH_GEMM"
CLASSES = ("tiny", "small_k", "mid", "large", "gemv")
TINY, SMALL_K, MID, LARGE, GEMV = range(5)
TINY_MNK, SMALL_K_MAX, LARGE_MNK = 2 ** 19, 64, 2 ** 27
MARGIN = 1.15  # a provider replaces OpenBLAS in a class only when this much faster
DTYPES = ("float32", "float64")
# Representative products (M, K, N) per class: recurrent steps (B 24-32, H 64-512), MLP
# layers (96 x 320 x 320), small-K updates, a large layer, batch-1 steps.
SHAPES = {"tiny": ((24, 96, 96), (32, 64, 64)),
          "small_k": ((1024, 32, 1024), (512, 16, 512)),
          "mid": ((32, 128, 512), (96, 320, 320), (32, 512, 512)),
          "large": ((256, 1024, 1024), (512, 512, 512)),
          "gemv": ((1, 512, 512), (1, 1024, 2048))}
CACHE_VERSION = 2
_ROUNDS, _BLOCK_S = 5, 0.003


@njit(cache=True)
def shape_class(M, N, K):
    """The class index (TINY, SMALL_K, MID, LARGE, GEMV) of an (M, K) x (K, N) product."""
    if M == 1:
        return GEMV
    mnk = M * N * K
    if mnk <= TINY_MNK:
        return TINY
    if K <= SMALL_K_MAX:
        return SMALL_K
    if mnk >= LARGE_MNK:
        return LARGE
    return MID


def cache_dir() -> str:
    """Where the calibration is cached (module docstring)."""
    if os.environ.get("VGBENCH_CACHE_DIR"):
        return os.environ["VGBENCH_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vgbench")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def cache_key(providers: dict) -> str:
    """Hash of what the rates depend on: CPU, core count, library builds."""
    doc = {"version": CACHE_VERSION, "cpu": _cpu_model(), "machine": platform.machine(),
           "cpus": os.cpu_count(), "numpy": np.__version__,
           "providers": {n: p.stamp() for n, p in sorted(providers.items())}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def _cache_file() -> str:
    return os.path.join(cache_dir(), "gemm-calibration.json")


def load_cached(key: str) -> dict | None:
    """The cached rate table for ``key``, or None."""
    try:
        with open(_cache_file()) as f:
            return json.load(f)["entries"][key]["table"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_cached(key: str, table: dict) -> None:
    """Store ``table`` under ``key`` (atomic replace; an unwritable cache is skipped)."""
    path = _cache_file()
    try:
        with open(path) as f:
            doc = json.load(f)
        doc["entries"]
    except (OSError, ValueError, KeyError, TypeError):
        doc = {"version": CACHE_VERSION, "entries": {}}
    doc["entries"][key] = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "table": table}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, path)
    except OSError:
        pass


def cblas_caller(address: int, routine: str):
    """A ctypes function for a row-major ILP64 ``cblas_?gemm`` / ``?gemv`` at ``address``."""
    real = ctypes.c_float if routine[0] == "s" else ctypes.c_double
    i32, i64, p = ctypes.c_int32, ctypes.c_int64, ctypes.c_void_p
    if routine.endswith("gemm"):
        args = (i32, i32, i32, i64, i64, i64, real, p, i64, p, i64, real, p, i64)
    else:
        args = (i32, i32, i64, i64, real, p, i64, p, i64, real, p, i64)
    return ctypes.CFUNCTYPE(None, *args)(address)


def _product(fn, gemv: bool, M: int, K: int, N: int, a, b, c):
    """A no-argument call of ``fn`` computing c = a @ b (gemv: c[0] = b^T a[0]).  The
    caller keeps a, b and c alive while it uses the call (it holds raw pointers)."""
    pa, pb, pc = a.ctypes.data, b.ctypes.data, c.ctypes.data
    if gemv:
        return lambda: fn(ROW, TRANS, K, N, 1.0, pb, N, pa, 1, 0.0, pc, 1)
    return lambda: fn(ROW, NO_TRANS, NO_TRANS, M, N, K, 1.0, pa, K, pb, N, 0.0, pc, N)


def calibrate(providers: dict, rounds: int = _ROUNDS, block_s: float = _BLOCK_S) -> dict:
    """GF/s at one thread of every provider on each of a class's ``SHAPES``, per class
    and dtype: {class: {dtype: {provider: [gflops per shape]}}}.  A provider whose result
    disagrees with NumPy is left out of that class (a misbound library must never win)."""
    from threadpoolctl import threadpool_limits

    addresses = {n: p.addresses() for n, p in providers.items()}
    rng = np.random.default_rng(0)
    table = {}
    with threadpool_limits(1):
        for cls, shapes in SHAPES.items():
            gemv = cls == "gemv"
            for dtype in DTYPES:
                rates = {n: [] for n in providers}
                routine = ("s" if dtype == "float32" else "d") + ("gemv" if gemv else "gemm")
                for M, K, N in shapes:
                    a = rng.standard_normal((M, K)).astype(dtype)
                    b = rng.standard_normal((K, N)).astype(dtype)
                    ref = a.astype(np.float64) @ b.astype(np.float64)
                    calls, reps, best, outs = {}, {}, {}, {}
                    for n in rates:
                        c = outs[n] = np.zeros((M, N), dtype)
                        calls[n] = _product(cblas_caller(addresses[n][routine], routine),
                                            gemv, M, K, N, a, b, c)
                        calls[n]()
                        if not np.allclose(c, ref, rtol=1e-3, atol=1e-3 * math.sqrt(K)):
                            continue
                        t = time.perf_counter()
                        calls[n]()
                        reps[n] = max(1, int(block_s / max(time.perf_counter() - t, 1e-7)))
                        best[n] = math.inf
                    for _ in range(rounds):  # alternate providers: load drifts hit all
                        for n in best:
                            t = time.perf_counter()
                            for _ in range(reps[n]):
                                calls[n]()
                            best[n] = min(best[n], (time.perf_counter() - t) / reps[n])
                    rates = {n: [*v, round(2.0 * M * N * K / best[n] / 1e9, 2)]
                             for n, v in rates.items() if n in best}
                table.setdefault(cls, {})[dtype] = rates
    return table


def mean_rate(rates: list) -> float:
    """Geometric mean of a provider's per-shape GF/s."""
    return math.exp(sum(math.log(r) for r in rates) / len(rates))


def choose(table: dict, margin: float = MARGIN, default: str = "openblas") -> dict:
    """{class: {dtype: provider}}: per dtype one provider for every class, ``default``
    unless another is at least ``margin`` faster by the geometric mean of its speed-ups
    over every product measured (then the fastest such).

    One library per dtype, not one per class: with two libraries in a process, their
    thread pools spin against each other at 2 threads (docs/performance.md, entry 10:
    MKL for mid products beside OpenBLAS for the rest made the RNN H128 28-44x and the
    LSTM 2x slower at 2 threads, and no slower at 1)."""
    out = {cls: {} for cls in CLASSES}
    for dtype in DTYPES:
        per = [table[c][dtype] for c in CLASSES if dtype in table.get(c, {})]
        names = set.intersection(*(set(r) for r in per)) if per else set()
        if default in names:
            gain = {n: mean_rate([r / b for v in per for r, b in zip(v[n], v[default],
                                                                      strict=True)])
                    for n in names}
            winners = [n for n in names if n != default and gain[n] >= margin]
            best = max(winners, key=gain.get) if winners else default
        else:
            best = max(names, key=lambda n: mean_rate([r for v in per for r in v[n]]),
                       default=default)
        for cls in CLASSES:
            out[cls][dtype] = best
    return out


def _uniform(name: str) -> dict:
    return {cls: {dtype: name for dtype in DTYPES} for cls in CLASSES}


def _install_hint(name: str) -> str:
    return 'pip install "vgbench[mkl]"' if name == "mkl" else f"pip install {name}"


def resolve(spec: str | None = None, providers: dict | None = None) -> dict:
    """The choice for ``spec`` (default: ``VGBENCH_GEMM``, else auto).

    Returns {"spec", "source", "classes": {class: {dtype: provider name}} (None for the
    ``np.dot`` fallback), "providers": {name: Provider} (those the classes use), "table":
    the calibration's rates (``calibrate``) or None}.
    """
    spec = (spec or os.environ.get(ENV) or "auto").strip()
    low = spec.lower()
    if low == "numba":
        return {"spec": "numba", "source": "forced", "classes": None, "providers": {},
                "table": None}
    found = discover() if providers is None else providers
    if os.sep in spec or spec.endswith((".so", ".dll", ".dylib")) or ".so." in spec:
        user = user_library(spec)
        return {"spec": spec, "source": "forced", "classes": _uniform("user"),
                "providers": {"user": user}, "table": None}
    if low in NAMES:
        if low not in found:
            raise ValueError(f"{ENV}={spec}: {low} is not installed ({_install_hint(low)})")
        return {"spec": low, "source": "forced", "classes": _uniform(low),
                "providers": {low: found[low]}, "table": None}
    if low != "auto":
        raise ValueError(f"{ENV}={spec!r}: valid: auto, numba, {', '.join(NAMES)}, or the "
                         "path of a CBLAS library")
    if not found:
        return {"spec": "auto", "source": "no provider found", "classes": None,
                "providers": {}, "table": None}
    if len(found) == 1:
        name = next(iter(found))
        return {"spec": "auto", "source": "only provider", "classes": _uniform(name),
                "providers": dict(found), "table": None}
    key = cache_key(found)
    table = load_cached(key)
    source = "calibration (cached)"
    if table is None:
        table = calibrate(found)
        save_cached(key, table)
        source = "calibration (measured now)"
    classes = choose(table, default="openblas" if "openblas" in found else next(iter(found)))
    used = {n for per in classes.values() for n in per.values()}
    return {"spec": "auto", "source": source, "classes": classes,
            "providers": {n: p for n, p in found.items() if n in used}, "table": table}


def describe(choice: dict) -> dict:
    """The JSON-ready record of a choice (``Provider`` objects as their records)."""
    return {"spec": choice["spec"], "source": choice["source"], "classes": choice["classes"],
            "providers": {n: p.record() for n, p in choice["providers"].items()},
            "calibration": choice["table"]}

