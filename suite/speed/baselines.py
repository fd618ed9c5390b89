"""The implementations a speed run times side by side, on the same inputs and weights.

* ``vgbench``: the suite's Numba kernels through ``model.loss_and_grads``.
* ``numpy``: ``vgbench.speed.numpy_ref`` (plain NumPy forward and backward).
* ``torch``: PyTorch CPU eager, the fair baseline: ``torch.nn.Sequential`` of Linear +
  activation for the MLP, the fused ``torch.nn.RNN`` / ``torch.nn.LSTM`` modules with a
  Linear readout on the last state; MSE loss ``0.5 / B * sum((y_hat - y)^2)`` and
  ``.backward()``; the input requires grad (vgbench returns dL/dx, so torch computes it).
  Its forward alone runs under ``torch.no_grad()``.
* ``jax``: JAX on the CPU: the same networks written in ``jax.numpy`` (``lax.scan`` over
  time for RNN/LSTM, gate order i, f, g, o, one bias vector, readout on the last state),
  ``jax.value_and_grad`` w.r.t. every parameter and the input, jitted and compiled ahead
  of time when the runner is built (compile time never lands in a timing); results are
  ``block_until_ready()``-ed.  A float64 case turns ``jax_enable_x64`` on for the process
  (JAX computes in float32 otherwise); float32 cases stay float32 since every array is
  created from the case's float32 inputs.  XLA sizes its CPU thread pool once per
  process, so JAX ignores the sweep's thread count (the sweep notes this).

Every runner is built from one vgbench model (weights copied), and its ``fwd_bwd()``
returns the loss, so a run can check that all implementations compute the same thing.
An implementation that is not installed, or cannot run a case, is skipped with a note.
"""

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vgbench.env.denormals import current_mode
from vgbench.kernels.activations import ELU_ALPHA, LEAKY_SLOPE
from vgbench.models import LSTM, MLP, MODELS, RNN
from vgbench.models.validate import check_choice, check_dtype, check_positive_int
from vgbench.speed import numpy_ref as ref
from vgbench.speed.flops import flops

IMPLS = ("vgbench", "numpy", "torch", "jax")


