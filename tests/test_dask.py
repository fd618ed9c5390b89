"""Sweeps on a real Dask cluster: a ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1 (subprocesses on free ports, one cluster for the module, torn down at the end),
plus one LocalCluster run through the command line.  Skipped without ``distributed``.

Every sweep must gather exactly what the in-process run computes (each task is seeded
from its own parameters and runs on one thread), name the workers that computed it, and
survive a worker killed mid-sweep.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from vgbench.analysis.decay import DecayConfig, probe, probe_tasks, sweep  # noqa: E402
from vgbench.analysis.phase import PhaseConfig, phase_diagram  # noqa: E402
from vgbench.cli import main  # noqa: E402
from vgbench.cluster.tasks import run_tasks  # noqa: E402
from vgbench.cluster.workers import this_machine_hash  # noqa: E402
from vgbench.training.train import TrainConfig, adding_sweep, depth_comparison  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DASK = [sys.executable, "-m", "dask"]
WORKER_FIELDS = {"worker", "workers", "wall_s"}  # where runs may differ: who, and how long


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str]) -> subprocess.Popen:
    # own process group: teardown stops the nanny and the worker it spawned together
    return subprocess.Popen(DASK + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, cwd=ROOT)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _worker(address: str, name: str) -> subprocess.Popen:
    return _start(["worker", address, "--nthreads", "1", "--nworkers", "1", "--name", name,
                   "--no-dashboard", "--host", "127.0.0.1", "--resources", "machine=1"])


@pytest.fixture(scope="module")
def cluster():
    """(scheduler address, a Client for inspecting it) with two workers."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", str(port),
                     "--no-dashboard"])]
    try:
        procs += [_worker(address, f"w{i}") for i in range(2)]
        client = distributed.Client(address, timeout=60)
        try:
            client.wait_for_workers(2, timeout=120)
            yield address, client, procs
        finally:
            client.close()
    finally:
        _stop(procs)


def _strip(obj):
    """``obj`` without the fields that name who ran a task or how long it took."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in WORKER_FIELDS}
    if isinstance(obj, (list, tuple)):
        return [_strip(v) for v in obj]
    return obj


def _assert_close(a, b, path="data"):
    """Equal structure; numbers equal to 1e-12 relative (NaN == NaN)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple, np.ndarray)) and not isinstance(a, str):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=0, err_msg=path)
    else:
        assert a == b, path


def test_decay_sweep_on_two_workers_equals_in_process(cluster):
    address, _, _ = cluster
    cfg = DecayConfig(activation="tanh", depths=(4, 7), width=12, batch=3, seeds=3)
    here = sweep(cfg, progress=False)
    there = sweep(cfg, progress=False, scheduler=address)
    _assert_close(_strip(here), _strip(there))
    for size in there["sizes"]:
        assert len(size["workers"]) == cfg.seeds
        assert all(w["address"].startswith("tcp://127.0.0.1:") for w in size["workers"])


def test_phase_on_two_workers_equals_in_process_and_names_both(cluster):
    address, _, _ = cluster
    cfg = PhaseConfig(sigma_ws=(0.8, 1.6), sigma_bs=(0.0, 0.2), relu_sigma_ws=(1.3, 1.5),
                      depth=6, width=12, batch=3, seeds=2)
    here = phase_diagram(cfg, progress=False)
    there = phase_diagram(cfg, address, progress=False)
    _assert_close(_strip(here), _strip(there))
    workers = [c["worker"] for c in there["cases"]]
    assert len({(w["address"], w["pid"]) for w in workers}) == 2
    assert {w["fingerprint_hash"] for w in workers} == {this_machine_hash()}
    assert all(w["pid"] != os.getpid() for w in workers)
    assert {c["worker"]["address"] for c in here["cases"]} == {"in-process"}


def test_training_experiments_on_workers_equal_in_process(cluster):
    address, _, _ = cluster
    config = TrainConfig(steps=4, batch=4, eval_batch=8)
    here = depth_comparison(3, 5, config)
    there = depth_comparison(3, 5, config, scheduler=address)
    assert list(there) == list(here)
    _assert_close(_strip({k: r.to_dict() for k, r in here.items()}),
                  _strip({k: r.to_dict() for k, r in there.items()}))
    assert all(r.worker["address"].startswith("tcp://") for r in there.values())
    adding = TrainConfig(steps=3, batch=4, eval_batch=8)
    _assert_close(_strip(adding_sweep([3, 5], 4, adding)),
                  _strip(adding_sweep([3, 5], 4, adding, scheduler=address)))


def test_train_command_names_the_worker_of_every_run(cluster, tmp_path):
    address, _, _ = cluster
    out = tmp_path / "train"
    assert main(["train", "--experiment", "depth", "--depth", "3", "--width", "4", "--steps",
                 "3", "--batch", "4", "--scheduler", address, "--out", str(out)]) == 0
    runs = json.loads((out / "train_depth.json").read_text())["data"]["runs"]
    assert len(runs) == 4
    assert all(r["worker"]["address"].startswith("tcp://127.0.0.1:") for r in runs.values())


