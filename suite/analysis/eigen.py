"""The eigenvalue picture of repeated multiplication by W_hh, measured on the kernels.

For a linear RNN (identity activation) with a symmetric W_hh = Q diag(lambda) Q^T and the
loss at step T, BPTT gives dL/dh_{t-1} = dL/dh_t W_hh^T (row vectors), so the component
of dL/dh_t along eigenvector q_i is exactly lambda_i^(T-t) times its value at T: each
direction decays (|lambda_i| < 1) or grows (> 1) at its own rate, and the overall norm
follows the largest |lambda_i| that the top cotangent touches.

How the per-step gradients are obtained: the kernels return only norms of dL/dh_t, but
with f = identity, dL/dz_t = dL/dh_t, and the input gradient is dL/dx_t = dL/dz_t W_xh^T.
The probe builds the RNN with in_dim = H and W_xh = I, so ``grad_input[t-1]`` *is*
dL/dh_t, computed by the ordinary Numba BPTT kernel in one call (no side path in NumPy,
no O(T^2) reruns).  The projection onto Q is analysis code in float64.
"""

from dataclasses import dataclass

import numpy as np

from vgbench.models import RNN


@dataclass(frozen=True)
class EigenResult:
    """Per-step gradients of a linear RNN projected onto W_hh's eigenvectors."""

    eigenvalues: np.ndarray  # (H,) lambda_i
    components: np.ndarray  # (T, H) ||<dL/dh_t, q_i>|| over the batch, t = 1..T
    relative: np.ndarray  # (T, H) components / components at T (the measured decay)
    predicted: np.ndarray  # (T, H) |lambda_i|^(T-t)
    # max |relative - predicted| / predicted over finite entries; a component c times
    # smaller than the largest one is resolved only to about eps * c (absolute rounding)
    max_rel_error: float

    def as_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                for k, v in self.__dict__.items()}


def symmetric_with_eigenvalues(eigenvalues, rng: np.random.Generator) -> tuple:
    """(W, Q): W = Q diag(lambda) Q^T with Q a random orthogonal matrix (QR of a Gaussian,
    signs fixed so that Q is Haar-distributed)."""
    lam = np.asarray(eigenvalues, np.float64)
    q, r = np.linalg.qr(rng.standard_normal((lam.size, lam.size)))
    q *= np.sign(np.diag(r))
    return (q * lam) @ q.T, q


def eigen_probe(eigenvalues, seq_len: int = 30, batch: int = 8, dtype: str = "float64",
                seed: int = 0) -> EigenResult:
    """Run one linear RNN with W_hh = Q diag(eigenvalues) Q^T over ``seq_len`` steps and a
    random cotangent at the last step; project dL/dh_t onto each q_i (module docstring)."""
    lam = np.asarray(eigenvalues, np.float64)
    if lam.ndim != 1 or lam.size < 1 or not np.isfinite(lam).all():
        raise ValueError("eigenvalues must be a non-empty list of finite numbers")
    H = lam.size
    rng = np.random.default_rng(seed)
    W, Q = symmetric_with_eigenvalues(lam, rng)
    model = RNN(H, H, 1, activation="identity", dtype=dtype, seed=seed)
    model.params["W_xh"] = np.eye(H, dtype=dtype)
    model.params["W_hh"] = W.astype(dtype)
    model.params["b_h"] = np.zeros(H, dtype)
    x = rng.standard_normal((seq_len, batch, H)).astype(dtype)
    # a cotangent that touches every eigendirection at step T
    cot = rng.standard_normal((batch, 1)).astype(dtype)
    model.params["W_hy"] = rng.standard_normal((H, 1)).astype(dtype)
    r = model.loss_and_grads(x, None, cotangent=cot)
    G = np.asarray(r.grad_input, np.float64)  # (T, B, H): dL/dh_t (W_xh = I, f' = 1)
    comps = np.linalg.norm(G @ Q, axis=1)  # (T, H)
    with np.errstate(all="ignore"):
        rel = comps / comps[-1]
        pred = np.abs(lam)[None, :] ** np.arange(seq_len - 1, -1, -1)[:, None]
        err = np.abs(rel - pred) / pred
    ok = np.isfinite(err)
    return EigenResult(lam, comps, rel, pred, float(err[ok].max()) if ok.any() else np.nan)
