"""Decay probes: measured rates against mean-field theory, fits, overflow / dead detection."""

import math

import numpy as np
import pytest

from vgbench.analysis import decay
from vgbench.analysis.decay import DecayConfig, fit_decay, sweep
from vgbench.models import MLP


@pytest.mark.parametrize("act,init,sw", [("tanh", "normal", 0.8), ("tanh", "normal", 1.0),
                                         ("tanh", "normal", 1.5), ("relu", "he", 1.0)])
def test_measured_rate_matches_mean_field_within_2_percent(act, init, sw):
    # Wide net, inputs at q*, independent random cotangent at the top (module docstring).
    # tanh with sigma_b = 0.05 has its edge at sigma_w = 1.12: two ordered, one chaotic.
    cfg = DecayConfig(activation=act, init=init, sigma_w=sw, sigma_b=0.05 if act == "tanh"
                      else 0.0, depths=(30,), width=384, batch=8, seeds=2)
    data = sweep(cfg, progress=False)
    mf = data["theory"]["mean_field"]
    assert mf["regime"] == ("critical" if act == "relu" else
                            {0.8: "ordered", 1.0: "ordered", 1.5: "chaotic"}[sw])
    s = data["sizes"][0]
    assert abs(s["fit"]["rho"] / mf["rho"] - 1) < 0.02, (s["fit"], mf)
    assert s["rho_rel_diff"] == pytest.approx(s["fit"]["rho"] / mf["rho"] - 1)


def test_fit_recovers_an_exact_geometric_curve():
    curve = 3.0 * 0.8 ** np.arange(20, 0, -1.0)  # ||d_l|| / ||d_{l+1}|| = 0.8
    f = fit_decay(np.vstack([curve, 2 * curve]))
    assert f["rho"] == pytest.approx(0.8, rel=1e-12)
    assert f["rho_ci95"][0] == pytest.approx(0.8) and f["rho_ci95"][1] == pytest.approx(0.8)
    assert fit_decay(curve)["r2"] == pytest.approx(1.0)


def test_fit_ci_covers_the_true_rate_of_random_walks():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(200):
        steps = rng.normal(math.log(1.1), 0.2, size=(3, 40))  # ln(d_{l+1} / d_l) ...
        curves = np.exp(-np.cumsum(steps, axis=1))[:, ::-1]  # ... going down: rho = 1/1.1
        lo, hi = fit_decay(curves)["rho_ci95"]
        covered += lo <= 1 / 1.1 <= hi
    assert 180 <= covered <= 200  # nominal 95% of 200 = 190


def test_fit_uses_only_the_valid_part_from_the_top():
    curve = 0.5 ** np.arange(12, 0, -1.0)
    curve[:3] = [np.nan, np.inf, 0.0]
    assert fit_decay(curve)["rho"] == pytest.approx(0.5)
    assert decay.first_from_top(~np.isfinite(curve)) == 2
    assert fit_decay(np.array([1.0, np.nan, 1.0])) is None


def test_overflow_is_reported_with_its_layer_and_the_run_finishes():
    # ReLU, weights of std 1 at width 64: activations grow ~ sqrt(64 / 2) = 5.7x per layer
    # and overflow float32 (3.4e38) near layer 51; the MSE gradient is then Inf at the top.
    cfg = DecayConfig(activation="relu", init="large", dtype="float32", width=64,
                      depths=(80,), batch=8, seeds=2, top="mse", inputs="normal")
    s = sweep(cfg, progress=False)["sizes"][0]
    assert 40 <= s["forward_first_nonfinite"] <= 60
    assert s["output_nonfinite_seeds"] == 2
    assert s["first_nonfinite"] == 80  # the backward pass meets Inf/NaN at the top layer
    assert s["fit"] is None


def test_dead_relu_network_reports_zero_gradients_and_dead_units():
    # Width 1: the single ReLU unit dies at the first layer whose weight is negative.
    cfg = DecayConfig(activation="relu", init="he", width=1, depths=(30,), batch=4, seeds=3,
                      inputs="normal")
    s = sweep(cfg, progress=False)["sizes"][0]
    assert s["zero_seeds"] == 3 and s["first_zero"] is not None
    assert not s["zero_is_underflow"]
    assert s["dead_fraction"].max() == 1.0


def test_dead_fraction_counts_units_dead_on_the_whole_batch():
    x = np.random.default_rng(3).standard_normal((32, 6))
    for activation, want in (("relu", 2 / 5), ("leaky_relu", 0.0)):
        model = MLP(6, 5, 1, 1, activation=activation, init="he", seed=4)
        model.params["b0"][[1, 3]] = -1e3  # these two units never fire
        assert model.dead_fraction(x).tolist() == [want]


def test_rnn_sweep_respects_pascanu_and_clips():
    cfg = DecayConfig(model="rnn", activation="tanh", init="normal", recurrent_init="normal",
                      sigma_w=2.0, width=16, in_dim=4, seq_lens=(20, 60), batch=4, seeds=2,
                      clip=1.0)
    data = sweep(cfg, progress=False)
    for s in data["sizes"]:
        assert s["pascanu_violations"] == 0
        assert len(s["curve_geomean"]) == s["size"]
        assert s["clipped_norm_geomean"] == pytest.approx(min(1.0, s["grad_norm_geomean"]))
    lstm = sweep(DecayConfig(model="lstm", width=8, in_dim=4, seq_lens=(15,), batch=2,
                             seeds=1), progress=False)["sizes"][0]
    assert len(lstm["cell_curve_geomean"]) == 15


def test_sweep_calls_back_after_each_size_and_round_trips_json(tmp_path):
    from vgbench.report.results import read_result, write_result

    seen = []
    cfg = DecayConfig(depths=(3, 6), width=8, batch=4, seeds=2)
    data = sweep(cfg, progress=False, on_size=lambda d: seen.append(len(d["sizes"])))
    assert seen == [1, 2]
    write_result(tmp_path / "d.json", "decay", cfg.as_dict(), data)
    back = read_result(tmp_path / "d.json", "decay")
    assert back["data"]["sizes"][1]["size"] == 6
    assert back["config"]["depths"] == [3, 6]


@pytest.mark.parametrize("kw", [dict(model="gru"), dict(activation="swish"), dict(width=0),
                                dict(depths=()), dict(clip=-1.0), dict(top="x"),
                                dict(seeds=1.5)])
def test_bad_config_is_a_clear_error(kw):
    with pytest.raises((ValueError, TypeError)):
        DecayConfig(**kw)
