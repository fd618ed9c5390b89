"""Recurrent models: Elman ``RNN`` and ``LSTM`` over the BPTT kernels.

Both take sequence-major input x (T, B, in_dim), read out linearly from the last state
(``loss_at="last"``, targets (B, out_dim)) or from every state (``loss_at="every"``,
targets (T, B, out_dim), per-step MSE losses summed), and support truncated BPTT
(``truncate=k``: the loss at step s reaches steps s-k+1..s only, as if h_{s-k} (and
c_{s-k}) were detached).  Re-exported by ``vgbench.models``.
"""

import numpy as np

from vgbench import backends
from vgbench.backends import cpu
from vgbench.backends.calls import RecurrentCall
from vgbench.kernels.activations import TANH, activation_code
from vgbench.models.footprint import check_fits, recurrent_bytes
from vgbench.models.init import check_init, init_bias, init_weight
from vgbench.models.params import GradResult, LiveParams
from vgbench.models.validate import (
    check_array,
    check_choice,
    check_dtype,
    check_leak,
    check_positive_int,
    check_real,
    check_skip,
)

LOSS_AT = ("last", "every")


class _Recurrent:
    """Input checks, backend calls and workspaces shared by RNN and LSTM."""

    cell: str  # "rnn" or "lstm"
    in_dim: int
    hidden: int
    out_dim: int
    dtype: np.dtype
    act_code: int
    params: LiveParams
    leak: float = 1.0  # RNN only (LSTM keeps the defaults)
    skip: int = 0

    @property
    def kind(self) -> str:
        """Workspace kind: "leaky_rnn" for an RNN with a leak below 1 or a skip, else cell."""
        return "leaky_rnn" if self.cell == "rnn" and (self.leak != 1.0 or self.skip) \
            else self.cell

    def _check_fits(self) -> None:
        """Refuse, before drawing them, parameters that cannot fit in memory."""
        check_fits(f"{type(self).__name__}(in_dim={self.in_dim}, hidden={self.hidden}, "
                   f"out_dim={self.out_dim}, {self.dtype.name}) while initialising",
                   2 * recurrent_bytes(self.cell, self.in_dim, self.hidden, self.out_dim, 1, 1,
                                       self.dtype)["params"])

    def check_x(self, x) -> np.ndarray:
        """Validate x (T, B, in_dim) with T >= 1; return it C-contiguous."""
        if isinstance(x, np.ndarray) and x.ndim == 3 and x.shape[0] == 0:
            raise ValueError("x has T = 0 time steps; a sequence needs T >= 1")
        return check_array("x", x, self.dtype, (None, None, self.in_dim))

    def check_state(self, name: str, state, batch: int) -> np.ndarray:
        """Initial state (B, H): zeros when None, else checked (``check_array``)."""
        if state is None:
            return np.zeros((batch, self.hidden), self.dtype)
        return check_array(name, state, self.dtype, (batch, self.hidden))

    def prepare(self, x, y, truncate: int | None = None, loss_at: str = "last", *,
                h0=None, c0=None, cotangent=None,
                count_subnormal: bool = False) -> RecurrentCall:
        """Validate x (T, B, I), the targets or cotangent, truncate, loss_at and the
        initial states into a backend call (targets reshaped to (S, B, O))."""
        check_choice("loss_at", loss_at, LOSS_AT)
        if truncate is not None:
            check_positive_int("truncate", truncate)
        if c0 is not None and self.cell != "lstm":
            raise TypeError("c0 is an LSTM state; the RNN has only h0")
        x = self.check_x(x)
        T, B = x.shape[:2]
        every = loss_at == "every"
        shape = (T, B, self.out_dim) if every else (B, self.out_dim)
        if cotangent is not None:
            cotangent = check_array("cotangent", cotangent, self.dtype, shape)
            cotangent = cotangent.reshape(T if every else 1, B, self.out_dim)
        elif y is None:
            raise ValueError("y is required unless a cotangent is given")
        else:
            y = check_array("y", y, self.dtype, shape).reshape(T if every else 1, B,
                                                               self.out_dim)
        h0 = self.check_state("h0", h0, B)
        c0 = self.check_state("c0", c0, B) if self.cell == "lstm" else None
        return RecurrentCall(self.cell, self.act_code, self.params, x, y, cotangent,
                             truncate or 0, h0, c0, self.out_dim, every, leak=self.leak,
                             skip=self.skip, count_subnormal=count_subnormal)

    @property
    def caches(self) -> tuple:
        """The workspace entries the CPU forward stores for the backward."""
        return cpu.CACHES[self.kind]

    def workspace(self, T: int, B: int, truncate: int | None = None,
                  loss_at: str = "last") -> dict:
        """The CPU caches and scratch (name -> array) of a call on (T, B) with these
        options: allocated on first use, then reused by every such call.  The names in
        ``caches`` are what the forward stores for the backward; the rest is scratch."""
        slots = min(truncate, T) if truncate is not None and loss_at == "every" else 1
        return cpu.recurrent_workspace(self.kind, self.hidden, self.dtype, T, B, slots,
                                       self.workspaces)

    def release_workspaces(self) -> None:
        """Drop every cached workspace (its memory is freed once nothing else holds it)."""
        self.workspaces.clear()

    def _forward(self, x, h0, c0) -> np.ndarray:
        x = self.check_x(x)
        B = x.shape[1]
        call = RecurrentCall(self.cell, self.act_code, self.params, x, None, None, 0,
                             self.check_state("h0", h0, B),
                             self.check_state("c0", c0, B) if self.cell == "lstm" else None,
                             self.out_dim, False, leak=self.leak, skip=self.skip)
        return cpu.recurrent_forward_only(call, self.workspaces)[0][0]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray | None, truncate: int | None = None,
                       loss_at: str = "last", backend: str = "cpu", *,
                       h0: np.ndarray | None = None, c0: np.ndarray | None = None,
                       cotangent: np.ndarray | None = None,
                       count_subnormal: bool = False) -> GradResult:
        """Forward pass and (truncated) BPTT on a batch of sequences.

        x : (T, B, in_dim); y : (B, out_dim) for ``loss_at="last"`` or (T, B, out_dim) for
        ``"every"``, targets of L = 0.5 / B * sum((y_hat - y)^2) (summed over steps).
        truncate : None (full BPTT) or k >= 1 (module docstring).
        backend : "cpu", "cuda" or "auto" (``vgbench.backends``).
        h0 : (B, hidden) initial state, zeros by default; c0 likewise (LSTM only).
        cotangent : dL/dy_hat shaped like y, injected instead of the MSE gradient (L is
            then <cotangent, y_hat> and y may be None).
        count_subnormal : also count subnormal and zero entries of each dL/dh_t (and
            dL/dc_t) (``GradResult.subnormal_counts``; CPU backend).
        """
        run = backends.get(backend).run
        call = self.prepare(x, y, truncate, loss_at, h0=h0, c0=c0, cotangent=cotangent,
                            count_subnormal=count_subnormal)
        g = run(call, self.workspaces)
        return GradResult(loss=g.loss, grads=g.grads, grad_input=g.dx,
                          delta_norms=g.delta_norms, weight_grad_norms=g.weight_grad_norms,
                          output=g.y_hat if call.every else g.y_hat[0],
                          cell_norms=g.cell_norms, grad_h0=g.dh0, grad_c0=g.dc0,
                          subnormal_counts=g.counts)


