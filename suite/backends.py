"""Which compute backend a ``loss_and_grads`` call runs on."""

from suite.validate import check_choice

BACKENDS = ("cpu", "cuda", "auto")


def use_cuda(backend: str) -> bool:
    """True for "cuda", False for "cpu"; "auto" picks CUDA when a GPU is usable.

    Unknown names are a ValueError listing the valid ones.  Asking for "cuda" without a
    GPU fails later, in ``suite.cuda_backend``, with a message saying what to do.
    """
    check_choice("backend", backend, BACKENDS)
    if backend != "auto":
        return backend == "cuda"
    try:
        from numba import cuda

        return cuda.is_available()
    except ImportError:
        return False
