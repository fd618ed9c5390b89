"""Weight initialisers, reproducible from a numpy Generator.

Weights are (fan_in, fan_out), used as ``h @ W``.  Every scheme takes the same keywords;
those it does not use are ignored:

=================  ================================================  ===============
name               weights                                           biases
=================  ================================================  ===============
normal             N(0, sigma_w^2 / fan_in)                          N(0, sigma_b^2)
small              N(0, 0.01^2)                                      0
large              N(0, 1)                                           0
xavier / _uniform  U(-a, a), a = gain sqrt(6 / (fan_in + fan_out))   0
xavier_normal      N(0, gain^2 2 / (fan_in + fan_out))               0
he / he_normal     N(0, gain^2 2 / fan_in)                           0
he_uniform         U(-a, a), a = gain sqrt(6 / fan_in)               0
orthogonal         gain * (semi-)orthogonal Q of a Gaussian's QR     0
identity           gain * I (rectangular eye if not square; IRNN)    0
=================  ================================================  ===============
"""

import numpy as np

INITS = ("normal", "small", "large", "xavier", "xavier_uniform", "xavier_normal", "he",
         "he_normal", "he_uniform", "orthogonal", "identity")


def check_init(name: str) -> str:
    """Return ``name`` if it is a known initialiser; else ValueError listing them."""
    if not isinstance(name, str) or name not in INITS:
        raise ValueError(f"unknown init {name!r}; valid: {', '.join(INITS)}")
    return name


def orthogonal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Haar-distributed (semi-)orthogonal (fan_in, fan_out) matrix (QR with sign fix)."""
    n, m = max(fan_in, fan_out), min(fan_in, fan_out)
    q, r = np.linalg.qr(rng.standard_normal((n, m)))
    q *= np.sign(np.diag(r))
    return q if fan_in >= fan_out else q.T


def init_weight(name: str, fan_in: int, fan_out: int, rng: np.random.Generator,
                dtype=np.float64, *, sigma_w: float = 1.0, gain: float = 1.0) -> np.ndarray:
    """Draw a (fan_in, fan_out) weight matrix by scheme ``name`` (module table)."""
    check_init(name)
    shape = (fan_in, fan_out)
    if name == "normal":
        w = rng.normal(0.0, sigma_w / np.sqrt(fan_in), shape)
    elif name == "small":
        w = rng.normal(0.0, 0.01, shape)
    elif name == "large":
        w = rng.normal(0.0, 1.0, shape)
    elif name in ("xavier", "xavier_uniform"):
        a = gain * np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-a, a, shape)
    elif name == "xavier_normal":
        w = rng.normal(0.0, gain * np.sqrt(2.0 / (fan_in + fan_out)), shape)
    elif name in ("he", "he_normal"):
        w = rng.normal(0.0, gain * np.sqrt(2.0 / fan_in), shape)
    elif name == "he_uniform":
        a = gain * np.sqrt(6.0 / fan_in)
        w = rng.uniform(-a, a, shape)
    elif name == "orthogonal":
        w = gain * orthogonal(rng, fan_in, fan_out)
    else:
        w = gain * np.eye(fan_in, fan_out)
    return np.ascontiguousarray(w, dtype=dtype)


def init_bias(name: str, size: int, rng: np.random.Generator, dtype=np.float64, *,
              sigma_b: float = 0.0) -> np.ndarray:
    """Draw a bias vector: N(0, sigma_b^2) for ``normal``, zeros for the other schemes."""
    check_init(name)
    if name == "normal" and sigma_b > 0.0:
        return rng.normal(0.0, sigma_b, size).astype(dtype)
    return np.zeros(size, dtype=dtype)
