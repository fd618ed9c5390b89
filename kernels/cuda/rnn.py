"""CUDA twin of ``vgbench.kernels.rnn``: same names, argument order, caches and truncation rules,
except that ``rnn_backward`` takes a full (T, B, H) ``DZ`` (the CPU kernel takes a chunk of
steps to bound host memory; here dL/dz of every step stays on the device).

Weights and states stay on the device for the whole sequence: ``x W_xh`` for all T*B rows
is one product before the time loop, then each step is one product whose epilogue adds
the step's input term and bias and applies f (``ACC_ACT``).  Backward, each step is one
product ``dz_{t+1} W_hh^T`` whose epilogue adds the step's readout cotangent and applies
f' (``DELTA``), plus a norm reduction; the weight gradients and dx are single products
over all steps after the loop.  The every-step loss with truncation keeps the losses in
flight apart in slots exactly as the CPU kernel does, one product per step for all.

The readout helpers and ``fill_zero`` are shared with ``vgbench.kernels.cuda.lstm``.
"""

from numba import cuda

from vgbench.kernels import config
from vgbench.kernels.activations import IDENTITY
from vgbench.kernels.cuda.activations import derivative_from_output
from vgbench.kernels.cuda.gemm import ACC_ACT, BIAS_ACT, DELTA, gemm
from vgbench.kernels.cuda.reduce import column_sums, frobenius, grid_1d, partials_buffer


def launch_1d(n: int) -> tuple:
    """(grid, block) for a grid-stride kernel over n items."""
    return grid_1d(n), config.CUDA_BLOCK_1D


@cuda.jit
def _fill_zero(a):
    for i in range(cuda.grid(1), a.size, cuda.gridsize(1)):
        a[i] = 0


def fill_zero(d_a) -> None:
    """Set every entry of the contiguous device array ``d_a`` to 0."""
    if d_a.size:
        flat = d_a.ravel()
        _fill_zero[launch_1d(flat.size)](flat)


@cuda.jit
def _sum_slots(slots, n, out):
    """out = slots[1] + ... + slots[n] (0 when n = 0), entrywise over (B, H)."""
    B, H = out.shape
    for e in range(cuda.grid(1), B * H, cuda.gridsize(1)):
        r = e // H
        j = e % H
        out[r, j] = 0
        for q in range(1, n + 1):
            out[r, j] += slots[q, r, j]


def sum_slots(d_slots, n: int, d_out) -> None:
    """d_out (B, H) = sum of slots 1..n of d_slots (S, B, H)."""
    _sum_slots[launch_1d(d_out.size)](d_slots, n, d_out)


def _rows(d_a, start: int, stop: int):
    """Rows start:stop of a (N, B, K) array flattened to (N*B, K)."""
    N, B, K = d_a.shape
    return d_a.reshape(N * B, K)[start:stop]


def readout_forward(HS, W_hy, b_y, y_hat) -> None:
    """y_hat[s] = h @ W_hy + b_y for the last ``y_hat.shape[0]`` states of HS (device)."""
    T1, B, _ = HS.shape
    S, _, O = y_hat.shape
    gemm(_rows(HS, (T1 - S) * B, T1 * B), W_hy, False, False, y_hat.reshape(S * B, O),
         BIAS_ACT, IDENTITY, b_y)


def readout_backward(HS, W_hy, dy_hat, dW_hy, db_y, DH) -> None:
    """dW_hy, db_y and DH (S, B, H) = dy_hat @ W_hy^T, as in ``vgbench.kernels.rnn`` (device)."""
    T1, B, H = HS.shape
    S, _, O = dy_hat.shape
    dyf = dy_hat.reshape(S * B, O)
    gemm(_rows(HS, (T1 - S) * B, T1 * B), dyf, True, False, dW_hy)
    column_sums(dyf, db_y)
    gemm(dyf, W_hy, False, True, DH.reshape(S * B, H))


def rnn_forward(x, W_xh, W_hh, b_h, W_hy, b_y, h0, act, HS, y_hat) -> None:
    """Forward pass on device arrays; arguments as in ``vgbench.kernels.rnn.rnn_forward``."""
    T, B, I = x.shape
    HS[0].copy_to_device(h0)
    gemm(x.reshape(T * B, I), W_xh, False, False, _rows(HS, B, (T + 1) * B))
    for t in range(1, T + 1):
        gemm(HS[t - 1], W_hh, False, False, HS[t], ACC_ACT, act, b_h)
    readout_forward(HS, W_hy, b_y, y_hat)


