"""``backend="cuda"``: run a model's forward and backward through ``kernels.cuda``.

Each (model, input shape) gets device buffers that live as long as the model: the
parameters are copied in at every call (``model.params`` are live host arrays a user may
change between calls), the inputs after them; forward, loss and backward then run with
every intermediate resident on the device, and one download returns the results.  The
three phases are separate methods so ``time_loss_and_grads`` can time host transfers
apart from kernels with CUDA events.
"""

import weakref
from statistics import median

import numpy as np

from suite.params import GradResult

_RUNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def require_cuda():
    """Return ``numba.cuda`` if a GPU (or the simulator) is usable, else RuntimeError."""
    from numba import cuda
    if not cuda.is_available():
        raise RuntimeError(
            "backend='cuda' needs an NVIDIA GPU with a working driver, and "
            "numba.cuda.is_available() is False on this machine; use backend='cpu' "
            "(or 'auto', which falls back to the CPU), or set NUMBA_ENABLE_CUDASIM=1 "
            "before importing numba to run the CUDA kernels in numba's simulator")
    return cuda


class _DeviceRun:
    """Device buffers for one model and input shape, reused across calls."""

    def __init__(self, cuda):
        self.cuda = cuda
        self.d = {}

    def put(self, name: str, host: np.ndarray):
        """Copy ``host`` into the device buffer ``name`` (allocated on first use)."""
        d = self.d.get(name)
        if d is None:
            d = self.d[name] = self.cuda.to_device(host)
        else:
            d.copy_to_device(host)
        return d

    def empty(self, name: str, shape: tuple, dtype):
        """Device buffer ``name`` of ``shape`` and ``dtype`` (allocated on first use)."""
        d = self.d.get(name)
        if d is None:
            d = self.d[name] = self.cuda.device_array(shape, dtype)
        return d


class _MLPRun(_DeviceRun):
    """Phases of ``MLP.loss_and_grads`` on the device for batch size B."""

    def __init__(self, cuda, model, B: int):
        super().__init__(cuda)
        self.model = model
        L, W, dt = model.depth, model.width, model.dtype
        n_bn = L if model.batchnorm else 0
        self.empty("H", (L, B, W), dt)
        self.d["Y"] = self.empty("Ysep", (L, B, W), dt) if model.residual else self.d["H"]
        self.empty("XHAT", (n_bn, B, W), dt)
        self.empty("INV_STD", (n_bn, W), dt)
        self.empty("work", (3, B, W), dt)
        self.empty("y_hat", (B, model.out_dim), dt)
        self.empty("dy_hat", (B, model.out_dim), dt)
        self.empty("dx", (B, model.in_dim), dt)
        for name, a in zip(_MLP_GRADS, model._grad_buffers(), strict=True):
            self.empty(name, a.shape, dt)
        self.empty("delta_norms", (L,), np.float64)
        self.empty("weight_grad_norms", (L,), np.float64)
        self.empty("loss", (1,), np.float64)
        self.empty("partials", (_block(),), np.float64)

    def upload(self, x, y, cotangent) -> None:
        m = self.model
        for name in _MLP_PARAMS:
            self.put(name, getattr(m, "_" + name))
        self.put("x", x)
        self.injected = cotangent is not None
        self.put("target", cotangent if self.injected else y)

    def compute(self) -> None:
        from kernels.cuda.mlp import mlp_backward, mlp_forward
        from kernels.cuda.reduce import dot, mse_forward_backward
        m, d = self.model, self.d
        mlp_forward(d["x"], *(d[n] for n in _MLP_PARAMS), m._act, m.residual, m.batchnorm,
                    d["H"], d["Y"], d["XHAT"], d["INV_STD"], d["y_hat"])
        if self.injected:
            dy_hat = d["target"]
            dot(dy_hat, d["y_hat"], d["loss"], 0, d["partials"])
        else:
            dy_hat = d["dy_hat"]
            mse_forward_backward(d["y_hat"], d["target"], d["x"].shape[0], dy_hat,
                                 d["loss"], 0, d["partials"])
        mlp_backward(d["x"], d["W_in"], d["W_hid"], d["W_out"], d["bn_gamma"], m._act,
                     m.residual, m.batchnorm, d["H"], d["Y"], d["XHAT"], d["INV_STD"],
                     dy_hat, *(d[n] for n in _MLP_GRADS), d["dx"], d["delta_norms"],
                     d["weight_grad_norms"], d["work"])

    def download(self) -> GradResult:
        d = self.d
        grads = [d[n].copy_to_host() for n in _MLP_GRADS]
        return GradResult(loss=float(d["loss"].copy_to_host()[0]),
                          grads=self.model._named(*grads), grad_input=d["dx"].copy_to_host(),
                          delta_norms=d["delta_norms"].copy_to_host(),
                          weight_grad_norms=d["weight_grad_norms"].copy_to_host(),
                          output=d["y_hat"].copy_to_host())