class RNN(_Recurrent):
    """Elman RNN ``h_t = f(x_t W_xh + h_{t-1} W_hh + b_h)``, readout ``h W_hy + b_y``;
    optionally leaky and with a skip connection through time:
    ``h_t = (1 - a) h_{t-1} + a f(x_t W_xh + h_{t-1} W_hh + h_{t-k} W_skip + b_h)``
    (h_j = h_0 for j <= 0; ``vgbench.kernels.leaky_rnn``).

    Parameters
    ----------
    in_dim, hidden, out_dim : sizes I, H, O; all >= 1.
    activation : name from ``vgbench.kernels.activations.ACTIVATIONS``.
    init : name from ``vgbench.models.init.INITS`` for W_xh, W_hy (unit scale) and the biases.
    dtype : "float32" or "float64".
    seed : seed of the numpy Generator that draws the initial weights.
    recurrent_init : scheme of W_hh (default: ``init``), e.g. "orthogonal" or "identity".
    sigma_w, gain : scales of W_hh only (``normal`` uses sigma_w, the others gain): the
        knob of vanishing (< 1) and exploding (> 1) gradients.
    sigma_b : std of b_h and b_y under ``init="normal"``.
    leak : a in (0, 1]; 1 (default) is the Elman RNN, computed by its own kernels.
    skip : k = 0 (default, none) or k >= 2: adds ``W_skip (H, H)``, drawn like W_hh (same
        scheme and scale) after the other parameters, so a seed gives the same W_xh, W_hh,
        b_h, W_hy, b_y with or without it.

    ``params`` holds the live arrays ``W_xh (I, H), W_hh (H, H), b_h (H,), W_hy (H, O),
    b_y (O,)`` and, with a skip, ``W_skip (H, H)``.
    """

    cell = "rnn"

    def __init__(self, in_dim: int, hidden: int, out_dim: int, activation: str = "tanh",
                 init: str = "xavier", dtype: str = "float64", seed: int = 0, *,
                 recurrent_init: str | None = None, sigma_w: float = 1.0,
                 sigma_b: float = 0.0, gain: float = 1.0, leak: float = 1.0, skip: int = 0):
        self.in_dim = check_positive_int("in_dim", in_dim)
        self.hidden = check_positive_int("hidden", hidden)
        self.out_dim = check_positive_int("out_dim", out_dim)
        self.leak = check_leak(leak)
        self.skip = check_skip(skip)
        self.activation = activation
        self.act_code = activation_code(activation)
        self.init = check_init(init)
        self.recurrent_init = check_init(init if recurrent_init is None else recurrent_init)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        sigma_w, sigma_b = check_real("sigma_w", sigma_w, 0), check_real("sigma_b", sigma_b, 0)
        gain = check_real("gain", gain, 0)
        self._check_fits()
        rng = np.random.default_rng(seed)
        I, H, O, dt = self.in_dim, self.hidden, self.out_dim, self.dtype
        self.params = LiveParams({
            "W_xh": init_weight(init, I, H, rng, dt),
            "W_hh": init_weight(self.recurrent_init, H, H, rng, dt, sigma_w=sigma_w, gain=gain),
            "b_h": init_bias(init, H, rng, dt, sigma_b=sigma_b),
            "W_hy": init_weight(init, H, O, rng, dt),
            "b_y": init_bias(init, O, rng, dt, sigma_b=sigma_b),
            **({"W_skip": init_weight(self.recurrent_init, H, H, rng, dt, sigma_w=sigma_w,
                                      gain=gain)} if self.skip else {}),
        })
        self.workspaces = {}

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
        """Readout y_hat (B, O) of the last state for input x (T, B, I) (CPU kernels)."""
        return self._forward(x, h0, None)

    def __repr__(self) -> str:
        return (f"RNN(in_dim={self.in_dim}, hidden={self.hidden}, out_dim={self.out_dim}, "
                f"activation={self.activation!r}, init={self.init!r}, "
                f"recurrent_init={self.recurrent_init!r}, dtype={self.dtype.name!r}, "
                f"seed={self.seed}" + (f", leak={self.leak}" if self.leak != 1.0 else "")
                + (f", skip={self.skip}" if self.skip else "") + ")")


