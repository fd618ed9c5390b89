"""Elman RNN: forward and backprop-through-time (BPTT) kernels, sequence-major.

Size letters: T time steps, B batch, I input width, H hidden width, O output width.
Step t = 1..T computes

    h_t = f(x_t @ W_xh + h_{t-1} @ W_hh + b_h)          (h_0 given)

and the readout is linear, either on the last state (``y_hat (1, B, O)``, y_hat[0] =
h_T @ W_hy + b_y) or on every state (``y_hat (T, B, O)``, y_hat[t-1] = h_t @ W_hy + b_y).
The kernels tell the two apart by ``y_hat.shape[0]`` (for T = 1 they coincide).

Truncation ``truncate = k >= 1`` (0: none): the gradient of the loss at step s runs back
through steps s, s-1, ..., s-k+1 only, exactly as if h_{s-k} were detached (so with k <= T
nothing reaches h_0 from the loss at step T).  With a readout at every step each step's
loss is truncated from its own step: the cotangents of the up to k losses in flight are
kept apart in "slots" stacked so that one GEMM propagates them all; that costs
O(T min(k, T)) GEMM rows instead of O(T).

Speed layout: x @ W_xh over all T*B rows is one GEMM before the time loop, which then
runs one (B, H) x (H, H) GEMM per step each way (``vgbench.kernels.gemm``; the forward one adds
h_{t-1} @ W_hh straight into the stored x_t @ W_xh).  The backward runs in chunks of C
steps (C = ``DZ.shape[0]``), newest first; each chunk ends with dW_xh, dW_hh (accumulated)
and dx as GEMMs with K = C*B.  So BPTT needs the cache below plus C steps of dL/dz, not a
second (T, B, H) array.  Nothing is allocated inside the time loops.  A tanh RNN uses
``vgbench.kernels.activations.fast_tanh`` (vectorisable: < 5 ulp in float32, <= 2 in float64) in
the forward.

Cache filled by the forward and read by the backward:
``HS (T+1, B, H)``  HS[0] = h_0, HS[t] = h_t.

The readout helpers, ``input_side_backward`` and ``close_input_side`` are shared with the
LSTM kernels, which keep their hidden states in the same layout.
"""


import numpy as np
from numba import njit

from vgbench.kernels.activations import (
    TANH,
    activate,
    backprop_activation,
    derivative_from_output,
    fast_tanh,
)
from vgbench.kernels.config import JIT_OPTIONS
from vgbench.kernels.gemm import gemm
from vgbench.kernels.reductions import (
    add_column_sums,
    column_sums,
    count_subnormal_zero,
    frobenius,
    norm_from_squares,
)


@njit(**JIT_OPTIONS)
def readout_forward(HS, W_hy, b_y, y_hat):
    """y_hat[s] = h @ W_hy + b_y for the last ``y_hat.shape[0]`` states of HS.

    Parameters
    ----------
    HS : (T+1, B, H) hidden states, HS[0] = h_0.
    W_hy : (H, O); b_y : (O,).
    y_hat : (1, B, O) (last state) or (T, B, O) (every state), overwritten.
    """
    T1, B, H = HS.shape
    S, _, O = y_hat.shape
    yf = y_hat.reshape(S * B, O)
    gemm(HS.reshape(T1 * B, H)[(T1 - S) * B:], W_hy, yf, 0.0)
    for r in range(S * B):
        for o in range(O):
            yf[r, o] += b_y[o]


@njit(**JIT_OPTIONS)
def readout_backward(HS, dy_hat, dW_hy, db_y):
    """Readout parameter gradients.

    Parameters
    ----------
    HS : (T+1, B, H) hidden states.
    dy_hat : (S, B, O) dL/dy_hat, S = 1 (last state) or T (every state).
    dW_hy : (H, O), db_y : (O,) overwritten.
    """
    T1, B, H = HS.shape
    S, _, O = dy_hat.shape
    dyf = dy_hat.reshape(S * B, O)
    gemm(HS.reshape(T1 * B, H)[(T1 - S) * B:].T, dyf, dW_hy, 0.0)
    column_sums(dyf, db_y)


@njit(**JIT_OPTIONS)
def readout_cotangents(dy_hat, W_hy, T, t0, t1, DH):
    """dL/dh of 0-indexed steps t0 <= t < t1 from the readout alone.

    Parameters
    ----------
    dy_hat : (S, B, O) dL/dy_hat, S = 1 (last state) or T (every state); W_hy : (H, O).
    T : sequence length.
    DH : (>= t1 - t0, B, H); DH[i] overwritten with dy_hat[t0 + i] @ W_hy^T where step
        t0 + i is read out, else 0.
    """
    S, B, O = dy_hat.shape
    H = W_hy.shape[0]
    n = t1 - t0
    if S == T:
        gemm(dy_hat.reshape(S * B, O)[t0 * B:t1 * B], W_hy.T,
             DH.reshape(DH.shape[0] * B, H)[:n * B], 0.0)
    else:
        DH[:n] = 0
        if t1 == T:
            gemm(dy_hat[0], W_hy.T, DH[n - 1], 0.0)


