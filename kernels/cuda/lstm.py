"""CUDA twin of ``vgbench.kernels.lstm``: same names, argument order, caches and truncation rules,
except that ``lstm_backward`` keeps separate device scratch DH (T, B, H) and DG (T, B, 4H)
and leaves GATES intact (the CPU kernel overwrites GATES with dL/da to save host memory).

Forward: ``x W_ih`` for all T*B rows is one product; each step adds ``h_{t-1} W_hh + b``
into that step's gate block in a product epilogue (``ACC_ACT`` with the identity), then one
elementwise cell kernel applies the gates.  Backward: per step one elementwise kernel turns
(dh_t, dc_t) into dL/da_t (and the cell carry), and one product ``dL/da_t W_hh^T`` carries
dh back; both norms by block reduction.  Weights, states and caches stay on the device.
"""

import functools

import numpy as np
from numba import cuda

from vgbench.kernels import lstm
from vgbench.kernels.activations import IDENTITY, SIGMOID, TANH
from vgbench.kernels.cuda.activations import activate
from vgbench.kernels.cuda.gemm import ACC_ACT, gemm
from vgbench.kernels.cuda.reduce import frobenius, partials_buffer
from vgbench.kernels.cuda.rnn import (
    fill_zero,
    input_side_backward,
    launch_1d,
    readout_backward,
    readout_forward,
    sum_slots,
)


@cuda.jit
def _cell_forward(gate, c_prev, c, h, tc):
    """Activate the gate block [i | f | g | o] (B, 4H) in place; c, tanh(c), h (B, H)."""
    B, H = c.shape
    for e in range(cuda.grid(1), B * H, cuda.gridsize(1)):
        r = e // H
        j = e % H
        i = activate(SIGMOID, gate[r, j])
        f = activate(SIGMOID, gate[r, H + j])
        g = activate(TANH, gate[r, 2 * H + j])
        o = activate(SIGMOID, gate[r, 3 * H + j])
        gate[r, j] = i
        gate[r, H + j] = f
        gate[r, 2 * H + j] = g
        gate[r, 3 * H + j] = o
        c[r, j] = f * c_prev[r, j] + i * g
        tc[r, j] = activate(TANH, c[r, j])
        h[r, j] = o * tc[r, j]


# The CPU kernels' gate-gradient arithmetic, compiled for the device.
gate_grads = cuda.jit(device=True)(lstm.gate_grads.py_func)


@functools.cache
def _backward_kernels(dtype: np.dtype):
    """Compile the per-step backward kernels for float ``dtype``."""
    one = dtype.type(1)
    zero = dtype.type(0)

    @cuda.jit
    def carry_step(gate, tc, c_prev, src, use_src, carry_h, has_carry, carry_c, dh_out,
                   dc_out, dG):
        """dh = (src +) carry_h (or src alone at the last step); dc = carry_c + the h path;
        writes dh, dc (for the norms), dG, and carry_c = dL/dc_{t-1}."""
        B, H = tc.shape
        for e in range(cuda.grid(1), B * H, cuda.gridsize(1)):
            r = e // H
            j = e % H
            if not has_carry:
                dh = src[r, j]
            elif use_src:
                dh = src[r, j] + carry_h[r, j]
            else:
                dh = carry_h[r, j]
            dc = carry_c[r, j] + dh * gate[r, 3 * H + j] * (one - tc[r, j] * tc[r, j])
            dh_out[r, j] = dh
            dc_out[r, j] = dc
            carry_c[r, j] = gate_grads(gate, tc, c_prev, r, j, dh, dc, dG, one)

    @cuda.jit
    def slots_step(gate, tc, c_prev, src, cur_h, cur_c, nxt_c, work_g, n, m, dh_out,
                   dc_out, dG):
        """One step of the slot BPTT (``vgbench.kernels.lstm._slots_backward``) for every entry."""
        B, H = tc.shape
        for e in range(cuda.grid(1), B * H, cuda.gridsize(1)):
            r = e // H
            j = e % H
            cur_h[0, r, j] = src[r, j]
            cur_c[0, r, j] = 0
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
            dh_out[r, j] = dh_sum
            dc_out[r, j] = dc_sum
            gate_grads(gate, tc, c_prev, r, j, dh_sum, dc_sum, dG, one)

    return carry_step, slots_step


