"""Numba's on-disk cache of the kernels, kept consistent with their sources.

Numba keys a cached function on its own source file only: a kernel in ``mlp.py`` that
inlines ``gemm.py`` keeps its cached machine code after ``gemm.py`` changes (an upgrade, a
checkout), and calls a helper that is no longer there (a changed BLAS binding crashed the
process).  So ``vgbench`` stamps the kernels' cache folder with a hash of every kernel
source and empties the cache when the hash changes; the kernels then compile afresh once.
Only the default cache (``kernels/__pycache__``) is handled: a ``NUMBA_CACHE_DIR`` is the
user's to manage.  No numpy here: it runs on ``import vgbench``.
"""

import hashlib
import importlib.util
import os
from pathlib import Path

STAMP = "vgbench-kernel-sources.sha256"


def source_hash(folder: Path) -> str:
    """sha256 over the names and bytes of every ``*.py`` below ``folder``."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def invalidate_if_changed(sources: Path, cache: Path) -> bool:
    """Delete Numba's cache files (``*.nbi``, ``*.nbc``) in ``cache`` when the sources'
    hash differs from the one stamped there, then stamp it; True when files were deleted.
    Read-only or missing folders are left alone."""
    try:
        digest = source_hash(sources)
        stamp = cache / STAMP
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return False
        stale = list(cache.glob("*.nb[ic]")) if cache.is_dir() else []
        for path in stale:
            path.unlink(missing_ok=True)
        if cache.is_dir():
            stamp.write_text(digest + "\n")
        return bool(stale)
    except OSError:
        return False


def check_kernel_cache() -> None:
    """``invalidate_if_changed`` for the installed kernels' default cache folder (found
    without importing them: that would load numpy)."""
    spec = importlib.util.find_spec("vgbench.kernels")
    if "NUMBA_CACHE_DIR" in os.environ or spec is None or not spec.submodule_search_locations:
        return
    kernels = Path(list(spec.submodule_search_locations)[0])
    invalidate_if_changed(kernels, kernels / "__pycache__")
