"""vgbench.report.results: round trip, atomic writes, clear errors on bad files."""

import json
import math

import numpy as np
import pytest

from vgbench.report.results import SCHEMA_VERSION, ResultFileError, read_result, write_result

MACHINE = {"machine": "test-host", "cpu": "test cpu"}


def _data(rng):
    return {"curve": rng.standard_normal(7), "ints": np.arange(3, dtype=np.int64),
            "special": [math.nan, math.inf, -math.inf, 1.5], "nested": {"f32": np.float32(2.5),
                                                                    "flag": np.bool_(True)}}


def test_round_trip_keeps_values_nonfinite_and_types(tmp_path):
    rng = np.random.default_rng(11)
    data = _data(rng)
    path = write_result(tmp_path / "r.json", "decay", {"depth": 3}, data, MACHINE)
    doc = read_result(path, kind="decay")
    assert doc["schema_version"] == SCHEMA_VERSION and doc["kind"] == "decay"
    assert doc["machine"] == MACHINE and doc["config"] == {"depth": 3}
    np.testing.assert_array_equal(doc["data"]["curve"], data["curve"])  # exact: repr round trip
    assert doc["data"]["ints"] == [0, 1, 2]
    s = doc["data"]["special"]
    assert math.isnan(s[0]) and s[1] == math.inf and s[2] == -math.inf and s[3] == 1.5
    assert doc["data"]["nested"] == {"f32": 2.5, "flag": True}
    json.loads(path.read_text())  # strict JSON: no bare NaN/Infinity tokens
    assert "NaN" not in path.read_text()


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    path = write_result(tmp_path / "r.json", "speed", {}, {"x": 1}, MACHINE)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        write_result(path, "speed", {}, {"x": object()}, MACHINE)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_truncated_file_is_a_clear_error(tmp_path):
    path = write_result(tmp_path / "r.json", "speed", {}, {"x": list(range(50))}, MACHINE)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ResultFileError, match="truncated"):
        read_result(path)


@pytest.mark.parametrize("content", ['{"foo": 1}', "[1, 2]", '{"format": "asv"}'])
def test_foreign_json_is_refused(tmp_path, content):
    path = tmp_path / "f.json"
    path.write_text(content)
    with pytest.raises(ResultFileError, match="not a vgbench result"):
        read_result(path)


def test_newer_schema_and_wrong_kind_are_refused(tmp_path):
    path = write_result(tmp_path / "r.json", "speed", {}, {}, MACHINE)
    doc = json.loads(path.read_text())
    with pytest.raises(ResultFileError, match="expected 'decay'"):
        read_result(path, kind="decay")
    doc["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultFileError, match="newer"):
        read_result(path)


def test_cli_reports_a_bad_file_without_traceback(tmp_path, capsys):
    from vgbench.cli import main

    good = write_result(tmp_path / "a.json", "speed", {}, {"records": []}, MACHINE)
    bad = tmp_path / "b.json"
    bad.write_text(good.read_text()[:40])
    assert main(["compare", str(good), str(bad)]) == 2
    assert "truncated" in capsys.readouterr().err
