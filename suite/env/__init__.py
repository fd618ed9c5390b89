"""The environment a measurement ran in: host facts (``cpu``), the OpenBLAS core-type
policy (``blas``), the denormal mode of every compute thread (``denormals``), the machine
fingerprint stored in every result (``fingerprint``), where a result came from
(``provenance``: version, git commit, command line, start time), the kernel cache
(``kernel_cache``) and Numba's threading layer (``numba_layer``).

``cpu`` and ``blas`` load no numpy at import: the core type is chosen before it loads.

May import: ``vgbench.backends`` (is CUDA usable), ``vgbench.kernels`` (the kernels' GEMM
library).
"""