def lstm_forward(x, W_ih, W_hh, b, W_hy, b_y, h0, c0, HS, CS, GATES, TC, y_hat) -> None:
    """Forward pass on device arrays; arguments as in ``vgbench.kernels.lstm.lstm_forward``."""
    T, B, I = x.shape
    H = W_hh.shape[0]
    HS[0].copy_to_device(h0)
    CS[0].copy_to_device(c0)
    gemm(x.reshape(T * B, I), W_ih, False, False, GATES.reshape(T * B, 4 * H))
    for t in range(1, T + 1):
        gemm(HS[t - 1], W_hh, False, False, GATES[t - 1], ACC_ACT, IDENTITY, b)
        _cell_forward[launch_1d(B * H)](GATES[t - 1], CS[t - 1], CS[t], HS[t], TC[t - 1])
    readout_forward(HS, W_hy, b_y, y_hat)


def _carry_backward(W_hh, k, every, CS, GATES, TC, DH, DG, dh0, dc0, delta_norms,
                    cell_norms, carry_h, carry_c, dh_buf, dc_buf, partials) -> int:
    T = DH.shape[0]
    first = max(T - k, 0)
    carry_step = _backward_kernels(np.dtype(DH.dtype))[0]
    fill_zero(carry_c)
    for t in range(T - 1, first - 1, -1):
        carry_step[launch_1d(carry_c.size)](GATES[t], TC[t], CS[t], DH[t], every, carry_h,
                                             t < T - 1, carry_c, dh_buf, dc_buf, DG[t])
        frobenius(dh_buf, delta_norms, t, partials)
        frobenius(dc_buf, cell_norms, t, partials)
        if t > T - k:  # (h_t, c_t) before step t+1 are not detached for this loss
            gemm(DG[t], W_hh, False, True, carry_h)
    fill_zero(delta_norms[:first])
    fill_zero(cell_norms[:first])
    if k > T:
        dh0.copy_to_device(carry_h)
        dc0.copy_to_device(carry_c)
    else:
        fill_zero(dh0)
        fill_zero(dc0)
    return first


def _slots_backward(W_hh, k, CS, GATES, TC, DH, DG, dh0, dc0, delta_norms, cell_norms,
                    work, work_g, partials) -> None:
    T, B, H = DH.shape
    slots_step = _backward_kernels(np.dtype(DH.dtype))[1]
    cur_h, nxt_h, cur_c, nxt_c = work[0], work[1], work[2], work[3]
    n = 0
    for t in range(T - 1, -1, -1):
        n += 1
        m = min(n, k - 1)
        dh_buf, dc_buf = nxt_h[0], nxt_c[0]  # free during this step
        slots_step[launch_1d(B * H)](GATES[t], TC[t], CS[t], DH[t], cur_h, cur_c, nxt_c,
                                     work_g, n, m, dh_buf, dc_buf, DG[t])
        frobenius(dh_buf, delta_norms, t, partials)
        frobenius(dc_buf, cell_norms, t, partials)
        if m > 0:
            gemm(work_g[:m].reshape(m * B, 4 * H), W_hh, False, True,
                 nxt_h[1:m + 1].reshape(m * B, H))
        cur_h, nxt_h = nxt_h, cur_h
        cur_c, nxt_c = nxt_c, cur_c
        n = m
    sum_slots(cur_h, n, dh0)
    sum_slots(cur_c, n, dc0)


def lstm_backward(x, W_ih, W_hh, W_hy, truncate, HS, CS, GATES, TC, dy_hat, dW_ih, dW_hh,
                  db, dW_hy, db_y, dx, dh0, dc0, delta_norms, cell_norms,
                  weight_grad_norms, DH, DG, work, work_g) -> None:
    """BPTT on device arrays; arguments and results as in ``vgbench.kernels.lstm.lstm_backward``
    plus the scratch DH (T, B, H) and DG (T, B, 4H) (norm vectors are float64 device
    arrays).  On the carry path ``work[:, 0]`` holds
    (carry_h, dh, carry_c, dc); on the slot path slot 0 of the "next" buffers holds dh, dc.
    """
    T, B, I = x.shape
    S = dy_hat.shape[0]
    every = S == T
    k = truncate if 0 < truncate <= T else T + 1
    partials = partials_buffer()
    readout_backward(HS, W_hy, dy_hat, dW_hy, db_y, DH[T - S:])
    if every and k <= T:
        _slots_backward(W_hh, k, CS, GATES, TC, DH, DG, dh0, dc0, delta_norms, cell_norms,
                        work, work_g, partials)
        first = 0
    else:
        first = _carry_backward(W_hh, k, every, CS, GATES, TC, DH, DG, dh0, dc0,
                                delta_norms, cell_norms, work[0, 0], work[2, 0], work[1, 0],
                                work[3, 0], partials)
    input_side_backward(x, HS, W_ih, first, DG, dW_ih, dW_hh, db, dx, weight_grad_norms,
                        partials)
