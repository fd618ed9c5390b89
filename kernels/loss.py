"""Mean-squared-error loss shared by every model: L = 0.5 / B * sum((y_hat - y)^2)."""

import numpy as np
from numba import njit

from vgbench.kernels.config import JIT_OPTIONS


@njit(**JIT_OPTIONS)
def mse_forward_backward(y_hat, y, batch, dy_hat):
    """Return L = 0.5 / batch * sum((y_hat - y)^2) and write dy_hat = (y_hat - y) / batch.

    Parameters
    ----------
    y_hat, y : (..., O) float arrays of equal shape, C-contiguous.
    batch : int, the B of the normalisation (the sequence axis, if any, is summed).
    dy_hat : output, same shape as y_hat; overwritten.

    The residuals, their squares and the sum are float64 whatever the dtype: a float32
    residual of 1e20 squares past float32's range (3.4e38), and the loss would be inf
    while every gradient is finite.  dy_hat is rounded to the arrays' dtype once.
    """
    yh = y_hat.ravel()
    yt = y.ravel()
    d = dy_hat.ravel()
    inv_b = 1.0 / batch
    total = 0.0
    for i in range(yh.size):
        r = np.float64(yh[i]) - np.float64(yt[i])
        total += r * r
        d[i] = r * inv_b
    return 0.5 * inv_b * total