class _RecurrentRun(_DeviceRun):
    """Shared phases of RNN and LSTM on the device for (T, B), a loss mode and slots."""

    def __init__(self, cuda, model, T: int, B: int, loss_at: str, slots: int):
        super().__init__(cuda)
        self.model = model
        H, O, dt = model.hidden, model.out_dim, model.dtype
        self.every = loss_at == "every"
        self.S = T if self.every else 1
        self.empty("HS", (T + 1, B, H), dt)
        self.empty("y_hat", (self.S, B, O), dt)
        self.empty("dy_hat", (self.S, B, O), dt)
        self.empty("dx", (T, B, model.in_dim), dt)
        self.empty("dh0", (B, H), dt)
        for name, a in model.params.items():
            self.empty("d" + name, a.shape, dt)
        self.empty("delta_norms", (T,), np.float64)
        self.empty("weight_grad_norms", (2,), np.float64)
        self.empty("loss", (1,), np.float64)
        self.empty("partials", (_block(),), np.float64)
        self.allocate(T, B, H, slots, dt)

    def upload(self, x, y, cotangent, truncate, h0, c0) -> None:
        for name, a in self.model.params.items():
            self.put(name, a)
        self.put("x", x)
        self.put("h0", h0)
        if c0 is not None:
            self.put("c0", c0)
        self.injected = cotangent is not None
        target = cotangent if self.injected else y
        self.put("target", target.reshape(self.d["y_hat"].shape))
        self.truncate = truncate or 0

    def loss(self):
        """Loss into d["loss"]; return the readout cotangent (device)."""
        from kernels.cuda.reduce import dot, mse_forward_backward
        d = self.d
        if self.injected:
            dot(d["target"], d["y_hat"], d["loss"], 0, d["partials"])
            return d["target"]
        mse_forward_backward(d["y_hat"], d["target"], d["x"].shape[1], d["dy_hat"],
                             d["loss"], 0, d["partials"])
        return d["dy_hat"]

    def download(self) -> GradResult:
        d = self.d
        y_hat = d["y_hat"].copy_to_host()
        return GradResult(loss=float(d["loss"].copy_to_host()[0]),
                          grads={n: d["d" + n].copy_to_host() for n in self.model.params},
                          grad_input=d["dx"].copy_to_host(),
                          delta_norms=d["delta_norms"].copy_to_host(),
                          weight_grad_norms=d["weight_grad_norms"].copy_to_host(),
                          output=y_hat if self.every else y_hat[0],
                          cell_norms=self.cell_norms(), grad_h0=d["dh0"].copy_to_host())

    def cell_norms(self):
        return None


class _RNNRun(_RecurrentRun):
    def allocate(self, T, B, H, slots, dt) -> None:
        self.empty("DZ", (T, B, H), dt)
        self.empty("work", (2, slots, B, H), dt)

    def compute(self) -> None:
        from kernels.cuda.rnn import rnn_backward, rnn_forward
        m, d = self.model, self.d
        rnn_forward(d["x"], d["W_xh"], d["W_hh"], d["b_h"], d["W_hy"], d["b_y"], d["h0"],
                    m._act, d["HS"], d["y_hat"])
        dy_hat = self.loss()
        rnn_backward(d["x"], d["W_xh"], d["W_hh"], d["W_hy"], m._act, self.truncate, d["HS"],
                     dy_hat, d["dW_xh"], d["dW_hh"], d["db_h"], d["dW_hy"], d["db_y"],
                     d["dx"], d["dh0"], d["delta_norms"], d["weight_grad_norms"], d["DZ"],
                     d["work"])


class _LSTMRun(_RecurrentRun):
    def allocate(self, T, B, H, slots, dt) -> None:
        self.empty("CS", (T + 1, B, H), dt)
        self.empty("GATES", (T, B, 4 * H), dt)
        self.empty("TC", (T, B, H), dt)
        self.empty("DH", (T, B, H), dt)
        self.empty("DG", (T, B, 4 * H), dt)
        self.empty("work", (4, slots, B, H), dt)
        self.empty("work_g", (slots, B, 4 * H), dt)
        self.empty("dc0", (B, H), dt)
        self.empty("cell_norms", (T,), np.float64)

    def compute(self) -> None:
        from kernels.cuda.lstm import lstm_backward, lstm_forward
        d = self.d
        lstm_forward(d["x"], d["W_ih"], d["W_hh"], d["b"], d["W_hy"], d["b_y"], d["h0"],
                     d["c0"], d["HS"], d["CS"], d["GATES"], d["TC"], d["y_hat"])
        dy_hat = self.loss()
        lstm_backward(d["x"], d["W_ih"], d["W_hh"], d["W_hy"], self.truncate, d["HS"],
                      d["CS"], d["GATES"], d["TC"], dy_hat, d["dW_ih"], d["dW_hh"], d["db"],
                      d["dW_hy"], d["db_y"], d["dx"], d["dh0"], d["dc0"], d["delta_norms"],
                      d["cell_norms"], d["weight_grad_norms"], d["DH"], d["DG"], d["work"],
                      d["work_g"])

    def cell_norms(self):
        return self.d["cell_norms"].copy_to_host()


