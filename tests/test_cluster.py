"""vgbench.cluster without Dask: the in-process path, worker records, thread pinning,
machine hashes, progress lines, and what the commands do with --scheduler before any work."""

import json
import math

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from vgbench.analysis.decay import DecayConfig, probe, probe_tasks, sweep
from vgbench.cli import main
from vgbench.cluster import tasks as cluster_tasks
from vgbench.cluster.tasks import Task, check_scheduler, run_tasks
from vgbench.cluster.workers import machine_hash, this_machine_hash


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_in_process_results_come_in_task_order_with_this_process_named():
    cfg = DecayConfig(depths=(3, 5), width=6, batch=2, seeds=2)
    seen = []
    out = run_tasks(probe_tasks(cfg, None), progress=False,
                    on_result=lambda i, r: seen.append(i))
    assert seen == [0, 1, 2, 3]
    for r, (size, seed) in zip(out, [(3, 0), (3, 1), (5, 0), (5, 1)], strict=True):
        np.testing.assert_array_equal(r.value["curve"], probe(cfg, size, seed)["curve"])
        assert r.worker["address"] == "in-process"
        assert r.worker["fingerprint_hash"] == this_machine_hash()
        assert r.seconds >= 0


def test_tasks_run_on_one_thread_and_the_setting_is_restored():
    before = _blas_threads()
    out = run_tasks([Task("blas threads", _blas_threads)], progress=False)
    assert out[0].value and set(out[0].value) == {1}
    assert _blas_threads() == before
    unpinned = run_tasks([Task("blas threads", _blas_threads)], progress=False,
                         pin_threads=False)
    assert unpinned[0].value == before


def test_machine_hash_ignores_thread_counts_and_loaded_openmp_but_not_the_cpu():
    fp = {"cpu": "X", "threads": {"numba": 2}, "numba_num_threads": 2,
          "blas_coretype": {"applied": True},
          "blas": [{"user_api": "blas", "filepath": "/a", "num_threads": 2},
                   {"user_api": "openmp", "filepath": "/g", "num_threads": 2}]}
    other_process = {"cpu": "X", "threads": {"numba": 1}, "numba_num_threads": 1,
                     "blas_coretype": {"applied": False},
                     "blas": [{"user_api": "blas", "filepath": "/a", "num_threads": 1}]}
    assert machine_hash(fp) == machine_hash(other_process)
    assert machine_hash(fp) != machine_hash({**fp, "cpu": "Y"})
    kernels = [{"user_api": "blas", "filepath": "/a", "architecture": "SkylakeX"}]
    assert machine_hash(fp) != machine_hash({**fp, "blas": kernels})


def test_a_failing_task_stops_the_run_with_its_error():
    with pytest.raises(ValueError, match="math domain error"):
        run_tasks([Task("ok", math.sqrt, (4.0,)), Task("bad", math.sqrt, (-1.0,))],
                  progress=False)


def test_progress_prints_one_line_per_finished_task_off_a_terminal(capsys):
    run_tasks([Task(f"sqrt {i}", math.sqrt, (float(i),)) for i in range(3)], progress=True,
              desc="roots")
    lines = capsys.readouterr().err.strip().splitlines()
    assert [ln.split(" on ")[0] for ln in lines] == [f"roots: {i + 1}/3 sqrt {i}"
                                                      for i in range(3)]
    assert all("in-process" in ln for ln in lines)


@pytest.mark.parametrize("value", ["local", "tcp://10.0.0.2:8786", "tls://host:1", None])
def test_scheduler_values_accepted(value):
    assert check_scheduler(value) == value


@pytest.mark.parametrize("value", ["", "locale", "10.0.0.2:8786", "http://x:1"])
def test_scheduler_values_rejected(value):
    with pytest.raises(ValueError, match="scheduler must be"):
        check_scheduler(value)


def test_sweep_in_process_keeps_its_json_without_worker_fields():
    data = sweep(DecayConfig(depths=(4,), width=6, batch=2, seeds=2), progress=False)
    assert "workers" not in data["sizes"][0]


