"""Denormal (subnormal) handling of the x86 SSE/AVX unit: flush or keep, in every thread.

x86 arithmetic on subnormal operands (|v| below 1.18e-38 in float32) is microcoded on many
CPUs and one to two orders of magnitude slower; a vanishing gradient lands there.  Two MXCSR
bits change it, per thread: FTZ (bit 15, results that would be subnormal become 0) and DAZ
(bit 6, subnormal inputs read as 0).

* ``"flush"``: FTZ and DAZ set; ``"keep"``: both clear (the hardware's and every
  framework's default: IEEE gradual underflow).
* ``set_denormals(mode)`` writes MXCSR in the calling thread and in every Numba worker
  thread (a ``prange`` kernel that runs at least one iteration on each thread id, so
  the whole pool, not only the threads in use now), reads it back from each, and returns
  the per-thread report; ``denormals(mode)`` does the same for a block and restores every
  thread's previous MXCSR afterwards.  PyTorch, when loaded, gets
  ``torch.set_flush_denormal`` (it writes the calling thread; its intra-op pool copies
  the caller's state per task).
* OpenBLAS (NumPy's bundled copy behind ``vgbench.kernels.gemm``, SciPy's behind
  ``np.dot`` in njit): these wheels are built without CONSISTENT_FPCSR, so the
  blas_server does *not* hand the caller's MXCSR to its worker pthreads with each job
  (measured: a 2-thread sgemm in flush mode left the worker's rows subnormal).  POSIX
  threads inherit the creating thread's floating-point environment, so ``set_denormals``
  stops each loaded OpenBLAS pool (``blas_thread_shutdown_``) and restarts it
  (``blas_thread_init``) from the calling thread, which has the new MXCSR.  Threads a
  later threadpoolctl limit adds are created from the caller too.  ``blas_probe()`` checks
  it on the results: a threaded sgemm whose products are all subnormal must return
  exact zeros (flush) or subnormals (keep) in every row.
* Elsewhere (not x86-64) the mode is ``"unsupported"`` and nothing is written.

MXCSR is read and written by Numba intrinsics emitting ``llvm.x86.sse.stmxcsr`` /
``ldmxcsr``: no C compiler, and the same code runs inside Numba's worker threads.
"""

import contextlib
import platform
import sys
from collections.abc import Iterator

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic
from threadpoolctl import ThreadpoolController, threadpool_limits

from vgbench.kernels.config import JIT_OPTIONS
from vgbench.kernels.gemm import gemm

MODES = ("keep", "flush")
FTZ = 1 << 15  # flush-to-zero: subnormal results become +-0
DAZ = 1 << 6  # denormals-are-zero: subnormal operands read as +-0
FLAGS = FTZ | DAZ
SUPPORTED = platform.machine().lower() in ("x86_64", "amd64")
UNSUPPORTED_NOTE = (f"denormal mode unsupported on {platform.machine()}: MXCSR (FTZ/DAZ) "
                    "exists on x86-64 only; the hardware default applies")



def _mxcsr_slot(builder):
    """An i32 stack slot and its i8* for the stmxcsr/ldmxcsr intrinsics."""
    slot = builder.alloca(ir.IntType(32))
    return slot, builder.bitcast(slot, ir.IntType(8).as_pointer())


@intrinsic
def _stmxcsr(typingctx):
    """The calling thread's MXCSR as an int32."""
    def codegen(context, builder, sig, args):
        slot, ptr = _mxcsr_slot(builder)
        fn = builder.module.declare_intrinsic(
            "llvm.x86.sse.stmxcsr", fnty=ir.FunctionType(ir.VoidType(), [ptr.type]))
        builder.call(fn, [ptr])
        return builder.load(slot)
    return types.int32(), codegen


@intrinsic
def _ldmxcsr(typingctx, value):
    """Load ``value`` (int32) into the calling thread's MXCSR."""
    def codegen(context, builder, sig, args):
        slot, ptr = _mxcsr_slot(builder)
        builder.store(args[0], slot)
        fn = builder.module.declare_intrinsic(
            "llvm.x86.sse.ldmxcsr", fnty=ir.FunctionType(ir.VoidType(), [ptr.type]))
        builder.call(fn, [ptr])
        return context.get_dummy_value()
    return types.void(types.int32), codegen


