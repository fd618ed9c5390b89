"""Every bad input and interruption answered: the CLI's exit codes and one-line errors, the
compare gate that cannot pass by mistake, result files checked on reading, partial files
marked, output paths checked before any work, memory estimated before allocating, files
written atomically with the umask's mode, a lost Numba cache entry costing a recompile.

Commands run in-process (``vgbench.cli.main``) except where a real signal is sent.
"""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from vgbench.cli import guard, main
from vgbench.models import LSTM, MLP, RNN, footprint
from vgbench.report.results import ResultFileError, read_result, write_result
from vgbench.speed.baselines import Case

MACHINE = {"machine": "m", "cpu": "c", "blas": [],
           "blas_coretype": {"mode": "auto", "coretype": None}}


def _one_line_error(err: str, *words) -> None:
    """A user error: one line on stderr naming ``words``, no traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


# ---------------------------------------------------------------- bad values on the CLI

@pytest.mark.parametrize("argv, words", [
    (["grad", "--gain", "inf"], ["--gain", "'inf'", ">= 0"]),
    (["grad", "--gain", "nan"], ["--gain", "'nan'"]),
    (["grad", "--sigma-w", "nan"], ["--sigma-w", "'nan'"]),
    (["grad", "--sigma-b", "-1"], ["--sigma-b", "'-1'", ">= 0"]),
    (["grad", "--width", "0"], ["--width", "'0'", ">= 1"]),
    (["grad", "--batch", "-3"], ["--batch", "'-3'", ">= 1"]),
    (["grad", "--seed", "-1"], ["--seed", "'-1'", ">= 0"]),
    (["speed", "--gemm-n", "0"], ["--gemm-n", "'0'"]),
    (["speed", "--budget", "nan"], ["--budget", "'nan'"]),
    (["speed", "--width", "0"], ["--width", "'0'", ">= 1"]),
    (["speed", "--threads", "0"], ["--threads", "'0'"]),
    (["decay", "--sigma-w", "nan"], ["--sigma-w"]),
    (["decay", "--depths", "4", "-2"], ["--depths", "'-2'"]),
    (["decay", "--clip", "0"], ["--clip", "> 0"]),
    (["train", "--lr", "0"], ["--lr", "> 0"]),
    (["train", "--momentum", "1"], ["--momentum", "in [0, 1)"]),
    (["train", "--steps", "1.5"], ["--steps", "'1.5'"]),
    (["memory", "--hidden", "0"], ["--hidden"]),
    (["compare", "a", "b", "--fail-above", "nan"], ["--fail-above", "'nan'", ">= 1"]),
    (["compare", "a", "b", "--fail-above", "0"], ["--fail-above", "'0'"]),
    (["compare", "a", "b", "--threshold", "nan"], ["--threshold", "'nan'"]),
    (["compare", "a", "b", "--threshold", "inf"], ["--threshold", "'inf'"]),
])
def test_bad_values_are_one_line_usage_errors(argv, words, capsys):
    assert main(argv) == 2
    _one_line_error(capsys.readouterr().err, *words)


def test_threads_beyond_numba_is_refused_before_timing(capsys):
    import numba

    n = numba.config.NUMBA_NUM_THREADS + 1
    assert main(["speed", "--threads", str(n), "--no-compile-time"]) == 2
    _one_line_error(capsys.readouterr().err, f"--threads {n}")


@pytest.mark.parametrize("make, name", [
    (lambda: MLP(4, 4, 2, 1, sigma_w=math.nan), "sigma_w"),
    (lambda: MLP(4, 4, 2, 1, init="he", gain=math.inf), "gain"),
    (lambda: MLP(4, 4, 2, 1, gain=math.nan), "gain"),
    (lambda: MLP(4, 4, 2, 1, init="normal", sigma_b=-1.0), "sigma_b"),
    (lambda: RNN(3, 4, 1, sigma_w=-0.5), "sigma_w"),
    (lambda: RNN(3, 4, 1, gain=math.nan), "gain"),
    (lambda: LSTM(3, 4, 1, forget_bias=math.nan), "forget_bias"),
    (lambda: LSTM(3, 4, 1, gain=-math.inf), "gain"),
])
def test_models_refuse_meaningless_scales(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_live_params_refuse_nan_ints_and_float64_overflow():
    model = MLP(3, 4, 2, 1, dtype="float32")
    before = model.params["W1"].copy()
    bad_nan = before.copy()
    bad_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.params["W1"] = bad_nan
    with pytest.raises(TypeError, match="int64"):
        model.params["W1"] = np.ones((4, 4), np.int64)
    with pytest.raises(TypeError, match="float64"):  # 1e300 would round to inf in float32
        model.params["W1"] = np.full((4, 4), 1e300)
    np.testing.assert_array_equal(model.params["W1"], before)


def test_float32_loss_is_summed_in_float64():
    """An output bias of 1e25: the residual squared (1e50) overflows float32, not float64."""
    model = MLP(3, 8, 2, 2, dtype="float32", seed=1)
    b_out = model.params["b2"]
    b_out[...] = np.float32(1e25)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.standard_normal((5, 2)).astype(np.float32)
    r = model.loss_and_grads(x, y)
    residual = r.output.astype(np.float64) - y
    assert math.isfinite(r.loss)
    assert r.loss == pytest.approx(0.5 / 5 * np.sum(residual ** 2), rel=1e-6)
    assert all(np.isfinite(g).all() for g in r.grads.values())


# ------------------------------------------------------------------- memory estimates

def _unique_nbytes(arrays) -> int:
    seen = {}
    for a in arrays:
        seen[id(a)] = a.nbytes
    return sum(seen.values())


@pytest.mark.parametrize("residual, batchnorm", [(False, False), (True, True)])
def test_mlp_estimate_matches_what_a_call_allocates(residual, batchnorm):
    model = MLP(5, 12, 4, 3, residual=residual, batchnorm=batchnorm, dtype="float32")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5)).astype(np.float32)
    y = rng.standard_normal((7, 3)).astype(np.float32)
    r = model.loss_and_grads(x, y)
    est = footprint.mlp_bytes(5, 12, 4, 3, 7, "float32", residual, batchnorm)
    assert est["params"] == sum(p.nbytes for p in model.params.values())
    (ws,) = model.workspaces.values()
    assert est["workspace"] == _unique_nbytes(ws.values())
    returned = sum(g.nbytes for g in r.grads.values()) + r.grad_input.nbytes + r.output.nbytes
    assert returned <= est["results"] <= returned + r.output.nbytes  # + the dL/dy_hat buffer
    assert est["inputs"] == x.nbytes + y.nbytes


@pytest.mark.parametrize("cls, loss_at, truncate", [(RNN, "last", None), (LSTM, "every", 3),
                                                    (RNN, "every", 2)])
def test_recurrent_estimate_matches_what_a_call_allocates(cls, loss_at, truncate):
    T, B, I, H, O = 6, 3, 4, 5, 2
    model = cls(I, H, O)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((T, B, I))
    y = rng.standard_normal((T, B, O) if loss_at == "every" else (B, O))
    r = model.loss_and_grads(x, y, truncate, loss_at)
    est = footprint.recurrent_bytes(model.cell, I, H, O, T, B, "float64", loss_at, truncate)
    assert est["params"] == sum(p.nbytes for p in model.params.values())
    (ws,) = model.workspaces.values()
    assert est["workspace"] == _unique_nbytes(ws.values())
    returned = (sum(g.nbytes for g in r.grads.values()) + r.grad_input.nbytes
                + r.output.nbytes + r.grad_h0.nbytes)
    assert returned <= est["results"] <= returned + r.output.nbytes + 3 * B * H * 8


def test_absurd_sizes_are_refused_before_allocating(capsys):
    t0 = time.perf_counter()
    assert main(["grad", "--width", "200000"]) == 2
    _one_line_error(capsys.readouterr().err, "--width 200000", "TiB", "this machine has")
    assert main(["memory", "--hidden", "100000", "--seq-len", "10000"]) == 2
    _one_line_error(capsys.readouterr().err, "--hidden 100000", "GiB", "this machine has")
    assert main(["speed", "--models", "mlp", "--width", "100000", "--depth", "40",
                 "--no-compile-time"]) == 2
    _one_line_error(capsys.readouterr().err, "W100000", "this machine has")
    with pytest.raises(ValueError, match="this machine has"):
        LSTM(4, 300_000, 1)
    assert time.perf_counter() - t0 < 20  # refused up front: no allocation, no sweep


def test_training_records_too_large_are_refused(tmp_path, capsys):
    assert main(["train", "--steps", "10000000000", "--out", str(tmp_path / "t")]) == 2
    _one_line_error(capsys.readouterr().err, "10000000000 steps", "this machine has")
    assert not (tmp_path / "t").exists()


def test_constructor_checks_against_the_machines_memory(monkeypatch):
    params = sum(p.nbytes for p in MLP(64, 64, 5, 1, dtype="float32").params.values())
    monkeypatch.setattr(footprint, "machine_memory", lambda: 2 * params - 1)
    with pytest.raises(ValueError, match=f"needs {2 * params / 1024:.1f} KiB of memory; "
                                         f"this machine has {(2 * params - 1) / 1024:.1f} KiB"):
        MLP(64, 64, 5, 1, dtype="float32")  # initialising holds the weights twice
    monkeypatch.setattr(footprint, "machine_memory", lambda: 2 * params)
    MLP(64, 64, 5, 1, dtype="float32")


# ----------------------------------------------------------------- result files, gate

def _speed_data(rng, scale=1.0, impl="vgbench", complete=True, n=200):
    s = (scale * 1e6 * rng.lognormal(0.0, 0.1, n)).astype(np.int64)
    case = Case("mlp", 8, 4, depth=2)
    return {"complete": complete, "ceiling": {},
            "records": [{"label": case.label(), "in_dim": 0, "out_dim": 1, "threads": 1,
                         "impl": impl, "pass": "fwd_bwd", "samples_ns": s.tolist(),
                         "median_s": float(np.median(s)) * 1e-9}]}


@pytest.fixture
def speed_files(tmp_path):
    rng = np.random.default_rng(3)

    def make(name, **kw):
        return str(write_result(tmp_path / f"{name}.json", "speed", {}, _speed_data(rng, **kw),
                                MACHINE))
    return make


def test_fail_above_is_the_threshold(speed_files, capsys):
    base, slow = speed_files("base"), speed_files("slow", scale=1.5)
    assert main(["compare", base, slow, "--fail-above", "2"]) == 0  # 1.5x is within 2x
    assert main(["compare", base, slow, "--fail-above", "1.2"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "slower than 1.2x" in out
    assert main(["compare", base, slow, "--threshold", "1.1", "--fail-above", "2"]) == 2
    _one_line_error(capsys.readouterr().err, "--threshold", "--fail-above")


def test_gate_that_compared_nothing_fails(speed_files, capsys):
    base, other = speed_files("base"), speed_files("other", impl="numpy")
    assert main(["compare", base, other]) == 0  # a report: says so, no gate
    assert "no measurement in common" in capsys.readouterr().out
    assert main(["compare", base, other, "--fail-above", "1.1"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_partial_file_is_flagged_and_fails_the_gate(speed_files, capsys):
    base, partial = speed_files("base"), speed_files("partial", complete=False)
    assert main(["compare", base, partial]) == 0
    assert "warning" in capsys.readouterr().out
    assert main(["compare", base, partial, "--fail-above", "1.1"]) == 1
    assert "partial" in capsys.readouterr().out


def _set(doc, path, value):
    *parents, last = path
    for p in parents:
        doc = doc[p]
    if value is KeyError:
        del doc[last]
    else:
        doc[last] = value


@pytest.mark.parametrize("path, value, message", [
    (("schema_version",), True, "not an integer"),
    (("schema_version",), -3, "not a valid version"),
    (("schema_version",), 0, "not a valid version"),
    (("schema_version",), "1", "not an integer"),
    (("kind",), KeyError, "kind"),
    (("data",), KeyError, "'data'"),
    (("machine",), None, "'machine'"),
    (("config",), [], "'config'"),
    (("data", "complete"), "yes", "complete"),
    (("data", "records"), KeyError, "records"),
    (("data", "records", 0, "samples_ns"), KeyError, "samples_ns"),
    (("data", "records", 0, "samples_ns"), [], "samples_ns"),
    (("data", "records", 0, "threads"), "1", "threads"),
    (("data", "records", 0), 7, "record 0"),
    (("data", "ceiling"), {"1": {"gemm": {"float32": {}}}}, "ceiling"),
])
def test_malformed_files_are_clear_errors(tmp_path, speed_files, capsys, path, value, message):
    good = speed_files("good")
    doc = json.loads(Path(good).read_text())
    _set(doc, path, value)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ResultFileError, match=message):
        read_result(bad)
    assert main(["compare", good, str(bad), "--fail-above", "1.1"]) == 2
    _one_line_error(capsys.readouterr().err, "bad.json", message.strip("'"))


# ------------------------------------------------------------------ output paths

@pytest.fixture
def blocked(tmp_path):
    """A regular file and a folder to point outputs at."""
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    return tmp_path


@pytest.mark.parametrize("argv, words", [
    (["decay", "--out", "{file}"], ["--out", "not a folder"]),
    (["decay", "--out", "{file}/sub"], ["--out", "is a file"]),
    (["run", "--out", "{file}"], ["--out", "not a folder"]),
    (["train", "--out", "{file}/sub", "--steps", "1"], ["--out", "is a file"]),
    (["speed", "--out", "{folder}", "--no-compile-time"], ["--out", "is a folder"]),
    (["speed", "--out", "{file}/x.json", "--no-compile-time"], ["--out", "is a file"]),
    (["memory", "--out", "{file}/m.json"], ["--out", "is a file"]),
    (["compare", "{a}", "{a}", "--markdown", "{folder}"], ["--markdown", "is a folder"]),
    (["compare", "{a}", "{a}", "--png", "{file}/c.png"], ["--png", "is a file"]),
])
def test_unwritable_outputs_are_refused_before_any_work(blocked, speed_files, argv, words,
                                                        capsys):
    names = {"file": blocked / "file", "folder": blocked / "folder", "a": speed_files("a")}
    t0 = time.perf_counter()
    assert main([a.format(**names) for a in argv]) == 2
    assert time.perf_counter() - t0 < 5  # nothing was computed
    _one_line_error(capsys.readouterr().err, *words)


def test_read_only_folder_is_refused(blocked, monkeypatch, capsys):
    real = os.access
    monkeypatch.setattr(guard.os, "access",  # root may write anywhere: pretend it may not
                        lambda p, mode: False if Path(p) == blocked / "folder" else real(p, mode))
    assert main(["decay", "--out", str(blocked / "folder" / "new")]) == 2
    _one_line_error(capsys.readouterr().err, "--out", "not writable")


def test_train_checks_arguments_before_creating_its_folder(tmp_path, capsys):
    out = tmp_path / "new"
    assert main(["train", "--model", "mlp", "--task", "copy", "--out", str(out)]) == 2
    assert "CopyMemory" in capsys.readouterr().err and not out.exists()


def test_failed_final_write_keeps_the_data_and_says_where(tmp_path, capsys):
    (tmp_path / "gone").write_text("x")  # the target folder became a file mid-run

    def write(p):
        return write_result(p, "speed", {}, {"records": []}, MACHINE)

    path = guard.save_or_rescue(write, tmp_path / "gone" / "s.json")
    try:
        assert path.parent != tmp_path / "gone" and read_result(path)["kind"] == "speed"
        _one_line_error(capsys.readouterr().err, str(path), str(tmp_path / "gone"))
    finally:
        path.unlink()


def test_train_depth_whose_folder_vanishes_keeps_every_run(tmp_path, capsys):
    """The folder is checked before training; if it becomes unwritable during the runs,
    each run's save goes to the temporary folder and the message says where."""
    import shutil

    from vgbench.report import results

    out = tmp_path / "train"
    real = results.write_result

    def vanishing(path, *args, **kwargs):
        if out.is_dir():  # after the first run's save: the folder becomes a file
            shutil.rmtree(out)
            out.write_text("now a file")
        return real(path, *args, **kwargs)

    results.write_result = vanishing
    try:
        rc = main(["train", "--experiment", "depth", "--depth", "3", "--width", "4",
                   "--steps", "2", "--batch", "4", "--out", str(out)])
    finally:
        results.write_result = real
    err = capsys.readouterr().err
    rescued = [w.split("the results are in ")[1].split()[0] for w in err.splitlines()
               if "the results are in" in w]
    assert rc == 1 and rescued  # the plots could not be written beside it
    try:
        doc = read_result(rescued[-1], "train")
        assert doc["data"]["complete"] is True and len(doc["data"]["runs"]) == 4
    finally:
        for path in set(rescued):
            Path(path).unlink(missing_ok=True)


