"""The CUDA backend: a call's forward and backward through ``vgbench.kernels.cuda``.

Each (model, input shape) gets device buffers kept in the model's ``workspaces`` dict under
``("cuda", ...)`` keys, for as long as the model lives: the parameters are copied in at
every call (``model.params`` are live host arrays a user may change between calls), the
inputs after them; forward, loss and backward then run with every intermediate resident on
the device, and one download returns the results.  The three phases are separate methods
so ``time_loss_and_grads`` can time host transfers apart from kernels with CUDA events.
"""

from statistics import median

import numpy as np

from vgbench.backends import require_cuda
from vgbench.backends.calls import MLP_PARAMS, Gradients, MLPCall, RecurrentCall
from vgbench.kernels import config
from vgbench.kernels.cuda import leaky_rnn as cuda_leaky_rnn
from vgbench.kernels.cuda import lstm as cuda_lstm
from vgbench.kernels.cuda import mlp as cuda_mlp
from vgbench.kernels.cuda import rnn as cuda_rnn
from vgbench.kernels.cuda.reduce import dot, mse_forward_backward


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

    def loss(self, batch: int):
        """Loss into d["loss"] (the MSE, or <cotangent, y_hat>); return dL/dy_hat."""
        d = self.d
        if self.injected:
            dot(d["target"], d["y_hat"], d["loss"], 0, d["partials"])
            return d["target"]
        mse_forward_backward(d["y_hat"], d["target"], batch, d["dy_hat"], d["loss"], 0,
                             d["partials"])
        return d["dy_hat"]


class _MLPRun(_DeviceRun):
    """Phases of an MLP call on the device for one batch size."""

    def __init__(self, cuda, call: MLPCall):
        super().__init__(cuda)
        W_in, _, W_out, b_hid = call.params[:4]
        B = call.x.shape[0]
        L, W = b_hid.shape
        dt = b_hid.dtype
        n_bn = L if call.batchnorm else 0
        self.empty("H", (L, B, W), dt)
        self.d["Y"] = self.empty("Ysep", (L, B, W), dt) if call.residual else self.d["H"]
        self.empty("XHAT", (n_bn, B, W), dt)
        self.empty("INV_STD", (n_bn, W), dt)
        self.empty("work", (3, B, W), dt)
        self.empty("y_hat", (B, W_out.shape[1]), dt)
        self.empty("dy_hat", (B, W_out.shape[1]), dt)
        self.empty("dx", (B, W_in.shape[0]), dt)
        for name, a in zip(MLP_PARAMS, call.params, strict=True):
            self.empty("d" + name, a.shape, dt)
        self.empty("delta_norms", (L,), np.float64)
        self.empty("weight_grad_norms", (L,), np.float64)
        self.empty("loss", (1,), np.float64)
        self.empty("partials", (config.CUDA_BLOCK_1D,), np.float64)

    def upload(self, call: MLPCall) -> None:
        self.call = call
        for name, a in zip(MLP_PARAMS, call.params, strict=True):
            self.put(name, a)
        self.put("x", call.x)
        self.injected = call.cotangent is not None
        self.put("target", call.cotangent if self.injected else call.y)

    def compute(self) -> None:
        c, d = self.call, self.d
        params = [d[n] for n in MLP_PARAMS]
        cuda_mlp.mlp_forward(d["x"], *params, c.act, c.residual, c.batchnorm, d["H"], d["Y"],
                             d["XHAT"], d["INV_STD"], d["y_hat"])
        dy_hat = self.loss(c.x.shape[0])
        cuda_mlp.mlp_backward(d["x"], d["W_in"], d["W_hid"], d["W_out"], d["bn_gamma"], c.act,
                              c.residual, c.batchnorm, d["H"], d["Y"], d["XHAT"],
                              d["INV_STD"], dy_hat, *(d["d" + n] for n in MLP_PARAMS),
                              d["dx"], d["delta_norms"], d["weight_grad_norms"], d["work"])

    def download(self) -> Gradients:
        d = self.d
        return Gradients(float(d["loss"].copy_to_host()[0]),
                         tuple(d["d" + n].copy_to_host() for n in MLP_PARAMS),
                         d["dx"].copy_to_host(), d["delta_norms"].copy_to_host(),
                         d["weight_grad_norms"].copy_to_host(), d["y_hat"].copy_to_host())


