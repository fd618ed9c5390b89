"""Recurrent models: Elman ``RNN`` and ``LSTM`` over the BPTT kernels.

Both take sequence-major input x (T, B, in_dim), read out linearly from the last state
(``loss_at="last"``, targets (B, out_dim)) or from every state (``loss_at="every"``,
targets (T, B, out_dim), per-step MSE losses summed), and support truncated BPTT
(``truncate=k``: the loss at step s reaches steps s-k+1..s only, as if h_{s-k} (and
c_{s-k}) were detached).  Re-exported by ``suite.models``.
"""

import numpy as np

from kernels.activations import activation_code
from kernels.loss import mse_forward_backward
from kernels.lstm import lstm_backward, lstm_forward
from kernels.rnn import rnn_backward, rnn_forward
from suite.backends import use_cuda
from suite.init import check_init, init_bias, init_weight
from suite.params import GradResult, LiveParams
from suite.validate import check_array, check_choice, check_dtype, check_positive_int

LOSS_AT = ("last", "every")

# The RNN backward runs in chunks of about this many (step, batch) rows: its input-side
# GEMMs then have K >= this, and BPTT stores one chunk of dL/dz beside the T hidden
# states instead of T of them (kernels.rnn docstring).
BPTT_CHUNK_ROWS = 256


class _Recurrent:
    """Input checks, loss and workspaces shared by RNN and LSTM."""

    in_dim: int
    hidden: int
    out_dim: int
    dtype: np.dtype

    def _check_x(self, x) -> np.ndarray:
        """Validate x (T, B, I) with T >= 1."""
        if isinstance(x, np.ndarray) and x.ndim == 3 and x.shape[0] == 0:
            raise ValueError("x has T = 0 time steps; a sequence needs T >= 1")
        return check_array("x", x, self.dtype, (None, None, self.in_dim))

    def _check_sequence(self, x, y, cotangent, truncate, loss_at) -> tuple:
        """Validate x (T, B, I), targets or cotangent, truncate and loss_at."""
        check_choice("loss_at", loss_at, LOSS_AT)
        if truncate is not None:
            check_positive_int("truncate", truncate)
        x = self._check_x(x)
        T, B = x.shape[:2]
        shape = (B, self.out_dim) if loss_at == "last" else (T, B, self.out_dim)
        if cotangent is not None:
            return x, None, check_array("cotangent", cotangent, self.dtype, shape)
        if y is None:
            raise ValueError("y is required unless a cotangent is given")
        return x, check_array("y", y, self.dtype, shape), None

    def _check_state(self, name: str, state, batch: int) -> np.ndarray:
        """Initial state (B, H): zeros when None, else checked (``check_array``)."""
        if state is None:
            return np.zeros((batch, self.hidden), self.dtype)
        return check_array(name, state, self.dtype, (batch, self.hidden))

    @staticmethod
    def _loss(y_hat: np.ndarray, y, cotangent) -> tuple:
        """(loss, dy_hat) for y_hat (S, B, O): the MSE or the injected cotangent."""
        if cotangent is not None:
            return float(np.vdot(cotangent, y_hat)), cotangent.reshape(y_hat.shape)
        dy_hat = np.empty_like(y_hat)
        loss = mse_forward_backward(y_hat, y.reshape(y_hat.shape), y_hat.shape[1], dy_hat)
        return float(loss), dy_hat

    def workspace(self, T: int, B: int, truncate: int | None = None,
                  loss_at: str = "last") -> dict:
        """The CPU caches and scratch (name -> array) of a call on (T, B) with these
        options: allocated on first use, then reused by every such call.  The names in
        ``caches`` are what the forward stores for the backward; the rest is scratch."""
        return self._workspace(T, B, _slots(T, truncate, loss_at))

    def release_workspaces(self) -> None:
        """Drop every cached workspace (its memory is freed once nothing else holds it)."""
        self._workspaces.clear()

    def _workspace(self, T: int, B: int, slots: int) -> dict:
        """Caches and scratch for (T, B) and ``slots`` truncation slots, reused across calls."""
        key = (T, B, slots)
        ws = self._workspaces.get(key)
        if ws is None:
            ws = self._workspaces[key] = self._allocate(T, B, slots)
        return ws

    def _output(self, T: int, B: int, loss_at: str) -> np.ndarray:
        return np.empty((T if loss_at == "every" else 1, B, self.out_dim), self.dtype)


