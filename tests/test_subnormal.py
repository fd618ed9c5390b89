"""Subnormal accounting in the decay probes and verdicts, the keep/flush sweep and its command."""

import json

import numpy as np
import pytest

from vgbench.analysis.decay import DecayConfig, sweep
from vgbench.cli import main
from vgbench.env.denormals import SUPPORTED
from vgbench.report.tables import decay_verdict
from vgbench.speed.compare import setup_differences
from vgbench.speed.subnormal import SubnormalCase, run_case

RECORD_FIELDS = {"model", "batch", "dtype", "threads", "keep_ms", "flush_ms", "penalty",
                 "subnormal_fraction_keep", "subnormal_fraction_flush"}
needs_x86 = pytest.mark.skipif(not SUPPORTED, reason="MXCSR exists on x86-64 only")


def _sigmoid_probe(dtype: str) -> dict:
    # A naive sigmoid net loses ~x0.2 per layer: float32 runs out of range within 100.
    cfg = DecayConfig(model="mlp", activation="sigmoid", init="normal", depths=(100,),
                      width=32, batch=16, seeds=1, dtype=dtype)
    return sweep(cfg, progress=False)["sizes"][0]


def test_float32_decay_is_reported_as_underflow_with_its_layers():
    s = _sigmoid_probe("float32")
    sub, zero = np.asarray(s["subnormal_fraction"]), np.asarray(s["zero_fraction"])
    assert sub.shape == zero.shape == (100,)
    assert s["first_subnormal"] is not None and s["first_zero"] is not None
    # counted from the top: the gradient is subnormal somewhere above where it is all 0
    assert s["first_subnormal"] > s["first_zero"]
    assert sub[s["first_subnormal"] - 1] > 0 and not sub[s["first_subnormal"]:].any()
    assert zero[s["first_zero"] - 1] == 1.0
    curve = np.asarray(s["curve_geomean"])
    np.testing.assert_array_equal(np.isnan(curve), zero == 1.0)  # 0 norm <=> all entries 0
    verdict = decay_verdict(s, "layer")
    assert (f"float32 underflow: subnormal from layer {s['first_subnormal']}, zero from "
            f"layer {s['first_zero']}") in verdict
    assert "gradient exactly 0" not in verdict


def test_float64_reports_counts_too():
    s = _sigmoid_probe("float64")
    assert np.asarray(s["subnormal_fraction"]).shape == (100,)
    assert s["first_subnormal"] is None and not np.any(s["zero_fraction"])
    assert "underflow" not in decay_verdict(s, "layer")


def test_lstm_probe_counts_the_cell_gradient():
    cfg = DecayConfig(model="lstm", seq_lens=(12,), width=8, batch=4, seeds=1,
                      dtype="float32")
    s = sweep(cfg, progress=False)["sizes"][0]
    assert np.asarray(s["cell_subnormal_fraction"]).shape == (12,)
    assert np.asarray(s["cell_zero_fraction"]).shape == (12,)


def test_verdict_keeps_the_old_wording_without_counts():
    s = {"first_nonfinite": None, "first_zero": 7, "zero_is_underflow": False,
         "first_last_ratio": float("nan"), "fit": None, "size": 20}
    assert decay_verdict(s, "step") == "no rate fit; gradient exactly 0 from step 7 down"
    s.update(first_subnormal=12, dtype="float32")
    assert decay_verdict(s, "step") == ("no rate fit; float32 underflow: subnormal from step "
                                        "12, zero from step 7")


@needs_x86
def test_run_case_times_both_modes_and_counts_each():
    case = SubnormalCase("mlp", 100, 32, 16, activation="sigmoid")
    r = run_case(case, budget_s=0.02, blocks=2, min_repeats=1, torch=False)
    assert RECORD_FIELDS | {"depth", "width"} <= set(r)
    assert r["subnormal_fraction_keep"] > 0 and r["subnormal_fraction_flush"] == 0
    assert r["zero_fraction_flush"] > r["zero_fraction_keep"]  # flushed to 0 instead
    assert r["penalty"] == pytest.approx(r["keep_ms"] / r["flush_ms"])
    assert r["keep_min_ms"] <= r["keep_ms"] and r["flush_min_ms"] <= r["flush_ms"]
    assert len(r["keep_samples_ns"]) >= 2 and len(r["flush_samples_ns"]) >= 2


@needs_x86
def test_subnormal_command_writes_table_json_and_png(tmp_path, capsys):
    out = tmp_path / "sn.json"
    rc = main(["subnormal", "--models", "rnn", "mlp", "--seq-lens", "4,6", "--depths", "3",
               "--hidden", "8", "--width", "8", "--batch", "4", "--budget", "0.01",
               "--blocks", "1", "--no-torch", "--no-progress", "--out", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["kind"] == "subnormal" and doc["machine"]["denormals"]["mode"] == "keep"
    recs = doc["data"]["records"]
    assert [(r["model"], r.get("seq_len"), r.get("depth")) for r in recs] == [
        ("rnn", 4, None), ("rnn", 6, None), ("mlp", None, 3)]
    assert RECORD_FIELDS | {"seq_len", "hidden"} <= set(recs[0])
    assert RECORD_FIELDS | {"depth", "width"} <= set(recs[2])
    assert out.with_suffix(".png").stat().st_size > 0
    assert "penalty" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--seq-lens", "0"], ["--threads", "99"],
                                  ["--budget", "0"], ["--models", "gru"],
                                  ["--activation", "cube"]])
def test_subnormal_command_rejects_bad_values(argv, capsys):
    assert main(["subnormal", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) >= 1 and "Traceback" not in "".join(err)


def test_compare_flags_a_different_denormal_mode():
    def doc(mode):
        return {"machine": {"denormals": {"mode": mode}}, "data": {}}
    assert any(d.startswith("denormals: keep -> flush")
               for d in setup_differences(doc("keep"), doc("flush")))
    assert not any("denormals" in d for d in setup_differences(doc("keep"), doc("keep")))


@needs_x86
def test_denormals_option_sets_the_mode_and_records_it(tmp_path):
    from vgbench.env.denormals import current_mode, denormals

    with denormals("keep"):  # the command leaves the process in its mode; restore after
        rc = main(["decay", "--model", "rnn", "--seq-lens", "5", "--width", "4", "--batch",
                   "2", "--seeds", "1", "--dtype", "float32", "--denormals", "flush",
                   "--out", str(tmp_path)])
        assert rc == 0 and current_mode() == "flush"
    assert current_mode() == "keep"
    doc = json.loads((tmp_path / "decay.json").read_text())
    assert doc["machine"]["denormals"]["mode"] == "flush"
    assert main(["speed", "--denormals", "ftz"]) == 2
