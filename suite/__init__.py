"""vgbench: a benchmark suite for the vanishing/exploding gradient problem.

Layout (each sub-package's docstring says what it holds and what it may import; arrows
point down, nothing imports upward):

    vgbench.cli        the ``vgbench`` command line, one module per command
    vgbench.report     result files, tables, plots, the ``vgbench run`` summary
    vgbench.speed      timing, ceiling, flops, baselines, sweeps, compare, memory
    vgbench.analysis   decay probes and fits, theory, clipping
    vgbench.training   SGD runs and synthetic tasks
    vgbench.models     MLP, RNN, LSTM: parameters, inputs, results
    vgbench.backends   where a forward+backward runs (cpu, cuda), one interface
    vgbench.kernels    pure compute: Numba CPU kernels and their CUDA twins
    vgbench.env        host facts, BLAS policy, the machine fingerprint

``from vgbench import MLP, RNN, LSTM`` works; the models load on first use, so importing
``vgbench`` (the command line does) loads neither NumPy nor Numba: the BLAS core type must
be chosen before NumPy loads its OpenBLAS.
"""

__version__ = "0.1.0"

from vgbench.env.kernel_cache import check_kernel_cache  # noqa: E402

check_kernel_cache()  # before any kernel loads from Numba's cache

from vgbench.env.numba_layer import choose_threading_layer  # noqa: E402

choose_threading_layer()  # before Numba starts its thread pool

_EXPORTS = {"MLP": "vgbench.models", "RNN": "vgbench.models", "LSTM": "vgbench.models",
            "GradResult": "vgbench.models"}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vgbench' has no attribute {name!r}")