_MLP_PARAMS = ("W_in", "W_hid", "W_out", "b_hid", "b_out", "bn_gamma", "bn_beta")
_MLP_GRADS = ("dW_in", "dW_hid", "dW_out", "db_hid", "db_out", "dbn_gamma", "dbn_beta")


def _block() -> int:
    from kernels import config
    return config.CUDA_BLOCK_1D


def _run(cls, model, key: tuple, *args) -> _DeviceRun:
    """The cached run of ``cls`` for ``model`` and shape ``key`` (created on first use)."""
    cuda = require_cuda()
    runs = _RUNS.setdefault(model, {})
    run = runs.get(key)
    if run is None:
        run = runs[key] = cls(cuda, model, *args)
    return run


def _mlp_run(model, x, y, cotangent) -> tuple:
    run = _run(_MLPRun, model, ("mlp", x.shape[0], _block()), x.shape[0])
    return run, (x, y, cotangent)


def _recurrent_run(model, x, y, cotangent, truncate, loss_at, h0, c0=None) -> tuple:
    from suite.models import LSTM
    T, B = x.shape[:2]
    slots = min(truncate, T) if truncate is not None and loss_at == "every" else 1
    cls = _LSTMRun if isinstance(model, LSTM) else _RNNRun
    run = _run(cls, model, (cls.__name__, T, B, loss_at, slots, _block()), T, B, loss_at,
               slots)
    return run, (x, y, cotangent, truncate, h0, c0)


def _execute(run: _DeviceRun, args: tuple) -> GradResult:
    run.upload(*args)
    run.compute()
    return run.download()


def mlp_loss_and_grads(model, x: np.ndarray, y: np.ndarray | None,
                       cotangent: np.ndarray | None) -> GradResult:
    """``MLP.loss_and_grads`` on the GPU; inputs already validated by the model."""
    return _execute(*_mlp_run(model, x, y, cotangent))


def rnn_loss_and_grads(model, x: np.ndarray, y: np.ndarray | None,
                       cotangent: np.ndarray | None, truncate: int | None, loss_at: str,
                       h0: np.ndarray) -> GradResult:
    """``RNN.loss_and_grads`` on the GPU; inputs already validated by the model."""
    return _execute(*_recurrent_run(model, x, y, cotangent, truncate, loss_at, h0))


def lstm_loss_and_grads(model, x: np.ndarray, y: np.ndarray | None,
                        cotangent: np.ndarray | None, truncate: int | None, loss_at: str,
                        h0: np.ndarray, c0: np.ndarray) -> GradResult:
    """``LSTM.loss_and_grads`` on the GPU; inputs already validated by the model."""
    return _execute(*_recurrent_run(model, x, y, cotangent, truncate, loss_at, h0, c0))


def time_loss_and_grads(model, x: np.ndarray, y: np.ndarray, repeats: int = 5, *,
                        truncate: int | None = None, loss_at: str = "last") -> dict:
    """Time ``loss_and_grads(..., backend="cuda")`` phase by phase with CUDA events.

    One untimed call compiles and warms up; then ``repeats`` calls, each split into
    host-to-device copies (parameters and inputs), kernels (forward, loss, backward) and
    device-to-host copies (results).  Returns medians in milliseconds (``h2d_ms``,
    ``kernel_ms``, ``d2h_ms``, ``total_ms``), the raw ``samples`` and ``repeats``.
    """
    from suite.models import MLP
    from suite.validate import check_positive_int
    check_positive_int("repeats", repeats)
    cuda = require_cuda()
    if isinstance(model, MLP):
        x, y, _ = model.check_inputs(x, y)
        run, args = _mlp_run(model, x, y, None)
    else:
        x, y, _ = model._check_sequence(x, y, None, truncate, loss_at)
        h0 = model._check_state("h0", None, x.shape[1])
        run, args = _recurrent_run(model, x, y, None, truncate, loss_at, h0, h0)
    _execute(run, args)
    samples = {"h2d_ms": [], "kernel_ms": [], "d2h_ms": [], "total_ms": []}
    for _ in range(repeats):
        events = [cuda.event() for _ in range(4)]
        events[0].record()
        run.upload(*args)
        events[1].record()
        run.compute()
        events[2].record()
        run.download()
        events[3].record()
        events[3].synchronize()
        for name, (a, b) in zip(samples, [(0, 1), (1, 2), (2, 3), (0, 3)], strict=True):
            samples[name].append(events[a].elapsed_time(events[b]))
    result = {name: median(v) for name, v in samples.items()}
    return {**result, "samples": samples, "repeats": repeats}
