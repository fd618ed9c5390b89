"""Echo state network: the reservoir's state loop (no backward: only the readout learns).

Size letters: T steps, B batch, I input width, R reservoir size.  Step t = 1..T computes

    h_t = (1 - a) h_{t-1} + a tanh(x_t @ W_in + h_{t-1} @ W_res + b)        (h_0 given)

with one GEMM for x @ W_in over all T*B rows before the loop and one (B, R) x (R, R)
product per step (the reservoir is stored dense: at the sizes used here, R <= ~1000,
BLAS on the dense matrix beats a sparse loop).  tanh is the vectorisable ``fast_tanh``.
"""

from numba import njit

from vgbench.kernels.activations import fast_tanh
from vgbench.kernels.config import JIT_OPTIONS
from vgbench.kernels.gemm import gemm


@njit(**JIT_OPTIONS)
def esn_states(x, W_in, W_res, b, h0, leak, HS):
    """Run the reservoir over x.

    Parameters
    ----------
    x : (T, B, I); W_in : (I, R); W_res : (R, R); b : (R,); h0 : (B, R).
    leak : a in (0, 1].
    HS : (T+1, B, R) output, overwritten: HS[0] = h0, HS[t] = h_t.
    """
    T, B, I = x.shape
    R = W_res.shape[0]
    a = HS.dtype.type(leak)
    c = HS.dtype.type(1.0 - leak)
    HS[0] = h0
    gemm(x.reshape(T * B, I), W_in, HS.reshape((T + 1) * B, R)[B:], 0.0)
    for t in range(1, T + 1):
        h = HS[t]
        hp = HS[t - 1]
        gemm(hp, W_res, h, 1.0)
        for i in range(B):
            for j in range(R):
                h[i, j] = c * hp[i, j] + a * fast_tanh(h[i, j] + b[j])
