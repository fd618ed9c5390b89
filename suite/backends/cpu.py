"""The CPU backend: the Numba kernels of ``vgbench.kernels``, with host workspaces.

Workspaces (the forward's caches and the backward's scratch) are allocated on first use
and kept in the model's ``workspaces`` dict under ``("cpu", ...)`` keys, so repeated calls
on one shape allocate nothing but their results.
"""

import numpy as np

from vgbench.backends.calls import Gradients, MLPCall, RecurrentCall
from vgbench.kernels.leaky_rnn import leaky_rnn_backward, leaky_rnn_forward
from vgbench.kernels.loss import mse_forward_backward
from vgbench.kernels.lstm import lstm_backward, lstm_forward
from vgbench.kernels.mlp import mlp_backward, mlp_forward
from vgbench.kernels.rnn import rnn_backward, rnn_forward

# The RNN backward runs in chunks of about this many (step, batch) rows: its input-side
# GEMMs then have K >= this, and BPTT stores one chunk of dL/dz beside the T hidden
# states instead of T of them (vgbench.kernels.rnn docstring).
BPTT_CHUNK_ROWS = 256

# The workspace entries the forward stores for the backward; the rest is scratch.
CACHES = {"rnn": ("HS",), "lstm": ("HS", "CS", "GATES", "TC"), "leaky_rnn": ("HS", "US")}


def kind(call: RecurrentCall) -> str:
    """The workspace kind of a recurrent call: "rnn", "leaky_rnn" or "lstm"."""
    return "leaky_rnn" if call.leaky else call.cell


def mlp_workspace(call: MLPCall, cache: dict) -> dict:
    """Caches H, Y, XHAT, INV_STD and scratch ``work`` for the call's batch size."""
    W_in, W_hid, W_out, b_hid = call.params[:4]
    B = call.x.shape[0]
    L, W = b_hid.shape
    key = ("cpu", "mlp", B, call.residual, call.batchnorm)
    ws = cache.get(key)
    if ws is None:
        dt = b_hid.dtype
        H = np.empty((L, B, W), dt)
        n_bn = L if call.batchnorm else 0
        ws = cache[key] = {"H": H, "Y": np.empty((L, B, W), dt) if call.residual else H,
                           "XHAT": np.empty((n_bn, B, W), dt),
                           "INV_STD": np.empty((n_bn, W), dt),
                           "work": np.empty((2, B, W), dt)}
    return ws


def mlp_forward_only(call: MLPCall, cache: dict) -> tuple[np.ndarray, dict]:
    """(y_hat (B, O), workspace) of the forward pass alone."""
    ws = mlp_workspace(call, cache)
    W_out = call.params[2]
    y_hat = np.empty((call.x.shape[0], W_out.shape[1]), W_out.dtype)
    mlp_forward(call.x, *call.params, call.act, call.residual, call.batchnorm, ws["H"],
                ws["Y"], ws["XHAT"], ws["INV_STD"], y_hat)
    return y_hat, ws


def _loss(y_hat: np.ndarray, y, cotangent, batch: int) -> tuple[float, np.ndarray]:
    """(loss, dy_hat): the MSE and its gradient, or <cotangent, y_hat> and the cotangent."""
    if cotangent is not None:
        # summed in float64, as the MSE is: a float32 sum can overflow where no term does
        return float(np.vdot(cotangent.astype(np.float64), y_hat.astype(np.float64))), \
            cotangent
    dy_hat = np.empty_like(y_hat)
    return float(mse_forward_backward(y_hat, y, batch, dy_hat)), dy_hat


def _run_mlp(call: MLPCall, cache: dict) -> Gradients:
    y_hat, ws = mlp_forward_only(call, cache)
    x = call.x
    loss, dy_hat = _loss(y_hat, call.y, call.cotangent, x.shape[0])
    grads = tuple(np.empty_like(a) for a in call.params)
    dx = np.empty_like(x)
    L = call.params[3].shape[0]
    delta_norms = np.empty(L)
    weight_grad_norms = np.empty(L)
    W_in, W_hid, W_out, _, _, bn_gamma, _ = call.params
    counts = np.zeros((L, 2), np.int64) if call.count_subnormal else None
    extra = () if counts is None else (counts,)  # omitted: compiled without counting
    mlp_backward(x, W_in, W_hid, W_out, bn_gamma, call.act, call.residual, call.batchnorm,
                 ws["H"], ws["Y"], ws["XHAT"], ws["INV_STD"], dy_hat, *grads, dx,
                 delta_norms, weight_grad_norms, ws["work"], *extra)
    return Gradients(loss, grads, dx, delta_norms, weight_grad_norms, y_hat, counts=counts)