@njit(**JIT_OPTIONS)
def _read() -> int:
    return _stmxcsr()


@njit(**JIT_OPTIONS)
def _write(value):
    _ldmxcsr(np.int32(value))


@njit(**JIT_OPTIONS, parallel=True)
def _write_each_thread(set_bits, clear_bits, tids, before, after):
    """Iteration i: remember MXCSR, set/clear bits, read back; record the thread id.
    ``set_bits < 0`` restores ``before[tid]`` instead (per-thread restore)."""
    for i in prange(tids.size):
        tid = numba.get_thread_id()
        tids[i] = tid
        old = _stmxcsr()
        if set_bits < 0:
            _ldmxcsr(np.int32(before[tid]))
        else:
            before[tid] = old
            _ldmxcsr(np.int32((old | set_bits) & ~clear_bits))
        after[tid] = _stmxcsr()


@njit(**JIT_OPTIONS)
def _kernel_gemm(a, b):
    c = np.empty((a.shape[0], b.shape[1]), a.dtype)
    gemm(a, b, c, 0.0)
    return c


def mode_of(mxcsr: int) -> str:
    """"flush" (FTZ and DAZ), "keep" (neither) or "mixed" (one of them) for an MXCSR."""
    bits = mxcsr & FLAGS
    return "flush" if bits == FLAGS else "keep" if bits == 0 else "mixed"


def read_mxcsr() -> int | None:
    """The calling thread's MXCSR, or None where unsupported."""
    return int(_read()) & 0xFFFFFFFF if SUPPORTED else None


def current_mode() -> str:
    """The calling thread's mode: "keep", "flush", "mixed" or "unsupported"."""
    return mode_of(read_mxcsr()) if SUPPORTED else "unsupported"


def _on_every_thread(set_bits: int, clear_bits: int, before: np.ndarray | None = None,
                     attempts: int = 20) -> dict:
    """Run the write on every Numba thread id (all NUMBA_NUM_THREADS, so the whole pool);
    return {tid: (before, after)}.  Scheduling decides which thread takes an iteration, so
    retry with more iterations until every id was seen."""
    n = numba.config.NUMBA_NUM_THREADS
    old_n = numba.get_num_threads()
    numba.set_num_threads(n)
    restore = before is not None
    before = before.copy() if restore else np.zeros(n, np.int64)
    after = np.full(n, -1, np.int64)
    seen: set[int] = set()
    try:
        for attempt in range(attempts):
            tids = np.full(n * 64 * (attempt + 1), -1, np.int64)
            _write_each_thread(-1 if restore else set_bits, clear_bits, tids, before, after)
            seen |= set(int(t) for t in tids)
            if seen >= set(range(n)):
                break
    finally:
        numba.set_num_threads(old_n)
    if not seen >= set(range(n)):
        raise RuntimeError(f"denormals: reached Numba threads {sorted(seen)} of 0..{n - 1}")
    return {t: (int(before[t]) & 0xFFFFFFFF, int(after[t]) & 0xFFFFFFFF) for t in range(n)}


def _restart_openblas_pools() -> list[str]:
    """Stop and restart every loaded OpenBLAS thread pool from the calling thread (its
    workers then inherit the caller's MXCSR), keeping each pool's thread limit (a restart
    resets it); returns the libraries restarted."""
    done = []
    for lib in ThreadpoolController().lib_controllers:
        if lib.internal_api != "openblas":
            continue
        try:
            shutdown, init = lib.dynlib.blas_thread_shutdown_, lib.dynlib.blas_thread_init
        except AttributeError:  # a build without the entry points: left alone
            continue
        limit = lib.num_threads
        shutdown()
        init()
        lib.set_num_threads(limit)
        done.append(lib.filepath)
    return done


