"""LSTM: forward and backprop-through-time kernels, sequence-major, PyTorch's equations.

Size letters as in ``vgbench.kernels.rnn``.  Step t = 1..T computes the gates in PyTorch's order
i, f, g, o from one fused pre-activation (B, 4H)

    a_t = x_t @ W_ih + h_{t-1} @ W_hh + b           W_ih (I, 4H), W_hh (H, 4H), b (4H,)
    i, f, o = sigmoid(a_t[:, :H], a_t[:, H:2H], a_t[:, 3H:]);  g = tanh(a_t[:, 2H:3H])
    c_t = f * c_{t-1} + i * g;    h_t = o * tanh(c_t)

so PyTorch's ``weight_ih_l0.T``, ``weight_hh_l0.T`` and ``bias_ih_l0 + bias_hh_l0`` load
directly.  Readout, losses and truncation as in ``vgbench.kernels.rnn``; truncation detaches both
h_{s-k} and c_{s-k}.

Speed layout: x @ W_ih over all T*B rows is one GEMM before the time loop; each step runs
one fused (B, H) x (H, 4H) gate GEMM forward (``vgbench.kernels.gemm``, added straight into the
stored x_t @ W_ih) and one (B, 4H) x (4H, H) GEMM backward, against a row-major copy of
W_hh^T made once per backward (OpenBLAS ran the step 11% faster at H = 512 than through
the transpose flag, docs/performance.md entry 11); dW_ih, dW_hh and dx are
single GEMMs with K = T*B after the loop.  The backward overwrites the gate cache with
dL/da in place, and the readout's cotangents are made one step at a time, so BPTT needs
no (T, ...) array beyond these caches.  tanh(g), tanh(c) and the gate sigmoids use
``vgbench.kernels.activations.fast_tanh`` / ``fast_sigmoid``, vectorisable forms of the dtype
(float32: < 5 / < 3 ulp; float64: <= 2 ulp).

Caches filled by the forward and read by the backward:
``HS (T+1, B, H)``     HS[0] = h_0, HS[t] = h_t;
``CS (T+1, B, H)``     CS[0] = c_0, CS[t] = c_t;
``GATES (T, B, 4H)``   activated gates [i | f | g | o] of each step (the backward
                       overwrites them with dL/da);
``TC (T, B, H)``       tanh(c_t) (kept: recomputing it costs a transcendental per entry).
"""


import numpy as np
from numba import njit

from vgbench.kernels.activations import fast_sigmoid, fast_tanh
from vgbench.kernels.config import JIT_OPTIONS
from vgbench.kernels.gemm import gemm
from vgbench.kernels.reductions import count_subnormal_zero, norm_from_squares
from vgbench.kernels.rnn import (
    close_input_side,
    input_side_backward,
    readout_backward,
    readout_cotangents,
    readout_forward,
)


@njit(**JIT_OPTIONS)
def lstm_forward(x, W_ih, W_hh, b, W_hy, b_y, h0, c0, HS, CS, GATES, TC, y_hat):
    """Forward pass over the sequence; fills the caches and writes the readout.

    Parameters
    ----------
    x : (T, B, I) input, sequence-major.
    W_ih : (I, 4H); W_hh : (H, 4H); b : (4H,); W_hy : (H, O); b_y : (O,).
    h0, c0 : (B, H) initial hidden and cell state.
    HS, CS, GATES, TC : caches, overwritten (module docstring).
    y_hat : (1, B, O) readout of h_T, or (T, B, O) readout of every h_t; overwritten.

    All arrays C-contiguous, one float dtype.
    """
    T, B, I = x.shape
    H = W_hh.shape[0]
    HS[0] = h0
    CS[0] = c0
    gemm(x.reshape(T * B, I), W_ih, GATES.reshape(T * B, 4 * H), 0.0)
    bi, bf, bg, bo = b[:H], b[H:2 * H], b[2 * H:3 * H], b[3 * H:]
    for t in range(1, T + 1):
        gate = GATES[t - 1]
        gemm(HS[t - 1], W_hh, gate, 1.0)
        c_prev = CS[t - 1]
        c = CS[t]
        h = HS[t]
        tc = TC[t - 1]
        for r in range(B):
            # One contiguous row slice per gate: the loop then vectorises (2-D indexing
            # with four column offsets did not).
            ai, af, ag, ao = gate[r, :H], gate[r, H:2 * H], gate[r, 2 * H:3 * H], gate[r, 3 * H:]
            cp, cr, hr, tr = c_prev[r], c[r], h[r], tc[r]
            for j in range(H):
                i = fast_sigmoid(ai[j] + bi[j])
                f = fast_sigmoid(af[j] + bf[j])
                g = fast_tanh(ag[j] + bg[j])
                o = fast_sigmoid(ao[j] + bo[j])
                ai[j] = i
                af[j] = f
                ag[j] = g
                ao[j] = o
                cv = f * cp[j] + i * g
                cr[j] = cv
                tv = fast_tanh(cv)
                tr[j] = tv
                hr[j] = o * tv
    readout_forward(HS, W_hy, b_y, y_hat)


