"""Seeded case builders shared by the asv benchmarks (imported, never collected itself).

Every builder draws weights from ``SEED`` and data from ``DATA_SEED``, so a tracked
number that moves means the code changed, not the random draw.
"""

import math

import numpy as np

SEED = 0  # model weights
DATA_SEED = 1  # inputs, targets, cotangents

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
DTYPES = ["float32", "float64"]
INITS = ["xavier", "he", "orthogonal"]

BATCH = 64
IN_DIM = 32
OUT_DIM = 8


def require_cuda() -> None:
    """Raise NotImplementedError (asv then skips the combination) without a usable GPU."""
    try:
        from numba import cuda
        available = cuda.is_available()
    except ImportError:
        available = False
    if not available:
        raise NotImplementedError("no CUDA device")


def mlp_case(activation: str, depth: int, width: int, dtype: str, *, init: str = "xavier",
             batch: int = BATCH) -> tuple:
    """(model, x (B, I), y (B, O)) for an MLP of ``depth`` hidden layers of ``width``."""
    from vgbench.models import MLP

    model = MLP(IN_DIM, width, depth, OUT_DIM, activation=activation, init=init,
                dtype=dtype, seed=SEED)
    rng = np.random.default_rng(DATA_SEED)
    x = rng.standard_normal((batch, IN_DIM)).astype(dtype)
    y = rng.standard_normal((batch, OUT_DIM)).astype(dtype)
    return model, x, y


def recurrent_case(cell: str, seq_len: int, hidden: int, dtype: str, *,
                   batch: int = BATCH) -> tuple:
    """(model, x (T, B, I), y (B, O)) for a tanh RNN or an LSTM; loss at the last step."""
    from vgbench.models.recurrent import LSTM, RNN

    cls = {"rnn": RNN, "lstm": LSTM}[cell]
    model = cls(IN_DIM, hidden, OUT_DIM, dtype=dtype, seed=SEED)
    rng = np.random.default_rng(DATA_SEED)
    x = rng.standard_normal((seq_len, batch, IN_DIM)).astype(dtype)
    y = rng.standard_normal((batch, OUT_DIM)).astype(dtype)
    return model, x, y


def decay_summary(model: str, size: int, **config) -> dict:
    """``vgbench.analysis.decay`` summary of one depth (MLP) or sequence length (RNN/LSTM).

    Three fixed seeds, width 128, batch 64, float64, an independent random cotangent at
    the readout (and MLP inputs at the mean-field fixed point): the suite's defaults.
    """
    from vgbench.analysis.decay import DecayConfig, sweep

    sizes = {"depths": (size,)} if model == "mlp" else {"seq_lens": (size,)}
    cfg = DecayConfig(model=model, width=128, batch=BATCH, seeds=3, **sizes, **config)
    return sweep(cfg, progress=False)["sizes"][0]


# Tracked values keep 6 significant digits: float64 summation order moves the 15th digit,
# not the 6th, so a tracked change is a change in the code, and asv prints no 17-digit noise.
DIGITS = 6


def rounded(value: float, digits: int = DIGITS) -> float:
    """``value`` to ``digits`` significant digits."""
    return float(f"{value:.{digits}g}")


def log10_ratio(summary: dict) -> float:
    """log10(||dL/dh_1|| / ||dL/dh_L||): negative when gradients vanish toward the input."""
    return math.log10(summary["first_last_ratio"])


def fitted_factor(summary: dict) -> float:
    """Fitted per-layer (per-step) backward factor rho: < 1 vanishing, > 1 exploding."""
    return summary["fit"]["rho"]


# asv reads every tracked number as "lower is better".  The decay tracks therefore track
# distances: from no change (decades), from the critical rate rho = 1, from theory.

def decades_changed(summary: dict) -> float:
    """|log10(first/last)|: decades the gradient norm changes across the net (>= 0)."""
    return rounded(abs(log10_ratio(summary)))


def log_rate(summary: dict) -> float:
    """|ln rho| = 1 / |xi|, xi the depth scale: 0 at the critical rate, larger the faster
    the gradient vanishes or explodes per layer (step)."""
    return rounded(abs(math.log(fitted_factor(summary))))
