"""What theory predicts for gradient decay: mean-field rates, the Pascanu bound, variance scaling.

Mean field (Poole et al. 2016; Schoenholz et al. 2017).  In a wide random MLP with weights
of variance sigma_w^2 / fan_in and biases of variance sigma_b^2, the pre-activation
variance q of every unit follows ``q <- sigma_w^2 E[f(sqrt(q) z)^2] + sigma_b^2`` (z
standard normal) to a fixed point q*.  There a backpropagated gradient's squared norm is
multiplied per layer by ``chi_1 = sigma_w^2 E[f'(sqrt(q*) z)^2]``, so ||dL/dh_l|| changes
by sqrt(chi_1) per layer and decays (or grows) over the depth scale xi = 1 / |ln chi_1|.
Expectations use Gauss-Hermite quadrature with an even number of nodes: the nodes are
symmetric and none sits on 0, so kinked activations (ReLU: E[f'^2] = 1/2) come out exact.

Pascanu et al. (2013).  In an RNN ``h_t = f(x_t W_xh + h_{t-1} W_hh + b)``,
||dh_t/dh_k|| <= (||W_hh||_2 gamma)^(t-k) with gamma = sup |f'|; sigma_max(W_hh) < 1/gamma
is sufficient for vanishing gradients.

Variance scaling (Glorot & Bengio 2010; Goodfellow et al. 2016, 8.2.5).  A product of
independent matrices with entries of variance sigma_w^2 / n multiplies a vector's expected
squared norm by exactly sigma_w^2 per factor, whatever n: ``normal`` init with
sigma_w = 1 keeps a linear net's gradient variance constant over depth.
"""

import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.linalg import svdvals
from scipy.optimize import brentq
from scipy.special import digamma

from vgbench.kernels.activations import (
    GAMMA,
    activation_code,
    activation_numpy,
    derivative_array,
)

QUADRATURE_NODES = 200  # even: symmetric nodes, none at 0 (exact for ReLU's kink)
_Z, _WZ = hermegauss(QUADRATURE_NODES)
_WZ = _WZ / math.sqrt(2.0 * math.pi)  # weights of E over z ~ N(0, 1)
Q_DIVERGED = 1e10


def gaussian_expectation(g, q: float) -> float:
    """E[g(sqrt(q) z)] for z ~ N(0, 1) by Gauss-Hermite quadrature; g maps arrays to arrays."""
    if not q >= 0.0:
        raise ValueError(f"variance q must be >= 0, got {q}")
    return float(np.dot(_WZ, g(math.sqrt(q) * _Z)))


def activation_derivative(name: str, z: np.ndarray) -> np.ndarray:
    """f'(z) elementwise, through the kernels' derivative-from-output table."""
    y = activation_numpy(name, np.asarray(z, dtype=np.float64))
    out = np.empty_like(y)
    derivative_array(activation_code(name), y, out)
    return out


def _variance_map(activation: str, sigma_w: float, sigma_b: float, q: float) -> float:
    """V(q) = sigma_w^2 E[f(sqrt(q) z)^2] + sigma_b^2."""
    return sigma_w ** 2 * gaussian_expectation(
        lambda u: activation_numpy(activation, u) ** 2, q) + sigma_b ** 2