def _bits(a: np.ndarray) -> tuple[int, int]:
    """(subnormal, zero) entry counts of a float32 array, from the bit patterns (a
    comparison would read subnormals as zero under DAZ)."""
    u = np.ascontiguousarray(a, np.float32).view(np.uint32) & 0x7FFFFFFF
    return int(np.count_nonzero((u != 0) & (u < 0x00800000))), int(np.count_nonzero(u == 0))


def blas_probe(threads: int = 2, n: int = 256) -> dict:
    """Mode of each loaded BLAS judged by its results: a ``threads``-thread float32 GEMM
    (n x n x n, every product ~1e-44 and every sum subnormal under IEEE rules) through
    NumPy (``matmul``) and the kernels' GEMM; "flush" when every entry is exactly 0,
    "keep" when every entry is subnormal, else "mixed" (some thread in another mode)."""
    a = np.full((n, n), 1e-22, np.float32)
    out = {}
    with threadpool_limits(limits=threads):
        for name, c in (("numpy", a @ a), ("kernels.gemm", _kernel_gemm(a, a))):
            sub, zero = _bits(c)
            out[name] = "flush" if zero == c.size else "keep" if sub == c.size else "mixed"
    return out


def _torch_flush(flag: bool) -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_flush_denormal(flag)


def set_denormals(mode: str) -> dict:
    """Set ``mode`` ("keep" or "flush") in the calling thread, every Numba worker thread
    and PyTorch's (when loaded); verify by reading MXCSR back from each thread.

    Returns ``{"mode", "caller_mxcsr", "numba_threads": {tid: mxcsr}, "note"}``;
    ``mode`` is "unsupported" (and nothing is written) off x86-64.  A thread that does
    not read back the mode is a ``RuntimeError``.
    """
    if mode not in MODES:
        raise ValueError(f"denormals mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not SUPPORTED:
        return {"mode": "unsupported", "caller_mxcsr": None, "numba_threads": {},
                "note": UNSUPPORTED_NOTE}
    flush = mode == "flush"
    set_bits, clear_bits = (FLAGS, 0) if flush else (0, FLAGS)
    _write((read_mxcsr() | set_bits) & ~clear_bits)
    per_thread = {t: a for t, (_, a) in _on_every_thread(set_bits, clear_bits).items()}
    _restart_openblas_pools()
    _torch_flush(flush)
    report = {"mode": mode, "caller_mxcsr": read_mxcsr(), "numba_threads": per_thread,
              "note": ""}
    bad = {t: hex(v) for t, v in per_thread.items() if mode_of(v) != mode}
    if mode_of(report["caller_mxcsr"]) != mode or bad:
        raise RuntimeError(f"denormals {mode}: MXCSR read back wrong (caller "
                           f"{hex(report['caller_mxcsr'])}, threads {bad})")
    return report


@contextlib.contextmanager
def denormals(mode: str) -> Iterator[dict]:
    """Run the block in ``mode``; afterwards every thread gets its previous MXCSR back."""
    if not SUPPORTED:
        yield set_denormals(mode)
        return
    caller = read_mxcsr()
    torch = sys.modules.get("torch")
    n = numba.config.NUMBA_NUM_THREADS
    before = np.zeros(n, np.int64)
    for t, (old, _) in _on_every_thread(0, 0).items():
        before[t] = old
    try:
        yield set_denormals(mode)
    finally:
        _on_every_thread(0, 0, before=before)
        _write(caller)
        _restart_openblas_pools()
        if torch is not None:
            torch.set_flush_denormal(mode_of(caller) == "flush")


def numba_thread_modes() -> dict[int, str]:
    """{Numba thread id: mode} read from every worker thread (nothing written)."""
    if not SUPPORTED:
        return {}
    return {t: mode_of(a) for t, (_, a) in _on_every_thread(0, 0).items()}


def fingerprint_entry() -> dict:
    """What a result records: the calling thread's mode and MXCSR (hex), or the note."""
    if not SUPPORTED:
        return {"mode": "unsupported", "note": UNSUPPORTED_NOTE}
    value = read_mxcsr()
    return {"mode": mode_of(value), "mxcsr": hex(value)}
