"""Gradient clipping: by global norm (direction kept) and by value.

Both take a dict name -> array (e.g. ``GradResult.grads``) or a sequence of arrays and
return new arrays in the same kind of container; the inputs are not modified.  A
non-finite gradient is reported, never silently propagated: a ``FloatingPointError`` naming
the offending arrays, or with ``error_if_nonfinite=False`` a ``RuntimeWarning`` and the
gradients returned unclipped (the returned norm tells the caller to skip the step).
"""

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from vgbench.kernels.clip import clip_values_into, scale_into
from vgbench.kernels.reductions import max_abs, scaled_sum_squares

Grads = Mapping[str, np.ndarray] | Sequence[np.ndarray]


def _named(grads: Grads) -> dict:
    if isinstance(grads, Mapping):
        items = dict(grads)
    elif isinstance(grads, Sequence) and not isinstance(grads, str | bytes):
        items = {str(i): g for i, g in enumerate(grads)}
    else:
        raise TypeError(f"grads must be a dict or a sequence of arrays, got "
                        f"{type(grads).__name__}")
    if not items:
        raise ValueError("grads is empty")
    for name, g in items.items():
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            raise TypeError(f"gradient {name!r} must be a float numpy array")
    return {name: np.ascontiguousarray(g) for name, g in items.items()}


def _like(grads: Grads, named: dict) -> dict | list:
    return named if isinstance(grads, Mapping) else list(named.values())


def _check_limit(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def _report(bad: list, what: str, error: bool) -> None:
    message = f"{what}; in: {', '.join(bad)}"
    if error:
        raise FloatingPointError(message)
    warnings.warn(message + " (returned unclipped)", RuntimeWarning, stacklevel=3)


def global_norm(grads: Grads) -> float:
    """sqrt(sum of squares of every entry): overflow-safe, inf/NaN if an entry is."""
    named = _named(grads)
    m = max(max_abs(g) for g in named.values())
    if not math.isfinite(m) or m == 0.0:
        return m
    return m * math.sqrt(sum(scaled_sum_squares(g, m) for g in named.values()))


def clip_by_global_norm(grads: Grads, max_norm: float, *,
                        error_if_nonfinite: bool = True) -> tuple[dict | list, float]:
    """Scale every gradient by max_norm / ||g|| when the global norm ||g|| > max_norm.

    Returns (clipped gradients, global norm before clipping).
    """
    max_norm = _check_limit("max_norm", max_norm)
    named = _named(grads)
    norm = global_norm(named)
    if not math.isfinite(norm):
        bad = [name for name, g in named.items() if not math.isfinite(max_abs(g))]
        _report(bad, f"gradient global norm is {norm}", error_if_nonfinite)
        return _like(grads, {k: g.copy() for k, g in named.items()}), norm
    factor = max_norm / norm if norm > max_norm else 1.0
    out = {}
    for name, g in named.items():
        out[name] = np.empty_like(g)
        scale_into(g, factor, out[name])
    return _like(grads, out), norm


def clip_by_value(grads: Grads, limit: float, *,
                  error_if_nonfinite: bool = True) -> dict | list:
    """Clip every entry to [-limit, limit] (+-inf become +-limit; NaN is reported)."""
    limit = _check_limit("limit", limit)
    named = _named(grads)
    bad = [name for name, g in named.items() if math.isnan(max_abs(g))]
    if bad:
        _report(bad, "gradient contains NaN", error_if_nonfinite)
        return _like(grads, {k: g.copy() for k, g in named.items()})
    out = {}
    for name, g in named.items():
        out[name] = np.empty_like(g)
        clip_values_into(g, limit, out[name])
    return _like(grads, out)
