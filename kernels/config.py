"""One place for the compile settings every kernel shares.

FASTMATH leaves out ``nnan`` and ``ninf`` on purpose: decay runs must see overflow and
underflow, so NaN and Inf keep their IEEE meaning.  ``error_model="numpy"`` lets float
divisions vectorise (the default python model checks every one for zero).
"""

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
JIT_OPTIONS = {"cache": True, "fastmath": FASTMATH, "error_model": "numpy", "nogil": True}

# CUDA launch geometry, shared by every kernel in kernels/cuda (tests may shrink it).
CUDA_BLOCK_1D = 256
CUDA_TILE = 16