def recurrent_workspace(cell: str, hidden: int, dtype, T: int, B: int, slots: int,
                        cache: dict) -> dict:
    """Caches and scratch (name -> array) of one ``cell`` call ("rnn", "leaky_rnn" or
    "lstm", see ``kind``) on (T, B) with ``slots`` truncation slots; the names in
    ``CACHES[cell]`` are the forward's caches."""
    key = ("cpu", cell, T, B, slots)
    ws = cache.get(key)
    if ws is None:
        H = hidden
        if cell == "rnn":
            chunk = min(T, -(-BPTT_CHUNK_ROWS // B))
            ws = {"HS": np.empty((T + 1, B, H), dtype), "DZ": np.empty((chunk, B, H), dtype),
                  "work": np.empty((2, slots, B, H), dtype)}
        elif cell == "leaky_rnn":
            ws = {"HS": np.empty((T + 1, B, H), dtype), "US": np.empty((T, B, H), dtype),
                  "G": np.empty((T + 1, B, H), dtype), "GT": np.empty((T + 1, B, H), dtype),
                  "DZ": np.empty((T, B, H), dtype), "work": np.empty((B, H), dtype)}
        else:
            ws = {"HS": np.empty((T + 1, B, H), dtype), "CS": np.empty((T + 1, B, H), dtype),
                  "GATES": np.empty((T, B, 4 * H), dtype), "TC": np.empty((T, B, H), dtype),
                  "work": np.empty((4, slots, B, H), dtype),
                  "work_g": np.empty((slots, B, 4 * H), dtype),
                  "W_hhT": np.empty((4 * H, H), dtype)}
        cache[key] = ws
    return ws


def _skip_weight(params: dict) -> np.ndarray:
    """W_skip, or an unread (1, 1) stand-in of the dtype when the call has no skip."""
    W = params.get("W_skip")
    return W if W is not None else np.zeros((1, 1), params["W_hh"].dtype)


def recurrent_forward_only(call: RecurrentCall, cache: dict) -> tuple[np.ndarray, dict]:
    """(y_hat (S, B, O), workspace) of the forward pass alone."""
    T, B = call.x.shape[:2]
    p = call.params
    H = p["W_hh"].shape[0]
    ws = recurrent_workspace(kind(call), H, call.x.dtype, T, B, call.slots, cache)
    y_hat = np.empty((T if call.every else 1, B, call.out_dim), call.x.dtype)
    if call.leaky:
        leaky_rnn_forward(call.x, p["W_xh"], p["W_hh"], _skip_weight(p), p["b_h"], p["W_hy"],
                          p["b_y"], call.h0, call.act, call.leak, call.skip, ws["HS"],
                          ws["US"], y_hat)
    elif call.cell == "rnn":
        rnn_forward(call.x, p["W_xh"], p["W_hh"], p["b_h"], p["W_hy"], p["b_y"], call.h0,
                    call.act, ws["HS"], y_hat)
    else:
        lstm_forward(call.x, p["W_ih"], p["W_hh"], p["b"], p["W_hy"], p["b_y"], call.h0,
                     call.c0, ws["HS"], ws["CS"], ws["GATES"], ws["TC"], y_hat)
    return y_hat, ws


def _run_recurrent(call: RecurrentCall, cache: dict) -> Gradients:
    y_hat, ws = recurrent_forward_only(call, cache)
    x, p = call.x, call.params
    T, B = x.shape[:2]
    loss, dy_hat = _loss(y_hat, call.y, call.cotangent, B)
    g = {name: np.empty_like(a) for name, a in p.items()}
    dx = np.empty_like(x)
    dh0 = np.empty_like(call.h0)
    delta_norms = np.empty(T)
    weight_grad_norms = np.empty(2)
    if call.leaky:
        W_skip = _skip_weight(p)
        dW_skip = g.get("W_skip", W_skip)  # the stand-in is never written when skip = 0
        leaky_rnn_backward(x, p["W_xh"], p["W_hh"], W_skip, p["W_hy"], call.act, call.leak,
                           call.skip, call.truncate, ws["HS"], ws["US"], dy_hat, g["W_xh"],
                           g["W_hh"], dW_skip, g["b_h"], g["W_hy"], g["b_y"], dx, dh0,
                           delta_norms, weight_grad_norms, ws["G"], ws["GT"], ws["DZ"],
                           ws["work"])
        return Gradients(loss, g, dx, delta_norms, weight_grad_norms, y_hat, dh0=dh0)
    n_counts = 2 if call.cell == "rnn" else 4
    counts = np.zeros((T, n_counts), np.int64) if call.count_subnormal else None
    extra = () if counts is None else (counts,)  # omitted: compiled without counting
    if call.cell == "rnn":
        rnn_backward(x, p["W_xh"], p["W_hh"], p["W_hy"], call.act, call.truncate, ws["HS"],
                     dy_hat, g["W_xh"], g["W_hh"], g["b_h"], g["W_hy"], g["b_y"], dx, dh0,
                     delta_norms, weight_grad_norms, ws["DZ"], ws["work"], *extra)
        return Gradients(loss, g, dx, delta_norms, weight_grad_norms, y_hat, dh0=dh0,
                         counts=counts)
    dc0 = np.empty_like(call.c0)
    cell_norms = np.empty(T)
    lstm_backward(x, p["W_ih"], p["W_hh"], p["W_hy"], call.truncate, ws["HS"], ws["CS"],
                  ws["GATES"], ws["TC"], dy_hat, g["W_ih"], g["W_hh"], g["b"], g["W_hy"],
                  g["b_y"], dx, dh0, dc0, delta_norms, cell_norms, weight_grad_norms,
                  ws["work"], ws["work_g"], ws["W_hhT"], *extra)
    return Gradients(loss, g, dx, delta_norms, weight_grad_norms, y_hat, cell_norms, dh0, dc0,
                     counts)


def run(call: MLPCall | RecurrentCall, cache: dict) -> Gradients:
    """Forward, loss and backward of one call on the CPU."""
    if isinstance(call, MLPCall):
        return _run_mlp(call, cache)
    return _run_recurrent(call, cache)
