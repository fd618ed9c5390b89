"""Deep fully connected network: forward and backward kernels, batch-major.

Size letters: B batch, I input width, W hidden width, O output width, L depth (number
of hidden layers).  Hidden layer l = 0..L-1 computes

    a_l = h_l @ W_l + b_l              (h_0 = x)
    z_l = a_l, or BN(a_l) = (a_l - mean) / sqrt(var + 1e-5) * gamma_l + beta_l
    h_{l+1} = f(z_l), or h_l + f(z_l) for residual layers (l >= 1 only)

and the readout is linear: y_hat = h_L @ W_L + b_L.  Batch norm uses the batch statistics
of training mode (biased variance).

Parameters arrive packed by role so that a deep net is four arrays, not a list:
``W_in (I, W)`` is W_0, ``W_hid (L-1, W, W)`` holds W_1..W_{L-1}, ``W_out (W, O)`` is W_L;
``b_hid (L, W)``, ``b_out (O,)``; ``bn_gamma, bn_beta (L, W)`` (any (., W) array when batch
norm is off).  Every array is C-contiguous and of one float dtype.

Caches filled by the forward and read by the backward:
``H (L, B, W)``   hidden outputs h_1..h_L (skip path included);
``Y (L, B, W)``   f(z_l), needed apart from H only by residual layers (else pass H again);
``XHAT (L, B, W)`` and ``INV_STD (L, W)``  normalised a_l and 1/sqrt(var + eps) (batch norm;
any array otherwise).
"""

import math

from numba import njit

from vgbench.kernels.activations import activate, backprop_activation, bias_activate
from vgbench.kernels.config import JIT_OPTIONS
from vgbench.kernels.gemm import gemm
from vgbench.kernels.reductions import column_sums, count_subnormal_zero, frobenius

BN_EPS = 1e-5


@njit(**JIT_OPTIONS)
def batchnorm_normalise_column(a, bias, xhat, inv_std, j):
    """Column j over the batch: inv_std[j] = 1/sqrt(var + eps) and xhat[:, j] = normalised
    a[:, j] + bias[j] (float64 statistics).  Compiled for the device too
    (``vgbench.kernels.cuda.mlp``): plain arithmetic only."""
    B = a.shape[0]
    mean = 0.0
    for b in range(B):
        mean += a[b, j] + bias[j]
    mean /= B
    var = 0.0
    for b in range(B):
        c = a[b, j] + bias[j] - mean
        var += c * c
    inv = 1.0 / math.sqrt(var / B + BN_EPS)
    inv_std[j] = inv
    for b in range(B):
        xhat[b, j] = (a[b, j] + bias[j] - mean) * inv


@njit(**JIT_OPTIONS)
def batchnorm_backward_column(dz, xhat, inv_std, gamma, dgamma, dbeta, j):
    """Column j: from dz = dL/d(BN output), write dgamma[j], dbeta[j] and overwrite
    dz[:, j] with dL/da.  Compiled for the device too, like the forward's column."""
    B = dz.shape[0]
    sum_dz = 0.0
    sum_dz_xhat = 0.0
    for b in range(B):
        sum_dz += dz[b, j]
        sum_dz_xhat += dz[b, j] * xhat[b, j]
    dgamma[j] = sum_dz_xhat
    dbeta[j] = sum_dz
    # dxhat = dz * gamma; da = inv / B * (B dxhat - sum dxhat - xhat sum(dxhat xhat))
    scale = gamma[j] * inv_std[j] / B
    for b in range(B):
        dz[b, j] = scale * (B * dz[b, j] - sum_dz - xhat[b, j] * sum_dz_xhat)


@njit(**JIT_OPTIONS)
def _batchnorm_activate(code, a, bias, gamma, beta, xhat, inv_std, y):
    """xhat = normalise(a + bias) over the batch; y = f(xhat * gamma + beta); a may be y."""
    B, W = a.shape
    for j in range(W):
        batchnorm_normalise_column(a, bias, xhat, inv_std, j)
    for b in range(B):
        for j in range(W):
            y[b, j] = activate(code, xhat[b, j] * gamma[j] + beta[j])


@njit(**JIT_OPTIONS)
def _batchnorm_backward(dz, xhat, inv_std, gamma, dgamma, dbeta):
    """From dz = dL/d(BN output), write dgamma, dbeta and overwrite dz with dL/da."""
    for j in range(dz.shape[1]):
        batchnorm_backward_column(dz, xhat, inv_std, gamma, dgamma, dbeta, j)


