"""Bytes a model and one call of it allocate, counted before anything is allocated.

A size that cannot fit is refused up front with one line naming the bytes and the
machine's memory, instead of a NumPy allocation traceback (or minutes of swapping) once
the work has started.  The counts follow the arrays the models and the CPU backend
allocate (``vgbench.backends.cpu``: the forward's caches and the backward's scratch,
kept per shape in the model's workspaces; the gradients, dL/dx and readouts a call
returns; the inputs x, y):

* ``mlp_bytes(I, W, L, O, B, dtype, residual, batchnorm)``
* ``recurrent_bytes(cell, I, H, O, T, B, dtype, loss_at, truncate)``

each return ``{"params", "workspace", "results", "inputs", "total"}``.  The constructors
check ``params`` (twice: the initialiser holds every matrix once more while packing);
the commands check ``total`` before building anything.
"""

import os

from vgbench.backends.cpu import BPTT_CHUNK_ROWS
from vgbench.models.validate import check_dtype


def machine_memory() -> int | None:
    """Physical memory in bytes (``os.sysconf``), None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units: ``512 B``, ``3.0 GiB``, ``1.2 PiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def check_fits(what: str, nbytes: int) -> None:
    """ValueError when ``nbytes`` exceed the machine's physical memory (one line naming
    both); nothing when it fits or the memory is unknown."""
    total = machine_memory()
    if total is not None and nbytes > total:
        raise ValueError(f"{what} needs {format_bytes(nbytes)} of memory; this machine has "
                         f"{format_bytes(total)}")


def _summed(itemsize: int, params: int, workspace: int, results: int, inputs: int) -> dict:
    out = {"params": params * itemsize, "workspace": workspace * itemsize,
           "results": results * itemsize, "inputs": inputs * itemsize}
    out["total"] = sum(out.values())
    return out


def mlp_bytes(in_dim: int, width: int, depth: int, out_dim: int, batch: int,
              dtype="float64", residual: bool = False, batchnorm: bool = False) -> dict:
    """Bytes of an MLP's parameters and of one ``loss_and_grads`` on ``batch`` rows
    (the per-layer float64 norms, 16 L bytes, are left out)."""
    I, W, L, O, B = (int(v) for v in (in_dim, width, depth, out_dim, batch))
    n_bn = L if batchnorm else 0
    params = I * W + (L - 1) * W * W + W * O + L * W + O + 2 * n_bn * W
    workspace = (2 if residual else 1) * L * B * W + n_bn * (B * W + W) + 2 * B * W
    results = params + B * I + 2 * B * O  # grads, dx, y_hat, dy_hat
    return _summed(check_dtype(dtype).itemsize, params, workspace, results, B * I + B * O)


def recurrent_bytes(cell: str, in_dim: int, hidden: int, out_dim: int, seq_len: int,
                    batch: int, dtype="float64", loss_at: str = "last",
                    truncate: int | None = None) -> dict:
    """Bytes of an RNN's or LSTM's parameters and of one ``loss_and_grads`` on (T, B)
    (the per-step float64 norms, 8-24 T bytes, are left out)."""
    I, H, O, T, B = (int(v) for v in (in_dim, hidden, out_dim, seq_len, batch))
    S = T if loss_at == "every" else 1  # readouts
    slots = min(truncate, T) if truncate is not None and loss_at == "every" else 1
    if cell == "rnn":
        params = I * H + H * H + H + H * O + O
        chunk = min(T, -(-BPTT_CHUNK_ROWS // B))
        workspace = (T + 1) * B * H + chunk * B * H + 2 * slots * B * H
        states = 2 * B * H  # h0 (zeros) and dL/dh0
    elif cell == "lstm":
        params = 4 * I * H + 4 * H * H + 4 * H + H * O + O
        workspace = 2 * (T + 1) * B * H + 5 * T * B * H + 8 * slots * B * H + 4 * H * H
        states = 4 * B * H  # h0, c0 and their gradients
    else:
        raise ValueError(f"unknown cell {cell!r}; valid: rnn, lstm")
    results = params + T * B * I + 2 * S * B * O + states  # grads, dx, y_hat, dy_hat
    return _summed(check_dtype(dtype).itemsize, params, workspace, results,
                   T * B * I + S * B * O)
