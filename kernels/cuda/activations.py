"""Device twins of ``kernels.activations.activate`` and ``derivative_from_output``.

Same integer codes, same stable forms and same float literals as the CPU functions, so a
float64 activation on the device equals the host one to libm rounding.
"""

import math

from numba import cuda

from kernels.activations import (
    ELU,
    ELU_ALPHA,
    LEAKY_RELU,
    LEAKY_SLOPE,
    RELU,
    SELU,
    SELU_ALPHA,
    SELU_SCALE,
    SIGMOID,
    SOFTPLUS,
    TANH,
)


@cuda.jit(device=True)
def activate(code, z):
    """f(z) for activation ``code`` on one scalar (see kernels.activations)."""
    if code == TANH:
        return math.tanh(z)
    if code == SIGMOID:
        # Two branches so exp never sees a large positive argument.
        if z >= 0.0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)
    if code == RELU:
        return z if z > 0.0 else 0.0 * z  # 0 * z keeps NaN a NaN
    if code == LEAKY_RELU:
        return z if z > 0.0 else LEAKY_SLOPE * z
    if code == ELU:
        return z if z > 0.0 else ELU_ALPHA * math.expm1(z)
    if code == SELU:
        return SELU_SCALE * z if z > 0.0 else SELU_SCALE * SELU_ALPHA * math.expm1(z)
    if code == SOFTPLUS:
        # max(z, 0.0) does not compile for the CUDA target; NaN propagates either way.
        return (z if z > 0.0 else 0.0) + math.log1p(math.exp(-abs(z)))
    return z


@cuda.jit(device=True)
def derivative_from_output(code, y):
    """f'(z) from the output y = f(z) of activation ``code`` (see kernels.activations)."""
    if code == TANH:
        return 1.0 - y * y
    if code == SIGMOID:
        return y * (1.0 - y)
    if code == RELU:
        return 1.0 if y > 0.0 else 0.0  # ReLU'(0) = 0
    if code == LEAKY_RELU:
        return 1.0 if y > 0.0 else LEAKY_SLOPE
    if code == ELU:
        return 1.0 if y > 0.0 else y + ELU_ALPHA
    if code == SELU:
        return SELU_SCALE if y > 0.0 else y + SELU_SCALE * SELU_ALPHA
    if code == SOFTPLUS:
        return -math.expm1(-y)
    return 1.0
