"""DeepBench-style tables: Baidu DeepBench's training problem sizes, timed on this machine.

DeepBench (https://github.com/baidu-research/DeepBench) publishes GEMM and RNN kernel
timings per device for fixed problem lists; hardware is compared by reading new rows
against those tables.  ``GEMM_TRAINING`` and ``RNN_TRAINING`` are the ``training_set``
lists of its ``code/kernels/gemm_problems.h`` and ``rnn_problems.h`` (GRU rows left out:
vgbench has no GRU), in DeepBench's order and conventions:

* GEMM ``(M, N, K, op)``: C (M x N) = op(A) op(B) with A M x K and B K x N, ``op`` the
  transposes of A and B ("TN": A stored K x M and read transposed).  Timed as
  ``np.dot`` on float32 through NumPy's BLAS (the library the GEMM ceiling and the
  kernels' products use); forward only.
* RNN ``(hidden, batch, T, cell)``, cell "vanilla" (tanh Elman RNN) or "lstm", input
  width = hidden as in DeepBench: vgbench's own kernels, forward and forward+backward
  (BPTT through every step, the weight and input gradients) of ``model.loss_and_grads``
  (which adds a width-1 readout and the loss: under 1% of the work at these sizes).

This machine is not a GPU: ``plan`` estimates each problem's time (its flops at half the
measured GEMM ceiling, for warm-up plus the minimum repeats) and memory (operands and
stored activations), runs those under the caps and lists the others as skipped with the
reason.
"""

import os
from dataclasses import dataclass

import numpy as np

from vgbench.speed.baselines import Case, vgbench_case
from vgbench.speed.timing import thread_limit, time_block

