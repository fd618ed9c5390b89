"""Numba's threading layer: "workqueue", unless the user chose one.

No vgbench kernel runs in Numba's thread pool (the kernels are serial; their threads are
the BLAS library's), but two helpers start that pool: the denormal-mode writer
(``vgbench.env.denormals``, one ``prange`` iteration per thread) and the fingerprint's
probe.  Numba's default layer without TBB is "omp", a second GNU OpenMP runtime beside
PyTorch's bundled one; once it had run, PyTorch's 2-thread ``nn.RNN`` in the same process
ran 2.6-5.3x slower (it stays slower with ``OMP_WAIT_POLICY=PASSIVE``; docs/performance.md,
entry 11), which inflated 2-thread ratios against it.  The workqueue layer's
threads sleep on a condition variable and disturb nobody.  Its one limit, parallel
kernels launched from several Python threads at once, does not arise: the helpers run in
the calling thread, and a Dask worker runs one task at a time.

May import: nothing of vgbench, and numba only when it is already loaded.
"""

import os
import sys

ENV = "NUMBA_THREADING_LAYER"
LAYER = "workqueue"


def choose_threading_layer() -> str:
    """Make "workqueue" Numba's threading layer unless ``NUMBA_THREADING_LAYER`` names
    one; returns the layer requested.  Call before Numba starts its pool (``vgbench``
    does, on import): afterwards Numba keeps the layer it started."""
    if os.environ.get(ENV, "default") != "default":
        return os.environ[ENV]
    os.environ[ENV] = LAYER  # read by numba when it loads, and by child processes
    numba = sys.modules.get("numba")
    if numba is not None:  # loaded before vgbench: its config has been read already
        numba.config.THREADING_LAYER = LAYER
    return LAYER
