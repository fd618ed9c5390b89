"""One recurrent step through the kernels: T = 1, B = 64, I = H = 256, O = 8, tanh RNN and
LSTM, forward and full backward (readout included).  The LSTM backward overwrites its gate
cache with dL/da, so its timed call first restores the cache (a 256 KiB copy)."""

import numpy as np
import pytest

from vgbench.kernels.activations import TANH
from vgbench.kernels.lstm import lstm_backward, lstm_forward
from vgbench.kernels.rnn import rnn_backward, rnn_forward

B, N, O = 64, 256, 8
DTYPES = ["float32", "float64"]


def _arrays(rng: np.random.Generator, dtype: str):
    def normal(*shape):
        return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dtype)

    def empty(*shape):
        return np.empty(shape, dtype)

    return normal, empty


def rnn_case(rng: np.random.Generator, dtype: str) -> tuple:
    """(forward, backward, gradient buffers) of a one-step RNN."""
    normal, empty = _arrays(rng, dtype)
    x, h0 = normal(1, B, N), np.zeros((B, N), dtype)
    W_xh, W_hh, W_hy = normal(N, N), normal(N, N), normal(N, O)
    b_h, b_y = np.zeros(N, dtype), np.zeros(O, dtype)
    HS, y_hat, dy_hat = empty(2, B, N), empty(1, B, O), normal(1, B, O)
    grads = (empty(N, N), empty(N, N), empty(N), empty(N, O), empty(O))
    dx, dh0, DZ, work = empty(1, B, N), empty(B, N), empty(1, B, N), empty(2, 1, B, N)
    norms, wnorms = np.empty(1), np.empty(2)

    def forward():
        rnn_forward(x, W_xh, W_hh, b_h, W_hy, b_y, h0, TANH, HS, y_hat)

    def backward():
        rnn_backward(x, W_xh, W_hh, W_hy, TANH, 0, HS, dy_hat, *grads, dx, dh0, norms, wnorms,
                     DZ, work)

    return forward, backward, grads


def lstm_case(rng: np.random.Generator, dtype: str) -> tuple:
    """(forward, backward, gradient buffers) of a one-step LSTM."""
    normal, empty = _arrays(rng, dtype)
    x, h0, c0 = normal(1, B, N), np.zeros((B, N), dtype), np.zeros((B, N), dtype)
    W_ih, W_hh, W_hy = normal(N, 4 * N), normal(N, 4 * N), normal(N, O)
    b, b_y = np.zeros(4 * N, dtype), np.zeros(O, dtype)
    HS, CS, GATES, TC = empty(2, B, N), empty(2, B, N), empty(1, B, 4 * N), empty(1, B, N)
    y_hat, dy_hat = empty(1, B, O), normal(1, B, O)
    grads = (empty(N, 4 * N), empty(N, 4 * N), empty(4 * N), empty(N, O), empty(O))
    dx, dh0, dc0 = empty(1, B, N), empty(B, N), empty(B, N)
    norms, cnorms, wnorms = np.empty(1), np.empty(1), np.empty(2)
    work, work_g, W_hhT = empty(4, 1, B, N), empty(1, B, 4 * N), empty(4 * N, N)
    saved_gates = empty(1, B, 4 * N)

    def forward():
        lstm_forward(x, W_ih, W_hh, b, W_hy, b_y, h0, c0, HS, CS, GATES, TC, y_hat)
        saved_gates[...] = GATES

    def backward():
        GATES[...] = saved_gates
        lstm_backward(x, W_ih, W_hh, W_hy, 0, HS, CS, GATES, TC, dy_hat, *grads, dx, dh0, dc0,
                      norms, cnorms, wnorms, work, work_g, W_hhT)

    return forward, backward, grads


CASES = {"rnn": rnn_case, "lstm": lstm_case}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell", list(CASES))
def test_step_forward(benchmark, rng, cell, dtype):
    benchmark.group = f"{cell}_step_forward"
    forward, _, _ = CASES[cell](rng, dtype)
    forward()  # compile / load the cache outside the timing
    benchmark(forward)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell", list(CASES))
def test_step_backward(benchmark, rng, cell, dtype):
    benchmark.group = f"{cell}_step_backward"
    forward, backward, grads = CASES[cell](rng, dtype)
    forward()
    backward()
    first = [g.copy() for g in grads]
    benchmark(backward)
    # backward overwrites its buffers: repeated calls give the same gradients, no drift
    for g, g0 in zip(grads, first, strict=True):
        np.testing.assert_array_equal(g, g0)
    assert all(np.isfinite(g).all() for g in grads)
