"""The machine fingerprint stored in every result (fields shared with asv's machine.json:
``machine``, ``os``, ``arch``, ``cpu``, ``num_cpu``, ``ram``), and what in it costs speed.
"""

import os
import platform
import sys

import llvmlite
import numba
import numpy
import scipy

from vgbench.backends import cuda_available
from vgbench.env.blas import blas_info, older_kernel_warnings, selection
from vgbench.env.cpu import SIMD_FLAGS, caches, cpu_vendor, cpuinfo, ram_bytes
from vgbench.env.denormals import fingerprint_entry as denormals_entry
from vgbench.env.threading_probe import touch_parallel
from vgbench.kernels import gemm


def threads() -> dict:
    """Logical CPUs, those this process may use, and the thread counts in force now."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    out = {"logical_cpus": os.cpu_count(), "usable_cpus": usable,
           "numba": numba.get_num_threads()}
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    return out


def _cuda_device() -> dict | None:
    """Name and compute capability of CUDA device 0, or None (simulator counts as none)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or not cuda_available():
        return None
    try:
        from numba import cuda

        dev = cuda.get_current_device()
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        return {"name": name, "compute_capability": list(dev.compute_capability)}
    except Exception:  # a broken driver is reported as no device, not a crash
        return None


def warnings(fp: dict) -> list[str]:
    """Things in a fingerprint that cost speed: OpenBLAS on kernels older than the CPU's."""
    return older_kernel_warnings(fp.get("blas", []), set(fp.get("cpu_flags", [])))


def fingerprint() -> dict:
    """Everything that explains a speed difference between two machines or runs."""
    info = cpuinfo()
    flags = set(info.get("flags", "").split())
    return {
        "machine": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": info.get("model name", platform.processor()),
        "num_cpu": os.cpu_count(),
        "ram": ram_bytes(),
        "cpu_vendor": cpu_vendor(),
        "caches": caches(),
        "simd": sorted(f for f in SIMD_FLAGS if f in flags),
        "cpu_flags": sorted(flags),
        "python": sys.version.split()[0],
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "numba_threading_layer": _threading_layer(),
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "threads": threads(),
        "blas": blas_info(),
        "blas_coretype": selection(),
        "kernel_gemm": gemm.record(),
        "cuda_device": _cuda_device(),
        "denormals": denormals_entry(),
    }


def _threading_layer() -> str:
    """Numba's threading layer (forces its initialisation with a tiny parallel call)."""
    try:
        return numba.threading_layer()
    except ValueError:
        touch_parallel()
        return numba.threading_layer()
