"""Models: parameters, workspaces and the public ``loss_and_grads`` API over the kernels.

``MLP(in_dim, width, depth, out_dim, ...)`` is defined here; the recurrent models
``RNN`` and ``LSTM`` live in ``suite.recurrent`` and are re-exported.
"""

import numpy as np

from kernels.activations import activation_code
from kernels.loss import mse_forward_backward
from kernels.mlp import mlp_backward, mlp_forward
from suite.backends import use_cuda
from suite.init import check_init, init_bias, init_weight
from suite.params import GradResult, LiveParams
from suite.validate import check_array, check_dtype, check_positive_int


class MLP:
    """Deep fully connected network ``x -> [f(h W_l + b_l)] x depth -> h W_L + b_L``.

    Parameters
    ----------
    in_dim, width, depth, out_dim : sizes I, W, L (hidden layers), O; all >= 1.
    activation : name from ``kernels.activations.ACTIVATIONS``.
    init : name from ``suite.init.INITS``, applied to every weight matrix.
    residual : hidden layers l >= 1 compute h_{l+1} = h_l + f(a_l).
    batchnorm : training-mode batch norm on a_l before f, learnable gamma/beta.
    dtype : "float32" or "float64".
    seed : seed of the numpy Generator that draws the initial weights.
    sigma_w, sigma_b, gain : init scales (``normal`` uses sigma_w, sigma_b; xavier, he,
        orthogonal and identity use gain).

    ``params`` holds the live trainable arrays ``W0, b0, ..., W{depth}, b{depth}`` (plus
    ``bn_gamma{l}``, ``bn_beta{l}`` with batch norm); W_l is (fan_in, fan_out).
    """

    def __init__(self, in_dim: int, width: int, depth: int, out_dim: int,
                 activation: str = "tanh", init: str = "xavier", residual: bool = False,
                 batchnorm: bool = False, dtype: str = "float64", seed: int = 0, *,
                 sigma_w: float = 1.0, sigma_b: float = 0.0, gain: float = 1.0):
        self.in_dim = check_positive_int("in_dim", in_dim)
        self.width = check_positive_int("width", width)
        self.depth = check_positive_int("depth", depth)
        self.out_dim = check_positive_int("out_dim", out_dim)
        self.activation = activation
        self._act = activation_code(activation)
        self.init = check_init(init)
        self.residual = bool(residual)
        self.batchnorm = bool(batchnorm)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        rng = np.random.default_rng(seed)
        I, W, L, O = self.in_dim, self.width, self.depth, self.out_dim
        scales = {"sigma_w": sigma_w, "gain": gain}
        dims = [I] + [W] * L + [O]
        weights = [init_weight(init, dims[l], dims[l + 1], rng, self.dtype, **scales)
                   for l in range(L + 1)]
        biases = [init_bias(init, dims[l + 1], rng, self.dtype, sigma_b=sigma_b)
                  for l in range(L + 1)]
        self._W_in = weights[0]
        self._W_hid = np.empty((L - 1, W, W), self.dtype)
        for l in range(1, L):
            self._W_hid[l - 1] = weights[l]
        self._W_out = weights[L]
        self._b_hid = np.ascontiguousarray(biases[:L], dtype=self.dtype).reshape(L, W)
        self._b_out = biases[L]
        n_bn = L if self.batchnorm else 0
        self._bn_gamma = np.ones((n_bn, W), self.dtype)
        self._bn_beta = np.zeros((n_bn, W), self.dtype)
        self.params = LiveParams(self._named(self._W_in, self._W_hid, self._W_out,
                                             self._b_hid, self._b_out, self._bn_gamma,
                                             self._bn_beta))
        self._workspaces = {}

    def _named(self, W_in, W_hid, W_out, b_hid, b_out, bn_gamma, bn_beta) -> dict:
        """Name the views of packed arrays: W0, b0, ..., W{L}, b{L}, bn_gamma{l}, ..."""
        L = self.depth
        named = {}
        for l in range(L + 1):
            named[f"W{l}"] = W_in if l == 0 else (W_out if l == L else W_hid[l - 1])
            named[f"b{l}"] = b_out if l == L else b_hid[l]
        for l in range(bn_gamma.shape[0]):
            named[f"bn_gamma{l}"] = bn_gamma[l]
            named[f"bn_beta{l}"] = bn_beta[l]
        return named

    def _workspace(self, batch: int) -> tuple:
        """Caches (H, Y, XHAT, INV_STD, work) for batch size ``batch``, reused across calls."""
        ws = self._workspaces.get(batch)
        if ws is None:
            L, W, dt = self.depth, self.width, self.dtype
            H = np.empty((L, batch, W), dt)
            Y = np.empty((L, batch, W), dt) if self.residual else H
            n_bn = L if self.batchnorm else 0
            XHAT = np.empty((n_bn, batch, W), dt)
            INV_STD = np.empty((n_bn, W), dt)
            work = np.empty((2, batch, W), dt)
            ws = self._workspaces[batch] = (H, Y, XHAT, INV_STD, work)
        return ws

    def check_inputs(self, x, y, cotangent=None) -> tuple:
        """Validate x (B, I) and y (B, O) (or the cotangent); return contiguous arrays."""
        x = check_array("x", x, self.dtype, (None, self.in_dim))
        B = x.shape[0]
        if cotangent is not None:
            return x, None, check_array("cotangent", cotangent, self.dtype, (B, self.out_dim))
        if y is None:
            raise ValueError("y is required unless a cotangent is given")
        return x, check_array("y", y, self.dtype, (B, self.out_dim)), None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Readout y_hat (B, O) for input x (B, I)."""
        x, _, _ = self.check_inputs(x, None, np.zeros((len(x), self.out_dim), self.dtype))
        return self._forward(x)[0]

    def activations(self, x: np.ndarray) -> np.ndarray:
        """f(z_l) of every hidden layer l = 0..L-1, (L, B, W), for input x (B, I).

        A copy of the forward cache without the skip path of residual layers: what
        dead-unit counts (f' = 0 on the whole batch) and overflow reports look at.
        """
        x, _, _ = self.check_inputs(x, None, np.zeros((len(x), self.out_dim), self.dtype))
        _, (H, Y, _, _, _) = self._forward(x)
        acts = Y.copy()
        acts[0] = H[0]
        return acts

    def _forward(self, x: np.ndarray) -> tuple:
        H, Y, XHAT, INV_STD, _ = ws = self._workspace(x.shape[0])
        y_hat = np.empty((x.shape[0], self.out_dim), self.dtype)
        mlp_forward(x, self._W_in, self._W_hid, self._W_out, self._b_hid, self._b_out,
                    self._bn_gamma, self._bn_beta, self._act, self.residual, self.batchnorm,
                    H, Y, XHAT, INV_STD, y_hat)
        return y_hat, ws

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray | None, backend: str = "cpu", *,
                       cotangent: np.ndarray | None = None) -> GradResult:
        """Forward and backward pass on a batch.

        x : (B, in_dim); y : (B, out_dim) targets of L = 0.5 / B * sum((y_hat - y)^2).
        cotangent : optional (B, out_dim) dL/dy_hat injected instead of the MSE gradient
            (an independent random cotangent for theory comparisons); L is then
            <cotangent, y_hat> and y may be None.
        """
        cuda = use_cuda(backend)
        x, y, cotangent = self.check_inputs(x, y, cotangent)
        if cuda:
            from suite.cuda_backend import mlp_loss_and_grads
            return mlp_loss_and_grads(self, x, y, cotangent)
        y_hat, (H, Y, XHAT, INV_STD, work) = self._forward(x)
        if cotangent is None:
            dy_hat = np.empty_like(y_hat)
            loss = mse_forward_backward(y_hat, y, x.shape[0], dy_hat)
        else:
            dy_hat = cotangent
            loss = float(np.vdot(cotangent, y_hat))
        g = self._grad_buffers()
        dx = np.empty_like(x)
        delta_norms = np.empty(self.depth)
        weight_grad_norms = np.empty(self.depth)
        mlp_backward(x, self._W_in, self._W_hid, self._W_out, self._bn_gamma, self._act,
                     self.residual, self.batchnorm, H, Y, XHAT, INV_STD, dy_hat, *g, dx,
                     delta_norms, weight_grad_norms, work)
        return GradResult(loss=float(loss), grads=self._named(*g), grad_input=dx,
                          delta_norms=delta_norms, weight_grad_norms=weight_grad_norms,
                          output=y_hat)

    def _grad_buffers(self) -> tuple:
        """Fresh (dW_in, dW_hid, dW_out, db_hid, db_out, dbn_gamma, dbn_beta)."""
        return tuple(np.empty_like(a) for a in (self._W_in, self._W_hid, self._W_out,
                                                self._b_hid, self._b_out, self._bn_gamma,
                                                self._bn_beta))

    def __repr__(self) -> str:
        return (f"MLP(in_dim={self.in_dim}, width={self.width}, depth={self.depth}, "
                f"out_dim={self.out_dim}, activation={self.activation!r}, "
                f"init={self.init!r}, residual={self.residual}, "
                f"batchnorm={self.batchnorm}, dtype={self.dtype.name!r}, seed={self.seed})")


from suite.recurrent import LSTM, RNN  # noqa: E402,F401
