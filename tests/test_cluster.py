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
          "blas": [{"user_api": "blas", "filepath": "/a", "num_threads": 2},
                   {"user_api": "openmp", "filepath": "/g", "num_threads": 2}]}
    other_process = {"cpu": "X", "threads": {"numba": 1}, "numba_num_threads": 1,
                     "blas": [{"user_api": "blas", "filepath": "/a", "num_threads": 1}]}
    assert machine_hash(fp) == machine_hash(other_process)
    assert machine_hash(fp) != machine_hash({**fp, "cpu": "Y"})


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


def test_phase_ctrl_c_writes_the_finished_probes_marked_interrupted(monkeypatch, tmp_path):
    from vgbench.analysis import phase

    calls = []

    def interrupted_probe(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return probe(*args)

    monkeypatch.setattr(phase, "probe", interrupted_probe)
    out = tmp_path / "phase"
    argv = ["phase", "--sigma-w", "0.9", "1.4", "--sigma-b", "0", "--relu-sigma-w", "1.4",
            "--depth", "6", "--width", "8", "--batch", "2", "--seeds", "2", "--out", str(out)]
    assert main(argv) == 130
    doc = json.loads((out / "phase.json").read_text())
    assert doc["data"]["interrupted"] is True
    cases = doc["data"]["cases"]
    assert [(c["sigma_w"], c["seed"]) for c in cases] == [(0.9, 0), (0.9, 1)]
    assert doc["data"]["tanh"]["seeds"] == [[2, 0]]
