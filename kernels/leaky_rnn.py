"""Leaky-integrator RNN with skip connections through time: forward and BPTT kernels.

Size letters as in ``vgbench.kernels.rnn``; a = ``leak`` (0 < a <= 1), k_s = ``skip``
(0: none, else >= 2).  Step t = 1..T computes

    u_t = f(x_t @ W_xh + h_{t-1} @ W_hh + h_{t-k_s} @ W_skip + b_h)   (skip term if k_s)
    h_t = (1 - a) * h_{t-1} + a * u_t                                   (h_j = h_0 for j <= 0)

a = 1 and k_s = 0 is the Elman RNN of ``vgbench.kernels.rnn`` (the models call those
kernels then; these agree with them to rounding).  The readout and its conventions
(``y_hat`` (1, B, O) or (T, B, O)) and truncation ``truncate = k`` are those of
``vgbench.kernels.rnn``: the loss at step s reaches the steps s-k+1..s only, every state
h_j with j <= s-k detached, including a skip target older than the window.

Backward: G[j] accumulates dL/dh_j; step t turns it into dz_t = a G[t] * f'(u_t) and
sends (1 - a) G[t] + dz_t W_hh^T to G[t-1] and dz_t W_skip^T to G[t-k_s] (G[0] where
t <= k_s).  A loss read out at every step with truncation runs each loss's window on its
own (exact, O(T k) products, like the slots of ``vgbench.kernels.rnn``); otherwise one pass
carries every cotangent.  The weight gradients and dx are products with K = T*B after
the loop.  This is a measuring instrument for the remedy, not a speed kernel: it stores
T steps of dL/dh and dL/dz beside the caches.

Cache filled by the forward and read by the backward:
``HS (T+1, B, H)`` HS[0] = h_0, HS[t] = h_t; ``US (T, B, H)`` US[t-1] = u_t.
"""

from numba import njit

from vgbench.kernels.activations import backprop_activation, bias_activate
from vgbench.kernels.config import JIT_OPTIONS
from vgbench.kernels.gemm import gemm
from vgbench.kernels.reductions import column_sums, frobenius
from vgbench.kernels.rnn import readout_backward, readout_cotangents, readout_forward


@njit(**JIT_OPTIONS)
def leaky_rnn_forward(x, W_xh, W_hh, W_skip, b_h, W_hy, b_y, h0, act, leak, skip, HS, US,
                      y_hat):
    """Forward pass; fills the caches HS, US and writes the readout y_hat.

    Parameters
    ----------
    x : (T, B, I); W_xh : (I, H); W_hh : (H, H); W_skip : (H, H) (unread when skip = 0);
    b_h : (H,); W_hy : (H, O); b_y : (O,); h0 : (B, H).
    act : activation code; leak : a in (0, 1]; skip : k_s = 0 or >= 2.
    HS : (T+1, B, H), US : (T, B, H) caches, overwritten.
    y_hat : (1, B, O) or (T, B, O), overwritten.
    """
    T, B, I = x.shape
    H = W_hh.shape[0]
    a = HS.dtype.type(leak)
    c = HS.dtype.type(1.0 - leak)
    HS[0] = h0
    gemm(x.reshape(T * B, I), W_xh, US.reshape(T * B, H), 0.0)
    for t in range(1, T + 1):
        u = US[t - 1]
        gemm(HS[t - 1], W_hh, u, 1.0)
        if skip > 0:
            gemm(HS[max(t - skip, 0)], W_skip, u, 1.0)
        bias_activate(act, u, b_h)
        h = HS[t]
        if leak == 1.0:  # no 0 * h_{t-1}: an inf state would turn it into NaN
            h[:] = u
        else:
            hp = HS[t - 1]
            for b in range(B):
                for j in range(H):
                    h[b, j] = c * hp[b, j] + a * u[b, j]
    readout_forward(HS, W_hy, b_y, y_hat)


