"""Host facts read from the operating system: CPU model, vendor, flags, caches, memory and
the thread counts in force.  No numpy at import (the BLAS policy reads the flags before
numpy loads)."""

import os


def cpuinfo() -> dict:
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
    return set(cpuinfo().get("flags", "").split())


def cpu_vendor() -> str | None:
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


def caches() -> dict:
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


def ram_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