@njit(**JIT_OPTIONS)
def mlp_forward(x, W_in, W_hid, W_out, b_hid, b_out, bn_gamma, bn_beta, act, residual,
                batchnorm, H, Y, XHAT, INV_STD, y_hat):
    """Forward pass; fills the caches and writes the readout.

    Parameters
    ----------
    x : (B, I) input.
    W_in, W_hid, W_out, b_hid, b_out, bn_gamma, bn_beta : parameters (module docstring).
    act : int activation code (vgbench.kernels.activations).
    residual, batchnorm : bool options.
    H, Y, XHAT, INV_STD : caches, overwritten (module docstring).
    y_hat : (B, O) output, overwritten.
    """
    L = b_hid.shape[0]
    for l in range(L):
        h_in = x if l == 0 else H[l - 1]
        W_l = W_in if l == 0 else W_hid[l - 1]
        skip = residual and l >= 1
        y_l = Y[l] if skip else H[l]
        gemm(h_in, W_l, y_l, 0.0)
        if batchnorm:
            _batchnorm_activate(act, y_l, b_hid[l], bn_gamma[l], bn_beta[l], XHAT[l],
                                INV_STD[l], y_l)
        else:
            bias_activate(act, y_l, b_hid[l])
        if skip:
            h, h_prev = H[l], H[l - 1]
            for b in range(h.shape[0]):
                for j in range(h.shape[1]):
                    h[b, j] = h_prev[b, j] + y_l[b, j]
    gemm(H[L - 1], W_out, y_hat, 0.0)
    for b in range(y_hat.shape[0]):
        for o in range(y_hat.shape[1]):
            y_hat[b, o] += b_out[o]


@njit(**JIT_OPTIONS)
def mlp_backward(x, W_in, W_hid, W_out, bn_gamma, act, residual, batchnorm, H, Y, XHAT,
                 INV_STD, dy_hat, dW_in, dW_hid, dW_out, db_hid, db_out, dbn_gamma,
                 dbn_beta, dx, delta_norms, weight_grad_norms, work, counts=None):
    """Backward pass from the readout cotangent ``dy_hat``; overwrites every output.

    Parameters
    ----------
    x, W_in, W_hid, W_out, bn_gamma, act, residual, batchnorm, H, Y, XHAT, INV_STD :
        as given to and filled by ``mlp_forward``.
    dy_hat : (B, O) dL/dy_hat (for the MSE loss, (y_hat - y) / B; any cotangent works).
    dW_in, dW_hid, dW_out, db_hid, db_out, dbn_gamma, dbn_beta : gradients, shaped like
        their parameters; overwritten (batch-norm ones untouched when it is off).
    dx : (B, I) dL/dx, overwritten.
    delta_norms : (L,) float64, ||dL/dh_{l+1}||_F for l = 0..L-1 (total gradient reaching
        each hidden output, skip path included).
    weight_grad_norms : (L,) float64, ||dL/dW_l||_F for the hidden layers l = 0..L-1.
    work : (2, B, W) scratch.
    counts : optional (L, 2) int64: [subnormal, exactly zero] entries of dL/dh_{l+1}
        (the decay probes' underflow accounting; omitted, it costs nothing).
    """
    L = db_hid.shape[0]
    dh = work[0]
    dz = work[1]
    gemm(H[L - 1].T, dy_hat, dW_out, 0.0)
    column_sums(dy_hat, db_out)
    gemm(dy_hat, W_out.T, dh, 0.0)
    for l in range(L - 1, -1, -1):
        delta_norms[l] = frobenius(dh)
        if counts is not None:
            count_subnormal_zero(dh, counts[l])
        skip = residual and l >= 1
        y_l = Y[l] if skip else H[l]
        backprop_activation(act, dh, y_l, dz)
        if batchnorm:
            _batchnorm_backward(dz, XHAT[l], INV_STD[l], bn_gamma[l], dbn_gamma[l],
                                dbn_beta[l])
        column_sums(dz, db_hid[l])
        h_in = x if l == 0 else H[l - 1]
        dW_l = dW_in if l == 0 else dW_hid[l - 1]
        gemm(h_in.T, dz, dW_l, 0.0)
        weight_grad_norms[l] = frobenius(dW_l)
        if l == 0:
            gemm(dz, W_in.T, dx, 0.0)
        elif skip:
            gemm(dz, W_hid[l - 1].T, dh, 1.0)
        else:
            gemm(dz, W_hid[l - 1].T, dh, 0.0)
