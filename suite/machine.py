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


def _cpu_vendor() -> str | None:
    """vendor_id from /proc/cpuinfo (GenuineIntel, AuthenticAMD, ...)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _caches() -> dict:
    """Cache sizes of CPU 0 in bytes, e.g. {"L1d": 32768, "L1i": ..., "L2": ..., "L3": ...}.

    Each is the size of one instance (an L3 shared by several cores counts once).
    """
    base = "/sys/devices/system/cpu/cpu0/cache"
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
    out = {}
    entries = sorted(e for e in os.listdir(base) if e.startswith("index")) \
        if os.path.isdir(base) else []
    for entry in entries:
        level, kind, size = (_read(f"{base}/{entry}/{n}") for n in ("level", "type", "size"))
        if level and kind and size:
            suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
            out[f"L{level}{suffix}"] = int(size.rstrip("KMG")) * units.get(size[-1], 1)
    return out


def _threads() -> dict:
    """Logical CPUs, those this process may use, and the thread counts in force now."""
    import numba

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    out = {"logical_cpus": os.cpu_count(), "usable_cpus": usable,
           "numba": numba.get_num_threads()}
    if "torch" in sys.modules:
        out["torch"] = sys.modules["torch"].get_num_threads()
    return out


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
    """Every BLAS/OpenMP library in the process (threadpoolctl), with core type and threads.

    Loads scipy's BLAS first: ``np.dot`` inside njit calls it (the kernels' GEMM fallback,
    ``kernels.gemm``).
    """
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_info

    return [{k: lib.get(k) for k in ("user_api", "internal_api", "version", "architecture",
                                      "threading_layer", "num_threads", "filepath")}
            for lib in threadpool_info()]


def warnings(fp: dict) -> list[str]:
    """Things in a fingerprint that cost speed: OpenBLAS on kernels older than the CPU's."""
    from suite.blas import older_kernel_warnings

    return older_kernel_warnings(fp.get("blas", []), set(fp.get("cpu_flags", [])))


def fingerprint() -> dict:
    """Everything that explains a speed difference between two machines or runs."""
    import llvmlite
    import numba
    import numpy
    import scipy

    from kernels import gemm
    from suite.blas import selection

    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    return {
        "machine": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": info.get("model name", platform.processor()),
        "num_cpu": os.cpu_count(),
        "ram": _ram_bytes(),
        "cpu_vendor": _cpu_vendor(),
        "caches": _caches(),
        "simd": sorted(f for f in SIMD_FLAGS if f in flags),
        "cpu_flags": sorted(flags),
        "python": sys.version.split()[0],
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "numba_threading_layer": _threading_layer(),
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "threads": _threads(),
        "blas": blas_info(),
        "blas_coretype": selection(),
        "kernel_gemm": {"backend": gemm.BACKEND, "library": gemm.LIBRARY},
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
