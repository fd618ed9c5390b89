"""The time cost of subnormal numbers: forward+backward in "keep" and "flush" mode.

A float32 gradient that vanishes passes through the subnormal range (below 1.18e-38)
before it reaches 0, and x86 arithmetic on subnormal operands is slow on many CPUs.  One
case = one model at one depth (MLP) or sequence length (RNN, LSTM), timed in both modes
(``vgbench.env.denormals``) in one process on the same weights and inputs, in alternating
blocks (keep, flush, keep, flush, ...; each block a warm-up then repeats,
``vgbench.speed.timing.time_block``), so that load drift hits both modes alike.  Each
mode's subnormal fraction (entries of dL/dh, and dL/dc for the LSTM, over every layer or
step) is counted by the backward kernels in an untimed call.  PyTorch, where installed,
is timed the same way beside it (``torch.set_flush_denormal``).

``run_case(case, ...)`` returns one record and depends on nothing but its arguments (the
model and batch are seeded from the case and ``seed``), so cases may run anywhere in any
order; ``run_sweep`` runs a list of them.  A record::

    {"model", "depth" (MLP) or "seq_len", "width" (MLP) or "hidden", "batch", "dtype",
     "threads", "activation", "keep_ms", "flush_ms", "penalty" (= keep_ms / flush_ms),
     "keep_min_ms", "flush_min_ms", "penalty_min" (the same from the fastest calls),
     "subnormal_fraction_keep", "subnormal_fraction_flush", "zero_fraction_keep",
     "zero_fraction_flush", "keep_samples_ns", "flush_samples_ns",
     "torch": {the same times and penalties} or None}
"""

import importlib.util
import os
from dataclasses import asdict, dataclass

import numpy as np

from vgbench.cluster.tasks import Task, TaskResult, run_tasks
from vgbench.env.denormals import SUPPORTED, UNSUPPORTED_NOTE, denormals
from vgbench.kernels.activations import activation_code
from vgbench.models import MODELS
from vgbench.models.validate import check_choice, check_dtype, check_positive_int
from vgbench.speed.baselines import Case, build, vgbench_case
from vgbench.speed.timing import sample_stats, thread_limit, time_block

MODE_ORDER = ("keep", "flush")


@dataclass(frozen=True)
class SubnormalCase:
    """One model size of the sweep."""

    model: str  # "mlp", "rnn" or "lstm"
    length: int  # MLP depth L or RNN/LSTM sequence length T
    size: int  # MLP width W or hidden size H
    batch: int  # B
    dtype: str = "float32"
    threads: int = 1  # Numba, BLAS and PyTorch threads
    activation: str = "tanh"  # MLP and RNN activation (the LSTM's are fixed)

    def __post_init__(self):
        check_choice("model", self.model, MODELS)
        check_dtype(self.dtype)
        activation_code(self.activation)
        for name, value in self.fields().items():
            if name in ("depth", "seq_len", "width", "hidden", "batch", "threads"):
                check_positive_int(name, value)

    def speed_case(self) -> Case:
        """The ``vgbench.speed.baselines`` case: same weights and batch as ``vgbench speed``."""
        if self.model == "mlp":
            return Case("mlp", self.size, self.batch, depth=self.length,
                        activation=self.activation, dtype=self.dtype)
        return Case(self.model, self.size, self.batch, seq_len=self.length,
                    activation=self.activation, dtype=self.dtype)

    def fields(self) -> dict:
        """The record's identifying fields, under the names the issue's JSON uses."""
        mlp = self.model == "mlp"
        return {"model": self.model, "depth" if mlp else "seq_len": self.length,
                "width" if mlp else "hidden": self.size, "batch": self.batch,
                "dtype": self.dtype, "threads": self.threads, "activation": self.activation}


def cases(models, seq_lens, depths, hidden: int, width: int, batch: int | None,
          dtype: str = "float32", threads: int = 1, mlp_activation: str = "sigmoid",
          rnn_activation: str = "tanh") -> list[SubnormalCase]:
    """Every model x its lengths (RNN/LSTM: ``seq_lens``; MLP: ``depths``).  ``batch``
    None: 32 for RNN/LSTM, 128 for the MLP."""
    out = []
    for model in models:
        mlp = model == "mlp"
        b = batch or (128 if mlp else 32)
        for n in depths if mlp else seq_lens:
            out.append(SubnormalCase(model, n, width if mlp else hidden, b, dtype, threads,
                                     mlp_activation if mlp else rnn_activation))
    return out


