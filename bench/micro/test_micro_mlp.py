"""One MLP layer through the kernels: depth 1 (a tanh hidden layer and the linear readout),
B = 64, I = W = O = 256, so every GEMM is 64 x 256 x 256."""

import numpy as np
import pytest

from vgbench.kernels.activations import TANH
from vgbench.kernels.mlp import mlp_backward, mlp_forward

B, N = 64, 256
DTYPES = ["float32", "float64"]


def layer_case(rng: np.random.Generator, dtype: str) -> dict:
    """Parameters, caches and gradient buffers of a depth-1 MLP (no batch norm)."""
    def normal(*shape):
        return (rng.standard_normal(shape) / np.sqrt(N)).astype(dtype)

    def empty(*shape):
        return np.empty(shape, dtype)

    H = empty(1, B, N)
    return {
        "x": normal(B, N), "W_in": normal(N, N), "W_hid": empty(0, N, N),
        "W_out": normal(N, N), "b_hid": np.zeros((1, N), dtype), "b_out": np.zeros(N, dtype),
        "bn": empty(0, N), "H": H, "XHAT": empty(0, B, N), "INV_STD": empty(0, N),
        "y_hat": empty(B, N), "dy_hat": normal(B, N),
        "grads": (empty(N, N), empty(0, N, N), empty(N, N), empty(1, N), empty(N),
                  empty(0, N), empty(0, N)),
        "dx": empty(B, N), "delta_norms": np.empty(1), "weight_grad_norms": np.empty(1),
        "work": empty(2, B, N),
    }


def forward(c: dict) -> None:
    mlp_forward(c["x"], c["W_in"], c["W_hid"], c["W_out"], c["b_hid"], c["b_out"], c["bn"],
                c["bn"], TANH, False, False, c["H"], c["H"], c["XHAT"], c["INV_STD"],
                c["y_hat"])


def backward(c: dict) -> None:
    mlp_backward(c["x"], c["W_in"], c["W_hid"], c["W_out"], c["bn"], TANH, False, False,
                 c["H"], c["H"], c["XHAT"], c["INV_STD"], c["dy_hat"], *c["grads"], c["dx"],
                 c["delta_norms"], c["weight_grad_norms"], c["work"])


@pytest.mark.benchmark(group="mlp_layer_forward")
@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_layer_forward(benchmark, rng, dtype):
    c = layer_case(rng, dtype)
    forward(c)  # compile / load the cache outside the timing
    benchmark(forward, c)
    assert np.isfinite(c["y_hat"]).all()


@pytest.mark.benchmark(group="mlp_layer_backward")
@pytest.mark.parametrize("dtype", DTYPES)
def test_mlp_layer_backward(benchmark, rng, dtype):
    c = layer_case(rng, dtype)
    forward(c)
    backward(c)
    first = c["grads"][0].copy()
    benchmark(backward, c)
    # backward overwrites its buffers: repeated calls give the same gradient, no drift
    np.testing.assert_array_equal(c["grads"][0], first)