class _RecurrentRun(_DeviceRun):
    """Phases of an RNN or LSTM call on the device for one (T, B), loss mode and slots."""

    def __init__(self, cuda, call: RecurrentCall):
        super().__init__(cuda)
        T, B, I = call.x.shape
        H = call.params["W_hh"].shape[0]
        O, dt, slots = call.out_dim, call.x.dtype, call.slots
        self.lstm = call.cell == "lstm"
        S = T if call.every else 1
        self.empty("HS", (T + 1, B, H), dt)
        self.empty("y_hat", (S, B, O), dt)
        self.empty("dy_hat", (S, B, O), dt)
        self.empty("dx", (T, B, I), dt)
        self.empty("dh0", (B, H), dt)
        for name, a in call.params.items():
            self.empty("d" + name, a.shape, dt)
        self.empty("delta_norms", (T,), np.float64)
        self.empty("weight_grad_norms", (2,), np.float64)
        self.empty("loss", (1,), np.float64)
        self.empty("partials", (config.CUDA_BLOCK_1D,), np.float64)
        if self.lstm:
            self.empty("CS", (T + 1, B, H), dt)
            self.empty("GATES", (T, B, 4 * H), dt)
            self.empty("TC", (T, B, H), dt)
            self.empty("DH", (T, B, H), dt)
            self.empty("DG", (T, B, 4 * H), dt)
            self.empty("work", (4, slots, B, H), dt)
            self.empty("work_g", (slots, B, 4 * H), dt)
            self.empty("dc0", (B, H), dt)
            self.empty("cell_norms", (T,), np.float64)
        elif call.leaky:
            for name in ("US", "DZ", "R"):
                self.empty(name, (T, B, H), dt)
            self.empty("G", (T + 1, B, H), dt)
            self.empty("GT", (T + 1, B, H), dt)
            self.empty("work", (B, H), dt)
            self.d["zero_h"] = cuda.to_device(np.zeros(H, dt))
            if not call.skip:  # unread stand-ins of W_skip and dW_skip
                self.d["W_skip"] = self.d["dW_skip"] = cuda.to_device(np.zeros((1, 1), dt))
        else:
            self.empty("DZ", (T, B, H), dt)
            self.empty("work", (2, slots, B, H), dt)

    def upload(self, call: RecurrentCall) -> None:
        self.call = call
        for name, a in call.params.items():
            self.put(name, a)
        self.put("x", call.x)
        self.put("h0", call.h0)
        if self.lstm:
            self.put("c0", call.c0)
        self.injected = call.cotangent is not None
        self.put("target", call.cotangent if self.injected else call.y)

    def compute(self) -> None:
        c, d = self.call, self.d
        B = c.x.shape[1]
        if c.leaky:
            cuda_leaky_rnn.leaky_rnn_forward(d["x"], d["W_xh"], d["W_hh"], d["W_skip"],
                                             d["b_h"], d["W_hy"], d["b_y"], d["h0"], c.act,
                                             c.leak, c.skip, d["HS"], d["US"], d["y_hat"],
                                             d["zero_h"])
            cuda_leaky_rnn.leaky_rnn_backward(
                d["x"], d["W_xh"], d["W_hh"], d["W_skip"], d["W_hy"], c.act, c.leak, c.skip,
                c.truncate, d["HS"], d["US"], self.loss(B), d["dW_xh"], d["dW_hh"],
                d["dW_skip"], d["db_h"], d["dW_hy"], d["db_y"], d["dx"], d["dh0"],
                d["delta_norms"], d["weight_grad_norms"], d["G"], d["GT"], d["DZ"],
                d["work"], d["R"], d["zero_h"])
            return
        if not self.lstm:
            cuda_rnn.rnn_forward(d["x"], d["W_xh"], d["W_hh"], d["b_h"], d["W_hy"], d["b_y"],
                                 d["h0"], c.act, d["HS"], d["y_hat"])
            cuda_rnn.rnn_backward(d["x"], d["W_xh"], d["W_hh"], d["W_hy"], c.act, c.truncate,
                                  d["HS"], self.loss(B), d["dW_xh"], d["dW_hh"], d["db_h"],
                                  d["dW_hy"], d["db_y"], d["dx"], d["dh0"], d["delta_norms"],
                                  d["weight_grad_norms"], d["DZ"], d["work"])
            return
        cuda_lstm.lstm_forward(d["x"], d["W_ih"], d["W_hh"], d["b"], d["W_hy"], d["b_y"],
                               d["h0"], d["c0"], d["HS"], d["CS"], d["GATES"], d["TC"],
                               d["y_hat"])
        cuda_lstm.lstm_backward(d["x"], d["W_ih"], d["W_hh"], d["W_hy"], c.truncate, d["HS"],
                                d["CS"], d["GATES"], d["TC"], self.loss(B), d["dW_ih"],
                                d["dW_hh"], d["db"], d["dW_hy"], d["db_y"], d["dx"],
                                d["dh0"], d["dc0"], d["delta_norms"], d["cell_norms"],
                                d["weight_grad_norms"], d["DH"], d["DG"], d["work"],
                                d["work_g"])

    def download(self) -> Gradients:
        d = self.d
        return Gradients(
            float(d["loss"].copy_to_host()[0]),
            {n: d["d" + n].copy_to_host() for n in self.call.params},
            d["dx"].copy_to_host(), d["delta_norms"].copy_to_host(),
            d["weight_grad_norms"].copy_to_host(), d["y_hat"].copy_to_host(),
            d["cell_norms"].copy_to_host() if self.lstm else None, d["dh0"].copy_to_host(),
            d["dc0"].copy_to_host() if self.lstm else None)


