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
runs one (B, H) x (H, H) GEMM per step each way; dW_xh, dW_hh and dx are single GEMMs with
K = T*B after it.  Nothing is allocated inside the time loops.  A float32 tanh RNN uses
``kernels.activations.tanh_float32`` (vectorisable, < 5 ulp) in the forward.

Cache filled by the forward and read by the backward:
``HS (T+1, B, H)``  HS[0] = h_0, HS[t] = h_t.

The readout helpers (``readout_forward``, ``readout_backward``) are shared with the LSTM
kernels, which keep their hidden states in the same layout.
"""


import numpy as np
from numba import njit

from kernels.activations import (
    TANH,
    activate,
    backprop_activation,
    derivative_from_output,
    tanh_float32,
)
from kernels.config import JIT_OPTIONS
from kernels.reductions import column_sums, frobenius, norm_from_squares


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
    np.dot(HS.reshape(T1 * B, H)[(T1 - S) * B:], W_hy, yf)
    for r in range(S * B):
        for o in range(O):
            yf[r, o] += b_y[o]


@njit(**JIT_OPTIONS)
def readout_backward(HS, W_hy, dy_hat, dW_hy, db_y, DH):
    """Readout gradients and the cotangent each read-out state receives from it.

    Parameters
    ----------
    HS : (T+1, B, H) hidden states; W_hy : (H, O).
    dy_hat : (S, B, O) dL/dy_hat, S = 1 (last state) or T (every state).
    dW_hy : (H, O), db_y : (O,) overwritten.
    DH : (S, B, H) overwritten with dy_hat @ W_hy^T (dL/dh of the read-out states).
    """
    T1, B, H = HS.shape
    S, _, O = dy_hat.shape
    dyf = dy_hat.reshape(S * B, O)
    np.dot(HS.reshape(T1 * B, H)[(T1 - S) * B:].T, dyf, dW_hy)
    column_sums(dyf, db_y)
    np.dot(dyf, W_hy.T, DH.reshape(S * B, H))


@njit(**JIT_OPTIONS)
def input_side_backward(x, HS, W_in, first, D, dW_in, dW_hh, db, dx, weight_grad_norms):
    """The gradients gathered after the time loop, as single GEMMs with K = T*B.

    Parameters
    ----------
    x : (T, B, I); HS : (T+1, B, H) states; W_in : (I, G) input weights.
    first : first 0-indexed step that received a gradient (earlier ones get dx = 0).
    D : (T, B, G) dL/d(pre-activation) per step (G = H for the RNN, 4H for the LSTM).
    dW_in : (I, G), dW_hh : (H, G), db : (G,), dx : (T, B, I), overwritten.
    weight_grad_norms : (2,) float64, ||dW_in||_F and ||dW_hh||_F, overwritten.
    """
    T, B, I = x.shape
    H = HS.shape[2]
    r0 = first * B
    df = D.reshape(T * B, D.shape[2])[r0:]
    np.dot(x.reshape(T * B, I)[r0:].T, df, dW_in)
    np.dot(HS.reshape((T + 1) * B, H)[r0:T * B].T, df, dW_hh)
    column_sums(df, db)
    dxf = dx.reshape(T * B, I)
    dxf[:r0] = 0
    np.dot(df, W_in.T, dxf[r0:])
    weight_grad_norms[0] = frobenius(dW_in)
    weight_grad_norms[1] = frobenius(dW_hh)


@njit(**JIT_OPTIONS)
def rnn_forward(x, W_xh, W_hh, b_h, W_hy, b_y, h0, act, HS, work, y_hat):
    """Forward pass over the sequence; fills the cache and writes the readout.

    Parameters
    ----------
    x : (T, B, I) input, sequence-major.
    W_xh : (I, H); W_hh : (H, H); b_h : (H,); W_hy : (H, O); b_y : (O,).
    h0 : (B, H) initial state.
    act : int activation code (kernels.activations).
    HS : (T+1, B, H) cache, overwritten: HS[0] = h0, HS[t] = h_t.
    work : (B, H) scratch.
    y_hat : (1, B, O) readout of h_T, or (T, B, O) readout of every h_t; overwritten.

    All arrays C-contiguous, one float dtype.
    """
    T, B, I = x.shape
    H = W_hh.shape[0]
    HS[0] = h0
    np.dot(x.reshape(T * B, I), W_xh, HS.reshape((T + 1) * B, H)[B:])
    fast_tanh = act == TANH and x.itemsize == 4  # vectorisable rational tanh, < 5 ulp
    for t in range(1, T + 1):
        np.dot(HS[t - 1], W_hh, work)
        h = HS[t]
        if fast_tanh:
            for b in range(B):
                for j in range(H):
                    h[b, j] = tanh_float32(h[b, j] + work[b, j] + b_h[j])
        else:
            for b in range(B):
                for j in range(H):
                    h[b, j] = activate(act, h[b, j] + work[b, j] + b_h[j])
    readout_forward(HS, W_hy, b_y, y_hat)


@njit(**JIT_OPTIONS)
def _carry_backward(W_hh, act, k, every, HS, DZ, dh0, delta_norms, carry):
    """BPTT with one summed cotangent; for the last-state loss (any k) or no truncation.

    DZ[t] holds on entry the readout cotangent of step t+1 (0-indexed t) and leaves as
    dL/dz_{t+1}.  Returns the first 0-indexed step that receives a gradient.
    """
    T = DZ.shape[0]
    first = max(T - k, 0)
    if not every:
        DZ[first:T - 1] = 0
    carry[:] = 0
    for t in range(T - 1, first - 1, -1):
        dz = DZ[t]
        s = 0.0
        for b in range(dz.shape[0]):
            for j in range(dz.shape[1]):
                d = dz[b, j] + carry[b, j]
                carry[b, j] = d
                s += np.float64(d) * np.float64(d)
        delta_norms[t] = norm_from_squares(s, carry)
        backprop_activation(act, carry, HS[t + 1], dz)
        if t > T - k:  # h_t (the state before step t+1) is not detached for this loss
            np.dot(dz, W_hh.T, carry)
    delta_norms[:first] = 0.0
    if k > T:
        dh0[:] = carry
    else:
        dh0[:] = 0
    return first


@njit(**JIT_OPTIONS)
def _slots_backward(W_hh, act, k, HS, DZ, dh0, delta_norms, work):
    """Exact truncated BPTT of the every-step loss: one slot per loss still in flight.

    Slot q at (0-indexed) step t holds the cotangent of the loss at step t+q; the loss of
    step t enters as slot 0, and the one of step t+k-1 stops at step t.  DZ as in
    ``_carry_backward``; work : (2, S, B, H) with S >= k.
    """
    T, B, H = DZ.shape
    cur = work[0]
    nxt = work[1]
    zero = DZ.dtype.type(0)
    n = 0
    for t in range(T - 1, -1, -1):
        cur[0] = DZ[t]
        n += 1
        h = HS[t + 1]
        dz = DZ[t]
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
        m = min(n, k - 1)
        if m > 0:
            np.dot(cur[:m].reshape(m * B, H), W_hh.T, nxt[1:m + 1].reshape(m * B, H))
        cur, nxt = nxt, cur
        n = m
    dh0[:] = 0
    for q in range(1, n + 1):
        dh0 += cur[q]


@njit(**JIT_OPTIONS)
def rnn_backward(x, W_xh, W_hh, W_hy, act, truncate, HS, dy_hat, dW_xh, dW_hh, db_h, dW_hy,
                 db_y, dx, dh0, delta_norms, weight_grad_norms, DZ, work):
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
    DZ : (T, B, H) scratch; leaves holding dL/dz_t, z_t the pre-activation of step t.
    work : (2, S, B, H) scratch; S >= min(truncate, T) when truncating the every-step
        loss, else S >= 1.
    """
    T, B, I = x.shape
    S = dy_hat.shape[0]
    every = S == T
    k = truncate if 0 < truncate <= T else T + 1
    readout_backward(HS, W_hy, dy_hat, dW_hy, db_y, DZ[T - S:])
    if every and k <= T:
        _slots_backward(W_hh, act, k, HS, DZ, dh0, delta_norms, work)
        first = 0
    else:
        first = _carry_backward(W_hh, act, k, every, HS, DZ, dh0, delta_norms, work[0, 0])
    input_side_backward(x, HS, W_xh, first, DZ, dW_xh, dW_hh, db_h, dx, weight_grad_norms)