@njit(**JIT_OPTIONS)
def input_side_backward(x, HS, W_in, t0, t1, D, dW_in, dW_hh, db, dx, beta):
    """The gradients of 0-indexed steps t0 <= t < t1 that need no recurrence, as GEMMs
    with K = (t1 - t0) * B.

    Parameters
    ----------
    x : (T, B, I); HS : (T+1, B, H) states; W_in : (I, G) input weights.
    D : (>= t1 - t0, B, G), D[i] = dL/d(pre-activation) of step t0 + i (G = H for the
        RNN, 4H for the LSTM).
    dW_in : (I, G), dW_hh : (H, G), db : (G,): set to beta * old + this range's share
        (beta 0: overwritten; 1: accumulated).
    dx : (T, B, I); dx[t0:t1] overwritten.
    """
    T, B, I = x.shape
    H = HS.shape[2]
    G = D.shape[2]
    r0, r1 = t0 * B, t1 * B
    df = D.reshape(D.shape[0] * B, G)[:r1 - r0]
    gemm(x.reshape(T * B, I)[r0:r1].T, df, dW_in, beta)
    gemm(HS.reshape((T + 1) * B, H)[r0:r1].T, df, dW_hh, beta)
    if beta == 0:
        db[:] = 0
    add_column_sums(df, db)
    gemm(df, W_in.T, dx.reshape(T * B, I)[r0:r1], 0.0)


@njit(**JIT_OPTIONS)
def close_input_side(first, dx, dW_in, dW_hh, weight_grad_norms):
    """After the last ``input_side_backward``: dx of the steps before ``first`` (which
    received no gradient) is 0; weight_grad_norms (2,) float64 gets ||dW_in||_F and
    ||dW_hh||_F."""
    dx[:first] = 0
    weight_grad_norms[0] = frobenius(dW_in)
    weight_grad_norms[1] = frobenius(dW_hh)


@njit(**JIT_OPTIONS)
def rnn_forward(x, W_xh, W_hh, b_h, W_hy, b_y, h0, act, HS, y_hat):
    """Forward pass over the sequence; fills the cache and writes the readout.

    Parameters
    ----------
    x : (T, B, I) input, sequence-major.
    W_xh : (I, H); W_hh : (H, H); b_h : (H,); W_hy : (H, O); b_y : (O,).
    h0 : (B, H) initial state.
    act : int activation code (vgbench.kernels.activations).
    HS : (T+1, B, H) cache, overwritten: HS[0] = h0, HS[t] = h_t.
    y_hat : (1, B, O) readout of h_T, or (T, B, O) readout of every h_t; overwritten.

    All arrays C-contiguous, one float dtype.
    """
    T, B, I = x.shape
    H = W_hh.shape[0]
    HS[0] = h0
    gemm(x.reshape(T * B, I), W_xh, HS.reshape((T + 1) * B, H)[B:], 0.0)
    for t in range(1, T + 1):
        h = HS[t]
        gemm(HS[t - 1], W_hh, h, 1.0)
        if act == TANH:  # the vectorisable tanh of the dtype
            for b in range(B):
                for j in range(H):
                    h[b, j] = fast_tanh(h[b, j] + b_h[j])
        else:
            for b in range(B):
                for j in range(H):
                    h[b, j] = activate(act, h[b, j] + b_h[j])
    readout_forward(HS, W_hy, b_y, y_hat)


@njit(**JIT_OPTIONS)
def _carry_steps(W_hh, act, k, T, t0, t1, HS, DZ, delta_norms, carry, counts):
    """Steps t1-1 down to t0 of BPTT with one summed cotangent (the last-state loss, any
    k, or no truncation).  DZ[i] holds on entry the readout cotangent of step t0 + i and
    leaves as its dL/dz; carry (B, H) brings dL/dh from the later steps and leaves with
    what reaches h_{t0}.  counts: ``rnn_backward``'s, or None."""
    for t in range(t1 - 1, t0 - 1, -1):
        dz = DZ[t - t0]
        s = 0.0
        for b in range(dz.shape[0]):
            for j in range(dz.shape[1]):
                d = dz[b, j] + carry[b, j]
                carry[b, j] = d
                s += np.float64(d) * np.float64(d)
        delta_norms[t] = norm_from_squares(s, carry)
        if counts is not None:
            count_subnormal_zero(carry, counts[t])
        backprop_activation(act, carry, HS[t + 1], dz)
        if t > T - k:  # h_t (the state before step t+1) is not detached for this loss
            gemm(dz, W_hh.T, carry, 0.0)


