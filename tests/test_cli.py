"""The command line: the README's main job and the fingerprint, run as a user would."""

import json
import subprocess
import sys

import numpy as np

from vgbench.cli import main


def test_grad_prints_one_row_per_layer(capsys):
    assert main(["grad", "--depth", "6", "--width", "16", "--batch", "8"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(1, 7))
    norms = np.array([float(r[1]) for r in rows])
    assert np.all(norms > 0) and float(rows[-1][3]) == 1.0


def test_grad_rejects_bad_options(capsys):
    assert main(["grad", "--depth", "0"]) == 2
    assert "--depth: expected an integer >= 1, got '0'" in capsys.readouterr().err


def test_info_json_has_the_fingerprint(capsys):
    assert main(["info", "--json"]) == 0
    fp = json.loads(capsys.readouterr().out)
    for key in ("cpu", "num_cpu", "simd", "python", "numba", "llvmlite", "numpy",
                "numba_threading_layer", "blas", "cuda_device"):
        assert key in fp


def test_console_entry_point_runs_as_module():
    out = subprocess.run([sys.executable, "-m", "suite", "grad", "--depth", "3", "--width",
                          "8", "--batch", "4", "--activation", "relu", "--init", "he"],
                         capture_output=True, text=True, check=True).stdout
    assert "activation='relu'" in out and "init='he'" in out
