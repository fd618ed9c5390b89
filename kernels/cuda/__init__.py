"""CUDA twins of the CPU kernels, written with ``numba.cuda`` (imported on demand only).

``mlp``, ``rnn``, ``lstm``, ``clip`` and ``activations`` mirror their CPU namesakes: same
public function names and argument order, device arrays (``d_`` prefix in callers) in place
of host arrays (each module docstring says where its scratch differs).  ``gemm`` (a tiled
product with fused epilogues) and ``reduce`` (block reductions into float64) are
device-only building blocks with signatures of their own.  Launch geometry comes from
``vgbench.kernels.config`` (``CUDA_BLOCK_1D`` threads for 1-D kernels, ``CUDA_TILE`` x
``CUDA_TILE`` blocks for matrix products), read at call time so tests can shrink it; the
kernels are compiled once per (geometry, dtype) by small cached factories.

Every module runs unchanged under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``); importing
the package there first makes the simulator's shared arrays thread-safe (``_simulator``).
"""

from numba import config as _numba_config

if _numba_config.ENABLE_CUDASIM:
    from numba.cuda.simulator.kernelapi import FakeCUDAShared

    from vgbench.kernels.cuda import _simulator

    _simulator.patch(FakeCUDAShared)
