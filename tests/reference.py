"""Plain NumPy float64 oracle for every forward/backward pass (no numba, no kernels).

Written from the equations in the issues, independently of kernels/: autograd-style
layer-by-layer code, straightforward rather than fast.
"""

import numpy as np


def act(name, z):
    """f(z) in float64."""
    if name == "identity":
        return z.copy()
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    if name == "selu":
        a, s = 1.6732632423543772, 1.0507009873554805
        return s * np.where(z > 0, z, a * np.expm1(np.minimum(z, 0)))
    if name == "softplus":
        return np.logaddexp(0.0, z)
    raise ValueError(name)


def act_grad(name, z):
    """f'(z) from the pre-activation z (left branch at 0 for the piecewise ones)."""
    if name == "identity":
        return np.ones_like(z)
    if name == "sigmoid":
        s = act("sigmoid", z)
        return s * (1 - s)
    if name == "tanh":
        return 1.0 / np.cosh(z) ** 2
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, 0.01)
    if name == "elu":
        return np.where(z > 0, 1.0, np.exp(np.minimum(z, 0)))
    if name == "selu":
        a, s = 1.6732632423543772, 1.0507009873554805
        return s * np.where(z > 0, 1.0, a * np.exp(np.minimum(z, 0)))
    if name == "softplus":
        return act("sigmoid", z)
    raise ValueError(name)


def mlp_loss_and_grads(params, x, y, activation, depth, residual=False, batchnorm=False,
                       cotangent=None, eps=1e-5):
    """Return (loss, grads dict, dx, delta_norms, weight_grad_norms, y_hat) in float64.

    ``params`` uses the model's names W0..W{depth}, b0..b{depth}, bn_gamma{l}, bn_beta{l}.
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x = np.asarray(x, np.float64)
    B = x.shape[0]
    hs, zs, bn = [x], [], []
    for l in range(depth):
        a = hs[-1] @ p[f"W{l}"] + p[f"b{l}"]
        if batchnorm:
            mu = a.mean(0)
            var = a.var(0)
            xhat = (a - mu) / np.sqrt(var + eps)
            z = xhat * p[f"bn_gamma{l}"] + p[f"bn_beta{l}"]
            bn.append((xhat, var))
        else:
            z = a
        zs.append(z)
        h = act(activation, z)
        if residual and l >= 1:
            h = hs[-1] + h
        hs.append(h)
    y_hat = hs[-1] @ p[f"W{depth}"] + p[f"b{depth}"]
    if cotangent is None:
        loss = 0.5 / B * np.sum((y_hat - y) ** 2)
        dy = (y_hat - y) / B
    else:
        loss = float(np.sum(cotangent * y_hat))
        dy = np.asarray(cotangent, np.float64)
    g = {f"W{depth}": hs[-1].T @ dy, f"b{depth}": dy.sum(0)}
    dh = dy @ p[f"W{depth}"].T
    delta_norms = np.zeros(depth)
    wnorms = np.zeros(depth)
    for l in range(depth - 1, -1, -1):
        delta_norms[l] = np.linalg.norm(dh)
        dz = dh * act_grad(activation, zs[l])
        if batchnorm:
            xhat, var = bn[l]
            g[f"bn_gamma{l}"] = (dz * xhat).sum(0)
            g[f"bn_beta{l}"] = dz.sum(0)
            dxhat = dz * p[f"bn_gamma{l}"]
            da = (B * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) / (
                B * np.sqrt(var + eps))
        else:
            da = dz
        g[f"W{l}"] = hs[l].T @ da
        g[f"b{l}"] = da.sum(0)
        wnorms[l] = np.linalg.norm(g[f"W{l}"])
        dh_in = da @ p[f"W{l}"].T
        dh = dh + dh_in if (residual and l >= 1) else dh_in
    return loss, g, dh, delta_norms, wnorms, y_hat


def central_difference(f, x, h=1e-6):
    """Central finite-difference gradient of scalar f() w.r.t. array x, perturbed in place."""
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        fp = f()
        x[idx] = old - h
        fm = f()
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * h)
    return grad
