"""LSTM: forward and backprop-through-time kernels, sequence-major, PyTorch's equations.

Size letters as in ``kernels.rnn``.  Step t = 1..T computes the gates in PyTorch's order
i, f, g, o from one fused pre-activation (B, 4H)

    a_t = x_t @ W_ih + h_{t-1} @ W_hh + b           W_ih (I, 4H), W_hh (H, 4H), b (4H,)
    i, f, o = sigmoid(a_t[:, :H], a_t[:, H:2H], a_t[:, 3H:]);  g = tanh(a_t[:, 2H:3H])
    c_t = f * c_{t-1} + i * g;    h_t = o * tanh(c_t)

so PyTorch's ``weight_ih_l0.T``, ``weight_hh_l0.T`` and ``bias_ih_l0 + bias_hh_l0`` load
directly.  Readout, losses and truncation as in ``kernels.rnn``; truncation detaches both
h_{s-k} and c_{s-k}.

Speed layout: x @ W_ih over all T*B rows is one GEMM before the time loop; each step runs
one fused (B, H) x (H, 4H) gate GEMM forward and one (B, 4H) x (4H, H) GEMM backward;
dW_ih, dW_hh and dx are single GEMMs with K = T*B after the loop.  In float32, tanh(g)
and tanh(c) use ``kernels.activations.tanh_float32`` (vectorisable, < 5 ulp) and the gate
sigmoids ``sigmoid_float32`` (< 3 ulp).

Caches filled by the forward and read by the backward:
``HS (T+1, B, H)``     HS[0] = h_0, HS[t] = h_t;
``CS (T+1, B, H)``     CS[0] = c_0, CS[t] = c_t;
``GATES (T, B, 4H)``   activated gates [i | f | g | o] of each step;
``TC (T, B, H)``       tanh(c_t) (kept: recomputing it costs a transcendental per entry).
"""

import math

import numpy as np
from numba import njit

from kernels.activations import SIGMOID, TANH, activate, sigmoid_float32, tanh_float32
from kernels.config import JIT_OPTIONS
from kernels.reductions import column_sums, frobenius, ssq_add
from kernels.rnn import readout_backward, readout_forward


@njit(**JIT_OPTIONS)
def _tanh(z, fast):
    """tanh; ``fast`` (float32) takes the vectorisable rational form (< 5 ulp)."""
    return tanh_float32(z) if fast else activate(TANH, z)


@njit(**JIT_OPTIONS)
def _sigmoid(z, fast):
    """sigmoid; ``fast`` (float32) takes the vectorisable exp form (< 3 ulp)."""
    return sigmoid_float32(z) if fast else activate(SIGMOID, z)


@njit(**JIT_OPTIONS)
def lstm_forward(x, W_ih, W_hh, b, W_hy, b_y, h0, c0, HS, CS, GATES, TC, work, y_hat):
    """Forward pass over the sequence; fills the caches and writes the readout.

    Parameters
    ----------
    x : (T, B, I) input, sequence-major.
    W_ih : (I, 4H); W_hh : (H, 4H); b : (4H,); W_hy : (H, O); b_y : (O,).
    h0, c0 : (B, H) initial hidden and cell state.
    HS, CS, GATES, TC : caches, overwritten (module docstring).
    work : (B, 4H) scratch.
    y_hat : (1, B, O) readout of h_T, or (T, B, O) readout of every h_t; overwritten.

    All arrays C-contiguous, one float dtype.
    """
    T, B, I = x.shape
    H = W_hh.shape[0]
    HS[0] = h0
    CS[0] = c0
    np.dot(x.reshape(T * B, I), W_ih, GATES.reshape(T * B, 4 * H))
    fast = x.itemsize == 4
    for t in range(1, T + 1):
        np.dot(HS[t - 1], W_hh, work)
        gate = GATES[t - 1]
        c_prev = CS[t - 1]
        c = CS[t]
        h = HS[t]
        tc = TC[t - 1]
        for r in range(B):
            for j in range(H):
                i = _sigmoid(gate[r, j] + work[r, j] + b[j], fast)
                f = _sigmoid(gate[r, H + j] + work[r, H + j] + b[H + j], fast)
                g = _tanh(gate[r, 2 * H + j] + work[r, 2 * H + j] + b[2 * H + j], fast)
                o = _sigmoid(gate[r, 3 * H + j] + work[r, 3 * H + j] + b[3 * H + j], fast)
                gate[r, j] = i
                gate[r, H + j] = f
                gate[r, 2 * H + j] = g
                gate[r, 3 * H + j] = o
                c[r, j] = f * c_prev[r, j] + i * g
                tc[r, j] = _tanh(c[r, j], fast)
                h[r, j] = o * tc[r, j]
    readout_forward(HS, W_hy, b_y, y_hat)


