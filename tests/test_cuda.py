"""CUDA kernels (kernels/cuda) against the CPU kernels, NumPy and finite differences.

Without a GPU the device tests run in numba's CUDA simulator, in a subprocess that sets
NUMBA_ENABLE_CUDASIM=1: numba reads it at import, and setting it for this whole process
would make ``backend="auto"`` pick the simulator in every other test module.  On a machine
with a GPU the same tests run on the card.  Launch geometry is shrunk (3 x 3 tiles, blocks
of 3 threads, at most 2 x 2 blocks per product) so the tiny shapes below span several
tiles and blocks, end in partial tiles and go through every grid-stride loop.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from numba import cuda

from vgbench.models import LSTM, MLP, RNN

ON_DEVICE = cuda.is_available()  # a GPU, or the simulator in the subprocess
device = pytest.mark.skipif(not ON_DEVICE, reason="no GPU: runs in the simulator "
                            "subprocess (test_device_tests_in_simulator)")
host_only = pytest.mark.skipif(ON_DEVICE, reason="only where no GPU is present")


@pytest.fixture(autouse=True)
def small_launch(monkeypatch):
    """Tiny tiles and blocks; a short GIL switch interval speeds the simulator ~8x."""
    if not ON_DEVICE:
        yield
        return
    from vgbench.kernels import config
    from vgbench.kernels.cuda import gemm
    monkeypatch.setattr(config, "CUDA_TILE", 3)
    monkeypatch.setattr(config, "CUDA_BLOCK_1D", 3)
    monkeypatch.setattr(gemm, "MAX_GRID", 2)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(interval)


def assert_close(got, want, rtol, scale=0.0):
    """max |got - want| <= rtol * max(max |want|, scale) (normwise, per array)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    bound = rtol * max(np.abs(want).max(initial=0.0), scale)
    err = np.abs(got - want).max(initial=0.0)
    assert err <= bound, f"max error {err:.3e} > {bound:.3e}"


def assert_results_match(got, want, rtol):
    """Every field of two GradResults: loss, output, gradients, dL/dx and the norms."""
    scale = max(np.abs(g).max() for g in want.grads.values())
    assert set(got.grads) == set(want.grads)
    for name in want.grads:
        assert_close(got.grads[name], want.grads[name], rtol, scale)
    assert_close(got.loss, want.loss, rtol)
    assert_close(got.output, want.output, rtol)
    assert_close(got.grad_input, want.grad_input, rtol, scale)
    assert_close(got.delta_norms, want.delta_norms, rtol)
    assert_close(got.weight_grad_norms, want.weight_grad_norms, rtol)
    for field in ("cell_norms", "grad_h0", "grad_c0"):
        if getattr(want, field) is not None:
            assert_close(getattr(got, field), getattr(want, field), rtol, scale)


RTOL = {"float64": 1e-12, "float32": 2e-5}


# --- host side: no GPU here ------------------------------------------------------------

@host_only
def test_device_tests_in_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           __file__], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


@host_only
def test_cuda_backend_without_gpu_is_a_clear_error():
    model = MLP(3, 4, 2, 2, seed=0)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    with pytest.raises(RuntimeError, match="NVIDIA GPU.*NUMBA_ENABLE_CUDASIM"):
        model.loss_and_grads(x, y, backend="cuda")
    auto, cpu = model.loss_and_grads(x, y, backend="auto"), model.loss_and_grads(x, y)
    assert_results_match(auto, cpu, 0.0)


@host_only
def test_speed_backend_cuda_without_gpu_is_a_usage_error(capsys, tmp_path):
    from vgbench.cli import main

    rc = main(["speed", "--backend", "cuda", "--models", "mlp", "--width", "8", "--no-plot",
               "--no-compile-time", "--out", str(tmp_path / "s.json")])
    assert rc == 2 and "NVIDIA GPU" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()


# --- device side ---------------------------------------------------------------------

