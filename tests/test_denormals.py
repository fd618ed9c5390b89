"""Denormal mode (``vgbench.env.denormals``) and the kernels' subnormal counts.

The count checks use nets whose gradients are known in closed form: identity activation,
weights s * I and an all-ones readout and cotangent make dL/dh at k layers (steps) below
the top exactly s^k, so the layer where it turns subnormal and the one where it is 0 follow
from the dtype's range alone (float32: s = 1e-13, s^3 = 1e-39 subnormal, s^4 = 0;
float64: s = 1e-103, s^3 = 1e-309 subnormal, s^4 = 0).
"""

import os

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from vgbench.env import denormals as dn
from vgbench.models import MLP, RNN

pytestmark = pytest.mark.skipif(not dn.SUPPORTED, reason="MXCSR exists on x86-64 only")

SCALE = {"float32": 1e-13, "float64": 1e-103}


def n_subnormal(a) -> int:
    """Subnormal entries, judged by magnitude (call with DAZ off only)."""
    a = np.abs(a)
    return int(np.count_nonzero((a > 0) & (a < np.finfo(a.dtype).tiny)))


def bits_subnormal(a) -> int:
    """Subnormal entries from the bit patterns (valid in any mode)."""
    if a.dtype == np.float32:
        u = np.ascontiguousarray(a).view(np.uint32) & np.uint32(0x7FFFFFFF)
        return int(np.count_nonzero((u != 0) & (u < np.uint32(0x00800000))))
    u = np.ascontiguousarray(a).view(np.uint64) & np.uint64(0x7FFFFFFFFFFFFFFF)
    return int(np.count_nonzero((u != 0) & (u < np.uint64(0x0010000000000000))))


def scaled_mlp(dtype, depth=5, width=16, batch=8):
    """Identity MLP, W_l = s I, readout ones: dL/dh_l = s^(depth - l) exactly."""
    m = MLP(width, width, depth, 1, activation="identity", dtype=dtype, seed=0)
    s = SCALE[dtype]
    for l in range(depth):
        m.params[f"W{l}"] = np.eye(width, dtype=dtype) * np.asarray(s, dtype)
        m.params[f"b{l}"] = np.zeros(width, dtype)
    m.params[f"W{depth}"] = np.ones((width, 1), dtype)
    x = np.random.default_rng(1).standard_normal((batch, width)).astype(dtype)
    return m, x, np.ones((batch, 1), dtype)


@pytest.fixture(autouse=True)
def restore_mode():
    """Every test leaves every thread as it found it."""
    with dn.denormals("keep"):
        yield


def test_flush_sets_every_numba_thread_and_keep_restores_the_previous_state():
    numba.set_num_threads(1)  # the whole pool must be reached, not only the threads in use
    try:
        report = dn.set_denormals("flush")
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert sorted(report["numba_threads"]) == list(range(numba.config.NUMBA_NUM_THREADS))
    assert {dn.mode_of(v) for v in report["numba_threads"].values()} == {"flush"}
    assert dn.current_mode() == "flush"
    with dn.denormals("keep") as inner:
        assert inner["mode"] == "keep"
        assert set(dn.numba_thread_modes().values()) == {"keep"}
        assert dn.current_mode() == "keep"
    assert dn.current_mode() == "flush"  # the block's exit restores the previous state
    assert set(dn.numba_thread_modes().values()) == {"flush"}
    before = dn.read_mxcsr()
    assert dn.set_denormals("flush")["caller_mxcsr"] == before  # a second call: same state
    dn.set_denormals("keep")
    assert dn.current_mode() == "keep"
    assert dn.read_mxcsr() & dn.FLAGS == 0