@njit(**JIT_OPTIONS)
def _slot_steps(W_hh, act, k, t0, t1, HS, DZ, delta_norms, work, n, p, counts):
    """Steps t1-1 down to t0 of the exact truncated BPTT of the every-step loss: one slot
    per loss still in flight.

    Slot q at (0-indexed) step t holds the cotangent of the loss at step t+q; the loss of
    step t enters as slot 0, and the one of step t+k-1 stops at step t.  DZ as in
    ``_carry_steps``; work : (2, S, B, H), S >= k: work[p] holds the n slots in flight on
    entry.  counts: ``rnn_backward``'s, or None.  Returns (n, p) for the next chunk.
    """
    B, H = DZ.shape[1], DZ.shape[2]
    cur = work[p]
    nxt = work[1 - p]
    zero = DZ.dtype.type(0)
    for t in range(t1 - 1, t0 - 1, -1):
        dz = DZ[t - t0]
        cur[0] = dz
        n += 1
        h = HS[t + 1]
        total = nxt[0]  # free until the swap below
        s = 0.0
        for b in range(B):
            for j in range(H):
                fp = derivative_from_output(act, h[b, j])
                d = zero
                for q in range(n):
                    v = cur[q, b, j]
                    d += v
                    cur[q, b, j] = v * fp
                total[b, j] = d
                s += np.float64(d) * np.float64(d)
                dz[b, j] = d * fp
        delta_norms[t] = norm_from_squares(s, total)
        if counts is not None:
            count_subnormal_zero(total, counts[t])
        m = min(n, k - 1)
        if m > 0:
            gemm(cur[:m].reshape(m * B, H), W_hh.T, nxt[1:m + 1].reshape(m * B, H), 0.0)
        cur, nxt = nxt, cur
        p = 1 - p
        n = m
    return n, p


@njit(**JIT_OPTIONS)
def rnn_backward(x, W_xh, W_hh, W_hy, act, truncate, HS, dy_hat, dW_xh, dW_hh, db_h, dW_hy,
                 db_y, dx, dh0, delta_norms, weight_grad_norms, DZ, work, counts=None):
    """BPTT from the readout cotangent ``dy_hat``; overwrites every output.

    Parameters
    ----------
    x, W_xh, W_hh, W_hy, act : as given to ``rnn_forward``.
    truncate : int k >= 1 (module docstring), or 0 for full BPTT.
    HS : (T+1, B, H) cache filled by ``rnn_forward``.
    dy_hat : (1, B, O) or (T, B, O) dL/dy_hat, shaped like the forward's y_hat (for the
        MSE loss (y_hat - y) / B; any cotangent works).
    dW_xh, dW_hh, db_h, dW_hy, db_y : gradients shaped like their parameters, overwritten.
    dx : (T, B, I) dL/dx, overwritten.
    dh0 : (B, H) dL/dh_0, overwritten.
    delta_norms : (T,) float64, ||dL/dh_t||_F for t = 1..T (the total cotangent reaching
        h_t, summed over every loss; 0 where truncation cuts it off).
    weight_grad_norms : (2,) float64, ||dW_xh||_F and ||dW_hh||_F.
    DZ : (C, B, H) scratch, C >= 1 steps per chunk (module docstring).
    work : (2, S, B, H) scratch; S >= min(truncate, T) when truncating the every-step
        loss, else S >= 1.
    counts : optional (T, 2) int64: [subnormal, exactly zero] entries of dL/dh_t, filled
        for the steps that receive a gradient (others untouched); omitted, it costs nothing.
    """
    T = x.shape[0]
    C = DZ.shape[0]
    every = dy_hat.shape[0] == T
    k = truncate if 0 < truncate <= T else T + 1
    slots = every and k <= T
    first = 0 if slots else max(T - k, 0)  # earlier steps receive no gradient
    readout_backward(HS, dy_hat, dW_hy, db_y)
    carry = work[0, 0]
    carry[:] = 0
    n, p = 0, 0
    t1 = T
    while t1 > first:
        t0 = max(t1 - C, first)
        readout_cotangents(dy_hat, W_hy, T, t0, t1, DZ)
        if slots:
            n, p = _slot_steps(W_hh, act, k, t0, t1, HS, DZ, delta_norms, work, n, p,
                               counts)
        else:
            _carry_steps(W_hh, act, k, T, t0, t1, HS, DZ, delta_norms, carry, counts)
        input_side_backward(x, HS, W_xh, t0, t1, DZ, dW_xh, dW_hh, db_h, dx,
                            0.0 if t1 == T else 1.0)
        t1 = t0
    close_input_side(first, dx, dW_xh, dW_hh, weight_grad_norms)
    delta_norms[:first] = 0.0
    dh0[:] = 0
    if slots:
        for q in range(1, n + 1):
            dh0 += work[p, q]
    elif k > T:
        dh0[:] = carry