def _apply(kernel_args, kernel):
    from vgbench.kernels import config
    from vgbench.kernels.cuda.reduce import grid_1d
    kernel[grid_1d(kernel_args[-1].size), config.CUDA_BLOCK_1D](*kernel_args)


@device
def test_activations_match_cpu_kernels():
    from vgbench.kernels.activations import ACTIVATIONS, activate, derivative_from_output
    from vgbench.kernels.cuda.activations import activate as d_activate
    from vgbench.kernels.cuda.activations import derivative_from_output as d_derivative

    @cuda.jit
    def both(codes, z, y, dy):
        for e in range(cuda.grid(1), y.shape[0] * y.shape[1], cuda.gridsize(1)):
            r = e // y.shape[1]
            j = e % y.shape[1]
            y[r, j] = d_activate(codes[r], z[j])
            dy[r, j] = d_derivative(codes[r], y[r, j])

    z = np.concatenate([[-300.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 300.0],
                        np.random.default_rng(2).standard_normal(9) * 3])
    codes = np.array(sorted(ACTIVATIONS.values()), np.int64)
    y = np.empty((codes.size, z.size))
    dy = np.empty_like(y)
    _apply((codes, z, y, dy), both)
    for r, c in enumerate(codes):
        want_y = np.array([activate(c, v) for v in z])
        # f' from the device's own y: 1 - y amplifies an ulp of y near saturation
        want_dy = np.array([derivative_from_output(c, v) for v in y[r]])
        np.testing.assert_allclose(y[r], want_y, rtol=4e-16, atol=0)
        # tanh' = 1 - y*y: the CPU kernel may fuse it into an FMA (fastmath "contract"),
        # which differs by at most one rounding of y*y <= 1, i.e. 1.1e-16 absolute
        np.testing.assert_allclose(dy[r], want_dy, rtol=4e-16, atol=2.3e-16)
    assert np.isfinite(dy).all()


@device
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gemm_transposes_and_epilogues(dtype):
    from vgbench.kernels.activations import SIGMOID, TANH, activation_numpy
    from vgbench.kernels.cuda.gemm import ACC_ACT, BIAS_ACT, DELTA, gemm
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((5, 7)).astype(dtype), rng.standard_normal((7, 4)).astype(dtype)
    want = A.astype(np.float64) @ B
    for ta in (False, True):
        for tb in (False, True):
            C = cuda.device_array((5, 4), dtype)
            gemm(cuda.to_device(A.T.copy() if ta else A), cuda.to_device(B.T.copy() if tb else B),
                 ta, tb, C)
            assert_close(C.copy_to_host(), want, RTOL[dtype])
    bias, aux = rng.standard_normal(4).astype(dtype), rng.standard_normal((5, 4)).astype(dtype)
    d_A, d_B = cuda.to_device(A), cuda.to_device(B)
    C, out2 = cuda.device_array((5, 4), dtype), cuda.device_array((5, 4), dtype)
    gemm(d_A, d_B, False, False, C, BIAS_ACT, TANH, cuda.to_device(bias), True,
         cuda.to_device(aux), out2)
    y = np.tanh(want + bias)
    assert_close(C.copy_to_host(), y, RTOL[dtype])
    assert_close(out2.copy_to_host(), aux + y, RTOL[dtype])
    C = cuda.to_device(aux)
    gemm(d_A, d_B, False, False, C, ACC_ACT, SIGMOID, cuda.to_device(bias))
    assert_close(C.copy_to_host(), activation_numpy("sigmoid", aux + want + bias),
                 RTOL[dtype])
    src, y_saved = rng.standard_normal((5, 4)).astype(dtype), np.tanh(aux)
    C, d_src = cuda.device_array((5, 4), dtype), cuda.to_device(src)
    gemm(d_A, d_B, False, False, C, DELTA, TANH, None, True, cuda.to_device(y_saved),
         d_src, d_src=d_src)  # OUT2 aliases SRC, as in the recurrent kernels
    assert_close(C.copy_to_host(), src + want, RTOL[dtype])
    assert_close(d_src.copy_to_host(), (src + want) * (1 - y_saved ** 2), RTOL[dtype])


