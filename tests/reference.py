"""Plain NumPy float64 oracle for every forward/backward pass (no numba, no kernels).

Written from the model equations (README, kernel docstrings), independently of kernels/:
autograd-style layer-by-layer code, straightforward rather than fast.
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


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _recurrent_losses(y_hat, y, cotangent, B):
    """Loss and the list of (step s (1-based), dL/dy_hat_s) of a last/every readout."""
    if cotangent is None:
        loss = 0.5 / B * np.sum((y_hat - y) ** 2)
        dy = (y_hat - y) / B
    else:
        loss = float(np.sum(cotangent * y_hat))
        dy = np.asarray(cotangent, np.float64)
    return loss, dy


def _steps_reached(s, truncate):
    """Steps t = s, s-1, ..., lo reached by the loss at step s, and whether h_0 is."""
    lo = 1 if truncate is None else max(s - truncate + 1, 1)
    return range(s, lo - 1, -1), truncate is None or s < truncate


def rnn_loss_and_grads(params, x, y, activation, truncate=None, loss_at="last", h0=None,
                       cotangent=None):
    """Elman RNN in float64, each step's loss backpropagated separately (h_{s-k} detached).

    Returns a dict: loss, grads, dx, dh0, delta_norms, weight_grad_norms, y_hat and the
    states hs (T+1, B, H).
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x = np.asarray(x, np.float64)
    T, B, _ = x.shape
    H = p["W_hh"].shape[0]
    hs = [np.zeros((B, H)) if h0 is None else np.asarray(h0, np.float64)]
    zs = []
    for t in range(T):
        zs.append(x[t] @ p["W_xh"] + hs[-1] @ p["W_hh"] + p["b_h"])
        hs.append(act(activation, zs[-1]))
    read = list(range(1, T + 1)) if loss_at == "every" else [T]
    y_hat = np.stack([hs[s] @ p["W_hy"] + p["b_y"] for s in read])
    if loss_at == "last":
        y_hat = y_hat[0]
    loss, dy = _recurrent_losses(y_hat, y, cotangent, B)
    dy = dy.reshape(len(read), B, -1)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dx = np.zeros_like(x)
    dh0 = np.zeros((B, H))
    dh_total = np.zeros((T, B, H))
    for n, s in enumerate(read):
        g["W_hy"] += hs[s].T @ dy[n]
        g["b_y"] += dy[n].sum(0)
        dh = dy[n] @ p["W_hy"].T
        steps, reaches_h0 = _steps_reached(s, truncate)
        for t in steps:
            dh_total[t - 1] += dh
            dz = dh * act_grad(activation, zs[t - 1])
            g["W_xh"] += x[t - 1].T @ dz
            g["W_hh"] += hs[t - 1].T @ dz
            g["b_h"] += dz.sum(0)
            dx[t - 1] += dz @ p["W_xh"].T
            dh = dz @ p["W_hh"].T
        if reaches_h0:
            dh0 += dh
    return {"loss": loss, "grads": g, "dx": dx, "dh0": dh0,
            "delta_norms": np.linalg.norm(dh_total.reshape(T, -1), axis=1),
            "weight_grad_norms": np.array([np.linalg.norm(g["W_xh"]),
                                           np.linalg.norm(g["W_hh"])]),
            "y_hat": y_hat, "hs": np.stack(hs)}