def _device_run(call: MLPCall | RecurrentCall, cache: dict) -> _DeviceRun:
    """The device buffers of this call's shape in ``cache`` (created on first use)."""
    cuda = require_cuda()
    if isinstance(call, MLPCall):
        key = ("cuda", "mlp", call.x.shape[0], call.residual, call.batchnorm,
               config.CUDA_BLOCK_1D)
        cls = _MLPRun
    else:
        key = ("cuda", call.cell, *call.x.shape[:2], call.every, call.slots,
               config.CUDA_BLOCK_1D, call.leaky, call.skip)
        cls = _RecurrentRun
    run = cache.get(key)
    if run is None:
        run = cache[key] = cls(cuda, call)
    return run


def run(call: MLPCall | RecurrentCall, cache: dict) -> Gradients:
    """Forward, loss and backward of one call on the GPU."""
    dev = _device_run(call, cache)
    dev.upload(call)
    dev.compute()
    return dev.download()


def time_loss_and_grads(model, x: np.ndarray, y: np.ndarray, repeats: int = 5, *,
                        truncate: int | None = None, loss_at: str = "last") -> dict:
    """Time ``model.loss_and_grads(x, y, ..., backend="cuda")`` phase by phase with CUDA
    events (``model``: an MLP, RNN or LSTM; ``truncate``/``loss_at`` for the latter two).

    One untimed call compiles and warms up; then ``repeats`` calls, each split into
    host-to-device copies (parameters and inputs), kernels (forward, loss, backward) and
    device-to-host copies (results).  Returns medians in milliseconds (``h2d_ms``,
    ``kernel_ms``, ``d2h_ms``, ``total_ms``), the raw ``samples`` and ``repeats``.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1, got {repeats!r}")
    cuda = require_cuda()
    sequence = {} if truncate is None and loss_at == "last" else {"truncate": truncate,
                                                                   "loss_at": loss_at}
    call = model.prepare(x, y, **sequence)
    run(call, model.workspaces)
    dev = _device_run(call, model.workspaces)
    samples = {"h2d_ms": [], "kernel_ms": [], "d2h_ms": [], "total_ms": []}
    for _ in range(repeats):
        events = [cuda.event() for _ in range(4)]
        events[0].record()
        dev.upload(call)
        events[1].record()
        dev.compute()
        events[2].record()
        dev.download()
        events[3].record()
        events[3].synchronize()
        for name, (a, b) in zip(samples, [(0, 1), (1, 2), (2, 3), (0, 3)], strict=True):
            samples[name].append(events[a].elapsed_time(events[b]))
    result = {name: median(v) for name, v in samples.items()}
    return {**result, "samples": samples, "repeats": repeats}
