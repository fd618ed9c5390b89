"""Echo state network: a fixed random reservoir and a linear readout fitted in closed form.

``ESN(in_dim, reservoir, out_dim, spectral_radius=0.9, leak=1.0, input_scale=1.0,
density=0.1, ridge=1e-6, washout=50, dtype="float64", seed=0)``.

* Reservoir ``W_res (R, R)``: each entry non-zero with probability ``density``, drawn
  U(-1, 1), then rescaled so that its spectral radius, *measured* by a dense eigenvalue
  solve (numpy.linalg.eigvals), equals ``spectral_radius``.  Input weights ``W_in (I, R)``
  and bias ``b (R,)`` U(-input_scale, input_scale).  None of these is trained.
* State loop (``vgbench.kernels.esn``): h_t = (1 - a) h_{t-1} + a tanh(x_t W_in +
  h_{t-1} W_res + b), h_0 = 0.
* Readout y = [h, 1] @ W_out, ``W_out (R + 1, O)`` (last row: bias), fitted by ridge
  regression in closed form, W_out = (S^T S + ridge I)^-1 S^T Y (scipy.linalg.solve,
  symmetric positive definite), S the stacked states with a ones column.  ``fit(...,
  loss_at="last")`` uses h_T of each sequence; ``"every"`` uses every h_t with t > washout.
* ``state_jacobian_norms(x)``: ||dh_T/dh_t||_2 per t and example, the echo state
  property made visible (fading memory below radius 1, not above).

No gradient flows through the reservoir, so nothing vanishes or explodes in training;
what the reservoir forgets is gone from the states instead.  CPU only.
"""

import numpy as np
from scipy import linalg

from vgbench.kernels.esn import esn_states
from vgbench.models.validate import (
    check_array,
    check_choice,
    check_dtype,
    check_leak,
    check_positive_int,
)