def _slots(T: int, truncate: int | None, loss_at: str) -> int:
    """Slots the kernels need: one per loss in flight when truncating every step's loss."""
    return min(truncate, T) if truncate is not None and loss_at == "every" else 1


class RNN(_Recurrent):
    """Elman RNN ``h_t = f(x_t W_xh + h_{t-1} W_hh + b_h)``, readout ``h W_hy + b_y``.

    Parameters
    ----------
    in_dim, hidden, out_dim : sizes I, H, O; all >= 1.
    activation : name from ``kernels.activations.ACTIVATIONS``.
    init : name from ``suite.init.INITS`` for W_xh, W_hy (unit scale) and the biases.
    dtype : "float32" or "float64".
    seed : seed of the numpy Generator that draws the initial weights.
    recurrent_init : scheme of W_hh (default: ``init``), e.g. "orthogonal" or "identity".
    sigma_w, gain : scales of W_hh only (``normal`` uses sigma_w, the others gain): the
        knob of vanishing (< 1) and exploding (> 1) gradients.
    sigma_b : std of b_h and b_y under ``init="normal"``.

    ``params`` holds the live arrays ``W_xh (I, H), W_hh (H, H), b_h (H,), W_hy (H, O),
    b_y (O,)``.
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, activation: str = "tanh",
                 init: str = "xavier", dtype: str = "float64", seed: int = 0, *,
                 recurrent_init: str | None = None, sigma_w: float = 1.0,
                 sigma_b: float = 0.0, gain: float = 1.0):
        self.in_dim = check_positive_int("in_dim", in_dim)
        self.hidden = check_positive_int("hidden", hidden)
        self.out_dim = check_positive_int("out_dim", out_dim)
        self.activation = activation
        self._act = activation_code(activation)
        self.init = check_init(init)
        self.recurrent_init = check_init(init if recurrent_init is None else recurrent_init)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        rng = np.random.default_rng(seed)
        I, H, O, dt = self.in_dim, self.hidden, self.out_dim, self.dtype
        self.params = LiveParams({
            "W_xh": init_weight(init, I, H, rng, dt),
            "W_hh": init_weight(self.recurrent_init, H, H, rng, dt, sigma_w=sigma_w, gain=gain),
            "b_h": init_bias(init, H, rng, dt, sigma_b=sigma_b),
            "W_hy": init_weight(init, H, O, rng, dt),
            "b_y": init_bias(init, O, rng, dt, sigma_b=sigma_b),
        })
        self._workspaces = {}

    caches = ("HS",)  # workspace entries the forward stores for the backward

    def _allocate(self, T: int, B: int, slots: int) -> dict:
        H, dt = self.hidden, self.dtype
        chunk = min(T, -(-BPTT_CHUNK_ROWS // B))
        return {"HS": np.empty((T + 1, B, H), dt), "DZ": np.empty((chunk, B, H), dt),
                "work": np.empty((2, slots, B, H), dt)}

    def _forward(self, x: np.ndarray, h0: np.ndarray, loss_at: str, ws: dict) -> np.ndarray:
        p = self.params
        y_hat = self._output(x.shape[0], x.shape[1], loss_at)
        rnn_forward(x, p["W_xh"], p["W_hh"], p["b_h"], p["W_hy"], p["b_y"], h0, self._act,
                    ws["HS"], y_hat)
        return y_hat

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None) -> np.ndarray:
        """Readout y_hat (B, O) of the last state for input x (T, B, I)."""
        x = self._check_x(x)
        h0 = self._check_state("h0", h0, x.shape[1])
        return self._forward(x, h0, "last", self._workspace(*x.shape[:2], 1))[0]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray | None, truncate: int | None = None,
                       loss_at: str = "last", backend: str = "cpu", *,
                       h0: np.ndarray | None = None,
                       cotangent: np.ndarray | None = None) -> GradResult:
        """Forward pass and (truncated) BPTT on a batch of sequences.

        x : (T, B, in_dim); y : (B, out_dim) for ``loss_at="last"`` or (T, B, out_dim) for
        ``"every"``, targets of L = 0.5 / B * sum((y_hat - y)^2) (summed over steps).
        truncate : None (full BPTT) or k >= 1 (module docstring).
        h0 : (B, hidden) initial state, zeros by default.
        cotangent : dL/dy_hat shaped like y, injected instead of the MSE gradient (L is
            then <cotangent, y_hat> and y may be None).
        """
        x, y, cotangent = self._check_sequence(x, y, cotangent, truncate, loss_at)
        T, B = x.shape[:2]
        h0 = self._check_state("h0", h0, B)
        if use_cuda(backend):
            from suite.cuda_backend import rnn_loss_and_grads
            return rnn_loss_and_grads(self, x, y, cotangent, truncate, loss_at, h0)
        ws = self._workspace(T, B, _slots(T, truncate, loss_at))
        y_hat = self._forward(x, h0, loss_at, ws)
        loss, dy_hat = self._loss(y_hat, y, cotangent)
        p = self.params
        g = {name: np.empty_like(a) for name, a in p.items()}
        dx = np.empty_like(x)
        dh0 = np.empty_like(h0)
        delta_norms = np.empty(T)
        weight_grad_norms = np.empty(2)
        rnn_backward(x, p["W_xh"], p["W_hh"], p["W_hy"], self._act, truncate or 0, ws["HS"],
                     dy_hat, g["W_xh"], g["W_hh"], g["b_h"], g["W_hy"], g["b_y"], dx, dh0,
                     delta_norms, weight_grad_norms, ws["DZ"], ws["work"])
        return GradResult(loss=loss, grads=g, grad_input=dx, delta_norms=delta_norms,
                          weight_grad_norms=weight_grad_norms,
                          output=y_hat if loss_at == "every" else y_hat[0], grad_h0=dh0)

    def __repr__(self) -> str:
        return (f"RNN(in_dim={self.in_dim}, hidden={self.hidden}, out_dim={self.out_dim}, "
                f"activation={self.activation!r}, init={self.init!r}, "
                f"recurrent_init={self.recurrent_init!r}, dtype={self.dtype.name!r}, "
                f"seed={self.seed})")


class LSTM(_Recurrent):
    """LSTM with PyTorch's equations and gate order i, f, g, o (``kernels.lstm``).

    Parameters
    ----------
    in_dim, hidden, out_dim : sizes I, H, O; all >= 1.
    init : name from ``suite.init.INITS``; each gate's (I, H) block of W_ih, and W_hy,
        drawn separately with unit scale.
    forget_bias : initial value of the f slice b[H:2H] (the rest of b is 0).
    dtype, seed : as for ``RNN``.
    recurrent_init : scheme of each gate's (H, H) block of W_hh (default: ``init``).
    gain : scale of W_hh only.

    ``params`` holds the live arrays ``W_ih (I, 4H), W_hh (H, 4H), b (4H,), W_hy (H, O),
    b_y (O,)``: PyTorch's ``weight_ih_l0.T``, ``weight_hh_l0.T``, ``bias_ih_l0 +
    bias_hh_l0``.
    """

    activation = "tanh"  # of the cell and candidate; the gates are sigmoids

    def __init__(self, in_dim: int, hidden: int, out_dim: int, init: str = "xavier",
                 forget_bias: float = 1.0, dtype: str = "float64", seed: int = 0, *,
                 recurrent_init: str | None = None, gain: float = 1.0):
        self.in_dim = check_positive_int("in_dim", in_dim)
        self.hidden = check_positive_int("hidden", hidden)
        self.out_dim = check_positive_int("out_dim", out_dim)
        self.init = check_init(init)
        self.recurrent_init = check_init(init if recurrent_init is None else recurrent_init)
        self.forget_bias = float(forget_bias)
        self.dtype = check_dtype(dtype)
        self.seed = seed
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
        self._workspaces = {}

    caches = ("HS", "CS", "GATES", "TC")  # workspace entries the forward stores

    def _allocate(self, T: int, B: int, slots: int) -> dict:
        H, dt = self.hidden, self.dtype
        return {"HS": np.empty((T + 1, B, H), dt), "CS": np.empty((T + 1, B, H), dt),
                "GATES": np.empty((T, B, 4 * H), dt), "TC": np.empty((T, B, H), dt),
                "work": np.empty((4, slots, B, H), dt),
                "work_g": np.empty((slots, B, 4 * H), dt)}

    def _forward(self, x: np.ndarray, h0: np.ndarray, c0: np.ndarray, loss_at: str,
                 ws: dict) -> np.ndarray:
        p = self.params
        y_hat = self._output(x.shape[0], x.shape[1], loss_at)
        lstm_forward(x, p["W_ih"], p["W_hh"], p["b"], p["W_hy"], p["b_y"], h0, c0, ws["HS"],
                     ws["CS"], ws["GATES"], ws["TC"], y_hat)
        return y_hat

    def forward(self, x: np.ndarray, h0: np.ndarray | None = None,
                c0: np.ndarray | None = None) -> np.ndarray:
        """Readout y_hat (B, O) of the last state for input x (T, B, I)."""
        x = self._check_x(x)
        B = x.shape[1]
        h0 = self._check_state("h0", h0, B)
        c0 = self._check_state("c0", c0, B)
        return self._forward(x, h0, c0, "last", self._workspace(*x.shape[:2], 1))[0]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray | None, truncate: int | None = None,
                       loss_at: str = "last", backend: str = "cpu", *,
                       h0: np.ndarray | None = None, c0: np.ndarray | None = None,
                       cotangent: np.ndarray | None = None) -> GradResult:
        """Forward pass and (truncated) BPTT; arguments as for ``RNN.loss_and_grads``,
        plus c0 (B, hidden), the initial cell state (zeros by default).  The result also
        carries ``cell_norms`` = ||dL/dc_t|| for t = 1..T."""
        x, y, cotangent = self._check_sequence(x, y, cotangent, truncate, loss_at)
        T, B = x.shape[:2]
        h0 = self._check_state("h0", h0, B)
        c0 = self._check_state("c0", c0, B)
        if use_cuda(backend):
            from suite.cuda_backend import lstm_loss_and_grads
            return lstm_loss_and_grads(self, x, y, cotangent, truncate, loss_at, h0, c0)
        ws = self._workspace(T, B, _slots(T, truncate, loss_at))
        y_hat = self._forward(x, h0, c0, loss_at, ws)
        loss, dy_hat = self._loss(y_hat, y, cotangent)
        p = self.params
        g = {name: np.empty_like(a) for name, a in p.items()}
        dx = np.empty_like(x)
        dh0 = np.empty_like(h0)
        dc0 = np.empty_like(c0)
        delta_norms = np.empty(T)
        cell_norms = np.empty(T)
        weight_grad_norms = np.empty(2)
        lstm_backward(x, p["W_ih"], p["W_hh"], p["W_hy"], truncate or 0, ws["HS"], ws["CS"],
                      ws["GATES"], ws["TC"], dy_hat, g["W_ih"], g["W_hh"], g["b"], g["W_hy"],
                      g["b_y"], dx, dh0, dc0, delta_norms, cell_norms, weight_grad_norms,
                      ws["work"], ws["work_g"])
        return GradResult(loss=loss, grads=g, grad_input=dx, delta_norms=delta_norms,
                          weight_grad_norms=weight_grad_norms,
                          output=y_hat if loss_at == "every" else y_hat[0],
                          cell_norms=cell_norms, grad_h0=dh0)

    def __repr__(self) -> str:
        return (f"LSTM(in_dim={self.in_dim}, hidden={self.hidden}, out_dim={self.out_dim}, "
                f"init={self.init!r}, forget_bias={self.forget_bias}, "
                f"recurrent_init={self.recurrent_init!r}, dtype={self.dtype.name!r}, "
                f"seed={self.seed})")