@njit(**JIT_OPTIONS)
def _window(W_hh, W_skip, act, leak, skip, s, lo, US, G, DZ, dz):
    """Backpropagate G[s] (and whatever G[lo+1..s] hold) through steps s down to
    max(lo, 1); G[j] for lo <= j < s must hold only the cotangents entering there.  Adds
    each step's dL/dz into DZ; contributions to states h_j with j < lo are dropped."""
    a = G.dtype.type(leak)
    c = G.dtype.type(1.0 - leak)
    for t in range(s, max(lo, 1) - 1, -1):
        g = G[t]
        backprop_activation(act, g, US[t - 1], dz)
        B, H = dz.shape
        acc = DZ[t - 1]
        for b in range(B):
            for j in range(H):
                dz[b, j] *= a
                acc[b, j] += dz[b, j]
        if t - 1 >= lo:
            gp = G[t - 1]
            if leak != 1.0:
                for b in range(B):
                    for j in range(H):
                        gp[b, j] += c * g[b, j]
            gemm(dz, W_hh.T, gp, 1.0)
        if skip > 0 and max(t - skip, 0) >= lo:
            gemm(dz, W_skip.T, G[max(t - skip, 0)], 1.0)


@njit(**JIT_OPTIONS)
def leaky_rnn_backward(x, W_xh, W_hh, W_skip, W_hy, act, leak, skip, truncate, HS, US, dy_hat,
                       dW_xh, dW_hh, dW_skip, db_h, dW_hy, db_y, dx, dh0, delta_norms,
                       weight_grad_norms, G, GT, DZ, work):
    """BPTT from the readout cotangent ``dy_hat``; overwrites every output.

    Parameters
    ----------
    x, W_xh, W_hh, W_skip, W_hy, act, leak, skip : as given to ``leaky_rnn_forward``.
    truncate : k >= 1, or 0 for full BPTT.
    HS, US : caches filled by ``leaky_rnn_forward``.
    dy_hat : (1, B, O) or (T, B, O) dL/dy_hat.
    dW_xh, dW_hh, dW_skip, db_h, dW_hy, db_y : gradients shaped like their parameters,
        overwritten (dW_skip zero when skip = 0).
    dx : (T, B, I); dh0 : (B, H); overwritten.
    delta_norms : (T,) float64, ||dL/dh_t||_F for t = 1..T (summed over every loss).
    weight_grad_norms : (2,) float64, ||dW_xh||_F and ||dW_hh||_F.
    G, GT : (T+1, B, H) scratch (dL/dh per window, and in total); DZ : (T, B, H) scratch
    (dL/dz); work : (B, H) scratch.
    """
    T, B, I = x.shape
    H = W_hh.shape[0]
    every = dy_hat.shape[0] == T
    k = truncate if 0 < truncate <= T else T + 1
    readout_backward(HS, dy_hat, dW_hy, db_y)
    DZ[:] = 0
    G[:] = 0
    if every and k <= T:  # each loss's own window
        GT[:] = 0
        for s in range(1, T + 1):
            lo = max(s - k + 1, 0)
            G[lo:s] = 0
            gemm(dy_hat[s - 1], W_hy.T, G[s], 0.0)
            _window(W_hh, W_skip, act, leak, skip, s, lo, US, G, DZ, work)
            GT[lo:s + 1] += G[lo:s + 1]
    else:  # one pass carries every cotangent
        GT = G
        readout_cotangents(dy_hat, W_hy, T, 0, T, G[1:])
        _window(W_hh, W_skip, act, leak, skip, T, max(T - k + 1, 0), US, G, DZ, work)
    for t in range(1, T + 1):
        delta_norms[t - 1] = frobenius(GT[t])
    dh0[:] = GT[0]
    dzf = DZ.reshape(T * B, H)
    gemm(x.reshape(T * B, I).T, dzf, dW_xh, 0.0)
    gemm(HS.reshape((T + 1) * B, H)[:T * B].T, dzf, dW_hh, 0.0)
    column_sums(dzf, db_h)
    gemm(dzf, W_xh.T, dx.reshape(T * B, I), 0.0)
    if skip > 0:
        dW_skip[:] = 0
        if T > skip:  # steps t > k_s read h_{t-k_s}
            gemm(HS.reshape((T + 1) * B, H)[B:(T - skip + 1) * B].T, dzf[skip * B:], dW_skip,
                 0.0)
        work[:] = 0  # steps t <= k_s all read h_0
        for t in range(min(skip, T)):
            work += DZ[t]
        gemm(HS[0].T, work, dW_skip, 1.0)
    weight_grad_norms[0] = frobenius(dW_xh)
    weight_grad_norms[1] = frobenius(dW_hh)