@device
@pytest.mark.parametrize("n", [1, 10, 35])
def test_reductions(n):
    from vgbench.kernels.cuda.reduce import (
        column_sums,
        dot,
        frobenius,
        mse_forward_backward,
        partials_buffer,
    )
    rng = np.random.default_rng(n)
    a, b = rng.standard_normal((n, 5)), rng.standard_normal((n, 5))
    d_a, d_b = cuda.to_device(a), cuda.to_device(b)
    out, partials = cuda.device_array(3), partials_buffer()
    frobenius(d_a, out, 0, partials)
    dot(d_a, d_b, out, 1, partials)
    d_dy = cuda.device_array_like(a)
    mse_forward_backward(d_a, d_b, n, d_dy, out, 2, partials)
    cols = cuda.device_array(5)
    column_sums(d_a, cols)
    np.testing.assert_allclose(out.copy_to_host(), [np.linalg.norm(a), np.vdot(a, b),
                                                    0.5 / n * ((a - b) ** 2).sum()],
                               rtol=1e-14)
    np.testing.assert_allclose(d_dy.copy_to_host(), (a - b) / n, rtol=1e-15)
    np.testing.assert_allclose(cols.copy_to_host(), a.sum(0), rtol=1e-13, atol=1e-15)


@device
def test_shared_arrays_are_shared_by_every_thread(monkeypatch):
    # numba's simulator creates a static shared array on first use, without a lock: two
    # threads racing there got private copies and the GEMM tiles went stale (about 1 in
    # 100 MLP runs).  A slow np.empty widens that window so the race, if present, shows
    # up in every launch here; on a GPU it only slows host code.
    import time

    import vgbench.kernels.cuda  # noqa: F401  (makes the simulator's shared arrays thread-safe)
    block = 8

    @cuda.jit
    def rotate(base, out):
        s0 = cuda.shared.array(block, np.float64)
        s1 = cuda.shared.array(block, np.float64)
        t = cuda.threadIdx.x
        s0[t] = base + t
        s1[t] = base + 2 * t
        cuda.syncthreads()
        u = (t + 1) % block
        out[t] = s0[u] + s1[u]

    empty = np.empty

    def slow_empty(*args, **kwargs):
        time.sleep(1e-3)
        return empty(*args, **kwargs)

    monkeypatch.setattr(np, "empty", slow_empty)
    for launch in range(5):
        base = float(launch * block)  # fresh values: a stale private copy cannot match
        out = cuda.device_array(block)
        rotate[1, block](base, out)
        u = (np.arange(block) + 1) % block
        np.testing.assert_array_equal(out.copy_to_host(), 2 * base + 3 * u)


MLP_CASES = [  # dtype, activation, residual, batchnorm, batch
    ("float64", "tanh", False, False, 5),
    ("float64", "relu", True, False, 1),
    ("float64", "sigmoid", True, True, 4),
    ("float32", "softplus", False, False, 5),
    ("float32", "selu", True, True, 2),
]


@device
@pytest.mark.parametrize("dtype,activation,residual,batchnorm,batch", MLP_CASES)
def test_mlp_matches_cpu(dtype, activation, residual, batchnorm, batch):
    model = MLP(5, 7, 3, 4, activation=activation, residual=residual, batchnorm=batchnorm,
                init="he", dtype=dtype, seed=4)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, 5)).astype(dtype)
    y = rng.standard_normal((batch, 4)).astype(dtype)
    assert_results_match(model.loss_and_grads(x, y, backend="cuda"),
                         model.loss_and_grads(x, y), RTOL[dtype])


