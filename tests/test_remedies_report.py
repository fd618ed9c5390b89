"""The remedies section of ``vgbench run`` (``vgbench.report.remedies``): files, and that
the numbers say what the section claims."""

import pytest

from vgbench.report.remedies import remedies_section
from vgbench.report.results import read_result
from vgbench.report.summary import SECTIONS

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    out = tmp_path_factory.mktemp("remedies")
    return out, remedies_section(out, progress=False)


def test_section_is_in_the_report():
    assert remedies_section in SECTIONS


def test_files_and_markdown(section):
    out, md = section
    assert (out / "remedies_decay.png").read_bytes()[:8] == PNG
    assert md.startswith("## Remedies") and "![remedies decay](remedies_decay.png)" in md
    for remedy in ("L2 weight decay", "layer-wise pre-training", "genetic algorithm",
                   "echo state network"):
        assert f"| {remedy} | " in md
    assert "0.5: 0.0009766 (lambda^10 0.0009766)" in md


def test_numbers_back_the_claims(section):
    out, _ = section
    doc = read_result(out / "remedies.json", "report-remedies")
    c = doc["data"]["curves"]
    ratio = {k: v[0] / v[-1] for k, v in c.items()}
    # leaky units and a skip both slow the vanishing of the same contracting RNN
    assert ratio["RNN"] < 1e-3 * ratio["RNN, leak 0.3"]
    assert ratio["RNN"] < 1e-3 * ratio["RNN, skip 6"]
    rows = {r["remedy"]: r for r in doc["data"]["table"]}
    assert rows["L2 weight decay"]["bottom_over_top"] < rows["none (exploding)"][
        "bottom_over_top"]
    assert rows["layer-wise pre-training"]["bottom_over_top"] > 10 * rows[
        "none (vanishing)"]["bottom_over_top"]
    assert rows["echo state network"]["mse"] < 0.5
    assert doc["data"]["seconds"] < 120