@dataclass(frozen=True)
class Case:
    """One benchmark configuration."""

    model: str  # "mlp", "rnn" or "lstm"
    size: int  # MLP width W or recurrent hidden size H: the x axis of speed plots
    batch: int  # B
    depth: int = 1  # L hidden layers (MLP only)
    seq_len: int = 1  # T (RNN, LSTM only)
    in_dim: int = 0  # I; 0 means "same as size"
    out_dim: int = 1  # O
    activation: str = "tanh"  # MLP and RNN activation (LSTM gates are fixed)
    dtype: str = "float32"

    def __post_init__(self):
        check_choice("model", self.model, MODELS)
        for name in ("size", "batch", "depth", "seq_len", "out_dim"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("in_dim", self.in_dim, minimum=0)
        check_dtype(self.dtype)

    @property
    def I(self) -> int:  # noqa: E743
        return self.in_dim or self.size

    def label(self) -> str:
        """Short name, e.g. ``mlp W64 L10 B32 f32`` or ``lstm H128 T100 B32 f32``."""
        dt = "f32" if self.dtype == "float32" else "f64"
        if self.model == "mlp":
            return f"mlp W{self.size} L{self.depth} B{self.batch} {self.activation} {dt}"
        act = f" {self.activation}" if self.model == "rnn" else ""
        return f"{self.model} H{self.size} T{self.seq_len} B{self.batch}{act} {dt}"

    def flops(self, pass_: str) -> int:
        return flops(self.model, pass_, B=self.batch, I=self.I, size=self.size,
                     O=self.out_dim, depth=self.depth, seq_len=self.seq_len)


@dataclass(frozen=True)
class Runner:
    """Closures over one implementation's prepared model and inputs."""

    impl: str
    fwd_bwd: Callable[[], float]  # forward + backward on the case's batch, returns the loss
    forward: Callable[[], object]  # forward alone


def vgbench_case(case: Case, seed: int = 0) -> tuple:
    """(model, x, y): the vgbench model of ``case`` and a seeded batch."""
    rng = np.random.default_rng((seed, 1))
    if case.model == "mlp":
        model = MLP(case.I, case.size, case.depth, case.out_dim, activation=case.activation,
                    dtype=case.dtype, seed=seed)
        x = rng.standard_normal((case.batch, case.I))
    else:
        if case.model == "rnn":
            model = RNN(case.I, case.size, case.out_dim, activation=case.activation,
                        dtype=case.dtype, seed=seed)
        else:
            model = LSTM(case.I, case.size, case.out_dim, dtype=case.dtype, seed=seed)
        x = rng.standard_normal((case.seq_len, case.batch, case.I))
    y = rng.standard_normal((case.batch, case.out_dim))
    return model, x.astype(case.dtype), y.astype(case.dtype)


def unavailable(impl: str) -> str | None:
    """Why ``impl`` cannot run here (a note), or None."""
    check_choice("implementation", impl, IMPLS)
    if impl == "torch" and importlib.util.find_spec("torch") is None:
        return "PyTorch is not installed (pip install vgbench[torch]): torch baseline skipped"
    if impl == "jax" and importlib.util.find_spec("jax") is None:
        return "JAX is not installed (pip install vgbench[jax]): jax baseline skipped"
    return None


def build(impl: str, case: Case, model, x: np.ndarray, y: np.ndarray,
          backend: str = "cpu") -> Runner:
    """A runner of ``impl`` with ``model``'s weights on (x, y); ValueError if it cannot."""
    if impl == "vgbench":
        def fwd_bwd():
            return model.loss_and_grads(x, y, backend=backend).loss
        return Runner(impl, fwd_bwd, lambda: model.forward(x))
    params = {k: np.array(v) for k, v in model.params.items()}
    if impl == "numpy":
        return _numpy_runner(case, params, x, y)
    if impl == "torch":
        return _torch_runner(case, params, x, y)
    if impl == "jax":
        return _jax_runner(case, params, x, y)
    raise ValueError(f"unknown implementation {impl!r}; valid: {', '.join(IMPLS)}")


def _numpy_runner(case: Case, p: dict, x, y) -> Runner:
    if case.model == "mlp":
        ref.activation_pair(case.activation)
        return Runner("numpy",
                      lambda: ref.mlp_loss_and_grads(p, x, y, case.activation, case.depth)[0],
                      lambda: ref.mlp_forward(p, x, case.activation, case.depth))
    if case.model == "rnn":
        ref.activation_pair(case.activation)
        return Runner("numpy", lambda: ref.rnn_loss_and_grads(p, x, y, case.activation)[0],
                      lambda: ref.rnn_forward(p, x, case.activation))
    return Runner("numpy", lambda: ref.lstm_loss_and_grads(p, x, y)[0],
                  lambda: ref.lstm_forward(p, x))


_TORCH_ACTS = {"identity": "Identity", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "ReLU",
               "elu": "ELU", "selu": "SELU", "softplus": "Softplus"}


def _torch_net(case: Case, p: dict):
    """(module, readout-from-output function) holding copies of the weights ``p``."""
    import torch
    from torch import nn

    dtype = getattr(torch, case.dtype)

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a))

    def linear(W, b):
        lin = nn.Linear(*W.shape, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(t(W.T))
            lin.bias.copy_(t(b))
        return lin

    if case.model == "mlp":
        if case.activation == "leaky_relu":
            act = lambda: nn.LeakyReLU(0.01)  # noqa: E731
        elif case.activation in _TORCH_ACTS:
            act = getattr(nn, _TORCH_ACTS[case.activation])
        else:
            raise ValueError(f"no torch activation for {case.activation!r}")
        layers = []
        for l in range(case.depth):
            layers += [linear(p[f"W{l}"], p[f"b{l}"]), act()]
        layers.append(linear(p[f"W{case.depth}"], p[f"b{case.depth}"]))
        net = nn.Sequential(*layers)
        return net, net
    if case.model == "rnn":
        if case.activation not in ("tanh", "relu"):
            raise ValueError(f"torch.nn.RNN has no activation {case.activation!r}")
        core = nn.RNN(case.I, case.size, nonlinearity=case.activation, dtype=dtype)
        w_ih, w_hh, b = p["W_xh"], p["W_hh"], p["b_h"]
    else:
        core = nn.LSTM(case.I, case.size, dtype=dtype)
        w_ih, w_hh, b = p["W_ih"], p["W_hh"], p["b"]
    with torch.no_grad():
        core.weight_ih_l0.copy_(t(w_ih.T))
        core.weight_hh_l0.copy_(t(w_hh.T))
        core.bias_ih_l0.copy_(t(b))
        core.bias_hh_l0.zero_()
    readout = linear(p["W_hy"], p["b_y"])
    net = nn.ModuleDict({"core": core, "readout": readout})

    def run(xt):
        _, state = net["core"](xt)
        h_last = (state[0] if case.model == "lstm" else state)[0]
        return net["readout"](h_last)
    return net, run


def _torch_runner(case: Case, p: dict, x, y) -> Runner:
    import torch

    # The same denormal mode as vgbench's threads (torch may load after it was set).
    torch.set_flush_denormal(current_mode() == "flush")

    net, run = _torch_net(case, p)
    xt = torch.from_numpy(x.copy()).requires_grad_()
    yt = torch.from_numpy(y.copy())
    scale = 0.5 / case.batch

    def fwd_bwd():
        net.zero_grad(set_to_none=True)
        xt.grad = None
        loss = torch.nn.functional.mse_loss(run(xt), yt, reduction="sum") * scale
        loss.backward()
        return loss.item()

    def forward():
        with torch.no_grad():
            return run(xt)
    return Runner("torch", fwd_bwd, forward)


def _jax_activation(name: str) -> Callable:
    import jax

    acts = {"identity": lambda z: z, "tanh": jax.numpy.tanh, "sigmoid": jax.nn.sigmoid,
            "relu": jax.nn.relu, "leaky_relu": lambda z: jax.nn.leaky_relu(z, LEAKY_SLOPE),
            "elu": lambda z: jax.nn.elu(z, ELU_ALPHA), "selu": jax.nn.selu,
            "softplus": jax.nn.softplus}
    if name not in acts:
        raise ValueError(f"no jax activation for {name!r}; valid: {', '.join(acts)}")
    return acts[name]


def _jax_forward(case: Case) -> Callable:
    """``forward(p, x) -> y_hat`` of ``case`` in ``jax.numpy`` (h_0 = c_0 = 0)."""
    import jax
    import jax.numpy as jnp

    if case.model == "mlp":
        f = _jax_activation(case.activation)

        def forward(p, x):
            h = x
            for l in range(case.depth):
                h = f(h @ p[f"W{l}"] + p[f"b{l}"])
            return h @ p[f"W{case.depth}"] + p[f"b{case.depth}"]
        return forward
    if case.model == "rnn":
        f = _jax_activation(case.activation)

        def forward(p, x):
            def step(h, xw_t):
                return f(xw_t + h @ p["W_hh"]), None
            h0 = jnp.zeros((x.shape[1], case.size), x.dtype)
            h, _ = jax.lax.scan(step, h0, x @ p["W_xh"] + p["b_h"])
            return h @ p["W_hy"] + p["b_y"]
        return forward

    def forward(p, x):
        def step(hc, a_t):
            h, c = hc
            i, f, g, o = jnp.split(a_t + h @ p["W_hh"], 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            return (jax.nn.sigmoid(o) * jnp.tanh(c), c), None
        z = jnp.zeros((x.shape[1], case.size), x.dtype)
        (h, _), _ = jax.lax.scan(step, (z, z), x @ p["W_ih"] + p["b"])
        return h @ p["W_hy"] + p["b_y"]
    return forward


def jax_compiled(case: Case, p: dict, x, y) -> tuple:
    """(value_and_grad, forward) compiled for ``case``, and the device arrays (p, x, y).

    ``value_and_grad(p, x, y)`` returns ``(loss, (grads, dL/dx))``.
    """
    import jax

    if case.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    forward = _jax_forward(case)

    def loss(p, x, y):
        d = forward(p, x) - y
        return 0.5 / case.batch * (d * d).sum()

    args = jax.device_put((p, x, y))
    vg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(*args).compile()
    return vg, jax.jit(forward).lower(*args[:2]).compile(), args


def _jax_runner(case: Case, p: dict, x, y) -> Runner:
    import jax

    vg, fwd, args = jax_compiled(case, p, x, y)

    def fwd_bwd():
        loss, grads = vg(*args)
        jax.block_until_ready(grads)
        return float(loss)
    return Runner("jax", fwd_bwd, lambda: fwd(*args[:2]).block_until_ready())
