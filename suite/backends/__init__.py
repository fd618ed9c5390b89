"""Where a model's forward and backward run, behind one interface: ``cpu`` (the Numba
kernels of ``vgbench.kernels``) or ``cuda`` (``vgbench.kernels.cuda``).

A model validates its inputs and describes one call as a ``calls.MLPCall`` or
``calls.RecurrentCall`` (packed parameter arrays, options, inputs: public fields only); a
backend's ``run(call, cache)`` returns a ``calls.Gradients`` record, which the model turns
into its ``GradResult``.  ``cache`` is the model's ``workspaces`` dict: the buffers a
backend keeps between calls of one model, under keys that start with the backend's name.
The CPU path never imports CUDA code; ``cuda`` loads ``numba.cuda`` on first use.

May import: ``vgbench.kernels`` only.
"""

import importlib

BACKENDS = ("cpu", "cuda", "auto")


def cuda_available() -> bool:
    """Whether ``numba.cuda`` can run kernels here: a GPU with a working driver, or the
    simulator when ``NUMBA_ENABLE_CUDASIM=1`` was set before numba was imported."""
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # a broken driver or toolkit counts as no GPU, not a crash
        return False


def require_cuda():
    """``numba.cuda`` when ``cuda_available()``, else a RuntimeError saying what to do."""
    if not cuda_available():
        raise RuntimeError(
            "backend 'cuda' needs an NVIDIA GPU with a working driver, and "
            "numba.cuda.is_available() is False on this machine; use backend 'cpu' "
            "(or 'auto', which falls back to the CPU), or set NUMBA_ENABLE_CUDASIM=1 "
            "before importing numba to run the CUDA kernels in numba's simulator")
    from numba import cuda

    return cuda


def resolve(backend: str) -> str:
    """"cpu" or "cuda" for a backend name; "auto" picks CUDA where ``cuda_available()``.

    Unknown names are a ValueError listing the valid ones.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    if backend == "auto":
        return "cuda" if cuda_available() else "cpu"
    return backend


def get(backend: str):
    """The backend module (``run(call, cache)``) for a backend name (``resolve``)."""
    return importlib.import_module(f"vgbench.backends.{resolve(backend)}")