def test_subnormal_command_runs_its_cases_on_the_workers(cluster, tmp_path):
    """One task per case: records in case order, each naming the worker that timed both
    modes; the counts (deterministic, untimed) equal the in-process run's."""
    address, _, _ = cluster
    args = ["subnormal", "--models", "rnn", "mlp", "--seq-lens", "3", "--depths", "2",
            "--hidden", "4", "--width", "4", "--batch", "2", "--budget", "0.01", "--blocks",
            "1", "--no-torch", "--no-plot", "--no-progress"]
    assert main([*args, "--scheduler", address, "--out", str(tmp_path / "d.json")]) == 0
    assert main([*args, "--out", str(tmp_path / "p.json")]) == 0
    on_workers, here = (json.loads((tmp_path / f"{n}.json").read_text())["data"]["records"]
                        for n in ("d", "p"))
    assert [r["model"] for r in on_workers] == [r["model"] for r in here] == ["rnn", "mlp"]
    assert all(r["worker"]["address"].startswith("tcp://127.0.0.1:") for r in on_workers)
    for a, b in zip(on_workers, here, strict=True):
        for key in ("subnormal_fraction_keep", "subnormal_fraction_flush", "zero_fraction_keep"):
            assert a[key] == b[key]


def test_ctrl_c_cancels_every_pending_future(cluster):
    address, client, _ = cluster
    cfg = DecayConfig(depths=(8,), width=8, batch=2, seeds=12)

    def interrupt(i, result):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tasks(probe_tasks(cfg, None), address, progress=False, on_result=interrupt)

    def ours(dask_scheduler):
        return [str(k) for k in dask_scheduler.tasks if str(k).startswith("vgbench-")]

    deadline = time.monotonic() + 20
    while client.run_on_scheduler(ours) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.run_on_scheduler(ours) == []


def test_a_worker_killed_mid_sweep_loses_nothing(cluster):
    address, client, procs = cluster
    victim = _worker(address, "victim")
    procs.append(victim)  # torn down with the others if anything below fails
    client.wait_for_workers(3, timeout=120)
    cfg = DecayConfig(activation="tanh", depths=(32,), width=96, batch=32, seeds=16)
    # warm the newcomer (imports, cached kernels) so it takes its share of the sweep
    client.run(probe, cfg, 4, 0, None, workers=list(_addresses(client, "victim")))
    killed = {}

    def kill_victim(i, result):
        w = result.worker
        if killed or w["address"] not in _addresses(client, "victim"):
            return
        # wait until the victim holds its next task, then kill it: that task must rerun
        deadline = time.monotonic() + 10
        while not client.processing([w["address"]]).get(w["address"]):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        busy = client.processing([w["address"]])[w["address"]]
        killed.update(pid=w["pid"], busy=[int(str(k).rsplit("-", 1)[1]) for k in busy])
        os.kill(w["pid"], signal.SIGKILL)

    results = run_tasks(probe_tasks(cfg, None), address, progress=False,
                        on_result=kill_victim)
    assert killed, "the victim worker never finished a task, so it was not killed"
    assert all(r is not None for r in results)
    for seed, r in enumerate(results):
        np.testing.assert_array_equal(r.value["curve"], probe(cfg, 32, seed)["curve"])
    # the tasks the victim held when it died were computed again by another process
    assert killed["busy"] and all(results[i].worker["pid"] != killed["pid"]
                                  for i in killed["busy"])
    _stop([victim])


def _addresses(client, name: str) -> set[str]:
    info = client.scheduler_info(n_workers=-1)["workers"]
    return {a for a, w in info.items() if str(w.get("name", "")).startswith(name)}


def test_speed_on_each_worker_writes_one_file_per_worker_and_a_fleet_table(cluster, tmp_path,
                                                                           capsys):
    address, client, _ = cluster
    client.wait_for_workers(2, timeout=120)
    n = len(client.scheduler_info(n_workers=-1)["workers"])
    out = tmp_path / "fleet"
    argv = ["speed", "--scheduler", address, "--each-worker", "--models", "mlp", "--width",
            "8", "--depth", "2", "--batch", "4", "--impl", "vgbench", "numpy", "--threads",
            "1", "--budget", "0.01", "--min-repeats", "2", "--gemm-n", "64",
            "--no-compile-time", "--out", str(out)]
    assert main(argv) == 0
    files = sorted(out.glob("speed-*.json"))
    assert len(files) == n
    docs = [json.loads(f.read_text()) for f in files]
    assert len({d["config"]["worker"]["pid"] for d in docs}) == n
    for d in docs:
        assert d["machine"]["cpu"] and d["data"]["complete"]
        assert {r["impl"] for r in d["data"]["records"]} == {"vgbench", "numpy"}
        assert set(d["data"]["ceiling"]) == {"1"}
    table = (out / "fleet.md").read_text()
    row = next(ln for ln in table.splitlines() if ln.startswith("| mlp W8 L2 B4"))
    assert row.count("|") == 2 + 2 * n + 1 and "-" not in row.split("|")[3:-1]
    assert (out / "fleet.png").stat().st_size > 0
    assert "GF/s" in capsys.readouterr().out


def test_decay_command_on_a_local_cluster_writes_the_in_process_json(tmp_path):
    argv = ["decay", "--activation", "tanh", "relu", "--depths", "4", "6", "--width", "8",
            "--batch", "2", "--seeds", "2"]
    assert main([*argv, "--out", str(tmp_path / "here")]) == 0
    assert main([*argv, "--out", str(tmp_path / "local"), "--scheduler", "local"]) == 0
    here, local = (json.loads((tmp_path / d / "decay.json").read_text())["data"]
                   for d in ("here", "local"))
    _assert_close(_strip(here), _strip(local))
    workers = [w for run in local["runs"] for s in run["sizes"] for w in s["workers"]]
    assert len(workers) == 2 * 2 * 2 and all(w["pid"] != os.getpid() for w in workers)
