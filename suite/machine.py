"""Machine fingerprint stored in every result (fields shared with asv's machine.json:
``machine``, ``os``, ``arch``, ``cpu``, ``num_cpu``, ``ram``)."""

import os
import platform
import sys


def _cpuinfo() -> dict:
    """Model name and flags from /proc/cpuinfo (empty where it does not exist)."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "flags") and key not in info:
                    info[key] = value.strip()
    except OSError:
        pass
    return info


SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl",
              "avx512_bf16", "avx512_fp16", "amx_tile", "neon", "asimd", "sve")


def cpu_flags() -> set:
    """The CPU's feature flags (lower case)."""
    return set(_cpuinfo().get("flags", "").split())


def _ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _cuda_device() -> dict | None:
    """Name and compute capability of CUDA device 0, or None (simulator counts as none)."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return None
    try:
        from numba import cuda
        if not cuda.is_available():
            return None
        dev = cuda.get_current_device()
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        return {"name": name, "compute_capability": list(dev.compute_capability)}
    except Exception:  # a broken driver is reported as no device, not a crash
        return None


def blas_info() -> list:
    """Every BLAS/OpenMP library loaded in the process (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    return [{k: lib.get(k) for k in ("user_api", "internal_api", "version", "architecture",
                                      "num_threads", "filepath")}
            for lib in threadpool_info()]


def fingerprint() -> dict:
    """Everything that explains a speed difference between two machines or runs."""
    import llvmlite
    import numba
    import numpy
    import scipy

    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    return {
        "machine": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": info.get("model name", platform.processor()),
        "num_cpu": os.cpu_count(),
        "ram": _ram_bytes(),
        "simd": sorted(f for f in SIMD_FLAGS if f in flags),
        "python": sys.version.split()[0],
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "numba_threading_layer": _threading_layer(),
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "blas": blas_info(),
        "cuda_device": _cuda_device(),
    }


def _threading_layer() -> str:
    """Numba's threading layer (forces its initialisation with a tiny parallel call)."""
    import numba

    try:
        return numba.threading_layer()
    except ValueError:
        from kernels.threading_probe import touch_parallel

        touch_parallel()
        return numba.threading_layer()