@pytest.mark.parametrize("argv, message", [
    (["decay", "--scheduler", "nowhere"], "scheduler must be"),
    (["phase", "--scheduler", "10.1.1.1"], "scheduler must be"),
    (["train", "--scheduler", "local"], "--experiment depth and adding"),
    (["speed", "--scheduler", "local", "--each-worker"], "--scheduler ADDRESS --each-worker"),
    (["speed", "--each-worker"], "--scheduler ADDRESS --each-worker"),
    (["phase", "--depth", "3"], "depth must be >= 5"),
    (["phase", "--sigma-w", "1", "x"], "expected numbers"),
])
def test_bad_cluster_options_exit_2_before_any_work(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_dask_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr(cluster_tasks, "dask_available", lambda: False)
    assert main(["decay", "--scheduler", "local"]) == 2
    assert "pip install 'vgbench[dask]'" in capsys.readouterr().err


def _probe_interrupted_at_call(n: int):
    """``probe`` that raises KeyboardInterrupt (Ctrl-C) on its n-th call."""
    calls = []

    def interrupted_probe(*args):
        calls.append(args)
        if len(calls) == n:
            raise KeyboardInterrupt
        return probe(*args)
    return interrupted_probe


def test_phase_ctrl_c_writes_the_finished_probes_marked_interrupted(monkeypatch, tmp_path):
    from vgbench.analysis import phase

    monkeypatch.setattr(phase, "probe", _probe_interrupted_at_call(3))
    out = tmp_path / "phase"
    argv = ["phase", "--sigma-w", "0.9", "1.4", "--sigma-b", "0", "--relu-sigma-w", "1.4",
            "--depth", "6", "--width", "8", "--batch", "2", "--seeds", "2", "--out", str(out)]
    assert main(argv) == 130
    doc = json.loads((out / "phase.json").read_text())
    assert doc["data"]["complete"] is False
    cases = doc["data"]["cases"]
    assert [(c["sigma_w"], c["seed"]) for c in cases] == [(0.9, 0), (0.9, 1)]
    assert doc["data"]["tanh"]["seeds"] == [[2, 0]]


def test_phase_command_writes_json_table_and_heatmap_near_mean_field(tmp_path, capsys):
    out = tmp_path / "phase"
    argv = ["phase", "--sigma-w", "0.7", "1.6", "--sigma-b", "0", "0.2", "--relu-sigma-w",
            "1.2", "1.6", "--depth", "24", "--width", "96", "--batch", "16", "--seeds", "2",
            "--out", str(out)]
    assert main(argv) == 0
    data = json.loads((out / "phase.json").read_text())["data"]
    t, r = data["tanh"], data["relu"]
    assert np.shape(t["rho"]) == (2, 2) and len(r["rho"]) == 2
    assert len(data["cases"]) == (4 + 2) * 2
    # published edges: tanh at sigma_b = 0 is critical at sigma_w = 1, ReLU at sqrt(2)
    assert data["edge"]["tanh"]["sigma_b"][0] == 0.0
    assert data["edge"]["tanh"]["sigma_w"][0] == pytest.approx(1.0, abs=1e-6)
    assert data["edge"]["relu"]["sigma_w"] == pytest.approx(math.sqrt(2), abs=1e-6)
    # below the edge gradients vanish, above they explode, close to sqrt(chi_1)
    assert t["rho"][0][0] < 1 < t["rho"][0][1] and r["rho"][0] < 1 < r["rho"][1]
    measured = np.array(t["rho"]).ravel().tolist() + r["rho"]
    theory = np.array(t["theory_rho"]).ravel().tolist() + r["theory_rho"]
    np.testing.assert_allclose(measured, theory, rtol=0.05)
    # ReLU's mean field is sigma_w / sqrt(2) at any q*
    np.testing.assert_allclose(r["theory_rho"], np.array([1.2, 1.6]) / math.sqrt(2), rtol=1e-9)
    assert (out / "phase.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "| 0.2 |" in printed and "(0.700)" in printed  # tanh, sigma_b 0: rho = sigma_w


def _speed_doc(host: str, port: int, gflops: dict, ceiling: dict) -> dict:
    records = [{"label": "mlp W8 L2 B4 tanh f32", "impl": impl, "pass": "fwd_bwd",
                "threads": n, "gflops": gf, "ceiling_fraction": gf / ceiling[n]}
               for (impl, n), gf in gflops.items()]
    return {"machine": {"machine": host, "cpu": "X", "num_cpu": max(ceiling)},
            "config": {"worker": {"address": f"tcp://10.0.0.1:{port}",
                                  "fingerprint_hash": host}},
            "data": {"records": records,
                     "ceiling": {str(n): {"gemm": {"float32": {"best_gflops": c},
                                                   "float64": {"best_gflops": c / 2}}}
                                 for n, c in ceiling.items()}}}


def test_fleet_table_puts_each_machine_in_its_own_columns_and_all_cores_in_one_row():
    from vgbench.report.fleet import fleet_table, machine_labels, machines_table

    docs = [_speed_doc("a", 1, {("vgbench", 1): 10.0, ("vgbench", 2): 16.0,
                                ("numpy", 1): 99.0}, {1: 40.0, 2: 80.0}),
            _speed_doc("a", 2, {("vgbench", 1): 30.0, ("vgbench", 8): 90.0},
                       {1: 60.0, 8: 300.0})]
    labels = machine_labels(docs)
    assert labels == ["a:1", "a:2"]
    rows = fleet_table(docs, labels, markdown=True).splitlines()
    assert rows[0] == "| case | thr | a:1 GF/s | a:1 % GEMM | a:2 GF/s | a:2 % GEMM |"
    assert rows[2:] == ["| mlp W8 L2 B4 tanh f32 | 1 | 10.0 | 25 | 30.0 | 50 |",
                        "| mlp W8 L2 B4 tanh f32 | all | 16.0 | 20 | 90.0 | 30 |"]
    assert "| a:2 | X | 8 | a | 60.0 / 300.0 | 30.0 / 150.0 |" in machines_table(
        docs, labels, markdown=True)


def test_decay_ctrl_c_keeps_the_finished_sizes_marked_interrupted(monkeypatch, tmp_path):
    from vgbench.analysis import decay

    monkeypatch.setattr(decay, "probe", _probe_interrupted_at_call(3))
    out = tmp_path / "decay"
    assert main(["decay", "--depths", "4", "6", "--width", "6", "--batch", "2", "--seeds",
                 "2", "--out", str(out)]) == 130
    data = json.loads((out / "decay.json").read_text())["data"]
    assert data["complete"] is False
    assert [s["size"] for s in data["runs"][0]["sizes"]] == [4]
