"""bench/decay_gate.py: the decay numbers are identical run to run, and any change fails."""

import importlib.util
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "decay_gate", Path(__file__).resolve().parent.parent / "bench" / "decay_gate.py")
gate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gate)

SMALL = [("mlp", 10, {"activation": "tanh", "init": "xavier"}),
         ("rnn", 10, {"activation": "sigmoid", "init": "orthogonal"})]


def test_values_repeat_exactly_and_a_change_is_reported(tmp_path):
    first, second = gate.values(SMALL), gate.values(SMALL)
    assert first == second
    assert set(first["mlp activation=tanh init=xavier 10"]) == {
        "rho", "log10_first_last", "theory_rel_diff"}
    moved = json.loads(json.dumps(first))
    key = "rnn activation=sigmoid init=orthogonal 10"
    moved[key]["rho"] = gate.common.rounded(moved[key]["rho"] * (1 + 1e-5))
    assert gate.differences(first, moved) == [
        f"{key} rho: {first[key]['rho']} -> {moved[key]['rho']}"]
    del moved[key]
    assert f"{key}: only in base" in gate.differences(first, moved)


def test_gate_grid_matches_the_asv_decay_classes():
    models = {m for m, _, _ in gate.CASES}
    assert models == {"mlp", "rnn", "lstm"} and len(gate.CASES) == 18 + 12 + 6