@device
def test_float32_loss_is_summed_in_float64():
    """As on the CPU: an output bias of 1e25 squares past float32's range, not float64's."""
    model = MLP(3, 8, 2, 2, dtype="float32", seed=1)
    model.params["b2"][...] = np.float32(1e25)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.standard_normal((5, 2)).astype(np.float32)
    r = model.loss_and_grads(x, y, backend="cuda")
    residual = r.output.astype(np.float64) - y
    assert math.isfinite(r.loss)
    assert r.loss == pytest.approx(0.5 / 5 * np.sum(residual ** 2), rel=1e-6)


@device
def test_mlp_cotangent_is_linear_and_buffers_are_overwritten():
    model = MLP(4, 5, 2, 3, activation="leaky_relu", seed=6)
    rng = np.random.default_rng(7)
    x, v = rng.standard_normal((4, 4)), rng.standard_normal((4, 3))
    one = model.loss_and_grads(x, None, backend="cuda", cotangent=v)
    two = model.loss_and_grads(x, None, backend="cuda", cotangent=2 * v)  # same buffers
    for name in one.grads:
        np.testing.assert_array_equal(two.grads[name], 2 * one.grads[name])
    np.testing.assert_array_equal(two.grad_input, 2 * one.grad_input)
    assert_results_match(one, model.loss_and_grads(x, None, cotangent=v), 1e-12)


def _finite_difference(loss, array, index, h=1e-6):
    old = array[index]
    array[index] = old + h
    up = loss()
    array[index] = old - h
    down = loss()
    array[index] = old
    return (up - down) / (2 * h)


@device
def test_mlp_finite_differences():
    model = MLP(3, 4, 2, 2, activation="tanh", residual=True, seed=8)
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    got = model.loss_and_grads(x, y, backend="cuda")

    def loss():
        return model.loss_and_grads(x, y, backend="cuda").loss

    for name, index in [("W0", (2, 1)), ("W1", (0, 3)), ("b1", (2,)), ("W2", (3, 1))]:
        fd = _finite_difference(loss, model.params[name], index)
        assert abs(fd - got.grads[name][index]) <= 1e-7 * max(1.0, abs(fd)), name
    fd = _finite_difference(loss, x, (1, 2))
    assert abs(fd - got.grad_input[1, 2]) <= 1e-7 * max(1.0, abs(fd))


RECURRENT_CASES = [  # dtype, loss_at, truncate, T, B
    ("float64", "last", None, 4, 2),
    ("float64", "last", 2, 4, 1),
    ("float64", "every", 2, 5, 2),  # slots: one product for every loss in flight
    ("float64", "every", None, 1, 2),
    ("float32", "every", None, 4, 2),
]


def _recurrent_case(cls, dtype, loss_at, T, B, seed):
    rng = np.random.default_rng(seed)
    model = cls(3, 4, 2, dtype=dtype, seed=seed)
    x = rng.standard_normal((T, B, 3)).astype(dtype)
    y = rng.standard_normal((T, B, 2) if loss_at == "every" else (B, 2)).astype(dtype)
    states = {"h0": rng.standard_normal((B, 4)).astype(dtype)}
    if cls is LSTM:
        states["c0"] = rng.standard_normal((B, 4)).astype(dtype)
    return model, x, y, states


@device
@pytest.mark.parametrize("cls", [RNN, LSTM])
@pytest.mark.parametrize("dtype,loss_at,truncate,T,B", RECURRENT_CASES)
def test_recurrent_matches_cpu(cls, dtype, loss_at, truncate, T, B):
    model, x, y, states = _recurrent_case(cls, dtype, loss_at, T, B, seed=10)
    kw = dict(truncate=truncate, loss_at=loss_at, **states)
    got = model.loss_and_grads(x, y, backend="cuda", **kw)
    want = model.loss_and_grads(x, y, **kw)
    assert_results_match(got, want, RTOL[dtype])
    if truncate is not None and loss_at == "last":
        assert (got.delta_norms[:T - truncate] == 0).all()
        assert (got.grad_input[:T - truncate] == 0).all()


