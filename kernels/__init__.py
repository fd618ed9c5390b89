"""Pure compute: Numba kernels for forward and backward passes (no I/O, no printing).

``import kernels`` loads the CPU kernels only; the CUDA twins live in ``kernels.cuda``
and are imported on demand.
"""
