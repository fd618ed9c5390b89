"""Elementwise activation kernels: f(z) and f'(z) from y = f(z) over a (256, 1024) array."""

import numpy as np
import pytest

from kernels.activations import activate_array, activation_code, derivative_array

SHAPE = (256, 1024)
ACTIVATIONS = ["sigmoid", "tanh", "relu"]
DTYPES = ["float32", "float64"]


@pytest.mark.benchmark(group="activation_forward")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_forward(benchmark, rng, activation, dtype):
    code = activation_code(activation)
    z = rng.standard_normal(SHAPE).astype(dtype)
    y = np.empty_like(z)
    activate_array(code, z, y)  # compile / load the cache outside the timing
    benchmark(activate_array, code, z, y)
    assert np.isfinite(y).all()


@pytest.mark.benchmark(group="activation_backward")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_backward(benchmark, rng, activation, dtype):
    code = activation_code(activation)
    z = rng.standard_normal(SHAPE).astype(dtype)
    y = np.empty_like(z)
    activate_array(code, z, y)
    d = np.empty_like(y)
    derivative_array(code, y, d)
    benchmark(derivative_array, code, y, d)
    assert ((d >= 0) & (d <= 1)).all()