class ESN:
    """Echo state network (module docstring); ``params`` holds W_in, W_res, b and, once
    fitted, W_out."""

    def __init__(self, in_dim: int, reservoir: int, out_dim: int, spectral_radius: float = 0.9,
                 leak: float = 1.0, input_scale: float = 1.0, density: float = 0.1,
                 ridge: float = 1e-6, washout: int = 50, dtype: str = "float64",
                 seed: int = 0):
        self.in_dim = check_positive_int("in_dim", in_dim)
        self.reservoir = check_positive_int("reservoir", reservoir)
        self.out_dim = check_positive_int("out_dim", out_dim)
        for name, v in (("spectral_radius", spectral_radius), ("input_scale", input_scale),
                        ("density", density)):
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if density > 1:
            raise ValueError(f"density must be in (0, 1], got {density!r}")
        if not (np.isfinite(ridge) and ridge >= 0):
            raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
        self.spectral_radius = float(spectral_radius)
        self.leak = check_leak(leak)
        self.input_scale = float(input_scale)
        self.density = float(density)
        self.ridge = float(ridge)
        self.washout = check_positive_int("washout", washout, minimum=0)
        self.dtype = check_dtype(dtype)
        self.seed = seed
        rng = np.random.default_rng(seed)
        R, dt = self.reservoir, self.dtype
        W = rng.uniform(-1, 1, (R, R)) * (rng.random((R, R)) < density)
        radius = float(np.abs(np.linalg.eigvals(W)).max())
        if not radius > 0:
            raise ValueError(f"the random reservoir has spectral radius 0 (density "
                             f"{density} too low for {R} units); raise density")
        self.params = {
            "W_in": rng.uniform(-input_scale, input_scale, (self.in_dim, R)).astype(dt),
            "W_res": (W * (spectral_radius / radius)).astype(dt),
            "b": rng.uniform(-input_scale, input_scale, R).astype(dt),
        }
        self.measured_radius = float(np.abs(np.linalg.eigvals(
            self.params["W_res"].astype(np.float64))).max())

    def states(self, x: np.ndarray) -> np.ndarray:
        """HS (T+1, B, R): HS[0] = 0, HS[t] = h_t, for x (T, B, in_dim)."""
        x = check_array("x", x, self.dtype, (None, None, self.in_dim))
        T, B = x.shape[:2]
        if T == 0:
            raise ValueError("x has T = 0 time steps; a sequence needs T >= 1")
        HS = np.empty((T + 1, B, self.reservoir), self.dtype)
        p = self.params
        esn_states(x, p["W_in"], p["W_res"], p["b"], np.zeros((B, self.reservoir), self.dtype),
                   self.leak, HS)
        return HS

    def _design(self, x: np.ndarray, loss_at: str) -> np.ndarray:
        """Rows [h, 1] the readout sees: (B, R+1) for "last", (n, R+1) for "every"."""
        check_choice("loss_at", loss_at, ("last", "every"))
        HS = self.states(x)
        S = HS[-1] if loss_at == "last" else HS[1 + self.washout:].reshape(-1, self.reservoir)
        if loss_at == "every" and S.shape[0] == 0:
            raise ValueError(f"T = {HS.shape[0] - 1} leaves no step after the washout "
                             f"{self.washout}")
        return np.hstack([S, np.ones((S.shape[0], 1), S.dtype)])

    def _targets(self, y, x, loss_at: str) -> np.ndarray:
        T, B = x.shape[:2]
        if loss_at == "last":
            return check_array("y", y, self.dtype, (B, self.out_dim))
        y = check_array("y", y, self.dtype, (T, B, self.out_dim))
        return y[self.washout:].reshape(-1, self.out_dim)

    def fit(self, x: np.ndarray, y: np.ndarray, loss_at: str = "last") -> float:
        """Fit W_out by ridge regression on x (T, B, in_dim) and y ((B, O) for "last", (T,
        B, O) for "every", steps after the washout used); return the training MSE."""
        S = np.asarray(self._design(x, loss_at), np.float64)
        Y = np.asarray(self._targets(y, x, loss_at), np.float64)
        A = S.T @ S
        A[np.diag_indices_from(A)] += self.ridge
        W_out = linalg.solve(A, S.T @ Y, assume_a="pos")
        self.params["W_out"] = W_out.astype(self.dtype)
        return float(np.mean((S @ W_out - Y) ** 2))

    def predict(self, x: np.ndarray, loss_at: str = "last") -> np.ndarray:
        """Readout: (B, O) for "last"; (T - washout, B, O) for "every"."""
        if "W_out" not in self.params:
            raise RuntimeError("the readout is not fitted yet: call fit(x, y) first")
        out = self._design(x, loss_at) @ self.params["W_out"]
        return out if loss_at == "last" else out.reshape(-1, x.shape[1], self.out_dim)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Readout of the last state, (B, O) (as ``RNN.forward``)."""
        return self.predict(x, "last")

    def state_jacobian_norms(self, x: np.ndarray) -> np.ndarray:
        """(T+1, B) float64: entry [t, b] = ||dh_T / dh_t||_2 for example b, t = 0..T
        (1 at t = T).  dh_s/dh_{s-1} = (1 - a) I + a W_res diag(1 - u_s^2) in the
        row-vector convention, u_s the tanh output; products formed in float64."""
        HS = np.asarray(self.states(x), np.float64)
        T, B = HS.shape[0] - 1, HS.shape[1]
        a = self.leak
        W = np.asarray(self.params["W_res"], np.float64)
        x64 = np.asarray(x, np.float64)
        W_in = np.asarray(self.params["W_in"], np.float64)
        b = np.asarray(self.params["b"], np.float64)
        out = np.ones((T + 1, B))
        for e in range(B):
            M = np.eye(self.reservoir)  # dh_T/dh_t, t counting down
            for s in range(T, 0, -1):
                u = np.tanh(x64[s - 1, e] @ W_in + HS[s - 1, e] @ W + b)
                M = ((1 - a) * np.eye(self.reservoir) + a * W * (1 - u ** 2)) @ M
                out[s - 1, e] = np.linalg.norm(M, 2)
        return out

    def __repr__(self) -> str:
        return (f"ESN(in_dim={self.in_dim}, reservoir={self.reservoir}, "
                f"out_dim={self.out_dim}, spectral_radius={self.spectral_radius}, "
                f"leak={self.leak}, input_scale={self.input_scale}, density={self.density}, "
                f"ridge={self.ridge}, washout={self.washout}, dtype={self.dtype.name!r}, "
                f"seed={self.seed})")