def fixed_point_q(activation: str, sigma_w: float, sigma_b: float, q0: float = 1.0,
                  tol: float = 1e-13, max_iter: int = 1000) -> float:
    """Fixed point q* of the variance map reached from q0 (V is increasing, so the
    iteration is monotone and ends at the nearest fixed point in its direction).

    Iterates up to ``max_iter`` times, then finishes slow (near-critical) convergence by
    root finding on V(q) - q.  Returns 0.0 when q collapses (tanh with sigma_w <= 1,
    sigma_b = 0), inf when it diverges (ReLU with sigma_w^2 > 2), and q0 itself where
    every q is a fixed point (ReLU with sigma_w^2 = 2, sigma_b = 0).  A fixed point
    above Q_DIVERGED counts as diverged: there V(q) - q is below rounding noise.
    """
    if not (sigma_w >= 0.0 and sigma_b >= 0.0):
        raise ValueError(f"sigma_w and sigma_b must be >= 0, got {sigma_w}, {sigma_b}")
    if not q0 > 0.0:
        raise ValueError(f"q0 must be > 0, got {q0}")
    activation_code(activation)

    def g(q: float) -> float:
        return _variance_map(activation, sigma_w, sigma_b, q) - q

    q = float(q0)
    for _ in range(max_iter):
        q_new = _variance_map(activation, sigma_w, sigma_b, q)
        if not q_new < Q_DIVERGED:
            return math.inf
        if abs(q_new - q) <= tol * q:
            return q_new
        if q_new == 0.0:
            return 0.0
        q = q_new
    if g(q) < 0.0:
        tiny = 1e-14 * q
        return 0.0 if g(tiny) <= 0.0 else brentq(g, tiny, q, xtol=tol * q, rtol=1e-15)
    hi = 2.0 * q
    while g(hi) > 0.0:
        if hi > Q_DIVERGED:
            return math.inf
        hi *= 2.0
    return math.inf if hi > Q_DIVERGED else brentq(g, q, hi, rtol=1e-15)


def chi_1(activation: str, sigma_w: float, q_star: float) -> float:
    """chi_1 = sigma_w^2 E[f'(sqrt(q*) z)^2]: the per-layer factor of ||dL/dh||^2.

    The limits q* -> inf and q* -> 0+ are taken at q = 1e12 and q = 1e-30 (a collapsed
    ReLU net keeps E[f'^2] = 1/2, not ReLU'(0)^2 = 0; the ReLU family's E[f'^2] does not
    depend on q at all).
    """
    q = 1e12 if math.isinf(q_star) else max(q_star, 1e-30)
    return sigma_w ** 2 * gaussian_expectation(
        lambda u: activation_derivative(activation, u) ** 2, q)


@dataclass(frozen=True)
class MeanField:
    """Mean-field prediction for one (activation, sigma_w, sigma_b)."""

    activation: str
    sigma_w: float
    sigma_b: float
    q_star: float       # fixed-point pre-activation variance (0: collapse, inf: diverges)
    chi_1: float        # per-layer factor of the squared gradient norm
    rho: float          # predicted per-layer factor of ||dL/dh_l||: sqrt(chi_1)
    depth_scale: float  # xi = 1 / |ln chi_1| layers (inf at criticality)
    regime: str         # "ordered" (vanishing), "chaotic" (exploding) or "critical"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def mean_field(activation: str, sigma_w: float, sigma_b: float = 0.0) -> MeanField:
    """q*, chi_1, predicted rate and depth scale for a wide random MLP."""
    q = fixed_point_q(activation, sigma_w, sigma_b)
    c = chi_1(activation, sigma_w, q)
    log_c = math.log(c) if c > 0 else -math.inf
    critical = abs(log_c) < 1e-12
    regime = "critical" if critical else "ordered" if log_c < 0 else "chaotic"
    depth_scale = math.inf if critical else 1.0 / abs(log_c)
    return MeanField(activation, float(sigma_w), float(sigma_b), q, c, math.sqrt(c),
                     depth_scale, regime)


def critical_sigma_w(activation: str, sigma_b: float = 0.0, lo: float = 0.05,
                     hi: float = 4.0) -> float:
    """sigma_w on the order-to-chaos edge (chi_1 = 1) for bias scale sigma_b (brentq)."""
    return brentq(lambda s: mean_field(activation, s, sigma_b).chi_1 - 1.0, lo, hi,
                  xtol=1e-9, maxiter=500)


