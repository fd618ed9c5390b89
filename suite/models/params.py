"""Parameter and gradient containers shared by every model."""

from dataclasses import dataclass

import numpy as np


class LiveParams(dict):
    """A dict of a model's live parameter arrays (views into its packed buffers).

    Reading gives the array the kernels use, so writing into it in place changes the
    model.  Assigning a key copies the new values into that array, so
    ``model.params["W0"] = my_weights`` loads weights as well: the value must be a numpy
    array of the parameter's shape and exact dtype (no silent casts: a float64 array into a
    float32 model is a TypeError, as are integers) with finite entries (ValueError).  Keys
    can be neither added nor removed.
    """

    def __setitem__(self, key, value) -> None:
        if key not in self:
            raise KeyError(f"no parameter {key!r}; parameters: {', '.join(self)}")
        target = dict.__getitem__(self, key)
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{key} must be a numpy array, got {type(value).__name__}")
        if value.dtype != target.dtype:
            raise TypeError(f"{key} is {target.dtype}, got {value.dtype}: cast it first")
        if value.shape != target.shape:
            raise ValueError(f"{key} has shape {target.shape}, got {value.shape}")
        if not np.isfinite(value).all():
            raise ValueError(f"{key} contains NaN or Inf")
        target[...] = value

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other):
        self.update(other)
        return self

    def setdefault(self, key, default=None):
        return self[key]

    def _fixed(self, *args, **kwargs):
        raise TypeError("model parameters cannot be removed")

    __delitem__ = pop = popitem = clear = _fixed


@dataclass(frozen=True)
class GradResult:
    """What ``loss_and_grads`` returns, for every model.

    loss : float, the MSE loss (or <cotangent, y_hat> when a cotangent was injected).
    grads : dict name -> array, dL/d(parameter), same keys and shapes as ``model.params``.
    grad_input : dL/dx, shaped like x.
    delta_norms : (L,) or (T,) float64, ||dL/dh|| per hidden layer l = 1..L or per time
        step t = 1..T (Frobenius over the batch): the decay curve.
    weight_grad_norms : (L,) float64 ||dL/dW_l||_F per hidden layer (MLP); for recurrent
        models the norms of the input and recurrent weight gradients.
    output : the readout y_hat of the forward pass.
    cell_norms : (T,) float64 ||dL/dc_t|| per step for the LSTM, else None.
    grad_h0 : dL/dh0 (recurrent models), else None.
    grad_c0 : dL/dc0 (LSTM), else None.
    subnormal_counts : with ``count_subnormal=True`` (CPU backend), int64 counts of the
        [subnormal, exactly zero] entries of dL/dh per layer (L, 2) or step (T, 2); the
        LSTM adds dL/dc_t's (T, 4).  Else None.
    """

    loss: float
    grads: dict
    grad_input: np.ndarray
    delta_norms: np.ndarray
    weight_grad_norms: np.ndarray
    output: np.ndarray
    cell_norms: np.ndarray | None = None
    grad_h0: np.ndarray | None = None
    grad_c0: np.ndarray | None = None
    subnormal_counts: np.ndarray | None = None
