"""Gradient clipping: global norm against NumPy (float64, rescaled so it cannot overflow),
direction kept, overflow-safe norms, value clipping against np.clip, non-finite reports."""

import warnings

import numpy as np
import pytest

from vgbench.analysis.clip import clip_by_global_norm, clip_by_value, global_norm
from vgbench.models import RNN


def grads(dtype="float64", scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return {"W": (scale * rng.standard_normal((4, 5))).astype(dtype),
            "b": (scale * rng.standard_normal(5)).astype(dtype)}


def numpy_norm(named):
    m = max(np.abs(g.astype(np.float64)).max() for g in named.values())
    return m * np.sqrt(sum(np.sum((g.astype(np.float64) / m) ** 2) for g in named.values()))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_large_norm_is_scaled_to_max_norm_keeping_direction(dtype):
    g = grads(dtype)
    clipped, norm = clip_by_global_norm(g, 1.0)
    assert norm == pytest.approx(numpy_norm(g), rel=1e-12)
    assert norm > 1.0
    tol = 1e-12 if dtype == "float64" else 1e-6
    assert numpy_norm(clipped) == pytest.approx(1.0, rel=tol)
    for k in g:
        assert clipped[k].dtype == g[k].dtype
        np.testing.assert_allclose(clipped[k], g[k] / norm, rtol=tol)


def test_small_norm_is_left_unchanged_and_inputs_are_not_modified():
    g = grads()
    before = {k: v.copy() for k, v in g.items()}
    clipped, norm = clip_by_global_norm(g, 1e3)
    assert norm < 1e3
    for k in g:
        np.testing.assert_array_equal(clipped[k], before[k])
        np.testing.assert_array_equal(g[k], before[k])
        assert clipped[k] is not g[k]
    clip_by_global_norm(g, 1e-3)
    np.testing.assert_array_equal(g["W"], before["W"])


def test_sequence_in_sequence_out_and_zero_gradients():
    clipped, norm = clip_by_global_norm([np.zeros(3), np.zeros((2, 2))], 1.0)
    assert isinstance(clipped, list) and norm == 0.0 and not np.any(clipped[1])


@pytest.mark.parametrize("dtype,scale", [("float32", 1e30), ("float64", 1e200)])
def test_norm_does_not_overflow_when_every_entry_is_finite(dtype, scale):
    g = grads(dtype, scale)
    clipped, norm = clip_by_global_norm(g, 5.0)
    assert np.isfinite(norm) and norm == pytest.approx(numpy_norm(g), rel=1e-12)
    assert numpy_norm(clipped) == pytest.approx(5.0, rel=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_gradient_is_reported(bad):
    g = grads()
    g["b"][2] = bad
    with pytest.raises(FloatingPointError, match="in: b$"):
        clip_by_global_norm(g, 1.0)
    with pytest.warns(RuntimeWarning, match="unclipped"):
        clipped, norm = clip_by_global_norm(g, 1.0, error_if_nonfinite=False)
    assert not np.isfinite(norm)
    np.testing.assert_array_equal(clipped["W"], g["W"])
    assert np.isnan(global_norm(g)) == np.isnan(bad)


def test_value_clipping_matches_np_clip_and_maps_inf_to_the_limit():
    g = grads(scale=3.0)
    g["W"][0, 0] = np.inf
    g["b"][1] = -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clipped = clip_by_value(g, 2.0)
    for k in g:
        np.testing.assert_array_equal(clipped[k], np.clip(g[k], -2.0, 2.0))
    assert clipped["W"][0, 0] == 2.0 and clipped["b"][1] == -2.0
    f32 = clip_by_value([np.float32([0.5, -7.0])], 1.0)[0]
    assert f32.dtype == np.float32 and list(f32) == [0.5, -1.0]


def test_value_clipping_reports_nan():
    g = grads()
    g["W"][1, 1] = np.nan
    with pytest.raises(FloatingPointError, match="NaN; in: W$"):
        clip_by_value(g, 1.0)
    with pytest.warns(RuntimeWarning):
        assert np.isnan(clip_by_value(g, 1.0, error_if_nonfinite=False)["W"][1, 1])


@pytest.mark.parametrize("call,exc,match", [
    (lambda: clip_by_global_norm(grads(), 0.0), ValueError, "max_norm"),
    (lambda: clip_by_global_norm(grads(), np.nan), ValueError, "max_norm"),
    (lambda: clip_by_global_norm(grads(), np.inf), ValueError, "max_norm"),
    (lambda: clip_by_value(grads(), -1.0), ValueError, "limit"),
    (lambda: clip_by_global_norm({}, 1.0), ValueError, "empty"),
    (lambda: clip_by_global_norm({"W": [1.0, 2.0]}, 1.0), TypeError, "'W'"),
    (lambda: clip_by_global_norm(np.ones(3), 1.0), TypeError, "dict or a sequence"),
    (lambda: clip_by_value({"i": np.arange(3)}, 1.0), TypeError, "float"),
])
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_clips_an_exploding_rnn_gradient():
    model = RNN(2, 8, 1, "identity", recurrent_init="orthogonal", gain=1.5, seed=0)
    rng = np.random.default_rng(1)
    r = model.loss_and_grads(rng.standard_normal((30, 4, 2)), rng.standard_normal((4, 1)))
    clipped, norm = clip_by_global_norm(r.grads, 1.0)
    assert norm > 1e4
    assert numpy_norm(clipped) == pytest.approx(1.0, rel=1e-12)
    assert set(clipped) == set(model.params)