def test_bad_mode_is_a_value_error():
    with pytest.raises(ValueError, match="keep, flush"):
        dn.set_denormals("ftz")


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 BLAS threads")
def test_blas_worker_threads_follow_the_mode_across_threadpool_limits():
    assert dn.blas_probe(threads=2) == {"numpy": "keep", "kernels.gemm": "keep"}
    dn.set_denormals("flush")
    assert dn.blas_probe(threads=2) == {"numpy": "flush", "kernels.gemm": "flush"}
    with threadpool_limits(limits=1):
        assert dn.blas_probe(threads=1) == {"numpy": "flush", "kernels.gemm": "flush"}
    assert dn.blas_probe(threads=2) == {"numpy": "flush", "kernels.gemm": "flush"}
    dn.set_denormals("keep")
    assert dn.blas_probe(threads=2) == {"numpy": "keep", "kernels.gemm": "keep"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mlp_counts_match_the_closed_form_in_both_dtypes(dtype):
    m, x, cot = scaled_mlp(dtype)
    r = m.loss_and_grads(x, None, cotangent=cot, count_subnormal=True)
    n = x.shape[0] * m.width
    # dL/dh_5 = 1, h_4: s, h_3: s^2 (normal), h_2: s^3 (subnormal), h_1: s^4 = 0
    expected = np.array([[0, n], [n, 0], [0, 0], [0, 0], [0, 0]])
    np.testing.assert_array_equal(r.subnormal_counts, expected)
    assert r.subnormal_counts.dtype == np.int64
    # the plain call counts nothing and computes the same gradients
    plain = m.loss_and_grads(x, None, cotangent=cot)
    assert plain.subnormal_counts is None
    np.testing.assert_array_equal(plain.grads["W1"], r.grads["W1"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rnn_counts_match_the_closed_form(dtype):
    T, B, H = 6, 4, 8
    m = RNN(H, H, 1, activation="identity", dtype=dtype, seed=0)
    m.params["W_hh"] = np.eye(H, dtype=dtype) * np.asarray(SCALE[dtype], dtype)
    m.params["W_hy"] = np.ones((H, 1), dtype)
    m.params["W_xh"] = np.zeros((H, H), dtype)
    m.params["b_h"] = np.zeros(H, dtype)
    x = np.zeros((T, B, H), dtype)
    r = m.loss_and_grads(x, None, cotangent=np.ones((B, 1), dtype), count_subnormal=True)
    n = B * H
    expected = np.array([[0, n], [0, n], [n, 0], [0, 0], [0, 0], [0, 0]])
    np.testing.assert_array_equal(r.subnormal_counts, expected)


def test_flush_mode_leaves_no_subnormal_in_any_output():
    m, x, cot = scaled_mlp("float32")
    keep = m.loss_and_grads(x, None, cotangent=cot, count_subnormal=True)
    outputs = [keep.grad_input, keep.output, *keep.grads.values()]
    assert sum(bits_subnormal(a) for a in outputs) > 0  # IEEE: s^3 reaches the outputs
    with threadpool_limits(limits=2), dn.denormals("flush"):
        r = m.loss_and_grads(x, None, cotangent=cot, count_subnormal=True)
    outputs = [r.grad_input, r.output, *r.grads.values()]
    assert sum(bits_subnormal(a) for a in outputs) == 0
    n = x.shape[0] * m.width
    np.testing.assert_array_equal(r.subnormal_counts[:2], [[0, n], [0, n]])  # s^3 flushed


def test_gradients_are_equal_in_both_modes_when_nothing_is_subnormal():
    rng = np.random.default_rng(5)
    m = MLP(24, 48, 6, 3, activation="tanh", dtype="float32", seed=3)
    x = rng.standard_normal((16, 24)).astype(np.float32)
    y = rng.standard_normal((16, 3)).astype(np.float32)
    keep = m.loss_and_grads(x, y, count_subnormal=True)
    assert keep.subnormal_counts[:, 0].sum() == 0
    assert sum(n_subnormal(a) for a in keep.grads.values()) == 0
    with dn.denormals("flush"):
        flush = m.loss_and_grads(x, y)
    for k in keep.grads:
        np.testing.assert_array_equal(flush.grads[k], keep.grads[k], err_msg=k)
    np.testing.assert_array_equal(flush.grad_input, keep.grad_input)


def test_counting_reads_bits_not_comparisons():
    """Under DAZ a subnormal compares equal to 0; the kernels' counts must not care."""
    from vgbench.kernels.reductions import count_subnormal_zero

    a = np.array([0.0, -0.0, 1e-40, -2e-39, 1.0, np.inf, np.nan], np.float32)
    out = np.zeros(2, np.int64)
    with dn.denormals("flush"):
        assert np.float32(1e-40) == 0  # DAZ: the comparison no longer sees it
        count_subnormal_zero(a, out)
    np.testing.assert_array_equal(out, [2, 2])


def test_fingerprint_records_the_mode():
    from vgbench.env.fingerprint import fingerprint

    assert fingerprint()["denormals"]["mode"] == "keep"
    with dn.denormals("flush"):
        entry = fingerprint()["denormals"]
    assert entry["mode"] == "flush" and int(entry["mxcsr"], 16) & dn.FLAGS == dn.FLAGS


def test_jax_on_the_cpu_flushes_whatever_the_mode():
    """What the README says of XLA: its CPU client runs every call under FTZ/DAZ."""
    jax = pytest.importorskip("jax")
    x = np.full(4, 1e-20, np.float32)
    square = jax.jit(lambda a: a * a)
    with dn.denormals("keep"):
        assert n_subnormal(x * x) == 4  # NumPy in keep mode: 1e-40 is subnormal
        assert np.all(np.asarray(square(x)) == 0)
        assert dn.current_mode() == "keep"  # and XLA restored the caller's state
