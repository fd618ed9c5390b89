"""Peak memory of one BPTT call against the bytes its stored activations need.

``measure(model, T, B)`` times nothing: it runs ``loss_and_grads`` twice on the same
inputs, dropping the model's workspace and the result in between, and reports the
second call.  The first call loads the kernels and lets the BLAS touch its own packing
buffers (tens of MiB, once per process), which are not the cost of BPTT.  The peak
resident set of the second call is read from Linux's ``/proc/self/status`` (VmHWM),
reset through ``/proc/self/clear_refs`` just before the call; the resident set just
before it is subtracted.  Inputs x, y are allocated before and not counted.  Free heap
pages are handed back first, so memory the call reuses counts (glibc on Linux).  NumPy's
transparent-huge-page advice is off during the measurement: with it, a large array may be
backed by 2 MiB pages or by 4 KiB ones depending on the kernel's free huge pages, so the
same call read up to 2.4 MiB more RSS after other work in the process.

Byte counts reported beside the peak (all from the arrays themselves):

* ``activation_bytes``: the caches the forward stores for the backward (RNN: the hidden
  states HS (T+1, B, H); LSTM: HS, CS, TC and the gates (T, B, 4H)).
* ``scratch_bytes``: the backward's other workspace (the RNN's chunk of dL/dz, slots).
* ``output_bytes``: what the call returns, dominated by dL/dx (T, B, I).

``ratio`` = peak / activation_bytes (1 would mean no memory beyond the caches);
``ratio_without_outputs`` = (peak - output_bytes) / activation_bytes leaves out the
returned dL/dx, which alone is as large as the RNN's hidden states when I = H.
"""

import ctypes
import gc

import numpy as np

from vgbench.models import LSTM, RNN

_STATUS = "/proc/self/status"
# NumPy's switch for madvise(MADV_HUGEPAGE) on large arrays; returns the previous setting.
_set_madvise_hugepage = np._core.multiarray._set_madvise_hugepage


def _status_kib(field: str) -> int:
    with open(_STATUS) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{_STATUS} has no {field}")


def _fresh_pages_for_large_blocks() -> None:
    """Make every large block's pages count in the RSS when the call touches them.

    glibc raises its mmap threshold after large frees (up to 32 MiB), after which big
    arrays come from the heap, and freed heap chunks stay resident: a new array placed in
    them would not raise the RSS.  So fix the threshold at 128 KiB (large blocks are
    mmap'ed fresh) and hand the free heap pages back to the OS (``malloc_trim``).
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD; fixing it stops the adjustment
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def measure_peak_memory(model: RNN | LSTM, T: int, B: int, loss_at: str = "last",
            truncate: int | None = None, seed: int = 0) -> dict:
    """Peak RSS of one forward+BPTT call of ``model`` on (T, B) against its cache bytes."""
    try:
        _status_kib("VmHWM")
        _reset_peak()
    except OSError as exc:
        raise RuntimeError(f"peak-memory measurement needs Linux /proc ({exc})") from None
    cls = type(model)
    rng = np.random.default_rng(seed)
    dt = model.dtype
    x = rng.standard_normal((T, B, model.in_dim)).astype(dt)
    y_shape = (T, B, model.out_dim) if loss_at == "every" else (B, model.out_dim)
    y = rng.standard_normal(y_shape).astype(dt)
    hugepages = _set_madvise_hugepage(False)
    try:
        model.loss_and_grads(x, y, truncate, loss_at)
        model.release_workspaces()
        gc.collect()
        _fresh_pages_for_large_blocks()
        _reset_peak()
        before = _status_kib("VmRSS")
        r = model.loss_and_grads(x, y, truncate, loss_at)
        peak = (_status_kib("VmHWM") - before) * 1024
    finally:
        _set_madvise_hugepage(hugepages)
    ws = model.workspace(T, B, truncate, loss_at)
    activations = sum(ws[name].nbytes for name in model.caches)
    scratch = sum(a.nbytes for name, a in ws.items() if name not in model.caches)
    outputs = (r.grad_input.nbytes + sum(g.nbytes for g in r.grads.values())
               + r.output.nbytes + r.delta_norms.nbytes)
    return {"model": cls.__name__.lower(), "seq_len": T, "batch": B, "in_dim": model.in_dim,
            "hidden": model.hidden, "dtype": str(dt), "loss_at": loss_at,
            "truncate": truncate, "peak_bytes": peak, "activation_bytes": activations,
            "scratch_bytes": scratch, "output_bytes": outputs,
            "ratio": peak / activations,
            "ratio_without_outputs": (peak - outputs) / activations}
