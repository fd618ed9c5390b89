"""What runs around every task, wherever it runs: Numba and every BLAS pinned to one thread,
the record of the worker that ran it, and the hash of that worker's machine fingerprint.

One thread per task makes a result independent of where it ran: the same task gives the
same bits in this process and on any worker of the same machine (and a 2-core machine
runs two single-threaded workers faster than one worker fighting over its BLAS threads).
"""

import functools
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable
from contextlib import contextmanager

import numba
from threadpoolctl import threadpool_limits

from vgbench.env.fingerprint import fingerprint

IN_PROCESS = "in-process"  # the ``address`` of tasks run by this process itself

# Environment of LocalCluster workers, set before numpy and numba load there (Dask's nanny
# already sets the BLAS/OpenMP ones; Numba's thread pool is sized from NUMBA_NUM_THREADS).
PIN_ENV = {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}

# Fingerprint fields that describe this process, not the machine: thread counts, and how
# vgbench chose the BLAS core type (only the ``vgbench`` entry point chooses; the kernels
# actually loaded stay in, as ``blas[].architecture``).  Two workers of one machine share
# a hash with each other and with the command that started them.
_PER_PROCESS = ("threads", "numba_num_threads", "blas_coretype")


def machine_hash(fp: dict) -> str:
    """16 hex digits of SHA-256 over a fingerprint without what differs between processes
    of one machine: ``_PER_PROCESS``, and which OpenMP runtimes happen to be loaded (the
    BLAS libraries are kept, sorted, with their kernels)."""
    keep = {k: v for k, v in fp.items() if k not in _PER_PROCESS}
    keep["blas"] = sorted(({k: v for k, v in lib.items() if k != "num_threads"}
                           for lib in fp.get("blas", []) if lib.get("user_api") == "blas"),
                          key=lambda lib: str(lib.get("filepath")))
    text = json.dumps(keep, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.cache
def this_machine_hash() -> str:
    """``machine_hash`` of this process's machine (computed once per process)."""
    return machine_hash(fingerprint())


def worker_record(address: str) -> dict:
    """Who ran a task: Dask address (or "in-process"), host name, pid, machine hash."""
    return {"address": address, "host": socket.gethostname(), "pid": os.getpid(),
            "fingerprint_hash": this_machine_hash()}


@contextmanager
def one_thread():
    """Numba and every BLAS/OpenMP pool limited to one thread inside the block (the
    Numba setting is per calling thread, as Dask runs tasks on its own threads)."""
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        numba.set_num_threads(old)


def execute(fn: Callable, args: tuple, kwargs: dict, pin_threads: bool = True,
            address: str | None = None) -> tuple:
    """Run ``fn(*args, **kwargs)`` here; return (value, ``worker_record``, seconds).

    ``address`` None means "on a Dask worker": the address is the worker's own.
    """
    if address is None:
        from distributed import get_worker

        address = get_worker().address
    record = worker_record(address)
    t0 = time.perf_counter()
    if pin_threads:
        with one_thread():
            value = fn(*args, **kwargs)
    else:
        value = fn(*args, **kwargs)
    return value, record, time.perf_counter() - t0
