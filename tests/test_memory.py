"""Peak memory of BPTT (``vgbench.speed.memory``, ``vgbench memory``): the backward keeps no
(T, ...) array beyond the forward's caches, so the call's peak RSS is the caches plus
what it returns.  The old layout (a full (T, B, H) dL/dz array beside the RNN's states,
a (T, B, 4H) dL/da array beside the LSTM's gates) measured 2x and 1.6x here.

Sizes: caches of 2-15 MB, far above RSS noise (Python objects, page granularity: tens of
KiB), so a 5% allowance over the byte count is tight enough to catch any extra T-sized
array (>= 1/7 of the caches for the LSTM, 1x for the RNN).
"""

import json
import sys

import pytest

from vgbench.cli import main
from vgbench.models import LSTM, RNN
from vgbench.speed.memory import measure_peak_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="peak RSS is read from /proc")


@pytest.mark.parametrize("cls", [RNN, LSTM])
@pytest.mark.parametrize("loss_at,truncate", [("last", None), ("every", None), ("every", 8)])
def test_bptt_peak_is_the_caches_plus_the_outputs(cls, loss_at, truncate):
    r = measure_peak_memory(cls(8, 64, 2, dtype="float64"), 600, 16, loss_at, truncate)
    expected = r["activation_bytes"] + r["scratch_bytes"] + r["output_bytes"]
    assert r["activation_bytes"] >= 600 * 16 * 64 * 8
    assert 0.9 * r["activation_bytes"] <= r["peak_bytes"] <= 1.05 * expected, r
    assert r["scratch_bytes"] < 0.1 * r["activation_bytes"]


def test_memory_command_prints_and_writes_rows(tmp_path, capsys):
    out = tmp_path / "mem.json"
    assert main(["memory", "--hidden", "16", "--seq-len", "50", "--batch", "4",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "rnn" in text and "lstm" in text
    rows = json.loads(out.read_text())["data"]["rows"]
    assert [r["model"] for r in rows] == ["rnn", "lstm"]
    assert all(r["activation_bytes"] > 0 for r in rows)


def test_memory_command_rejects_bad_sizes(capsys):
    assert main(["memory", "--seq-len", "0"]) == 2
    assert "--seq-len" in capsys.readouterr().err