def lstm_loss_and_grads(params, x, y, truncate=None, loss_at="last", h0=None, c0=None,
                        cotangent=None):
    """LSTM (PyTorch gate order i, f, g, o) in float64, per-loss backprop as for the RNN.

    Returns a dict: loss, grads, dx, dh0, dc0, delta_norms, cell_norms, weight_grad_norms,
    y_hat and the states hs, cs (T+1, B, H).
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x = np.asarray(x, np.float64)
    T, B, _ = x.shape
    H = p["W_hh"].shape[0]
    hs = [np.zeros((B, H)) if h0 is None else np.asarray(h0, np.float64)]
    cs = [np.zeros((B, H)) if c0 is None else np.asarray(c0, np.float64)]
    gates = []
    for t in range(T):
        a = x[t] @ p["W_ih"] + hs[-1] @ p["W_hh"] + p["b"]
        i, f = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H])
        gg, o = np.tanh(a[:, 2 * H:3 * H]), _sigmoid(a[:, 3 * H:])
        gates.append((i, f, gg, o))
        cs.append(f * cs[-1] + i * gg)
        hs.append(o * np.tanh(cs[-1]))
    read = list(range(1, T + 1)) if loss_at == "every" else [T]
    y_hat = np.stack([hs[s] @ p["W_hy"] + p["b_y"] for s in read])
    if loss_at == "last":
        y_hat = y_hat[0]
    loss, dy = _recurrent_losses(y_hat, y, cotangent, B)
    dy = dy.reshape(len(read), B, -1)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dx = np.zeros_like(x)
    dh0 = np.zeros((B, H))
    dc0 = np.zeros((B, H))
    dh_total = np.zeros((T, B, H))
    dc_total = np.zeros((T, B, H))
    for n, s in enumerate(read):
        g["W_hy"] += hs[s].T @ dy[n]
        g["b_y"] += dy[n].sum(0)
        dh = dy[n] @ p["W_hy"].T
        dc = np.zeros((B, H))
        steps, reaches_h0 = _steps_reached(s, truncate)
        for t in steps:
            i, f, gg, o = gates[t - 1]
            tc = np.tanh(cs[t])
            dc = dc + dh * o * (1 - tc ** 2)
            dh_total[t - 1] += dh
            dc_total[t - 1] += dc
            da = np.concatenate([dc * gg * i * (1 - i), dc * cs[t - 1] * f * (1 - f),
                                 dc * i * (1 - gg ** 2), dh * tc * o * (1 - o)], axis=1)
            g["W_ih"] += x[t - 1].T @ da
            g["W_hh"] += hs[t - 1].T @ da
            g["b"] += da.sum(0)
            dx[t - 1] += da @ p["W_ih"].T
            dh = da @ p["W_hh"].T
            dc = dc * f
        if reaches_h0:
            dh0 += dh
            dc0 += dc
    return {"loss": loss, "grads": g, "dx": dx, "dh0": dh0, "dc0": dc0,
            "delta_norms": np.linalg.norm(dh_total.reshape(T, -1), axis=1),
            "cell_norms": np.linalg.norm(dc_total.reshape(T, -1), axis=1),
            "weight_grad_norms": np.array([np.linalg.norm(g["W_ih"]),
                                           np.linalg.norm(g["W_hh"])]),
            "y_hat": y_hat, "hs": np.stack(hs), "cs": np.stack(cs)}


def leaky_rnn_loss_and_grads(params, x, y, activation, leak=1.0, skip=0, truncate=None,
                             loss_at="last", h0=None, cotangent=None):
    """Leaky RNN with a skip through time, in float64, each loss backpropagated apart.

    u_t = f(x_t W_xh + h_{t-1} W_hh + h_{t-k} W_skip + b_h) (skip term when skip = k > 0,
    h_j = h_0 for j <= 0), h_t = (1 - a) h_{t-1} + a u_t.  With ``truncate = k`` the loss
    at step s reaches states h_j with j >= s-k+1 only (h_0 when s < k).  Returns the keys
    of ``rnn_loss_and_grads``.
    """
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x = np.asarray(x, np.float64)
    T, B, _ = x.shape
    H = p["W_hh"].shape[0]
    hs = [np.zeros((B, H)) if h0 is None else np.asarray(h0, np.float64)]
    zs = []
    for t in range(1, T + 1):
        z = x[t - 1] @ p["W_xh"] + hs[t - 1] @ p["W_hh"] + p["b_h"]
        if skip:
            z = z + hs[max(t - skip, 0)] @ p["W_skip"]
        zs.append(z)
        hs.append((1 - leak) * hs[t - 1] + leak * act(activation, z))
    read = list(range(1, T + 1)) if loss_at == "every" else [T]
    y_hat = np.stack([hs[s] @ p["W_hy"] + p["b_y"] for s in read])
    if loss_at == "last":
        y_hat = y_hat[0]
    loss, dy = _recurrent_losses(y_hat, y, cotangent, B)
    dy = dy.reshape(len(read), B, -1)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dx = np.zeros_like(x)
    dh0 = np.zeros((B, H))
    dh_total = np.zeros((T, B, H))
    for n, s in enumerate(read):
        g["W_hy"] += hs[s].T @ dy[n]
        g["b_y"] += dy[n].sum(0)
        oldest = 0 if truncate is None else s - truncate + 1  # oldest state reached
        pending = {s: dy[n] @ p["W_hy"].T}

        def send(j, v, oldest=oldest, pending=pending):
            if j >= oldest:
                pending[j] = pending.get(j, 0.0) + v

        for t in range(s, max(oldest, 1) - 1, -1):
            dh = pending.pop(t, np.zeros((B, H)))  # every later step has sent its share
            dh_total[t - 1] += dh
            dz = leak * dh * act_grad(activation, zs[t - 1])
            g["W_xh"] += x[t - 1].T @ dz
            g["W_hh"] += hs[t - 1].T @ dz
            g["b_h"] += dz.sum(0)
            dx[t - 1] += dz @ p["W_xh"].T
            send(t - 1, (1 - leak) * dh + dz @ p["W_hh"].T)
            if skip:
                g["W_skip"] += hs[max(t - skip, 0)].T @ dz
                send(max(t - skip, 0), dz @ p["W_skip"].T)
        dh0 += pending.get(0, 0.0)
    return {"loss": loss, "grads": g, "dx": dx, "dh0": dh0,
            "delta_norms": np.linalg.norm(dh_total.reshape(T, -1), axis=1),
            "weight_grad_norms": np.array([np.linalg.norm(g["W_xh"]),
                                           np.linalg.norm(g["W_hh"])]),
            "y_hat": y_hat, "hs": np.stack(hs)}
