"""Thread-safe static shared arrays for numba's CUDA simulator (a no-op on a GPU).

The simulator runs each thread of a block as a Python thread and creates a static
``cuda.shared.array`` lazily, on the first call from any thread, keyed by the calling
source line.  numba's ``FakeCUDAShared.array`` does that check-then-insert without a lock:
when two threads of a launch's first block both find the key missing, they get two
different arrays, so one thread's writes are invisible to the others and a tiled product
or block reduction returns wrong values (rarely, depending on thread switches).
``patch`` replaces the method by the same logic under a lock.
"""

import sys
import threading

import numpy as np
from numba.core import types
from numba.np.numpy_support import as_dtype


def patch(shared_class) -> None:
    """Make ``shared_class.array`` (numba's ``FakeCUDAShared``) create each array once."""
    original = shared_class.array
    if getattr(original, "thread_safe", False):
        return
    lock = threading.Lock()

    def array(self, shape, dtype):
        if shape == 0:  # dynamic shared memory: one buffer made up front, no race
            return original(self, shape, dtype)
        if isinstance(dtype, types.Type):
            dtype = as_dtype(dtype)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)  # numba's key: file and line
        with lock:
            res = self._allocations.get(key)
            if res is None:
                res = self._allocations[key] = np.empty(shape, dtype)
        return res

    array.thread_safe = True
    shared_class.array = array
