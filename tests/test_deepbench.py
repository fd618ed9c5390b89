"""DeepBench-style tables: the problem lists, the planner's caps, a measured row, the CSV."""

import csv

import numpy as np
import pytest

from vgbench.report.csvout import COLUMNS, deepbench_rows, speed_rows, write_csv
from vgbench.speed import deepbench as db


def test_problem_lists_are_deepbenchs_training_sets():
    gemm = [p for p in db.problems() if p.kernel == "gemm"]
    rnn = [p for p in db.problems() if p.kernel != "gemm"]
    assert len(gemm) == 160 and len(rnn) == 34  # GRU rows left out
    assert (gemm[0].M, gemm[0].N, gemm[0].K, gemm[0].op) == (1760, 16, 1760, "NN")
    assert {p.op for p in gemm} == {"NN", "TN", "NT"}
    assert {p.kernel for p in rnn} == {"vanilla", "lstm"}
    assert (rnn[0].hidden, rnn[0].batch, rnn[0].T) == (1760, 16, 50)


def test_plan_caps_time_and_memory_and_says_why():
    small = db.Problem("gemm", M=64, N=64, K=64, op="NN")
    big = db.Problem("gemm", M=4096, N=4096, K=4096, op="NN")  # 137 GFLOP
    run, skipped = db.plan([small, big], gemm_gflops=100.0, max_row_s=1.0, min_repeats=5,
                           memory_bytes=None)
    assert run == [small]
    assert skipped[0][0] == big and "over the 1 s cap" in skipped[0][1]
    run, skipped = db.plan([big], 1e9, 1e9, 5, memory_bytes=big.bytes())
    assert run == [] and "GiB available" in skipped[0][1]


@pytest.mark.parametrize("op", ["NN", "TN", "NT"])
def test_gemm_call_computes_op_a_op_b(op):
    p = db.Problem("gemm", M=5, N=3, K=7, op=op)
    c = db._gemm_call(p, seed=1)()
    rng = np.random.default_rng(1)
    a = rng.standard_normal((7, 5) if op[0] == "T" else (5, 7), dtype=np.float32)
    b = rng.standard_normal((3, 7) if op[1] == "T" else (7, 3), dtype=np.float32)
    ref = (a.T if op[0] == "T" else a).astype(np.float64) @ (b.T if op[1] == "T" else b)
    np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-5)


def test_measured_rows_write_a_csv_with_the_named_columns(tmp_path):
    rows = [db.measure(db.Problem("gemm", M=16, N=8, K=32, op="TN"), 1, 0.0, 3, 10.0),
            db.measure(db.Problem("lstm", hidden=8, batch=2, T=3), 1, 0.0, 3, 10.0)]
    assert "fwd_bwd" not in rows[0] and rows[1]["fwd_bwd"]["n"] == 3
    assert rows[1]["tflops"] == pytest.approx(
        rows[1]["fwd_bwd"]["flops"] / rows[1]["fwd_bwd"]["median_s"] / 1e12)
    path = write_csv(tmp_path / "db.csv", deepbench_rows({"rows": rows}))
    read = list(csv.DictReader(path.open()))
    assert tuple(read[0]) == COLUMNS
    assert (read[0]["kernel"], read[0]["M"], read[0]["op"], read[0]["hidden"]) == (
        "gemm", "16", "TN", "")
    assert read[1]["kernel"] == "lstm" and read[1]["T"] == "3" and read[1]["fwd_bwd_ms"]


def test_speed_rows_merge_passes_per_case_thread_and_impl():
    base = {"label": "rnn H8", "in_dim": 0, "out_dim": 1, "threads": 1, "model": "rnn",
            "size": 8, "batch": 2, "seq_len": 5, "depth": 1, "dtype": "float32",
            "ceiling_fraction": 0.25}
    records = [{**base, "impl": "vgbench", "pass": "forward", "median_s": 0.001,
                "gflops": 1.0},
               {**base, "impl": "vgbench", "pass": "fwd_bwd", "median_s": 0.003,
                "gflops": 2.0}]
    (row,) = speed_rows({"records": records})
    assert (row["fwd_ms"], row["fwd_bwd_ms"], row["tflops"], row["T"]) == ("1", "3", "0.002", 5)
    assert row["pct_gemm_ceiling"] == "25.0"


def test_compare_reads_deepbench_results_like_speed_results(tmp_path, capsys):
    from vgbench.cli import main
    from vgbench.report.results import write_result

    row = db.measure(db.Problem("vanilla", hidden=8, batch=2, T=3), 1, 0.0, 5, 10.0)
    records = db.as_records({"rows": [row]})
    assert [(r["pass"], r["impl"]) for r in records] == [("forward", "vgbench"),
                                                         ("fwd_bwd", "vgbench")]
    data = {"rows": [row], "skipped": [], "ceiling": {}}
    a = write_result(tmp_path / "a.json", "deepbench", {}, data)
    b = write_result(tmp_path / "b.json", "deepbench", {}, data)
    assert main(["compare", str(a), str(b)]) == 0
    assert "0 slower, 0 faster, 2 unchanged (of 2 measurements)" in capsys.readouterr().out