def effective_sigma_w(init: str, fan_in: int, fan_out: int, *, sigma_w: float = 1.0,
                      gain: float = 1.0) -> float | None:
    """sigma_w with Var(W_ij) = sigma_w^2 / fan_in for init scheme ``init`` (None: not random)."""
    var = {
        "normal": sigma_w ** 2 / fan_in,
        "small": 0.01 ** 2,
        "large": 1.0,
        "xavier": gain ** 2 * 2.0 / (fan_in + fan_out),
        "xavier_uniform": gain ** 2 * 2.0 / (fan_in + fan_out),
        "xavier_normal": gain ** 2 * 2.0 / (fan_in + fan_out),
        "he": gain ** 2 * 2.0 / fan_in,
        "he_normal": gain ** 2 * 2.0 / fan_in,
        "he_uniform": gain ** 2 * 2.0 / fan_in,
        "orthogonal": gain ** 2 / max(fan_in, fan_out),
    }.get(init)
    return None if var is None else math.sqrt(var * fan_in)


def fixed_point_inputs(activation: str, q_star: float, batch: int, in_dim: int,
                       rng: np.random.Generator, dtype="float64") -> np.ndarray:
    """Inputs x = f(sqrt(q*) z): shaped like a layer at the fixed point, so the first
    layer's pre-activations already have variance q* (mean field then holds from layer 1)."""
    z = rng.standard_normal((batch, in_dim))
    return activation_numpy(activation, math.sqrt(q_star) * z).astype(dtype)


@dataclass(frozen=True)
class PascanuBound:
    """Pascanu et al. (2013) bound for one recurrent weight matrix."""

    sigma_max: float         # ||W_hh||_2
    gamma: float             # sup |f'|
    rate: float              # sigma_max * gamma: bound on ||dh_t/dh_{t-1}||
    vanishing_sufficient: bool  # sigma_max < 1 / gamma: gradients must vanish

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def pascanu_bound(W_hh: np.ndarray, activation: str) -> PascanuBound:
    """The bound's per-step rate from the spectral norm of W_hh (scipy.linalg)."""
    W_hh = np.asarray(W_hh, dtype=np.float64)
    if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1]:
        raise ValueError(f"W_hh must be square, got shape {W_hh.shape}")
    activation_code(activation)
    s = float(svdvals(W_hh)[0])
    g = GAMMA[activation]
    return PascanuBound(s, g, s * g, s * g < 1.0)