# ------------------------------------------------------------------- interruptions

def test_sigterm_becomes_terminated_and_exit_143(monkeypatch):
    import vgbench.cli.info as info

    def killed(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        return 0

    previous = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(info, "run", killed)
    assert main(["info"]) == 143
    assert signal.getsignal(signal.SIGTERM) is previous  # handler put back


def test_interrupted_train_exits_130_with_a_partial_file(tmp_path, monkeypatch):
    calls = []
    real = MLP.loss_and_grads

    def stop_at_five(self, *a, **kw):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(MLP, "loss_and_grads", stop_at_five)
    out = tmp_path / "t"
    assert main(["train", "--depth", "3", "--width", "8", "--steps", "50", "--out",
                 str(out), "--no-progress"]) == 130
    doc = read_result(out / "train.json", "train")
    (run,) = doc["data"]["runs"].values()
    assert doc["data"]["complete"] is False and len(run["loss"]) == 4


def test_interrupted_decay_marks_its_file_partial(tmp_path, monkeypatch):
    import vgbench.analysis.decay as decay

    real, calls = decay.probe, []

    def stop_at_second_size(config, size, *a, **kw):
        calls.append(size)
        if size == 4:
            raise KeyboardInterrupt
        return real(config, size, *a, **kw)

    monkeypatch.setattr(decay, "probe", stop_at_second_size)
    out = tmp_path / "d"
    assert main(["decay", "--depths", "3", "4", "--width", "8", "--batch", "4", "--seeds",
                 "1", "--out", str(out)]) == 130
    doc = read_result(out / "decay.json", "decay")
    assert doc["data"]["complete"] is False
    assert [s["size"] for s in doc["data"]["runs"][0]["sizes"]] == [3]
    monkeypatch.setattr(decay, "probe", real)
    assert main(["decay", "--depths", "3", "--width", "8", "--batch", "4", "--seeds", "1",
                 "--out", str(out)]) == 0
    assert read_result(out / "decay.json")["data"]["complete"] is True


def test_interrupted_report_says_so(tmp_path):
    from vgbench.report.summary import write_report

    def stop(outdir, progress):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_report(tmp_path, progress=False, sections=[lambda o, p: "## First\n", stop])
    text = (tmp_path / "summary.md").read_text()
    assert "## First" in text and "Interrupted" in text


def _wait_for(predicate, timeout=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _compile_child(pid: int) -> tuple | None:
    """(pid, start time) of the compile-time child of ``pid`` (``compile_times``), or None."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    for child in children:
        try:
            if b"import vgbench.models" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child), _start_time(int(child))
        except OSError:
            continue
    return None


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (tells a process from a later one with its pid)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except OSError:
        return None


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="Linux /proc")


@needs_proc
def test_sigterm_on_speed_kills_the_compile_child_and_keeps_a_partial_file(tmp_path):
    out = tmp_path / "s.json"
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "vgbench", "speed", "--models", "mlp", "--width", "8",
         "--depth", "2", "--batch", "4", "--impl", "vgbench", "--threads", "1",
         "--gemm-n", "32", "--budget", "0.01", "--out", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: _compile_child(proc.pid)), "no compile-time child started"
        child, started = _compile_child(proc.pid)
        assert list(tmp_path.glob("vgbench-numba-cache-*"))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert _start_time(child) != started  # killed and reaped
    assert not list(tmp_path.glob("vgbench-numba-cache-*"))  # temporary cache removed
    doc = read_result(out, "speed")
    assert doc["data"]["complete"] is False and "complete: false" in err


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for a reaper)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\tZ" not in next(line for line in status.splitlines()
                             if line.startswith("State:"))


@needs_proc
def test_compile_child_dies_with_its_parent(tmp_path, monkeypatch):
    """A parent stopped while starting the child (no handle to kill it by) still leaves
    no orphan: the child dies with it, or exits at once if the parent is already gone."""
    from vgbench.speed import timing

    case = json.dumps({"model": "mlp", "size": 4, "batch": 2, "depth": 1})
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # cold: the child would compile 10 s+
    stray = subprocess.run([sys.executable, "-c", timing._COMPILE_SCRIPT, case, "1"],
                           capture_output=True, text=True, timeout=60)
    assert stray.returncode == 1 and not stray.stdout  # parent pid 1 is not its parent
    starter = textwrap.dedent(f"""
        import os, subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", {timing._COMPILE_SCRIPT!r}, {case!r},
                              str(os.getpid())], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        print(p.pid, flush=True)
        time.sleep(1.5)  # the child is past its start
        os._exit(0)  # gone without cleaning up, as after a failure inside Popen
    """)
    child = int(subprocess.run([sys.executable, "-c", starter], capture_output=True,
                               text=True, timeout=60, check=True).stdout)
    assert _wait_for(lambda: not _alive(child), timeout=5)


_TRAIN_WITH_FLAG = """
import pathlib, sys
from vgbench.cli import main
from vgbench.models import MLP

real = MLP.loss_and_grads
def flagged(self, *a, **kw):  # tells the test that training has started
    r = real(self, *a, **kw)
    pathlib.Path(sys.argv[1]).touch()
    return r
MLP.loss_and_grads = flagged
sys.exit(main(sys.argv[2:]))
"""


def test_sigterm_on_train_writes_the_steps_so_far(tmp_path):
    out, started = tmp_path / "t", tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", _TRAIN_WITH_FLAG, str(started), "train", "--depth", "2",
         "--width", "8", "--steps", "1000000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(started.exists), "training did not start"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    doc = read_result(out / "train.json", "train")
    (run,) = doc["data"]["runs"].values()
    assert doc["data"]["complete"] is False and run["status"] == "interrupted"
    assert len(run["loss"]) >= 1


# -------------------------------------------------------------------------- files

@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_get_the_umasks_mode_and_are_written_atomically(tmp_path, umask):
    from vgbench.report.plotting import pyplot, save_figure

    old = os.umask(umask)
    try:
        js = write_result(tmp_path / "r.json", "speed", {}, {"records": []}, MACHINE)
        plt = pyplot()
        fig = plt.figure()
        png = save_figure(fig, tmp_path / "p.png")
    finally:
        os.umask(old)
    for path in (js, png):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
    before = png.read_bytes()
    fig = plt.figure()
    fig.savefig = lambda *a, **kw: (_ for _ in ()).throw(OSError("disk full"))
    with pytest.raises(OSError):
        save_figure(fig, png)
    assert png.read_bytes() == before  # the old PNG, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png", "r.json"]


def test_compare_markdown_is_written_atomically(speed_files, tmp_path):
    md = tmp_path / "c.md"
    assert main(["compare", speed_files("a"), speed_files("b"), "--markdown", str(md)]) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert "no change" in md.read_text() and md.stat().st_mode & 0o777 == 0o666 & ~mask
    assert not list(tmp_path.glob(".c.md.*"))


_CACHED = textwrap.dedent("""
    import json, sys
    import numpy as np
    from numba import njit

    @njit(cache=True)
    def total(a):
        s = 0.0
        for v in a:
            s += v
        return s

    out = {}
    for dt in sys.argv[1:]:
        out[dt] = float(total(np.arange(4, dtype=dt)))
    print(json.dumps({"values": out, "hits": sum(total.stats.cache_hits.values()),
                      "misses": sum(total.stats.cache_misses.values())}))
""")


def test_numba_cache_entry_lost_to_a_race_costs_one_recompile(tmp_path):
    """Two processes filling a fresh cache each rewrite the index with their own entry;
    the last write wins and the other entry is lost.  Replayed deterministically: the
    index as the first process left it is put back after the second one wrote.  The next
    process recompiles the lost signature (correct result), and the one after loads both."""
    (tmp_path / "cached_mod.py").write_text(_CACHED)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path))

    def run(*dtypes):
        out = subprocess.run([sys.executable, str(tmp_path / "cached_mod.py"), *dtypes],
                             env=env, capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    assert run("float32")["misses"] == 1
    (index,) = (tmp_path / "cache").rglob("*.nbi")
    first = index.read_bytes()
    assert run("float64")["misses"] == 1
    index.write_bytes(first)  # the float64 entry is lost; its data file stays
    again = run("float32", "float64")
    assert again["values"] == {"float32": 6.0, "float64": 6.0}
    assert (again["hits"], again["misses"]) == (1, 1)  # one recompile, no crash
    assert (run("float32", "float64")["hits"]) == 2  # and the index is whole again


# ------------------------------------------------------------------------ oracles

def test_required_oracle_that_is_missing_fails_instead_of_skipping(monkeypatch):
    from tests import oracles

    monkeypatch.setattr(oracles, "ORACLES", ("torch", "jax", "no_such_oracle"))
    monkeypatch.delenv("VGBENCH_REQUIRE_ORACLES", raising=False)
    with pytest.raises(pytest.skip.Exception):
        oracles.oracle("no_such_oracle")
    assert oracles.available("no_such_oracle") is False
    for value in ("no_such_oracle", "torch, no_such_oracle", "1"):
        monkeypatch.setenv("VGBENCH_REQUIRE_ORACLES", value)
        with pytest.raises(pytest.fail.Exception, match="no_such_oracle is required"):
            oracles.oracle("no_such_oracle")
        with pytest.raises(pytest.fail.Exception, match="no_such_oracle is required"):
            oracles.available("no_such_oracle")