@njit(**JIT_OPTIONS)
def _gate_grads(gate, tc, c_prev, r, j, dh, dc, dG):
    """Write dL/da (the 4 gate pre-activations) of entry (r, j) from dL/dh_t and the
    total dL/dc_t; return dL/dc_{t-1} along the cell path."""
    H = tc.shape[1]
    one = tc.dtype.type(1)
    i = gate[r, j]
    f = gate[r, H + j]
    g = gate[r, 2 * H + j]
    o = gate[r, 3 * H + j]
    dG[r, j] = dc * g * i * (one - i)
    dG[r, H + j] = dc * c_prev[r, j] * f * (one - f)
    dG[r, 2 * H + j] = dc * i * (one - g * g)
    dG[r, 3 * H + j] = dh * tc[r, j] * o * (one - o)
    return dc * f


@njit(**JIT_OPTIONS)
def _carry_backward(W_hh, k, every, HS, CS, GATES, TC, DH, DG, dh0, dc0, delta_norms,
                    cell_norms, carry_h, carry_c):
    """BPTT with one summed (dh, dc) pair; for the last-state loss (any k) or no
    truncation.  DH[t] holds the readout cotangent of step t+1 (0-indexed t).  Returns the
    first 0-indexed step that receives a gradient."""
    T, B, H = DH.shape
    one = DH.dtype.type(1)
    first = max(T - k, 0)
    if not every:
        DH[first:T - 1] = 0
    carry_h[:] = 0
    carry_c[:] = 0
    for t in range(T - 1, first - 1, -1):
        gate = GATES[t]
        tc = TC[t]
        c_prev = CS[t]
        dh_in = DH[t]
        dG = DG[t]
        h_scale, h_ssq = 0.0, 1.0
        c_scale, c_ssq = 0.0, 1.0
        for r in range(B):
            for j in range(H):
                dh = dh_in[r, j] + carry_h[r, j]
                dc = carry_c[r, j] + dh * gate[r, 3 * H + j] * (one - tc[r, j] * tc[r, j])
                h_scale, h_ssq = ssq_add(h_scale, h_ssq, dh)
                c_scale, c_ssq = ssq_add(c_scale, c_ssq, dc)
                carry_c[r, j] = _gate_grads(gate, tc, c_prev, r, j, dh, dc, dG)
        delta_norms[t] = h_scale * math.sqrt(h_ssq)
        cell_norms[t] = c_scale * math.sqrt(c_ssq)
        if t > T - k:  # (h_t, c_t) before step t+1 are not detached for this loss
            np.dot(dG, W_hh.T, carry_h)
    delta_norms[:first] = 0.0
    cell_norms[:first] = 0.0
    if k > T:
        dh0[:] = carry_h
        dc0[:] = carry_c
    else:
        dh0[:] = 0
        dc0[:] = 0
    return first


