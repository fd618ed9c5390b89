"""Pure compute: Numba kernels for forward and backward passes (no I/O, no printing).

``import vgbench.kernels`` loads the CPU kernels only; the CUDA twins live in
``vgbench.kernels.cuda`` and are imported on demand.  Kernels import numpy, numba and each
other, nothing else of vgbench.
"""