@cuda.jit
def _delta_start(src, y, code, d, dz):
    """d = src; dz = d * f'(y), entrywise over (B, H) (dz may be src)."""
    B, H = d.shape
    for e in range(cuda.grid(1), B * H, cuda.gridsize(1)):
        r = e // H
        j = e % H
        v = src[r, j]
        d[r, j] = v
        dz[r, j] = v * derivative_from_output(code, y[r, j])


@cuda.jit
def _slots_step(cur, n, src, y, code, d, dz):
    """Slot 0 = src; d = sum of slots 0..n-1; slots *= f'(y); dz = d * f'(y) (dz may be src)."""
    B, H = d.shape
    for e in range(cuda.grid(1), B * H, cuda.gridsize(1)):
        r = e // H
        j = e % H
        cur[0, r, j] = src[r, j]
        fp = derivative_from_output(code, y[r, j])
        d[r, j] = 0
        for q in range(n):
            v = cur[q, r, j]
            d[r, j] += v
            cur[q, r, j] = v * fp
        dz[r, j] = d[r, j] * fp


def _carry_backward(W_hh, act, k, every, HS, DZ, dh0, delta_norms, d, partials) -> int:
    T = DZ.shape[0]
    first = max(T - k, 0)
    for t in range(T - 1, first - 1, -1):
        if t == T - 1:
            _delta_start[launch_1d(d.size)](DZ[t], HS[t + 1], act, d, DZ[t])
        else:  # the carry from step t+1 exists: t >= first >= T - k
            gemm(DZ[t + 1], W_hh, False, True, d, DELTA, act, None, every, HS[t + 1], DZ[t],
                 d_src=DZ[t])
        frobenius(d, delta_norms, t, partials)
    fill_zero(delta_norms[:first])
    if k > T:
        gemm(DZ[0], W_hh, False, True, dh0)
    else:
        fill_zero(dh0)
    return first


def _slots_backward(W_hh, act, k, HS, DZ, dh0, delta_norms, work, partials) -> None:
    T, B, H = DZ.shape
    cur, nxt = work[0], work[1]
    n = 0
    for t in range(T - 1, -1, -1):
        n += 1
        d = nxt[0]  # free during this step: the product below fills nxt[1:]
        _slots_step[launch_1d(d.size)](cur, n, DZ[t], HS[t + 1], act, d, DZ[t])
        frobenius(d, delta_norms, t, partials)
        m = min(n, k - 1)
        if m > 0:
            gemm(cur[:m].reshape(m * B, H), W_hh, False, True, nxt[1:m + 1].reshape(m * B, H))
        cur, nxt = nxt, cur
        n = m
    sum_slots(cur, n, dh0)


def input_side_backward(x, HS, W_in, first: int, D, dW_in, dW_hh, db, dx, weight_grad_norms,
                        partials) -> None:
    """Device twin of ``vgbench.kernels.rnn.input_side_backward`` (same arguments, plus the
    reduction scratch ``partials``)."""
    T, B = x.shape[:2]
    r0 = first * B
    df = _rows(D, r0, T * B)
    gemm(_rows(x, r0, T * B), df, True, False, dW_in)
    gemm(_rows(HS, r0, T * B), df, True, False, dW_hh)
    column_sums(df, db)
    fill_zero(_rows(dx, 0, r0))
    gemm(df, W_in, False, True, _rows(dx, r0, T * B))
    frobenius(dW_in, weight_grad_norms, 0, partials)
    frobenius(dW_hh, weight_grad_norms, 1, partials)


def rnn_backward(x, W_xh, W_hh, W_hy, act, truncate, HS, dy_hat, dW_xh, dW_hh, db_h, dW_hy,
                 db_y, dx, dh0, delta_norms, weight_grad_norms, DZ, work) -> None:
    """BPTT on device arrays; arguments and results as in ``vgbench.kernels.rnn.rnn_backward``
    (``delta_norms`` and ``weight_grad_norms`` are float64 device vectors)."""
    T, B, I = x.shape
    S = dy_hat.shape[0]
    every = S == T
    k = truncate if 0 < truncate <= T else T + 1
    partials = partials_buffer()
    readout_backward(HS, W_hy, dy_hat, dW_hy, db_y, DZ[T - S:])
    if every and k <= T:
        _slots_backward(W_hh, act, k, HS, DZ, dh0, delta_norms, work, partials)
        first = 0
    else:
        first = _carry_backward(W_hh, act, k, every, HS, DZ, dh0, delta_norms, work[0, 0],
                                partials)
    input_side_backward(x, HS, W_xh, first, DZ, dW_xh, dW_hh, db_h, dx, weight_grad_norms,
                        partials)
