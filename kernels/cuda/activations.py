"""Device twins of ``vgbench.kernels.activations.activate`` and ``derivative_from_output``.

The very same Python functions, compiled for the device: same codes, stable forms and
float literals, so a float64 activation on the device equals the host one to libm rounding.
"""

from numba import cuda

from vgbench.kernels import activations

activate = cuda.jit(device=True)(activations.activate.py_func)
derivative_from_output = cuda.jit(device=True)(activations.derivative_from_output.py_func)
