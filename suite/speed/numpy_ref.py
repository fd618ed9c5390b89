"""Plain NumPy forward and backward passes: the speed baseline every run measures.

Written the way a careful NumPy user would (whole-sequence GEMMs where NumPy makes them
natural, no Numba), in the dtype of the inputs (float32 stays float32).  Parameters use
the models' names: MLP ``W0, b0, ..., W{L}, b{L}``; RNN ``W_xh (I, H), W_hh, b_h, W_hy,
b_y``; LSTM ``W_ih (I, 4H), W_hh (H, 4H), b (4H,), W_hy, b_y`` with gate order i, f, g, o.
The loss is the models' ``0.5 / B * sum((y_hat - y)^2)``; h_0 = c_0 = 0; recurrent
readouts use the last state.  Each ``*_loss_and_grads`` returns (loss, grads, dL/dx).
Work arrays are allocated ``*_like(x)`` so that an ndarray subclass passes through (the
flop-count test counts the matrix products with one).
"""

import numpy as np


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# name -> (f, f' written from the output y = f(z)); ReLU'(0) = 0.
ACTIVATIONS = {
    "identity": (lambda z: z, lambda y: np.ones_like(y)),
    "tanh": (np.tanh, lambda y: 1.0 - y * y),
    "sigmoid": (_sigmoid, lambda y: y * (1.0 - y)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda y: (y > 0).astype(y.dtype)),
}


def activation_pair(name: str) -> tuple:
    """(f, f' from the output) of ``name``; ValueError when the baseline lacks it."""
    if name not in ACTIVATIONS:
        raise ValueError(f"the NumPy baseline has no activation {name!r}; valid: "
                         f"{', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _mse(y_hat, y):
    diff = y_hat - y
    B = y.shape[0]
    return 0.5 / B * float(np.vdot(diff, diff)), diff / B


def mlp_forward(p: dict, x, activation: str, depth: int, hs: list | None = None):
    """Readout y_hat (B, O); appends every layer's input h_0..h_L to ``hs`` if given."""
    f, _ = activation_pair(activation)
    h = x
    for l in range(depth):
        if hs is not None:
            hs.append(h)
        h = f(h @ p[f"W{l}"] + p[f"b{l}"])
    if hs is not None:
        hs.append(h)
    return h @ p[f"W{depth}"] + p[f"b{depth}"]


def mlp_loss_and_grads(p: dict, x, y, activation: str, depth: int):
    _, df = activation_pair(activation)
    hs = []
    loss, dz = _mse(mlp_forward(p, x, activation, depth, hs), y)
    g = {}
    for l in range(depth, -1, -1):
        g[f"W{l}"] = hs[l].T @ dz
        g[f"b{l}"] = dz.sum(0)
        dh = dz @ p[f"W{l}"].T
        if l > 0:
            dz = dh * df(hs[l])
    return loss, g, dh


def rnn_forward(p: dict, x, activation: str, hs=None):
    """Readout on h_T; fills ``hs`` (T + 1, B, H) with h_0..h_T if given."""
    f, _ = activation_pair(activation)
    T, B, _ = x.shape
    H = p["W_hh"].shape[0]
    hs = np.zeros_like(x, shape=(T + 1, B, H)) if hs is None else hs
    xw = (x.reshape(T * B, -1) @ p["W_xh"]).reshape(T, B, H) + p["b_h"]
    for t in range(T):
        hs[t + 1] = f(xw[t] + hs[t] @ p["W_hh"])
    return hs[T] @ p["W_hy"] + p["b_y"]


def rnn_loss_and_grads(p: dict, x, y, activation: str):
    _, df = activation_pair(activation)
    T, B, I = x.shape
    H = p["W_hh"].shape[0]
    hs = np.zeros_like(x, shape=(T + 1, B, H))
    loss, dy = _mse(rnn_forward(p, x, activation, hs), y)
    g = {"W_hy": hs[T].T @ dy, "b_y": dy.sum(0)}
    dh = dy @ p["W_hy"].T
    dz = np.empty_like(x, shape=(T, B, H))
    for t in range(T - 1, -1, -1):
        dz[t] = dh * df(hs[t + 1])
        dh = dz[t] @ p["W_hh"].T
    dz2 = dz.reshape(T * B, H)
    g["W_hh"] = hs[:T].reshape(T * B, H).T @ dz2
    g["W_xh"] = x.reshape(T * B, I).T @ dz2
    g["b_h"] = dz2.sum(0)
    return loss, g, (dz2 @ p["W_xh"].T).reshape(T, B, I)


def lstm_forward(p: dict, x, cache: dict | None = None):
    """Readout on h_T; fills ``cache`` with hs, cs (T + 1, B, H) and gates (T, B, 4H)."""
    T, B, _ = x.shape
    H = p["W_hh"].shape[0]
    hs = np.zeros_like(x, shape=(T + 1, B, H))
    cs = np.zeros_like(x, shape=(T + 1, B, H))
    gates = (x.reshape(T * B, -1) @ p["W_ih"]).reshape(T, B, 4 * H) + p["b"]
    for t in range(T):
        a = gates[t]
        a += hs[t] @ p["W_hh"]
        a[:, :2 * H] = _sigmoid(a[:, :2 * H])
        a[:, 2 * H:3 * H] = np.tanh(a[:, 2 * H:3 * H])
        a[:, 3 * H:] = _sigmoid(a[:, 3 * H:])
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        cs[t + 1] = f * cs[t] + i * g
        hs[t + 1] = o * np.tanh(cs[t + 1])
    if cache is not None:
        cache.update(hs=hs, cs=cs, gates=gates)
    return hs[T] @ p["W_hy"] + p["b_y"]


def lstm_loss_and_grads(p: dict, x, y):
    T, B, I = x.shape
    H = p["W_hh"].shape[0]
    cache = {}
    loss, dy = _mse(lstm_forward(p, x, cache), y)
    hs, cs, gates = cache["hs"], cache["cs"], cache["gates"]
    g = {"W_hy": hs[T].T @ dy, "b_y": dy.sum(0)}
    dh = dy @ p["W_hy"].T
    dc = np.zeros_like(x, shape=(B, H))
    da = np.empty_like(x, shape=(T, B, 4 * H))
    for t in range(T - 1, -1, -1):
        a = gates[t]
        i, f, gg, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        tc = np.tanh(cs[t + 1])
        dc = dc + dh * o * (1.0 - tc * tc)
        da[t, :, :H] = dc * gg * i * (1.0 - i)
        da[t, :, H:2 * H] = dc * cs[t] * f * (1.0 - f)
        da[t, :, 2 * H:3 * H] = dc * i * (1.0 - gg * gg)
        da[t, :, 3 * H:] = dh * tc * o * (1.0 - o)
        dc = dc * f
        dh = da[t] @ p["W_hh"].T
    da2 = da.reshape(T * B, 4 * H)
    g["W_hh"] = hs[:T].reshape(T * B, H).T @ da2
    g["W_ih"] = x.reshape(T * B, I).T @ da2
    g["b"] = da2.sum(0)
    return loss, g, (da2 @ p["W_ih"].T).reshape(T, B, I)
