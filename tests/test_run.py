"""A reduced ``vgbench run`` report and a tiny ``vgbench decay``: files and their contents."""

from functools import partial

import pytest

from vgbench.cli import main
from vgbench.report.results import read_result
from vgbench.report.summary import decay_section, mlp_cases, recurrent_cases, write_report

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    section = partial(decay_section, depths=(3, 6), lengths=(4, 25), width=8, hidden=6,
                      batch=4, seeds=2, theory_width=16, theory_depth=6,
                      theory_sigma_ws=(0.8, 1.5))
    summary = write_report(out, progress=False, sections=[section, lambda o, p: "## extra\n"])
    return out, summary


def test_report_writes_every_file(report):
    out, summary = report
    assert summary == out / "summary.md"
    for name in ("mlp_curves.png", "rnn_curves.png", "rates.png", "heatmap.png",
                 "clipping.png"):
        assert (out / name).read_bytes()[:8] == PNG, name


def test_summary_table_has_a_row_per_case_and_the_extra_section(report):
    out, summary = report
    text = summary.read_text()
    for label, _ in mlp_cases((3, 6), 8, 4, 2) + recurrent_cases((4, 25), 6, 4, 2):
        assert f"| {label} | " in text, label
    assert "| sigmoid, xavier | 6 | " in text and "| LSTM, forget bias 1 | 25 | " in text
    assert "vanishing" in text and "clipped to 1" in text and "never violated" in text
    assert "**Mean-field check**" in text and "**Variance scaling**" in text
    assert "Verdict rule:" in text and "## extra" in text and "Wall time" not in text
    assert "command `" in text and "started 20" in text  # provenance in the header


def test_report_json_holds_curves_fits_and_theory(report):
    out, _ = report
    doc = read_result(out / "decay.json", "report-decay")
    assert "cpu" in doc["machine"]
    mlp = {r["label"]: r for r in doc["data"]["mlp"]}
    sig = mlp["sigmoid, xavier"]
    assert [s["size"] for s in sig["sizes"]] == [3, 6]
    assert len(sig["sizes"][1]["curve_geomean"]) == 6
    assert sig["theory"]["mean_field"]["rho"] == pytest.approx(0.236, abs=1e-3)
    assert sig["sizes"][1]["first_last_ratio"] < 1e-2  # sigmoid vanishes even at depth 6
    rec = {r["label"]: r for r in doc["data"]["recurrent"]}
    trunc = rec["same, truncated BPTT k=20"]["sizes"][1]
    assert trunc["first_zero"] == 25 - 20  # steps beyond the window get no gradient
    assert len(doc["data"]["theory"]["points"]) == 3
    assert doc["data"]["variance_scaling"]["mean_square_predicted"] == 1.0


def test_decay_command_writes_json_plots_and_table(tmp_path, capsys):
    rc = main(["decay", "--activation", "tanh", "relu", "--depths", "3", "5", "--width", "8",
               "--batch", "4", "--seeds", "2", "--out", str(tmp_path)])
    assert rc == 0
    doc = read_result(tmp_path / "decay.json", "decay")
    assert [r["label"] for r in doc["data"]["runs"]] == ["mlp tanh", "mlp relu"]
    for name in ("curves.png", "rates.png", "heatmap.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert "| mlp relu | 5 | " in capsys.readouterr().out


def test_decay_command_rejects_bad_input(tmp_path, capsys):
    assert main(["decay", "--depths", "3,x", "--out", str(tmp_path)]) == 2
    assert "--depths: expected integers, got 'x'" in capsys.readouterr().err


def test_decay_backend_option(tmp_path, capsys):
    from vgbench.analysis.decay import DecayConfig
    from vgbench.backends import cuda_available

    with pytest.raises(ValueError, match="backend"):
        DecayConfig(backend="tpu")
    if cuda_available():
        pytest.skip("a GPU is present: the CUDA path is tested in tests/test_cuda.py")
    rc = main(["decay", "--depths", "3", "--width", "4", "--batch", "2", "--seeds", "1",
               "--backend", "cuda", "--out", str(tmp_path)])
    assert rc == 2 and "GPU" in capsys.readouterr().err
