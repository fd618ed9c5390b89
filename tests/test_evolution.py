"""Genetic algorithm for weight search (``vgbench.training.evolution``)."""

import numpy as np
import pytest

from vgbench.cli import main
from vgbench.models import MLP
from vgbench.training import evolution
from vgbench.training.evolution import GAConfig, evolve, flatten, load
from vgbench.training.tasks import TeacherStudent


def test_flatten_and_load_round_trip_into_the_live_params():
    model = MLP(3, 4, 2, 1, seed=1)
    v = np.arange(flatten(model).size, dtype=float)
    load(model, v)
    np.testing.assert_array_equal(flatten(model), v)
    assert model.params["W0"][0, 1] == 1.0  # row-major in params order


def test_ga_uses_forward_passes_only(monkeypatch):
    calls = {"forward": 0}
    real = MLP.forward

    def counted(self, x):
        calls["forward"] += self.params["W0"].shape[1] == 4  # the student, not the teacher
        return real(self, x)

    def no_backward(*a, **k):
        raise AssertionError("the GA must not run a backward pass")

    monkeypatch.setattr(MLP, "forward", counted)
    monkeypatch.setattr(MLP, "loss_and_grads", no_backward)
    cfg = GAConfig(population=6, parents=3, elites=1, generations=4, batch=8, eval_batch=10,
                   eval_every=2)
    r = evolve(3, 4, TeacherStudent(seed=2), cfg)
    assert r["forward_passes"] == [6, 12, 18, 24]
    assert calls["forward"] == 24 + len(r["eval_curve"])  # scoring + held-out checks
    assert r["eval_passes"] == [6, 18, 24]


def test_elitism_never_loses_the_best_on_a_fixed_batch(monkeypatch):
    """With one batch for every generation the elite's score can only improve."""
    task = TeacherStudent(seed=3)
    x, y = task.batch(np.random.default_rng(0), 32)
    monkeypatch.setattr(TeacherStudent, "batch", lambda self, rng, b: (x[:b], y[:b]))
    r = evolve(3, 6, task, GAConfig(population=10, parents=4, elites=2, generations=30,
                                    batch=32, eval_batch=32))
    best = np.array(r["best_batch_mse"])
    assert np.all(np.diff(best) <= 1e-15) and best[-1] < best[0]


def test_ga_learns_the_deep_sigmoid_task():
    r = evolve(4, 8, TeacherStudent(seed=0), GAConfig(generations=120, eval_every=40))
    assert r["eval_mse"] < 0.85 * r["baseline_mse"]


def test_comparison_gives_sgd_the_same_compute():
    cfg = GAConfig(population=6, parents=3, generations=5, batch=8, eval_batch=20)
    res = evolution.evolution_comparison(3, 4, cfg)
    assert res["SGD"]["forward_passes"][-1] == 6 * 5 // 3
    assert res["GA"]["n_params"] == res["SGD"]["n_params"] == flatten(MLP(16, 4, 3, 1)).size
    # both curves are per-output MSEs: SGD's first batch MSE is its model's at init
    task = TeacherStudent()
    x, y = task.batch(np.random.default_rng((0, 0)), 64)  # train's first batch
    model = MLP(16, 4, 3, 1, seed=0, **evolution.DEEP_SIGMOID)
    assert res["SGD"]["best_batch_mse"][0] == pytest.approx(np.mean((model.forward(x) - y)
                                                                     ** 2), rel=1e-12)


@pytest.mark.parametrize("kw", [{"parents": 40}, {"elites": 9}, {"sigma": 0.0},
                                {"population": 0}])
def test_bad_settings(kw):
    with pytest.raises(ValueError):
        GAConfig(**kw)


def test_cli_evolution(tmp_path, capsys):
    assert main(["train", "--experiment", "evolution", "--depth", "3", "--width", "4",
                 "--steps", "6", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| GA | 192 | 0 |" in out and "| SGD | 64 | 64 |" in out
    assert (tmp_path / "train_evolution.json").exists()