# code/kernels/gemm_problems.h, training_set: (M, N, K, op of A and B).
GEMM_TRAINING = (
    (1760, 16, 1760, "NN"), (1760, 32, 1760, "NN"), (1760, 64, 1760, "NN"),
    (1760, 128, 1760, "NN"), (1760, 7000, 1760, "NN"), (2048, 16, 2048, "NN"),
    (2048, 32, 2048, "NN"), (2048, 64, 2048, "NN"), (2048, 128, 2048, "NN"),
    (2048, 7000, 2048, "NN"), (2560, 16, 2560, "NN"), (2560, 32, 2560, "NN"),
    (2560, 64, 2560, "NN"), (2560, 128, 2560, "NN"), (2560, 7000, 2560, "NN"),
    (4096, 16, 4096, "NN"), (4096, 32, 4096, "NN"), (4096, 64, 4096, "NN"),
    (4096, 128, 4096, "NN"), (4096, 7000, 4096, "NN"), (1760, 16, 1760, "TN"),
    (1760, 32, 1760, "TN"), (1760, 64, 1760, "TN"), (1760, 128, 1760, "TN"),
    (1760, 7000, 1760, "TN"), (2048, 16, 2048, "TN"), (2048, 32, 2048, "TN"),
    (2048, 64, 2048, "TN"), (2048, 128, 2048, "TN"), (2048, 7000, 2048, "TN"),
    (2560, 16, 2560, "TN"), (2560, 32, 2560, "TN"), (2560, 64, 2560, "TN"),
    (2560, 128, 2560, "TN"), (2560, 7000, 2560, "TN"), (4096, 16, 4096, "TN"),
    (4096, 32, 4096, "TN"), (4096, 64, 4096, "TN"), (4096, 128, 4096, "TN"),
    (4096, 7000, 4096, "TN"), (1760, 7133, 1760, "NT"), (2048, 7133, 2048, "NT"),
    (2560, 7133, 2560, "NT"), (4096, 7133, 4096, "NT"), (5124, 9124, 1760, "NN"),
    (35, 8457, 1760, "NN"), (5124, 9124, 2048, "NN"), (35, 8457, 2048, "NN"),
    (5124, 9124, 2560, "NN"), (35, 8457, 2560, "NN"), (5124, 9124, 4096, "NN"),
    (35, 8457, 4096, "NN"), (5124, 9124, 1760, "TN"), (35, 8457, 1760, "TN"),
    (5124, 9124, 2048, "TN"), (35, 8457, 2048, "TN"), (5124, 9124, 2560, "TN"),
    (35, 8457, 2560, "TN"), (5124, 9124, 4096, "TN"), (35, 8457, 4096, "TN"),
    (7680, 16, 2560, "NN"), (7680, 32, 2560, "NN"), (7680, 64, 2560, "NN"),
    (7680, 128, 2560, "NN"), (7680, 16, 2560, "TN"), (7680, 32, 2560, "TN"),
    (7680, 64, 2560, "TN"), (7680, 128, 2560, "TN"), (3072, 16, 1024, "NN"),
    (3072, 32, 1024, "NN"), (3072, 64, 1024, "NN"), (3072, 128, 1024, "NN"),
    (3072, 16, 1024, "TN"), (3072, 32, 1024, "TN"), (3072, 64, 1024, "TN"),
    (3072, 128, 1024, "TN"), (3072, 7435, 1024, "NT"), (7680, 5481, 2560, "NT"),
    (512, 8, 500000, "NN"), (1024, 8, 500000, "NN"), (512, 16, 500000, "NN"),
    (1024, 16, 500000, "NN"), (512, 8, 500000, "TN"), (1024, 8, 500000, "TN"),
    (512, 16, 500000, "TN"), (1024, 16, 500000, "TN"), (1024, 700, 512, "NN"),
    (1024, 700, 512, "TN"), (7680, 24000, 2560, "NN"), (6144, 24000, 2048, "NN"),
    (4608, 24000, 1536, "NN"), (8448, 24000, 2816, "NN"), (3072, 24000, 1024, "NN"),
    (7680, 48000, 2560, "NN"), (6144, 48000, 2048, "NN"), (4608, 48000, 1536, "NN"),
    (8448, 48000, 2816, "NN"), (3072, 48000, 1024, "NN"), (7680, 24000, 2560, "TN"),
    (6144, 24000, 2048, "TN"), (4608, 24000, 1536, "TN"), (8448, 24000, 2816, "TN"),
    (3072, 24000, 1024, "TN"), (7680, 48000, 2560, "TN"), (6144, 48000, 2048, "TN"),
    (4608, 48000, 1536, "TN"), (8448, 48000, 2816, "TN"), (3072, 48000, 1024, "TN"),
    (6144, 16, 2048, "NN"), (4608, 16, 1536, "NN"), (8448, 16, 2816, "NN"),
    (6144, 32, 2048, "NN"), (4608, 32, 1536, "NN"), (8448, 32, 2816, "NN"),
    (6144, 16, 2048, "TN"), (4608, 16, 1536, "TN"), (8448, 16, 2816, "TN"),
    (6144, 32, 2048, "TN"), (4608, 32, 1536, "TN"), (8448, 32, 2816, "TN"),
    (512, 24000, 2816, "NN"), (512, 24000, 2048, "NN"), (512, 24000, 2560, "NN"),
    (512, 24000, 1536, "NN"), (1024, 24000, 2816, "NN"), (1024, 24000, 2048, "NN"),
    (1024, 24000, 2560, "NN"), (1024, 24000, 1536, "NN"), (512, 16, 512, "NN"),
    (1024, 16, 512, "NN"), (512, 24000, 2816, "TN"), (512, 24000, 2048, "TN"),
    (512, 24000, 2560, "TN"), (512, 24000, 1536, "TN"), (1024, 24000, 2816, "TN"),
    (1024, 24000, 2048, "TN"), (1024, 24000, 2560, "TN"), (1024, 24000, 1536, "TN"),
    (512, 16, 512, "NT"), (1024, 16, 512, "NT"), (512, 48000, 2816, "NN"),
    (512, 48000, 2048, "NN"), (512, 48000, 2560, "NN"), (512, 48000, 1536, "NN"),
    (1024, 48000, 2816, "NN"), (1024, 48000, 2048, "NN"), (1024, 48000, 2560, "NN"),
    (1024, 48000, 1536, "NN"), (512, 32, 512, "NN"), (1024, 32, 512, "NN"),
    (512, 48000, 2816, "TN"), (512, 48000, 2048, "TN"), (512, 48000, 2560, "TN"),
    (512, 48000, 1536, "TN"), (1024, 48000, 2816, "TN"), (1024, 48000, 2048, "TN"),
    (1024, 48000, 2560, "TN"), (1024, 48000, 1536, "TN"), (512, 32, 512, "NT"),
    (1024, 32, 512, "NT"),
)

# code/kernels/rnn_problems.h, training_set without the GRU rows: (hidden, batch, T, cell).
RNN_TRAINING = (
    (1760, 16, 50, "vanilla"), (1760, 32, 50, "vanilla"), (1760, 64, 50, "vanilla"),
    (1760, 128, 50, "vanilla"), (2048, 16, 50, "vanilla"), (2048, 32, 50, "vanilla"),
    (2048, 64, 50, "vanilla"), (2048, 128, 50, "vanilla"), (2560, 16, 50, "vanilla"),
    (2560, 32, 50, "vanilla"), (2560, 64, 50, "vanilla"), (2560, 128, 50, "vanilla"),
    (512, 16, 25, "lstm"), (512, 32, 25, "lstm"), (512, 64, 25, "lstm"),
    (512, 128, 25, "lstm"), (1024, 16, 25, "lstm"), (1024, 32, 25, "lstm"),
    (1024, 64, 25, "lstm"), (1024, 128, 25, "lstm"), (2048, 16, 25, "lstm"),
    (2048, 32, 25, "lstm"), (2048, 64, 25, "lstm"), (2048, 128, 25, "lstm"),
    (4096, 16, 25, "lstm"), (4096, 32, 25, "lstm"), (4096, 64, 25, "lstm"),
    (4096, 128, 25, "lstm"), (1536, 8, 50, "lstm"), (1536, 16, 50, "lstm"),
    (1536, 32, 50, "lstm"), (256, 16, 150, "lstm"), (256, 32, 150, "lstm"),
    (256, 64, 150, "lstm"),
)