@njit(**JIT_OPTIONS)
def _slots_backward(W_hh, k, HS, CS, GATES, TC, DH, DG, dh0, dc0, delta_norms, cell_norms,
                    work, work_g):
    """Exact truncated BPTT of the every-step loss, one slot per loss in flight (see
    ``kernels.rnn._slots_backward``).  work : (4, S, B, H) = current/next dh slots,
    current/next dc slots; work_g : (S, B, 4H) per-slot dL/da; S >= k."""
    T, B, H = DH.shape
    one = DH.dtype.type(1)
    zero = DH.dtype.type(0)
    cur_h, nxt_h, cur_c, nxt_c = work[0], work[1], work[2], work[3]
    n = 0
    for t in range(T - 1, -1, -1):
        cur_h[0] = DH[t]
        cur_c[0] = 0
        n += 1
        m = min(n, k - 1)
        gate = GATES[t]
        tc = TC[t]
        c_prev = CS[t]
        dG = DG[t]
        h_scale, h_ssq = 0.0, 1.0
        c_scale, c_ssq = 0.0, 1.0
        for r in range(B):
            for j in range(H):
                dh_sum = zero
                dc_sum = zero
                dtanh = gate[r, 3 * H + j] * (one - tc[r, j] * tc[r, j])
                for q in range(n):
                    dh = cur_h[q, r, j]
                    dc = cur_c[q, r, j] + dh * dtanh
                    dc_prev = _gate_grads(gate, tc, c_prev, r, j, dh, dc, work_g[q])
                    if q < m:
                        nxt_c[q + 1, r, j] = dc_prev
                    dh_sum += dh
                    dc_sum += dc
                h_scale, h_ssq = ssq_add(h_scale, h_ssq, dh_sum)
                c_scale, c_ssq = ssq_add(c_scale, c_ssq, dc_sum)
                _gate_grads(gate, tc, c_prev, r, j, dh_sum, dc_sum, dG)
        delta_norms[t] = h_scale * math.sqrt(h_ssq)
        cell_norms[t] = c_scale * math.sqrt(c_ssq)
        if m > 0:
            np.dot(work_g[:m].reshape(m * B, 4 * H), W_hh.T,
                   nxt_h[1:m + 1].reshape(m * B, H))
        cur_h, nxt_h = nxt_h, cur_h
        cur_c, nxt_c = nxt_c, cur_c
        n = m
    dh0[:] = 0
    dc0[:] = 0
    for q in range(1, n + 1):
        dh0 += cur_h[q]
        dc0 += cur_c[q]


@njit(**JIT_OPTIONS)
def lstm_backward(x, W_ih, W_hh, W_hy, truncate, HS, CS, GATES, TC, dy_hat, dW_ih, dW_hh,
                  db, dW_hy, db_y, dx, dh0, dc0, delta_norms, cell_norms,
                  weight_grad_norms, DH, DG, work, work_g):
    """BPTT from the readout cotangent ``dy_hat``; overwrites every output.

    Parameters
    ----------
    x, W_ih, W_hh, W_hy : as given to ``lstm_forward``.
    truncate : int k >= 1 (``kernels.rnn`` docstring), or 0 for full BPTT.
    HS, CS, GATES, TC : caches filled by ``lstm_forward`` (read only).
    dy_hat : (1, B, O) or (T, B, O) dL/dy_hat, shaped like the forward's y_hat.
    dW_ih, dW_hh, db, dW_hy, db_y : gradients shaped like their parameters, overwritten.
    dx : (T, B, I) dL/dx; dh0, dc0 : (B, H) dL/dh_0, dL/dc_0; overwritten.
    delta_norms, cell_norms : (T,) float64, ||dL/dh_t||_F and ||dL/dc_t||_F for
        t = 1..T (total derivatives, summed over every loss; 0 where truncation cuts).
    weight_grad_norms : (2,) float64, ||dW_ih||_F and ||dW_hh||_F.
    DH : (T, B, H) scratch (readout cotangents); DG : (T, B, 4H) scratch, leaves holding
        dL/da_t.
    work : (4, S, B, H) and work_g : (S, B, 4H) scratch; S >= min(truncate, T) when
        truncating the every-step loss, else S >= 1 (work_g then unused).
    """
    T, B, I = x.shape
    H = W_hh.shape[0]
    S = dy_hat.shape[0]
    every = S == T
    k = truncate if 0 < truncate <= T else T + 1
    readout_backward(HS, W_hy, dy_hat, dW_hy, db_y, DH[T - S:])
    if every and k <= T:
        _slots_backward(W_hh, k, HS, CS, GATES, TC, DH, DG, dh0, dc0, delta_norms,
                        cell_norms, work, work_g)
        first = 0
    else:
        first = _carry_backward(W_hh, k, every, HS, CS, GATES, TC, DH, DG, dh0, dc0,
                                delta_norms, cell_norms, work[0, 0], work[2, 0])
    r0 = first * B
    dgf = DG.reshape(T * B, 4 * H)[r0:]
    np.dot(x.reshape(T * B, I)[r0:].T, dgf, dW_ih)
    np.dot(HS.reshape((T + 1) * B, H)[r0:T * B].T, dgf, dW_hh)
    column_sums(dgf, db)
    dxf = dx.reshape(T * B, I)
    dxf[:r0] = 0
    np.dot(dgf, W_ih.T, dxf[r0:])
    weight_grad_norms[0] = frobenius(dW_ih)
    weight_grad_norms[1] = frobenius(dW_hh)