@njit(**JIT_OPTIONS)
def gate_grads(gate, tc, c_prev, r, j, dh, dc, dG, one):
    """Write dL/da (the 4 gate pre-activations) of entry (r, j) from dL/dh_t and the
    total dL/dc_t; return dL/dc_{t-1} along the cell path.  dG may be ``gate`` itself:
    every gate value is read before the first write.  ``one`` is 1 in the arrays' dtype.
    Compiled for the device too (``vgbench.kernels.cuda.lstm``): plain arithmetic only."""
    H = tc.shape[1]
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
def _carry_backward(W_hhT, W_hy, dy_hat, k, CS, GATES, TC, dh0, dc0, delta_norms,
                    cell_norms, carry_h, carry_c, dc_t, DH, counts):
    """BPTT with one summed (dh, dc) pair; for the last-state loss (any k) or no
    truncation.  W_hhT : (4H, H) row-major copy of W_hh^T.  GATES[t] leaves as dL/da_{t+1}
    (0-indexed t).  dc_t : (B, H) and
    DH : (1, B, H) scratch (the step's readout cotangent, then its total dL/dh).
    counts: ``lstm_backward``'s, or None.  Returns the first 0-indexed step that
    receives a gradient."""
    T, B, H = TC.shape
    one = TC.dtype.type(1)
    first = max(T - k, 0)
    carry_h[:] = 0
    carry_c[:] = 0
    for t in range(T - 1, first - 1, -1):
        gate = GATES[t]
        tc = TC[t]
        c_prev = CS[t]
        readout_cotangents(dy_hat, W_hy, T, t, t + 1, DH)
        dh_t = DH[0]
        sh = 0.0
        sc = 0.0
        for r in range(B):
            # Row slices per gate, as in the forward, so the loop vectorises; dL/da is
            # written through the same slices (in place, one pointer per gate).
            gi, gf, gg, go = gate[r, :H], gate[r, H:2 * H], gate[r, 2 * H:3 * H], gate[r, 3 * H:]
            tr, cp, dhr, dcr = tc[r], c_prev[r], dh_t[r], dc_t[r]
            chr_, ccr = carry_h[r], carry_c[r]
            for j in range(H):
                i, f, g, o, tv = gi[j], gf[j], gg[j], go[j], tr[j]
                dh = dhr[j] + chr_[j]
                dc = ccr[j] + dh * o * (one - tv * tv)
                dhr[j] = dh  # totals kept for the norms' rare careful pass
                dcr[j] = dc
                sh += np.float64(dh) * np.float64(dh)
                sc += np.float64(dc) * np.float64(dc)
                gi[j] = dc * g * i * (one - i)
                gf[j] = dc * cp[j] * f * (one - f)
                gg[j] = dc * i * (one - g * g)
                go[j] = dh * tv * o * (one - o)
                ccr[j] = dc * f
        delta_norms[t] = norm_from_squares(sh, dh_t)
        cell_norms[t] = norm_from_squares(sc, dc_t)
        if counts is not None:
            count_subnormal_zero(dh_t, counts[t, :2])
            count_subnormal_zero(dc_t, counts[t, 2:])
        if t > T - k:  # (h_t, c_t) before step t+1 are not detached for this loss
            gemm(gate, W_hhT, carry_h, 0.0)
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
def _slots_backward(W_hhT, W_hy, dy_hat, k, CS, GATES, TC, dh0, dc0, delta_norms,
                    cell_norms, work, work_g, counts):
    """Exact truncated BPTT of the every-step loss, one slot per loss in flight (see
    ``vgbench.kernels.rnn._slot_steps``).  W_hhT as in ``_carry_backward``.  GATES[t] leaves
    as dL/da_{t+1}.  work : (4, S, B, H) =
    current/next dh slots, current/next dc slots; work_g : (S, B, 4H) per-slot dL/da;
    S >= k.  counts: ``lstm_backward``'s, or None."""
    T, B, H = TC.shape
    one = TC.dtype.type(1)
    zero = TC.dtype.type(0)
    cur_h, nxt_h, cur_c, nxt_c = work[0], work[1], work[2], work[3]
    n = 0
    for t in range(T - 1, -1, -1):
        readout_cotangents(dy_hat, W_hy, T, t, t + 1, cur_h)  # the loss of step t enters
        cur_c[0] = 0
        n += 1
        m = min(n, k - 1)
        gate = GATES[t]
        tc = TC[t]
        c_prev = CS[t]
        dh_tot, dc_tot = nxt_h[0], nxt_c[0]  # free until the swap below
        sh = 0.0
        sc = 0.0
        for r in range(B):
            for j in range(H):
                dh_sum = zero
                dc_sum = zero
                dtanh = gate[r, 3 * H + j] * (one - tc[r, j] * tc[r, j])
                for q in range(n):
                    dh = cur_h[q, r, j]
                    dc = cur_c[q, r, j] + dh * dtanh
                    dc_prev = gate_grads(gate, tc, c_prev, r, j, dh, dc, work_g[q], one)
                    if q < m:
                        nxt_c[q + 1, r, j] = dc_prev
                    dh_sum += dh
                    dc_sum += dc
                dh_tot[r, j] = dh_sum
                dc_tot[r, j] = dc_sum
                sh += np.float64(dh_sum) * np.float64(dh_sum)
                sc += np.float64(dc_sum) * np.float64(dc_sum)
                gate_grads(gate, tc, c_prev, r, j, dh_sum, dc_sum, gate, one)
        delta_norms[t] = norm_from_squares(sh, dh_tot)
        cell_norms[t] = norm_from_squares(sc, dc_tot)
        if counts is not None:
            count_subnormal_zero(dh_tot, counts[t, :2])
            count_subnormal_zero(dc_tot, counts[t, 2:])
        if m > 0:
            gemm(work_g[:m].reshape(m * B, 4 * H), W_hhT,
                 nxt_h[1:m + 1].reshape(m * B, H), 0.0)
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
                  weight_grad_norms, work, work_g, W_hhT, counts=None):
    """BPTT from the readout cotangent ``dy_hat``; overwrites every output.

    Parameters
    ----------
    x, W_ih, W_hh, W_hy : as given to ``lstm_forward``.
    truncate : int k >= 1 (``vgbench.kernels.rnn`` docstring), or 0 for full BPTT.
    HS, CS, GATES, TC : caches filled by ``lstm_forward``; GATES leaves holding dL/da_t
        (0-indexed t - 1), so one forward serves one backward.
    dy_hat : (1, B, O) or (T, B, O) dL/dy_hat, shaped like the forward's y_hat.
    dW_ih, dW_hh, db, dW_hy, db_y : gradients shaped like their parameters, overwritten.
    dx : (T, B, I) dL/dx; dh0, dc0 : (B, H) dL/dh_0, dL/dc_0; overwritten.
    delta_norms, cell_norms : (T,) float64, ||dL/dh_t||_F and ||dL/dc_t||_F for
        t = 1..T (total derivatives, summed over every loss; 0 where truncation cuts).
    weight_grad_norms : (2,) float64, ||dW_ih||_F and ||dW_hh||_F.
    work : (4, S, B, H) and work_g : (S, B, 4H) scratch; S >= min(truncate, T) when
        truncating the every-step loss, else S >= 1 (work_g then unused).
    W_hhT : (4H, H) scratch, overwritten with W_hh^T.
    counts : optional (T, 4) int64: [subnormal, exactly zero] entries of dL/dh_t, then of
        dL/dc_t, for the steps that receive a gradient (others untouched); omitted, it
        costs nothing.
    """
    T = x.shape[0]
    every = dy_hat.shape[0] == T
    k = truncate if 0 < truncate <= T else T + 1
    readout_backward(HS, dy_hat, dW_hy, db_y)
    W_hhT[:] = W_hh.T
    if every and k <= T:
        _slots_backward(W_hhT, W_hy, dy_hat, k, CS, GATES, TC, dh0, dc0, delta_norms,
                        cell_norms, work, work_g, counts)
        first = 0
    else:
        first = _carry_backward(W_hhT, W_hy, dy_hat, k, CS, GATES, TC, dh0, dc0, delta_norms,
                                cell_norms, work[0, 0], work[2, 0], work[1, 0], work[3, :1],
                                counts)
    input_side_backward(x, HS, W_ih, first, T, GATES[first:], dW_ih, dW_hh, db, dx, 0.0)
    close_input_side(first, dx, dW_ih, dW_hh, weight_grad_norms)
