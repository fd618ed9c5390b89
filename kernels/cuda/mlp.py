"""CUDA twin of ``vgbench.kernels.mlp``: same names, argument order, caches and conventions;
the batch-norm column arithmetic is the CPU module's own functions, compiled for the device.

Every array argument is a device array of one float dtype (see the CPU module docstring
for shapes).  Hidden layers run as one fused product each: ``h W + b`` and the activation
in the epilogue (batch norm needs batch statistics, so there the product writes ``a`` and
a per-column kernel normalises and activates).  The backward product ``dz_{l} W_l^T``
applies the next layer's f' in its epilogue, so each layer costs two products, a column
sum and two norm reductions.
"""

from numba import cuda

from vgbench.kernels import config, mlp
from vgbench.kernels.activations import IDENTITY
from vgbench.kernels.cuda.activations import activate
from vgbench.kernels.cuda.gemm import BIAS_ACT, DELTA, PLAIN, gemm
from vgbench.kernels.cuda.reduce import column_sums, frobenius, grid_1d, partials_buffer

_normalise_column = cuda.jit(device=True)(mlp.batchnorm_normalise_column.py_func)
_backward_column = cuda.jit(device=True)(mlp.batchnorm_backward_column.py_func)


@cuda.jit
def _batchnorm_activate(code, a, bias, gamma, beta, xhat, inv_std, y, skip, h_prev, h):
    """Per column (grid-stride): normalise a + bias over the batch, y = f(xhat gamma + beta);
    a may be y; if ``skip``, h = h_prev + y."""
    B, W = a.shape
    for j in range(cuda.grid(1), W, cuda.gridsize(1)):
        _normalise_column(a, bias, xhat, inv_std, j)
        for b in range(B):
            y[b, j] = activate(code, xhat[b, j] * gamma[j] + beta[j])
            if skip:
                h[b, j] = h_prev[b, j] + y[b, j]


@cuda.jit
def _batchnorm_backward(dz, xhat, inv_std, gamma, dgamma, dbeta):
    """Per column (grid-stride): dgamma, dbeta from dz; dz overwritten with dL/da."""
    for j in range(cuda.grid(1), dz.shape[1], cuda.gridsize(1)):
        _backward_column(dz, xhat, inv_std, gamma, dgamma, dbeta, j)


def _columns(W: int) -> tuple:
    return grid_1d(W), config.CUDA_BLOCK_1D


def mlp_forward(x, W_in, W_hid, W_out, b_hid, b_out, bn_gamma, bn_beta, act, residual,
                batchnorm, H, Y, XHAT, INV_STD, y_hat) -> None:
    """Forward pass on device arrays; fills the caches and writes ``y_hat``.

    Parameters
    ----------
    x : (B, I) input.
    W_in, W_hid, W_out, b_hid, b_out, bn_gamma, bn_beta : parameters (vgbench.kernels.mlp).
    act : int activation code.
    residual, batchnorm : bool options.
    H, Y, XHAT, INV_STD : caches (L, B, W), (L, B, W), (L, B, W), (L, W); overwritten.
    y_hat : (B, O) output, overwritten.
    """
    L = b_hid.shape[0]
    for l in range(L):
        h_in = x if l == 0 else H[l - 1]
        W_l = W_in if l == 0 else W_hid[l - 1]
        skip = residual and l >= 1
        y_l = Y[l] if skip else H[l]
        if batchnorm:
            gemm(h_in, W_l, False, False, y_l)
            _batchnorm_activate[_columns(y_l.shape[1])](
                act, y_l, b_hid[l], bn_gamma[l], bn_beta[l], XHAT[l], INV_STD[l], y_l,
                skip, H[l - 1] if skip else y_l, H[l])
        else:
            gemm(h_in, W_l, False, False, y_l, BIAS_ACT, act, b_hid[l], skip,
                 H[l - 1] if skip else None, H[l])
    gemm(H[L - 1], W_out, False, False, y_hat, BIAS_ACT, IDENTITY, b_out)


def mlp_backward(x, W_in, W_hid, W_out, bn_gamma, act, residual, batchnorm, H, Y, XHAT,
                 INV_STD, dy_hat, dW_in, dW_hid, dW_out, db_hid, db_out, dbn_gamma,
                 dbn_beta, dx, delta_norms, weight_grad_norms, work) -> None:
    """Backward pass on device arrays from the readout cotangent; overwrites every output.

    Parameters
    ----------
    x, W_in, W_hid, W_out, bn_gamma, act, residual, batchnorm, H, Y, XHAT, INV_STD :
        as given to and filled by ``mlp_forward``.
    dy_hat : (B, O) dL/dy_hat.
    dW_in, dW_hid, dW_out, db_hid, db_out, dbn_gamma, dbn_beta, dx : gradients,
        overwritten (batch-norm ones untouched when it is off).
    delta_norms, weight_grad_norms : (L,) float64 device vectors, as in vgbench.kernels.mlp.
    work : (3, B, W) scratch: dh and two alternating dz buffers.
    """
    L = db_hid.shape[0]
    dh = work[0]
    dz = (work[1], work[2])
    partials = partials_buffer()

    def saved_output(l):
        return Y[l] if residual and l >= 1 else H[l]

    gemm(H[L - 1], dy_hat, True, False, dW_out)
    column_sums(dy_hat, db_out)
    gemm(dy_hat, W_out, False, True, dh, DELTA, act, None, False, saved_output(L - 1), dz[0])
    cur = 0
    for l in range(L - 1, -1, -1):
        frobenius(dh, delta_norms, l, partials)
        if batchnorm:
            _batchnorm_backward[_columns(dh.shape[1])](dz[cur], XHAT[l], INV_STD[l],
                                                       bn_gamma[l], dbn_gamma[l],
                                                       dbn_beta[l])
        column_sums(dz[cur], db_hid[l])
        h_in = x if l == 0 else H[l - 1]
        dW_l = dW_in if l == 0 else dW_hid[l - 1]
        gemm(h_in, dz[cur], True, False, dW_l)
        frobenius(dW_l, weight_grad_norms, l, partials)
        if l == 0:
            gemm(dz[cur], W_in, False, True, dx, PLAIN)
        else:
            gemm(dz[cur], W_hid[l - 1], False, True, dh, DELTA, act, None,
                 residual, saved_output(l - 1), dz[1 - cur], d_src=dh)
            cur = 1 - cur
