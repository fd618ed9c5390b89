"""Timer: warm-up apart, repeats until a time budget, robust statistics on raw samples.

``time_block(fn)`` calls ``fn`` once untimed by the statistics (its duration is kept as
``first_call_s``: it includes JIT compilation when the kernels are not yet compiled in this
process), once more to warm caches, then times single calls with ``time.perf_counter_ns``
until both ``min_repeats`` and the time ``budget_s`` are reached.  Every sample is kept
(``samples_ns``) so that comparisons can bootstrap them later.

``compile_times(case)`` measures JIT compilation apart, in fresh processes: cold (an empty
Numba cache directory) and cached (the same directory, now filled).

``thread_limit(n)`` runs a block with n threads everywhere: Numba, every BLAS/OpenMP pool
(threadpoolctl) and PyTorch when it is loaded.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numba
import numpy as np
from threadpoolctl import threadpool_limits


def sample_stats(samples_ns) -> dict:
    """median_s, iqr_s (75th - 25th percentile), min_s and n of samples in nanoseconds."""
    s = np.asarray(samples_ns, dtype=np.float64) * 1e-9
    if s.size == 0:
        raise ValueError("no timing samples")
    q25, q50, q75 = np.percentile(s, [25, 50, 75])
    return {"median_s": float(q50), "iqr_s": float(q75 - q25), "min_s": float(s.min()),
            "n": int(s.size)}


@dataclass(frozen=True)
class Timing:
    """One timed block."""

    samples_ns: tuple  # duration of every timed call, in call order
    first_call_s: float  # the first call (JIT compile included if not compiled yet)

    def stats(self) -> dict:
        return sample_stats(self.samples_ns)

    def to_dict(self) -> dict:
        return {"samples_ns": list(self.samples_ns), "first_call_s": self.first_call_s,
                **self.stats()}


def time_block(fn: Callable[[], object], budget_s: float = 0.5, min_repeats: int = 5,
               max_repeats: int = 100_000) -> Timing:
    """Time ``fn()`` as one block: first call, one warm-up, then repeats until the budget."""
    if budget_s < 0 or min_repeats < 1 or max_repeats < min_repeats:
        raise ValueError("need budget_s >= 0 and 1 <= min_repeats <= max_repeats")
    clock = time.perf_counter_ns
    t0 = clock()
    fn()
    first = (clock() - t0) * 1e-9
    fn()
    samples = []
    deadline = clock() + int(budget_s * 1e9)
    while len(samples) < max_repeats and (len(samples) < min_repeats or clock() < deadline):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return Timing(tuple(samples), first)


@contextlib.contextmanager
def thread_limit(n: int) -> Iterator[None]:
    """Run the block with ``n`` threads in Numba, every BLAS/OpenMP pool and PyTorch."""
    if not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads must be in 1..{numba.config.NUMBA_NUM_THREADS}, got {n}")
    torch = sys.modules.get("torch")
    old_numba = numba.get_num_threads()
    old_torch = torch.get_num_threads() if torch else None
    numba.set_num_threads(n)
    if torch:
        torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        numba.set_num_threads(old_numba)
        if torch:
            torch.set_num_threads(old_torch)


_COMPILE_SCRIPT = """
import ctypes, json, os, sys, time
# Die with the parent: a Ctrl-C or SIGTERM that reaches it while this child is being
# started leaves no handle to kill it by (Linux; PR_SET_PDEATHSIG = 1, SIGKILL).
try:
    ctypes.CDLL(None).prctl(1, 9)
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[2]):
    sys.exit(1)
t0 = time.perf_counter()
import vgbench.models
t1 = time.perf_counter()
from vgbench.speed.baselines import Case, vgbench_case
model, x, y = vgbench_case(Case(**json.loads(sys.argv[1])), seed=0)
t2 = time.perf_counter()
model.loss_and_grads(x, y)
t3 = time.perf_counter()
model.loss_and_grads(x, y)
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_call_s": t3 - t2, "second_call_s": t4 - t3}))
"""


def _fresh_process(case_json: str, cache_dir: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", _COMPILE_SCRIPT, case_json, str(os.getpid())],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compile_times(case) -> dict:
    """JIT cost of ``case``'s forward+backward in fresh processes, cold and from cache.

    Returns ``cold``/``cached`` dicts (import_s: importing the models and kernels,
    first_call_s, second_call_s) and ``cold_compile_s``/``cached_load_s`` = first call -
    second call.
    """
    case_json = json.dumps(asdict(case))
    with tempfile.TemporaryDirectory(prefix="vgbench-numba-cache-") as cache_dir:
        cold = _fresh_process(case_json, cache_dir)
        cached = _fresh_process(case_json, cache_dir)
    return {"cold": cold, "cached": cached,
            "cold_compile_s": cold["first_call_s"] - cold["second_call_s"],
            "cached_load_s": cached["first_call_s"] - cached["second_call_s"]}
