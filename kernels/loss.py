"""Mean-squared-error loss shared by every model: L = 0.5 / B * sum((y_hat - y)^2)."""

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
    """
    yh = y_hat.ravel()
    yt = y.ravel()
    d = dy_hat.ravel()
    inv_b = 1.0 / batch
    total = 0.0
    for i in range(yh.size):
        r = yh[i] - yt[i]
        total += r * r
        d[i] = r * inv_b
    return 0.5 * inv_b * total