@device
@pytest.mark.parametrize("cls", [RNN, LSTM])
def test_recurrent_finite_differences(cls):
    model, x, y, states = _recurrent_case(cls, "float64", "every", 3, 2, seed=11)
    got = model.loss_and_grads(x, y, backend="cuda", loss_at="every", **states)

    def loss():
        return model.loss_and_grads(x, y, backend="cuda", loss_at="every", **states).loss

    for array, index, grad in [(model.params["W_hh"], (1, 2), got.grads["W_hh"]),
                               (x, (0, 1, 2), got.grad_input),
                               (states["h0"], (1, 3), got.grad_h0)]:
        fd = _finite_difference(loss, array, index)
        assert abs(fd - grad[index]) <= 1e-7 * max(1.0, abs(fd))


@device
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_by_global_norm_matches_cpu(max_norm):
    from vgbench.analysis.clip import clip_by_global_norm as cpu_clip
    from vgbench.kernels.cuda.clip import clip_by_global_norm, clip_values_into
    rng = np.random.default_rng(12)
    grads = [rng.standard_normal((4, 5)) * 1e200, rng.standard_normal(7)]  # squares overflow
    d_grads = [cuda.to_device(g) for g in grads]
    norm = clip_by_global_norm(d_grads, max_norm)
    want, want_norm = cpu_clip(grads, max_norm)
    assert math.isfinite(norm) and abs(norm - want_norm) <= 1e-14 * want_norm
    for d, w in zip(d_grads, want, strict=True):
        np.testing.assert_allclose(d.copy_to_host(), w, rtol=1e-14)
    g = np.array([np.inf, -3.0, 0.5, -np.inf, np.nan])
    out = cuda.device_array_like(g)
    clip_values_into(cuda.to_device(g), 1.0, out)
    np.testing.assert_array_equal(out.copy_to_host(), [1.0, -1.0, 0.5, -1.0, np.nan])
    with pytest.raises(FloatingPointError, match="in: 1"):
        clip_by_global_norm([cuda.to_device(grads[1]), cuda.to_device(g)], 1.0)


@device
@pytest.mark.filterwarnings("ignore:Simulator timings are bogus")
def test_time_loss_and_grads_splits_transfers_from_kernels():
    from vgbench.backends.cuda import time_loss_and_grads
    model = RNN(2, 3, 1, seed=13)
    x = np.random.default_rng(14).standard_normal((2, 2, 2))
    y = np.zeros((2, 1))
    t = time_loss_and_grads(model, x, y, repeats=2)
    assert t["repeats"] == 2 and all(len(v) == 2 for v in t["samples"].values())
    assert set(t) >= {"h2d_ms", "kernel_ms", "d2h_ms", "total_ms"}
    with pytest.raises(ValueError, match="repeats"):
        time_loss_and_grads(model, x, y, repeats=0)


@device
@pytest.mark.parametrize("dtype,loss_at,truncate,T,B,leak,skip", [
    ("float64", "last", None, 4, 2, 0.5, 2),
    ("float64", "every", 2, 4, 1, 0.7, 3),  # per-loss windows, skip targets cut off
    ("float32", "every", None, 3, 2, 0.6, 0),
])
def test_leaky_skip_rnn_matches_cpu(dtype, loss_at, truncate, T, B, leak, skip):
    rng = np.random.default_rng(15)
    model = RNN(3, 4, 2, dtype=dtype, seed=15, leak=leak, skip=skip)
    x = rng.standard_normal((T, B, 3)).astype(dtype)
    y = rng.standard_normal((T, B, 2) if loss_at == "every" else (B, 2)).astype(dtype)
    kw = dict(truncate=truncate, loss_at=loss_at, h0=rng.standard_normal((B, 4)).astype(dtype))
    got = model.loss_and_grads(x, y, backend="cuda", **kw)
    want = model.loss_and_grads(x, y, **kw)
    assert_results_match(got, want, RTOL[dtype])
