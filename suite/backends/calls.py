"""The records a model hands to a backend and gets back: the whole backend interface.

Shapes and conventions are those of the kernels (``vgbench.kernels.mlp``, ``.rnn``,
``.lstm``); every array is C-contiguous and of the model's dtype, already validated.
"""

from dataclasses import KW_ONLY, dataclass

import numpy as np

MLP_PARAMS = ("W_in", "W_hid", "W_out", "b_hid", "b_out", "bn_gamma", "bn_beta")


@dataclass(frozen=True)
class MLPCall:
    """One MLP forward+backward (``vgbench.kernels.mlp``)."""

    act: int  # activation code (vgbench.kernels.activations)
    residual: bool  # hidden layers l >= 1 add their input
    batchnorm: bool  # training-mode batch norm before the activation
    params: tuple  # live packed arrays in MLP_PARAMS order
    x: np.ndarray  # (B, I)
    y: np.ndarray | None  # (B, O) MSE targets, or None with a cotangent
    cotangent: np.ndarray | None  # (B, O) injected dL/dy_hat, or None
    _: KW_ONLY  # options by name only: a positional slip would mean another computation
    count_subnormal: bool = False  # fill Gradients.counts (CPU backend only)


@dataclass(frozen=True)
class RecurrentCall:
    """One RNN or LSTM forward+BPTT (``vgbench.kernels.rnn``, ``.lstm``)."""

    cell: str  # "rnn" or "lstm"
    act: int  # RNN activation code (the LSTM's are fixed)
    params: dict  # live arrays: W_xh, W_hh, b_h, W_hy, b_y (RNN; W_skip with a skip) or
    #               W_ih, W_hh, b, W_hy, b_y (LSTM)
    x: np.ndarray  # (T, B, I)
    y: np.ndarray | None  # (S, B, O) MSE targets (S = 1 last state, T every state), or None
    cotangent: np.ndarray | None  # (S, B, O) injected dL/dy_hat, or None
    truncate: int  # k >= 1, or 0 for full BPTT
    h0: np.ndarray  # (B, H)
    c0: np.ndarray | None  # (B, H) for the LSTM, None for the RNN
    out_dim: int  # O
    every: bool  # a readout (and loss) at every step, else at the last one
    _: KW_ONLY  # options by name only: a positional slip would mean another computation
    count_subnormal: bool = False  # fill Gradients.counts (CPU backend only)
    leak: float = 1.0  # RNN leak a in (0, 1]: h_t = (1 - a) h_{t-1} + a f(z_t)
    skip: int = 0  # RNN skip k_s >= 2 adds h_{t-k_s} @ params["W_skip"]; 0: none

    @property
    def leaky(self) -> bool:
        """An RNN call for ``vgbench.kernels.leaky_rnn`` (a leak below 1 or a skip)."""
        return self.cell == "rnn" and (self.leak != 1.0 or self.skip > 0)

    @property
    def slots(self) -> int:
        """Losses in flight the kernels keep apart: min(k, T) when truncating every
        step's loss, else 1."""
        T = self.x.shape[0]
        return min(self.truncate, T) if self.truncate and self.every else 1


@dataclass(frozen=True)
class Gradients:
    """What a backend returns; the model names it (``GradResult``)."""

    loss: float
    grads: tuple | dict  # MLP: packed in MLP_PARAMS order; recurrent: by parameter name
    dx: np.ndarray  # dL/dx, shaped like x
    delta_norms: np.ndarray  # (L,) or (T,) float64
    weight_grad_norms: np.ndarray  # (L,) or (2,) float64
    y_hat: np.ndarray  # (B, O) MLP; (S, B, O) recurrent
    cell_norms: np.ndarray | None = None  # (T,) LSTM
    dh0: np.ndarray | None = None  # (B, H) recurrent
    dc0: np.ndarray | None = None  # (B, H) LSTM
    # (L, 2) / (T, 2) int64 [subnormal, zero] entries of dL/dh per layer or step, (T, 4)
    # with dL/dc's for the LSTM; only when the call asked (count_subnormal), else None
    counts: np.ndarray | None = None
