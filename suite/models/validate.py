"""Input checks shared by every model: clear errors instead of segfaults or silent NaN."""

import numbers

import numpy as np

DTYPES = ("float32", "float64")


def check_dtype(dtype) -> np.dtype:
    """Return np.dtype for 'float32'/'float64' (or the dtype objects); else ValueError."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}") from exc
    if dt.name not in DTYPES:
        raise ValueError(f"unsupported dtype {dt.name!r}; valid: {', '.join(DTYPES)}")
    return dt


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as int if it is an integer >= minimum; else TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(name: str, value, minimum: float | None = None) -> float:
    """Return ``value`` as float if it is a finite real number >= ``minimum`` (no bound when
    None); else TypeError/ValueError naming ``name``.  NaN and Inf scales would give a
    model of NaN weights, or an OverflowError deep in the initialiser."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value:g}")
    return value


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``; else ValueError listing them."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(map(str, choices))}")
    return value


def check_array(name: str, a, dtype: np.dtype, shape: tuple) -> np.ndarray:
    """Return ``a`` as a C-contiguous array of ``dtype`` and ``shape``, all finite.

    ``shape`` entries of None match any size.  Non-contiguous input is copied (a result,
    not an error); a different dtype is a TypeError (no silent up- or down-casting), a
    wrong shape or a non-finite value a ValueError naming ``name``.
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} has dtype {a.dtype}, the model uses {dtype}: cast it first")
    if a.ndim != len(shape) or any(
            s is not None and s != n for s, n in zip(shape, a.shape, strict=True)):
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} has shape {a.shape}, expected {want}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return np.ascontiguousarray(a)


def check_leak(leak) -> float:
    """The leak a as a float in (0, 1], else ValueError (TypeError for a non-number)."""
    if isinstance(leak, bool) or not isinstance(leak, int | float | np.floating):
        raise TypeError(f"leak must be a number in (0, 1], got {leak!r}")
    if not 0.0 < leak <= 1.0:
        raise ValueError(f"leak must be in (0, 1], got {leak!r}")
    return float(leak)


def check_skip(skip) -> int:
    """The skip k: 0 (none) or an integer >= 2, else ValueError."""
    if isinstance(skip, bool) or not isinstance(skip, int | np.integer) or skip == 1 \
            or skip < 0:
        raise ValueError(f"skip must be 0 (none) or an integer >= 2, got {skip!r}")
    return int(skip)

