"""CUDA twin of ``vgbench.kernels.leaky_rnn``: same equations, caches and truncation rules.

Forward, each step is one product ``h_{t-1} W_hh`` whose epilogue adds the stored input
term, bias and f (``ACC_ACT``); with a skip, the first product only accumulates
(identity, zero bias) and a second one ``h_{t-k} W_skip`` applies f; an elementwise kernel
then mixes h_t = (1 - a) h_{t-1} + a u_t.  Backward follows the CPU kernel step for step
(one elementwise kernel for dz and the leak path, products accumulated into G by an
identity ``ACC_ACT`` epilogue), with the readout cotangents of every step kept in ``R``.
"""

from numba import cuda

from vgbench.kernels.activations import IDENTITY
from vgbench.kernels.cuda.activations import derivative_from_output
from vgbench.kernels.cuda.gemm import ACC_ACT, gemm
from vgbench.kernels.cuda.reduce import column_sums, frobenius, partials_buffer
from vgbench.kernels.cuda.rnn import _rows, fill_zero, launch_1d, readout_backward, readout_forward


@cuda.jit
def _mix(hp, u, a, c, h):
    """h = c * hp + a * u over (B, H) (h = u when c == 0: no 0 * inf)."""
    B, H = h.shape
    for e in range(cuda.grid(1), B * H, cuda.gridsize(1)):
        r = e // H
        j = e % H
        h[r, j] = u[r, j] if c == 0 else c * hp[r, j] + a * u[r, j]


@cuda.jit
def _step(g, u, code, a, c, leak_to_prev, gp, dz, acc):
    """dz = a g f'(u); acc += dz; gp += c g when ``leak_to_prev``, over (B, H)."""
    B, H = g.shape
    for e in range(cuda.grid(1), B * H, cuda.gridsize(1)):
        r = e // H
        j = e % H
        v = a * g[r, j] * derivative_from_output(code, u[r, j])
        dz[r, j] = v
        acc[r, j] += v
        if leak_to_prev:
            gp[r, j] += c * g[r, j]


@cuda.jit
def _add(src, dst):
    """dst += src entrywise over flat arrays."""
    for i in range(cuda.grid(1), dst.size, cuda.gridsize(1)):
        dst[i] += src[i]


@cuda.jit
def _sum_steps(D, n, out):
    """out = D[0] + ... + D[n-1] over (B, H)."""
    B, H = out.shape
    for e in range(cuda.grid(1), B * H, cuda.gridsize(1)):
        r = e // H
        j = e % H
        out[r, j] = 0
        for t in range(n):
            out[r, j] += D[t, r, j]


def _add_into(d_src, d_dst) -> None:
    flat = d_dst.ravel()
    _add[launch_1d(flat.size)](d_src.ravel(), flat)


def leaky_rnn_forward(x, W_xh, W_hh, W_skip, b_h, W_hy, b_y, h0, act, leak, skip, HS, US,
                      y_hat, zero_h) -> None:
    """Forward on device arrays; arguments as in ``vgbench.kernels.leaky_rnn``, plus
    ``zero_h`` (H,) zeros (the bias of the accumulate-only product)."""
    T, B, I = x.shape
    H = W_hh.shape[0]
    dt = HS.dtype.type
    HS[0].copy_to_device(h0)
    gemm(x.reshape(T * B, I), W_xh, False, False, US.reshape(T * B, H))
    for t in range(1, T + 1):
        u = US[t - 1]
        if skip > 0:
            gemm(HS[t - 1], W_hh, False, False, u, ACC_ACT, IDENTITY, zero_h)
            gemm(HS[max(t - skip, 0)], W_skip, False, False, u, ACC_ACT, act, b_h)
        else:
            gemm(HS[t - 1], W_hh, False, False, u, ACC_ACT, act, b_h)
        _mix[launch_1d(B * H)](HS[t - 1], u, dt(leak), dt(1.0 - leak), HS[t])
    readout_forward(HS, W_hy, b_y, y_hat)


def _window(W_hh, W_skip, act, leak, skip, s, lo, US, G, DZ, dz, zero_h) -> None:
    """Device twin of ``vgbench.kernels.leaky_rnn._window``."""
    dt = G.dtype.type
    for t in range(s, max(lo, 1) - 1, -1):
        gp = G[t - 1]
        _step[launch_1d(dz.size)](G[t], US[t - 1], act, dt(leak), dt(1.0 - leak),
                                  t - 1 >= lo and leak != 1.0, gp, dz, DZ[t - 1])
        if t - 1 >= lo:
            gemm(dz, W_hh, False, True, gp, ACC_ACT, IDENTITY, zero_h)
        if skip > 0 and max(t - skip, 0) >= lo:
            gemm(dz, W_skip, False, True, G[max(t - skip, 0)], ACC_ACT, IDENTITY, zero_h)


def leaky_rnn_backward(x, W_xh, W_hh, W_skip, W_hy, act, leak, skip, truncate, HS, US, dy_hat,
                       dW_xh, dW_hh, dW_skip, db_h, dW_hy, db_y, dx, dh0, delta_norms,
                       weight_grad_norms, G, GT, DZ, work, R, zero_h) -> None:
    """BPTT on device arrays; arguments and results as in
    ``vgbench.kernels.leaky_rnn.leaky_rnn_backward``, plus ``R`` (T, B, H) scratch (the
    readout cotangents) and ``zero_h`` (H,) zeros."""
    T, B, I = x.shape
    H = W_hh.shape[0]
    S = dy_hat.shape[0]
    every = S == T
    k = truncate if 0 < truncate <= T else T + 1
    partials = partials_buffer()
    fill_zero(R)
    readout_backward(HS, W_hy, dy_hat, dW_hy, db_y, R[T - S:])
    fill_zero(DZ)
    fill_zero(G)
    if every and k <= T:
        fill_zero(GT)
        for s in range(1, T + 1):
            lo = max(s - k + 1, 0)
            fill_zero(G[lo:s])
            G[s].copy_to_device(R[s - 1])
            _window(W_hh, W_skip, act, leak, skip, s, lo, US, G, DZ, work, zero_h)
            _add_into(G[lo:s + 1], GT[lo:s + 1])
    else:
        GT = G
        G[1:].copy_to_device(R)
        _window(W_hh, W_skip, act, leak, skip, T, max(T - k + 1, 0), US, G, DZ, work, zero_h)
    for t in range(1, T + 1):
        frobenius(GT[t], delta_norms, t - 1, partials)
    dh0.copy_to_device(GT[0])
    dzf = DZ.reshape(T * B, H)
    gemm(x.reshape(T * B, I), dzf, True, False, dW_xh)
    gemm(_rows(HS, 0, T * B), dzf, True, False, dW_hh)
    column_sums(dzf, db_h)
    gemm(dzf, W_xh, False, True, dx.reshape(T * B, I))
    if skip > 0:
        if T > skip:
            gemm(_rows(HS, B, (T - skip + 1) * B), _rows(DZ, skip * B, T * B), True, False,
                 dW_skip)
        else:
            fill_zero(dW_skip)
        _sum_steps[launch_1d(B * H)](DZ, min(skip, T), work)
        gemm(HS[0], work, True, False, dW_skip, ACC_ACT, IDENTITY, zero_h)
    frobenius(dW_xh, weight_grad_norms, 0, partials)
    frobenius(dW_hh, weight_grad_norms, 1, partials)