class LSTM(_Recurrent):
    """LSTM with PyTorch's equations and gate order i, f, g, o (``vgbench.kernels.lstm``).

    Parameters
    ----------
    in_dim, hidden, out_dim : sizes I, H, O; all >= 1.
    init : name from ``vgbench.models.init.INITS``; each gate's (I, H) block of W_ih, and W_hy,
        drawn separately with unit scale.
    forget_bias : initial value of the f slice b[H:2H] (the rest of b is 0).
    dtype, seed : as for ``RNN``.
    recurrent_init : scheme of each gate's (H, H) block of W_hh (default: ``init``).
    gain : scale of W_hh only.

    ``params`` holds the live arrays ``W_ih (I, 4H), W_hh (H, 4H), b (4H,), W_hy (H, O),
    b_y (O,)``: PyTorch's ``weight_ih_l0.T``, ``weight_hh_l0.T``, ``bias_ih_l0 +
    bias_hh_l0``.
    """

    cell = "lstm"
    activation = "tanh"  # of the cell and candidate; the gates are sigmoids
    act_code = TANH

    def __init__(self, in_dim: int, hidden: int, out_dim: int, init: str = "xavier",
                 forget_bias: float = 1.0, dtype: str = "float64", seed: int = 0, *,
                 recurrent_init: str | None = None, gain: float = 1.0):
        self.in_dim = check_positive_int("in_dim", in_dim)
        self.hidden = check_positive_int("hidden", hidden)
        self.out_dim = check_positive_int("out_dim", out_dim)
        self.init = check_init(init)
        self.recurrent_init = check_init(init if recurrent_init is None else recurrent_init)
        self.forget_bias = check_real("forget_bias", forget_bias)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        gain = check_real("gain", gain, 0)
        self._check_fits()
        rng = np.random.default_rng(seed)
        I, H, O, dt = self.in_dim, self.hidden, self.out_dim, self.dtype
        b = np.zeros(4 * H, dt)
        b[H:2 * H] = self.forget_bias
        self.params = LiveParams({
            "W_ih": np.concatenate([init_weight(init, I, H, rng, dt) for _ in range(4)], 1),
            "W_hh": np.concatenate([init_weight(self.recurrent_init, H, H, rng, dt, gain=gain)
                                    for _ in range(4)], 1),
            "b": b,
            "W_hy": init_weight(init, H, O, rng, dt),
            "b_y": np.zeros(O, dt),
        })
        self.workspaces = {}

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None,
                c0: np.ndarray | None = None) -> np.ndarray:
        """Readout y_hat (B, O) of the last state for input x (T, B, I) (CPU kernels)."""
        return self._forward(x, h0, c0)

    def __repr__(self) -> str:
        return (f"LSTM(in_dim={self.in_dim}, hidden={self.hidden}, out_dim={self.out_dim}, "
                f"init={self.init!r}, forget_bias={self.forget_bias}, "
                f"recurrent_init={self.recurrent_init!r}, dtype={self.dtype.name!r}, "
                f"seed={self.seed})")
