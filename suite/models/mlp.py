"""``MLP``: a deep fully connected network over the kernels of ``vgbench.kernels.mlp``."""

import numpy as np

from vgbench import backends
from vgbench.backends import cpu
from vgbench.backends.calls import MLPCall
from vgbench.kernels.activations import activation_code, derivative_array
from vgbench.models.footprint import check_fits, mlp_bytes
from vgbench.models.init import check_init, init_bias, init_weight
from vgbench.models.params import GradResult, LiveParams
from vgbench.models.validate import check_array, check_dtype, check_positive_int, check_real


class MLP:
    """Deep fully connected network ``x -> [f(h W_l + b_l)] x depth -> h W_L + b_L``.

    Parameters
    ----------
    in_dim, width, depth, out_dim : sizes I, W, L (hidden layers), O; all >= 1.
    activation : name from ``vgbench.kernels.activations.ACTIVATIONS``.
    init : name from ``vgbench.models.init.INITS``, applied to every weight matrix.
    residual : hidden layers l >= 1 compute h_{l+1} = h_l + f(a_l).
    batchnorm : training-mode batch norm on a_l before f, learnable gamma/beta.
    dtype : "float32" or "float64".
    seed : seed of the numpy Generator that draws the initial weights.
    sigma_w, sigma_b, gain : init scales (``normal`` uses sigma_w, sigma_b; xavier, he,
        orthogonal and identity use gain).

    ``params`` holds the live trainable arrays ``W0, b0, ..., W{depth}, b{depth}`` (plus
    ``bn_gamma{l}``, ``bn_beta{l}`` with batch norm); W_l is (fan_in, fan_out).  They are
    views of the packed arrays the kernels take (``packed()``).  ``workspaces`` holds the
    buffers the backends keep between calls (``release_workspaces()`` drops them).
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
        self.act_code = activation_code(activation)
        self.init = check_init(init)
        self.residual = bool(residual)
        self.batchnorm = bool(batchnorm)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        rng = np.random.default_rng(seed)
        I, W, L, O = self.in_dim, self.width, self.depth, self.out_dim
        # Initialising holds every matrix twice (drawn, then packed): refuse before drawing.
        check_fits(f"MLP(in_dim={I}, width={W}, depth={L}, out_dim={O}, {self.dtype.name}) "
                   "while initialising",
                   2 * mlp_bytes(I, W, L, O, 1, self.dtype, batchnorm=self.batchnorm)["params"])
        scales = {"sigma_w": check_real("sigma_w", sigma_w, 0), "gain": check_real("gain", gain, 0)}
        sigma_b = check_real("sigma_b", sigma_b, 0)
        dims = [I] + [W] * L + [O]
        weights = [init_weight(init, dims[l], dims[l + 1], rng, self.dtype, **scales)
                   for l in range(L + 1)]
        biases = [init_bias(init, dims[l + 1], rng, self.dtype, sigma_b=sigma_b)
                  for l in range(L + 1)]
        W_hid = np.empty((L - 1, W, W), self.dtype)
        for l in range(1, L):
            W_hid[l - 1] = weights[l]
        b_hid = np.ascontiguousarray(biases[:L], dtype=self.dtype).reshape(L, W)
        n_bn = L if self.batchnorm else 0
        self._packed = (weights[0], W_hid, weights[L], b_hid, biases[L],
                        np.ones((n_bn, W), self.dtype), np.zeros((n_bn, W), self.dtype))
        self.params = LiveParams(self.name_params(self._packed))
        self.workspaces = {}

    def packed(self) -> tuple:
        """The live parameters packed by role, as the kernels take them: ``W_in (I, W)``,
        ``W_hid (L-1, W, W)``, ``W_out (W, O)``, ``b_hid (L, W)``, ``b_out (O,)``,
        ``bn_gamma``, ``bn_beta (L, W)`` (``(0, W)`` without batch norm)."""
        return self._packed

    def name_params(self, packed: tuple) -> dict:
        """Name the views of arrays packed like ``packed()``: W0, b0, ..., W{L}, b{L},
        bn_gamma{l}, bn_beta{l}."""
        W_in, W_hid, W_out, b_hid, b_out, bn_gamma, bn_beta = packed
        L = self.depth
        named = {}
        for l in range(L + 1):
            named[f"W{l}"] = W_in if l == 0 else (W_out if l == L else W_hid[l - 1])
            named[f"b{l}"] = b_out if l == L else b_hid[l]
        for l in range(bn_gamma.shape[0]):
            named[f"bn_gamma{l}"] = bn_gamma[l]
            named[f"bn_beta{l}"] = bn_beta[l]
        return named

    def release_workspaces(self) -> None:
        """Drop every cached workspace (its memory is freed once nothing else holds it)."""
        self.workspaces.clear()

    def check_x(self, x) -> np.ndarray:
        """Validate an input batch x (B, in_dim); return it C-contiguous."""
        return check_array("x", x, self.dtype, (None, self.in_dim))

    def prepare(self, x, y, *, cotangent=None, count_subnormal: bool = False) -> MLPCall:
        """Validate x (B, I) and y (B, O) (or the cotangent) into a backend call."""
        x = self.check_x(x)
        B = x.shape[0]
        if cotangent is not None:
            cotangent = check_array("cotangent", cotangent, self.dtype, (B, self.out_dim))
        elif y is None:
            raise ValueError("y is required unless a cotangent is given")
        else:
            y = check_array("y", y, self.dtype, (B, self.out_dim))
        return MLPCall(self.act_code, self.residual, self.batchnorm, self._packed, x, y,
                       cotangent, count_subnormal=count_subnormal)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Readout y_hat (B, O) for input x (B, I) (CPU kernels)."""
        return self._forward(x)[0]

    def activations(self, x: np.ndarray) -> np.ndarray:
        """f(z_l) of every hidden layer l = 0..L-1, (L, B, W), for input x (B, I).

        A copy of the forward cache without the skip path of residual layers: what
        dead-unit counts (f' = 0 on the whole batch) and overflow reports look at.
        """
        _, ws = self._forward(x)
        acts = ws["Y"].copy()
        acts[0] = ws["H"][0]
        return acts

    def dead_fraction(self, x: np.ndarray) -> np.ndarray:
        """(L,) per hidden layer, the fraction of units with f'(z) = 0 on every row of x
        (dead ReLUs; a saturated sigmoid or tanh unit has f' > 0 and is not counted)."""
        acts = self.activations(x)
        d = np.empty_like(acts)
        derivative_array(self.act_code, acts, d)
        return (d == 0).all(axis=1).mean(axis=1)

    def _forward(self, x) -> tuple:
        call = MLPCall(self.act_code, self.residual, self.batchnorm, self._packed,
                       self.check_x(x), None, None)
        return cpu.mlp_forward_only(call, self.workspaces)

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray | None, backend: str = "cpu", *,
                       cotangent: np.ndarray | None = None,
                       count_subnormal: bool = False) -> GradResult:
        """Forward and backward pass on a batch.

        x : (B, in_dim); y : (B, out_dim) targets of L = 0.5 / B * sum((y_hat - y)^2).
        backend : "cpu", "cuda" or "auto" (``vgbench.backends``).
        cotangent : optional (B, out_dim) dL/dy_hat injected instead of the MSE gradient
            (an independent random cotangent for theory comparisons); L is then
            <cotangent, y_hat> and y may be None.
        count_subnormal : also count subnormal and zero entries of each dL/dh_l
            (``GradResult.subnormal_counts``; CPU backend).
        """
        run = backends.get(backend).run
        call = self.prepare(x, y, cotangent=cotangent, count_subnormal=count_subnormal)
        g = run(call, self.workspaces)
        return GradResult(loss=g.loss, grads=self.name_params(g.grads), grad_input=g.dx,
                          delta_norms=g.delta_norms, weight_grad_norms=g.weight_grad_norms,
                          output=g.y_hat, subnormal_counts=g.counts)

    def __repr__(self) -> str:
        return (f"MLP(in_dim={self.in_dim}, width={self.width}, depth={self.depth}, "
                f"out_dim={self.out_dim}, activation={self.activation!r}, "
                f"init={self.init!r}, residual={self.residual}, "
                f"batchnorm={self.batchnorm}, dtype={self.dtype.name!r}, seed={self.seed})")