# The planner's assumptions: the kernels reach half the GEMM ceiling (most reach more at
# these sizes, so the estimate errs long), and a run may use half the available memory.
EFFICIENCY = 0.5
MEMORY_FRACTION = 0.5
BYTES = 4  # float32


@dataclass(frozen=True)
class Problem:
    """One DeepBench row."""

    kernel: str  # "gemm", "vanilla" or "lstm"
    M: int = 0  # GEMM sizes (0 for RNN rows)
    N: int = 0
    K: int = 0
    op: str = ""  # GEMM transposes, "NN", "TN" or "NT"
    hidden: int = 0  # RNN sizes (0 for GEMM rows)
    batch: int = 0
    T: int = 0

    def case(self) -> Case:
        """The vgbench speed case of an RNN row (input width = hidden, as DeepBench)."""
        model = "rnn" if self.kernel == "vanilla" else "lstm"
        return Case(model, self.hidden, self.batch, seq_len=self.T, dtype="float32")

    def flops(self, pass_: str) -> float:
        """Flops of one call: 2 M N K for a GEMM; matrix products of the pass for RNNs."""
        if self.kernel == "gemm":
            return 2.0 * self.M * self.N * self.K
        return float(self.case().flops(pass_))

    def bytes(self) -> int:
        """Memory one call needs: operands and result (GEMM); inputs, stored activations,
        weights and their gradients, dL/dx (RNN)."""
        if self.kernel == "gemm":
            return BYTES * (self.M * self.K + self.K * self.N + self.M * self.N)
        H, B, T = self.hidden, self.batch, self.T
        if self.kernel == "vanilla":  # x, dL/dx, h; W_xh, W_hh and their gradients
            return BYTES * (3 * T * B * H + 4 * H * H)
        # x, dL/dx; h, c, tanh c and 4 gates cached; W_ih, W_hh (H x 4H) and gradients
        return BYTES * (9 * T * B * H + 16 * H * H)

    def label(self) -> str:
        if self.kernel == "gemm":
            return f"gemm M{self.M} N{self.N} K{self.K} {self.op}"
        return f"{self.kernel} H{self.hidden} B{self.batch} T{self.T}"


def problems() -> list[Problem]:
    """Every DeepBench training row vgbench can run, GEMMs first."""
    return ([Problem("gemm", M=m, N=n, K=k, op=op) for m, n, k, op in GEMM_TRAINING]
            + [Problem(cell, hidden=h, batch=b, T=t) for h, b, t, cell in RNN_TRAINING])


def available_bytes() -> int | None:
    """Memory available to a new allocation now (Linux), None where unknown."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def plan(items: list[Problem], gemm_gflops: float, max_row_s: float, min_repeats: int,
         memory_bytes: int | None) -> tuple[list[Problem], list[tuple[Problem, str]]]:
    """(problems to run, [(problem, why skipped)]) under the time and memory caps.

    A row's estimated time: (min_repeats + 2 untimed calls) x its passes' flops at
    ``EFFICIENCY`` x ``gemm_gflops``; memory: ``Problem.bytes`` against
    ``MEMORY_FRACTION`` of ``memory_bytes``.
    """
    run, skipped = [], []
    rate = EFFICIENCY * gemm_gflops * 1e9
    for p in items:
        passes = ("forward",) if p.kernel == "gemm" else ("forward", "fwd_bwd")
        est = (min_repeats + 2) * sum(p.flops(q) for q in passes) / rate
        if memory_bytes is not None and p.bytes() > MEMORY_FRACTION * memory_bytes:
            skipped.append((p, f"needs ~{p.bytes() / 2 ** 30:.1f} GiB, over "
                               f"{MEMORY_FRACTION:.0%} of the {memory_bytes / 2 ** 30:.1f} "
                               f"GiB available"))
        elif est > max_row_s:
            skipped.append((p, f"estimated {est:.0f} s, over the {max_row_s:g} s cap"))
        else:
            run.append(p)
    return run, skipped


def _gemm_call(p: Problem, seed: int = 0):
    """A zero-argument call computing C = op(A) op(B) in float32."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((p.K, p.M) if p.op[0] == "T" else (p.M, p.K), dtype=np.float32)
    b = rng.standard_normal((p.N, p.K) if p.op[1] == "T" else (p.K, p.N), dtype=np.float32)
    a_op = a.T if p.op[0] == "T" else a
    b_op = b.T if p.op[1] == "T" else b
    c = np.empty((p.M, p.N), np.float32)
    return lambda: np.dot(a_op, b_op, out=c)


