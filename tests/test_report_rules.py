"""The report's stated rules: decay verdicts from rho and its CI, dead vs saturated units,
speed rows flagged by load / spread / ceiling, provenance in every result."""

import math

import numpy as np
import pytest

from vgbench.analysis.decay import saturated_fraction
from vgbench.kernels.activations import activation_numpy
from vgbench.report.results import make_result
from vgbench.report.tables import decay_verdict, depth_scale, rate_verdict, unit_notes
from vgbench.speed import trust


def _fit(rho, lo, hi):
    return {"rho": rho, "rho_ci95": [lo, hi]}


@pytest.mark.parametrize(("fit", "size", "verdict"), [
    (_fit(0.63, 0.60, 0.66), 10, "vanishing"),   # xi = 2.2 <= 10: same verdict at any T >= 3
    (_fit(0.63, 0.60, 0.66), 50, "vanishing"),
    (_fit(1.036, 1.01, 1.06), 64, "exploding"),  # xi = 28 <= 64, CI excludes 1
    (_fit(1.036, 1.01, 1.06), 16, "mild growth"),
    (_fit(0.98, 0.97, 0.99), 32, "mild decay"),  # xi = 49.5 > 32
    (_fit(0.99, 0.95, 1.02), 1000, "stable"),    # CI holds 1: no direction claimed
    (None, 64, None),
])
def test_rate_verdict_follows_the_stated_rule(fit, size, verdict):
    assert rate_verdict(fit, size) == verdict


def test_depth_scale_sign_and_value():
    assert depth_scale(math.exp(-0.5)) == pytest.approx(2.0)
    assert depth_scale(math.exp(0.25)) == pytest.approx(-4.0)
    assert math.isinf(depth_scale(1.0))


def _size(**kw):
    s = {"size": 8, "fit": _fit(0.5, 0.4, 0.6), "first_nonfinite": None, "first_zero": None,
         "zero_is_underflow": False, "first_last_ratio": 0.5}
    s.update(kw)
    return s


def test_relu_units_die_sigmoid_units_saturate():
    s = _size(dead_fraction=[0.3, 0.5], saturated_fraction=[0.3, 0.5])
    assert unit_notes(s, "relu") == ["40% dead units"]
    s = _size(dead_fraction=[0.02, 0.04], saturated_fraction=[0.1, 0.3])
    assert unit_notes(s, "sigmoid") == ["20% saturated units, 3% with f' rounded to 0"]
    assert decay_verdict(s, "layer", "sigmoid").startswith("vanishing; 20% saturated")
    assert unit_notes(_size(dead_fraction=[0.0], saturated_fraction=[0.001]), "tanh") == []


def test_saturated_fraction_counts_units_flat_on_every_row():
    z = np.zeros((1, 4, 3))
    z[0, :, 0] = 20.0             # tanh'(20) ~ 1e-17: saturated on every row
    z[0, :2, 1] = 20.0            # saturated on half the rows only: not counted
    acts = activation_numpy("tanh", z)
    assert saturated_fraction("tanh", acts).tolist() == pytest.approx([1 / 3])


def _speed_data(load=0.5, iqr=0.01, ceil2=200.0, n=20):
    rec = {"label": "c", "threads": 2, "impl": "vgbench", "pass": "fwd_bwd", "dtype": "float32",
           "median_s": 1.0, "iqr_s": iqr, "n": n, "loadavg_1min": load,
           "ceiling_fraction": 0.5}
    return {"usable_cpus": 2, "loadavg_start": [load, 0, 0], "loadavg_end": [load, 0, 0],
            "records": [rec],
            "ceiling": {"1": {"gemm": {"float32": {"best_gflops": 100.0}}},
                        "2": {"gemm": {"float32": {"best_gflops": ceil2}}}}}


def test_trust_flags_load_spread_samples_and_inverted_ceiling():
    assert trust.row_flags(_speed_data()) == {}
    assert trust.warnings(_speed_data()) == []
    assert "load 3.0 > 2 cores" in trust.row_flags(_speed_data(load=3.0))[("c", 2)]
    assert "IQR 20% of median" in trust.row_flags(_speed_data(iqr=0.2))[("c", 2)][0]
    assert trust.row_flags(_speed_data(n=3))[("c", 2)] == ["vgbench n=3"]
    flags = trust.row_flags(_speed_data(ceil2=80.0))[("c", 2)]
    assert flags == ["2-thread GEMM ceiling 80 GF/s below the 1-thread 100"]
    assert trust.warnings(_speed_data(ceil2=80.0))[0].startswith("untrustworthy: c at 2")


def test_every_result_carries_provenance():
    doc = make_result("decay", {}, {}, machine={})
    p = doc["provenance"]
    assert set(p) == {"vgbench_version", "git_commit", "git_dirty", "command", "started"}
    assert p["started"].endswith("Z") and p["started"][4] == "-"
    assert p["git_commit"] is None or len(p["git_commit"]) == 40


def test_progress_prints_one_line_per_case_in_a_log(capsys):
    from vgbench.report.progress import CaseProgress

    with CaseProgress("decay", 2, enabled=True) as bar:  # pytest's stderr is no terminal
        bar.done("a")
        bar.done("b")
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err] == ["[decay 1/2] a", "[decay 2/2] b"]
    with CaseProgress("decay", 1, enabled=False) as bar:
        bar.done("a")
    assert capsys.readouterr().err == ""


def test_adding_table_marks_flat_runs_and_explains_them():
    from vgbench.report.tables import adding_markdown, constant_output_note

    sweep = {"RNN": {"lengths": [10, 20], "eval_mse": [0.9, 1 / 60], "solved": [False, True],
                     "status": ["ok", "ok"], "max_grad_norm": [2000.0, 3.0],
                     "constant_output": [True, False], "baseline_mse": 1 / 6,
                     "longest_solved": 20}}
    table = adding_markdown(sweep)
    assert "| RNN | 5.4 (flat) | 0.1 ✓ | 20 |" in table
    note = constant_output_note(sweep)
    assert "RNN at T=10 (largest gradient norm 2e+03, MSE / baseline 5.4)" in note
    sweep["RNN"]["constant_output"] = [False, False]
    assert constant_output_note(sweep) == ""


def test_curve_plot_notes_say_what_a_log_axis_cannot_draw():
    from vgbench.report.decayplots import _missing_notes

    assert _missing_notes({"size": 64, "forward_first_nonfinite": 42}, "layer") == [
        "64: forward overflowed at layer 42, gradient not drawn"]
    assert _missing_notes({"size": 100, "first_nonfinite": None, "first_zero": 80},
                          "step") == ["100: exactly 0 at steps 1..80 (truncated BPTT), not drawn"]