def _fractions(model, x, y, case: SubnormalCase) -> tuple[float, float]:
    """(subnormal, zero) fraction of the dL/dh (and dL/dc) entries over every layer/step."""
    counts = model.loss_and_grads(x, y, count_subnormal=True).subnormal_counts
    entries = counts.shape[0] * case.batch * case.size * (counts.shape[1] // 2)
    return (float(counts[:, 0::2].sum()) / entries, float(counts[:, 1::2].sum()) / entries)


def _alternate(fns: dict, blocks: int, budget_s: float, min_repeats: int) -> dict:
    """Time ``fns[mode]`` in alternating blocks, each in its mode, the order reversed every
    round (keep, flush, flush, keep, ...) so that a drift in load hits both modes alike;
    returns {mode: all samples_ns in call order}."""
    samples = {m: [] for m in fns}
    for i in range(blocks):
        for mode in list(fns)[:: 1 if i % 2 == 0 else -1]:
            fn = fns[mode]
            with denormals(mode):
                samples[mode] += time_block(fn, budget_s, min_repeats).samples_ns
    return samples


def _ms(samples_ns: list) -> float:
    return sample_stats(samples_ns)["median_s"] * 1e3


def run_case(case: SubnormalCase, budget_s: float = 0.3, blocks: int = 3,
             min_repeats: int = 3, torch: bool = True, seed: int = 0) -> dict:
    """Time one case in both modes (module docstring); returns its record."""
    model, x, y = vgbench_case(case.speed_case(), seed)
    record = case.fields()
    with thread_limit(case.threads), np.errstate(all="ignore"):
        model.loss_and_grads(x, y)  # JIT compile, never timed
        for mode in MODE_ORDER:
            with denormals(mode):
                sub, zero = _fractions(model, x, y, case)
            record[f"subnormal_fraction_{mode}"] = sub
            record[f"zero_fraction_{mode}"] = zero
        fn = lambda: model.loss_and_grads(x, y)  # noqa: E731
        samples = _alternate({m: fn for m in MODE_ORDER}, blocks, budget_s / blocks,
                             min_repeats)
        record.update(_summary(samples))
        record["keep_samples_ns"] = list(samples["keep"])
        record["flush_samples_ns"] = list(samples["flush"])
        record["torch"] = None
        if torch and importlib.util.find_spec("torch") is not None:
            runner = build("torch", case.speed_case(), model, x, y)
            t = _alternate({m: runner.fwd_bwd for m in MODE_ORDER}, blocks,
                           budget_s / blocks, min_repeats)
            record["torch"] = _summary(t)
    return record


def _summary(samples: dict) -> dict:
    """Medians and their ratio; the minima too (on a shared machine the least disturbed
    call of each mode is a check on the medians)."""
    keep, flush = _ms(samples["keep"]), _ms(samples["flush"])
    kmin, fmin = min(samples["keep"]) * 1e-6, min(samples["flush"]) * 1e-6
    return {"keep_ms": keep, "flush_ms": flush, "penalty": keep / flush,
            "keep_min_ms": kmin, "flush_min_ms": fmin, "penalty_min": kmin / fmin}


def sweep_config(case_list: list[SubnormalCase], budget_s: float, blocks: int,
                 torch: bool, seed: int) -> dict:
    """The config stored in the result."""
    return {"cases": [asdict(c) for c in case_list], "budget_s": budget_s, "blocks": blocks,
            "torch": torch, "seed": seed}


def run_sweep(case_list: list[SubnormalCase], budget_s: float = 0.3, blocks: int = 3,
              torch: bool = True, seed: int = 0, progress: bool = False,
              data: dict | None = None, scheduler: str | None = None) -> dict:
    """Every case's record into ``data["records"]`` in case order (filled as cases finish,
    so an interrupted sweep keeps what it measured); ``data["notes"]`` says what was
    skipped.  ``scheduler`` (``vgbench.cluster``: None in-process, "local" or a Dask
    address) runs one task per case there, each timing both modes on its own worker (so
    the penalty is a ratio within one machine); each record then names its ``worker``."""
    data = {} if data is None else data
    data.update({"records": [], "notes": [], "complete": False,
                 "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None})
    if not SUPPORTED:
        data["notes"].append(UNSUPPORTED_NOTE)
        return data
    if torch and importlib.util.find_spec("torch") is None:
        data["notes"].append("PyTorch is not installed: torch columns skipped")
    tasks = [Task(f"subnormal {case.model} {case.length} x {case.size} B{case.batch}", run_case,
                  (case, budget_s, blocks), {"torch": torch, "seed": seed})
             for case in case_list]
    done = {}

    def gathered(i: int, r: TaskResult) -> None:
        done[i] = r.value if scheduler is None else {**r.value, "worker": r.worker}
        data["records"] = [done[j] for j in sorted(done)]

    run_tasks(tasks, scheduler, progress, on_result=gathered, desc="subnormal", unit="case",
              pin_threads=False)  # each case sets its own thread count
    data["complete"] = True
    data["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return data
