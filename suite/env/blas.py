"""Which OpenBLAS kernels run: chosen before the library loads, recorded in every result.

May import: ``vgbench.env.cpu`` (and numpy-based libraries only inside ``blas_info``).

OpenBLAS (numpy's and scipy's bundled copies; ``np.dot`` inside njit uses scipy's) picks
its kernels once, when the library loads, from the CPU id or from the environment variable
``OPENBLAS_CORETYPE``.  It may pick kernels older than the CPU supports (it runs a 2-core
Zen 5 with AVX-512 on its AVX2 "Haswell" kernels, at half the GEMM speed of its
"SkylakeX" ones), and a forced core type whose instructions the CPU lacks crashes the
process.  So this module:

* ``select_coretype(mode)``: ``"auto"`` (default) forces the best core type the CPU flags
  allow where OpenBLAS may under-detect (today only SkylakeX, which needs AVX-512
  F/CD/BW/DQ/VL), otherwise keeps the detected one; ``"detected"`` clears any forcing;
  a NAME forces that core type after checking the flags.  It must run before numpy is
  imported (``vgbench`` does it first thing, see ``select_from_argv``); later it only
  records that it came too late.
* ``selection()``: the record stored in results (``machine["blas_coretype"]``).
* ``older_kernel_warnings(blas, flags)``: a warning per OpenBLAS whose loaded kernels are
  older than the CPU supports (``vgbench info`` prints them).
"""

import os
import sys

from vgbench.env.cpu import cpu_flags

ENV = "OPENBLAS_CORETYPE"

# Core types one may force, with the /proc/cpuinfo flags their kernels execute and a GEMM
# generation rank.  Cooperlake and SapphireRapids add bf16/fp16 kernels only: their
# float32/float64 GEMMs are SkylakeX's, hence the same rank.
CORETYPES = {
    "Prescott": ({"pni"}, 1),
    "Core2": ({"ssse3"}, 2),
    "Nehalem": ({"sse4_2"}, 3),
    "Sandybridge": ({"avx"}, 4),
    "Haswell": ({"avx2", "fma"}, 5),
    "Zen": ({"avx2", "fma"}, 5),
    "SkylakeX": ({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}, 6),
    "Cooperlake": ({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl",
                    "avx512_bf16"}, 6),
    "SapphireRapids": ({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl",
                        "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16"}, 6),
}
# What "auto" may force, best first: only core types OpenBLAS is known to under-detect.
AUTO_CANDIDATES = ("SkylakeX",)
MODES = ("auto", "detected")

_selection: dict | None = None


def canonical(name: str) -> str:
    """``name`` as a mode or the OpenBLAS spelling of a core type (case-insensitive)."""
    low = str(name).lower()
    if low in MODES:
        return low
    for core in CORETYPES:
        if core.lower() == low:
            return core
    raise ValueError(f"unknown BLAS core type {name!r}; valid: {', '.join(MODES)}, "
                     f"{', '.join(CORETYPES)}")


def missing_flags(core: str, flags: set) -> set:
    """The CPU flags ``core``'s kernels need that ``flags`` lacks (empty: safe)."""
    return CORETYPES[core][0] - flags


def best_safe(flags: set) -> str | None:
    """The core type "auto" forces on a CPU with ``flags``, or None (keep detected)."""
    return next((c for c in AUTO_CANDIDATES if not missing_flags(c, flags)), None)


def select_coretype(mode: str = "auto", flags: set | None = None) -> dict:
    """Set ``OPENBLAS_CORETYPE`` for ``mode`` (before BLAS loads) and return the record.

    The record: ``mode``, ``coretype`` (the forced name, None = OpenBLAS's own detection),
    ``source`` (auto, cli, environment, detected), ``applied`` (False when numpy, hence
    its BLAS, was already loaded) and a ``note``.  A core type the CPU cannot run is a
    ValueError, never a crash.
    """
    global _selection
    mode = canonical(mode)
    flags = cpu_flags() if flags is None else flags
    ours = _selection is not None and _selection.get("coretype") == os.environ.get(ENV)
    user_env = None if ours else os.environ.get(ENV)
    if mode == "auto":
        coretype, source = (user_env, "environment") if user_env else (best_safe(flags), "auto")
    elif mode == "detected":
        coretype, source = None, "detected"
    else:
        lacking = missing_flags(mode, flags)
        if lacking:
            raise ValueError(f"the CPU lacks {', '.join(sorted(lacking))}: OpenBLAS's {mode} "
                             "kernels would crash it")
        coretype, source = mode, "cli"
    if "numpy" in sys.modules:
        _selection = {"mode": mode, "coretype": os.environ.get(ENV), "source": "environment",
                      "applied": False,
                      "note": "numpy was imported first: OpenBLAS keeps the kernels it "
                              "loaded with"}
        return dict(_selection)
    if coretype is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = coretype
    note = ("OpenBLAS detects the core type" if coretype is None
            else f"{ENV}={coretype} ({source})")
    _selection = {"mode": mode, "coretype": coretype, "source": source, "applied": True,
                  "note": note}
    return dict(_selection)


def select_from_argv(argv: list[str]) -> None:
    """Apply ``--blas-coretype`` from a command line (default auto) before numpy loads.

    A bad value is left for argparse to report with the command's usage.
    """
    mode = "auto"
    for i, arg in enumerate(argv):
        if arg == "--blas-coretype" and i + 1 < len(argv):
            mode = argv[i + 1]
        elif arg.startswith("--blas-coretype="):
            mode = arg.partition("=")[2]
    try:
        select_coretype(mode)
    except ValueError:
        pass


def selection() -> dict:
    """The core-type record of this process (what was asked, what applies)."""
    if _selection is not None:
        return dict(_selection)
    env = os.environ.get(ENV)
    return {"mode": None, "coretype": env, "source": "environment" if env else "detected",
            "applied": "numpy" not in sys.modules, "note": "no selection made by vgbench"}


def older_kernel_warnings(blas: list, flags: set) -> list[str]:
    """A warning for each loaded OpenBLAS running kernels older than the CPU supports."""
    best = max((rank for needs, rank in CORETYPES.values() if not needs - flags), default=0)
    best_names = [c for c, (needs, rank) in CORETYPES.items() if rank == best
                  and not needs - flags]
    out = []
    for lib in blas:
        if lib.get("internal_api") != "openblas":
            continue
        arch = str(lib.get("architecture") or "")
        core = next((c for c in CORETYPES if c.lower() == arch.lower()), None)
        if core is not None and CORETYPES[core][1] < best:
            out.append(f"OpenBLAS {lib.get('version')} ({os.path.basename(lib['filepath'])}) "
                       f"runs {arch} kernels but this CPU supports {best_names[0]}: "
                       f"`--blas-coretype auto` (or {ENV}={best_names[0]} before Python "
                       "starts) would use them")
    return out


def blas_info() -> list:
    """Every BLAS/OpenMP library in the process (threadpoolctl), with core type and threads.

    Loads scipy's BLAS first: ``np.dot`` inside njit calls it (the kernels' GEMM fallback,
    ``vgbench.kernels.gemm``).
    """
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_info

    return [{k: lib.get(k) for k in ("user_api", "internal_api", "version", "architecture",
                                      "threading_layer", "num_threads", "filepath")}
            for lib in threadpool_info()]