@dataclass(frozen=True)
class LeakyBound:
    """The Pascanu-style bound for a leaky RNN with an optional skip through time.

    Step t of ``h_t = (1 - a) h_{t-1} + a f(x_t W_xh + h_{t-1} W_hh + h_{t-k} W_skip + b)``
    has the Jacobians dh_t/dh_{t-1} = (1 - a) I + a W_hh diag(f'(z_t)) and
    dh_t/dh_{t-k} = a W_skip diag(f'(z_t)), whose norms are at most
    r_1 = (1 - a) + a ||W_hh|| gamma and r_s = a ||W_skip|| gamma.  So with the loss at
    step T, g_j = ||dL/dh_j|| obeys g_j <= r_1 g_{j+1} + r_s g_{j+k}, and by induction
    g_j <= g_T lambda^(T-j) with lambda the largest positive root of
    lambda^k = r_1 lambda^(k-1) + r_s (lambda = r_1 without a skip): each step of the
    induction needs r_1 / lambda + r_s / lambda^k = 1.  lambda < 1 iff r_1 + r_s < 1.
    Without a skip the reverse triangle inequality also bounds the factor from below:
    g_{j} >= ((1 - a) - a ||W_hh|| gamma) g_{j+1} when that is positive (``floor``),
    so a small leak keeps gradients from vanishing faster than ``floor`` per step.
    """

    leak: float              # a
    skip: int                # k (0: none)
    sigma_max: float         # ||W_hh||_2
    sigma_skip: float        # ||W_skip||_2 (0 without a skip)
    gamma: float             # sup |f'|
    step_rate: float         # r_1 = (1 - a) + a sigma_max gamma
    skip_rate: float         # r_s = a sigma_skip gamma
    rate: float              # lambda: the bound's per-step factor
    vanishing_sufficient: bool  # lambda < 1: gradients must vanish
    floor: float | None      # (1 - a) - a sigma_max gamma when > 0 and no skip, else None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def leaky_bound(W_hh: np.ndarray, activation: str, leak: float = 1.0,
                W_skip: np.ndarray | None = None, skip: int = 0) -> LeakyBound:
    """``LeakyBound`` from the spectral norms of W_hh and W_skip (scipy.linalg); with
    leak = 1 and no skip its rate is ``pascanu_bound``'s."""
    W_hh = np.asarray(W_hh, dtype=np.float64)
    if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1]:
        raise ValueError(f"W_hh must be square, got shape {W_hh.shape}")
    if not 0.0 < leak <= 1.0:
        raise ValueError(f"leak must be in (0, 1], got {leak}")
    activation_code(activation)
    g = GAMMA[activation]
    s = float(svdvals(W_hh)[0])
    s_skip = float(svdvals(np.asarray(W_skip, np.float64))[0]) if skip else 0.0
    r1 = (1.0 - leak) + leak * s * g
    rs = leak * s_skip * g
    rate = r1 if not skip else _largest_root(r1, rs, skip)
    low = (1.0 - leak) - leak * s * g
    return LeakyBound(leak, skip, s, s_skip, g, r1, rs, rate, rate < 1.0,
                      low if low > 0 and not skip else None)


def _largest_root(r1: float, rs: float, k: int) -> float:
    """Largest positive root of lambda^k - r1 lambda^(k-1) - rs (bisection: the
    polynomial is negative below the root and increasing above max(r1, 0))."""
    def p(lam: float) -> float:
        return lam ** k - r1 * lam ** (k - 1) - rs
    lo, hi = max(r1, 0.0), max(r1, 0.0) + rs ** (1.0 / k) + 1e-300
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if p(mid) < 0:
            lo = mid
        else:
            hi = mid
    return hi


def bound_violations(curve: np.ndarray, rate: float, rtol: float = 1e-9) -> list[int]:
    """Steps k (1-based) where ||dL/dh_k|| > ||dL/dh_T|| rate^(T-k) (loss at the last step).

    Frobenius norms over a batch obey the same bound as one example's (row by row).
    Non-finite entries are skipped: they are reported as overflow, not as violations.
    """
    curve = np.asarray(curve, dtype=np.float64)
    T = len(curve)
    top = curve[-1]
    if not np.isfinite(top):
        return []
    with np.errstate(over="ignore", under="ignore"):
        bound = top * np.power(float(rate), np.arange(T - 1, -1, -1, dtype=np.float64))
    bad = np.isfinite(curve) & (curve > bound * (1.0 + rtol) + 1e-300)
    return [int(k) + 1 for k in np.flatnonzero(bad)]


def variance_scaling(sigma_w: float, width: int) -> dict:
    """Per-layer factors of a linear net with independent N(0, sigma_w^2 / n) weights.

    ``mean_square``: E||g W^T||^2 / ||g||^2 = sigma_w^2 exactly, for any width.
    ``geometric``: exp E[log(||g W^T|| / ||g||)] for one example (batch 1), =
    sigma_w exp((digamma(n/2) - ln(n/2)) / 2) since ||g W^T||^2 / ||g||^2 is
    sigma_w^2 chi^2_n / n; it is slightly below sigma_w, so the typical (not the mean)
    gradient still shrinks by about 1/(2n) per layer at sigma_w = 1.
    """
    n = int(width)
    if n < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    geo = sigma_w * math.exp(0.5 * (digamma(n / 2.0) - math.log(n / 2.0)))
    return {"mean_square": sigma_w ** 2, "geometric": geo}