def measure(p: Problem, threads: int, budget_s: float, min_repeats: int,
            gemm_gflops: float | None) -> dict:
    """Time one problem at ``threads`` threads: its row (module docstring) with raw samples."""
    row = {"kernel": p.kernel, "M": p.M, "N": p.N, "K": p.K, "op": p.op, "hidden": p.hidden,
           "batch": p.batch, "T": p.T, "precision": "float32", "threads": threads,
           "label": p.label()}
    with thread_limit(threads):
        if p.kernel == "gemm":
            calls = {"forward": _gemm_call(p)}
        else:
            model, x, y = vgbench_case(p.case(), seed=0)
            calls = {"forward": lambda: model.forward(x),
                     "fwd_bwd": lambda: model.loss_and_grads(x, y)}
        for pass_, fn in calls.items():
            st = time_block(fn, budget_s=budget_s, min_repeats=min_repeats)
            stats = st.stats()
            row[pass_] = {**stats, "samples_ns": list(st.samples_ns), "flops": p.flops(pass_)}
    main = row.get("fwd_bwd", row["forward"])
    rate = main["flops"] / main["median_s"]
    row["tflops"] = rate / 1e12
    row["gemm_fraction"] = rate / 1e9 / gemm_gflops if gemm_gflops else None
    return row


KERNELS = ("gemm", "vanilla", "lstm")


def run_suite(threads: list[int], budget_s: float = 0.5, min_repeats: int = 5,
              max_row_s: float = 5.0, on_row=None, on_plan=None,
              data: dict | None = None, kernels=KERNELS) -> dict:
    """Ceiling per thread count, plan (capped by the slowest ceiling), then every planned
    problem of ``kernels`` at every thread count.  ``on_plan(rows to measure)`` once planned,
    ``on_row(label)`` after each row.

    Returns (and fills ``data`` as it goes, so Ctrl-C keeps the finished rows)::

        {"complete": bool, "ceiling": {"<threads>": measure_ceiling()}, "rows": [...],
         "skipped": [{"label", "reason"}], "loadavg_start", "loadavg_end", "usable_cpus"}
    """
    from vgbench.speed.ceiling import GEMM_N, measure_ceiling

    data = {} if data is None else data
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    data.update(complete=False, ceiling={}, rows=[], skipped=[], usable_cpus=max(threads),
                loadavg_start=list(load) if load else None)
    for n in threads:
        with thread_limit(n):
            data["ceiling"][str(n)] = measure_ceiling(GEMM_N, budget_s=budget_s)
    slowest = min(c["gemm"]["float32"]["best_gflops"] for c in data["ceiling"].values())
    chosen = [p for p in problems() if p.kernel in kernels]
    todo, skipped = plan(chosen, slowest, max_row_s, min_repeats, available_bytes())
    data["skipped"] = [{"label": p.label(), "reason": why} for p, why in skipped]
    if on_plan is not None:
        on_plan(len(todo) * len(threads))
    for p in todo:
        for n in threads:
            ceiling = data["ceiling"][str(n)]["gemm"]["float32"]["best_gflops"]
            row = measure(p, n, budget_s, min_repeats, ceiling)
            row["loadavg_1min"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            data["rows"].append(row)
            if on_row is not None:
                on_row(f"{p.label()} {n}t")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    data["loadavg_end"] = list(load) if load else None
    data["complete"] = True
    return data


def as_records(data: dict) -> list[dict]:
    """The rows as speed-sweep records (one per pass), so ``vgbench compare`` reads them
    like any speed result: same keys (``vgbench.speed.sweep.record_key``), raw samples."""
    out = []
    for r in data["rows"]:
        for pass_ in ("forward", "fwd_bwd"):
            if pass_ in r:
                out.append({"label": r["label"], "in_dim": 0, "out_dim": 0,
                            "threads": r["threads"], "pass": pass_,
                            "impl": "blas" if r["kernel"] == "gemm" else "vgbench",
                            "samples_ns": r[pass_]["samples_ns"],
                            "median_s": r[pass_]["median_s"]})
    return out
