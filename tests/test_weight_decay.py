"""L2 regularisation (``TrainConfig.weight_decay``, ``vgbench train --weight-decay``)."""

import copy

import numpy as np
import pytest

from vgbench.cli import main
from vgbench.models import MLP, RNN
from vgbench.training.tasks import AddingProblem, TeacherStudent
from vgbench.training.train import TrainConfig, train
from vgbench.training.weight_decay import weight_decay_comparison, weight_decay_summary


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_one_step_adds_wd_times_w_to_weight_gradients_only(momentum):
    task = TeacherStudent(seed=1)
    model = MLP(task.in_dim, 8, 3, task.out_dim, seed=2, sigma_b=0.3, init="normal")
    before = copy.deepcopy(dict(model.params))
    cfg = TrainConfig(steps=1, batch=16, lr=0.1, weight_decay=0.3, momentum=momentum,
                      eval_batch=4)
    x, y = task.batch(np.random.default_rng((cfg.seed, 0)), cfg.batch)  # train's batch
    g = model.loss_and_grads(x, y).grads
    r = train(model, task, cfg)
    for k, p in model.params.items():
        decay = 0.3 * before[k] if k.startswith("W") else 0.0
        np.testing.assert_allclose(p, before[k] - 0.1 * (g[k] + decay), rtol=1e-13,
                                   atol=1e-15)
    assert r.global_grad_norm[0] == pytest.approx(np.sqrt(sum(np.sum(v ** 2)
                                                              for v in g.values())))


def test_one_step_of_a_leaky_skip_rnn_decays_every_weight_matrix():
    task = AddingProblem(seq_len=6)
    model = RNN(task.in_dim, 4, task.out_dim, seed=3, leak=0.5, skip=2)
    before = copy.deepcopy(dict(model.params))
    cfg = TrainConfig(steps=1, batch=4, lr=0.1, weight_decay=0.5, eval_batch=4)
    x, y = task.batch(np.random.default_rng((cfg.seed, 0)), cfg.batch)
    g = model.loss_and_grads(x, y).grads
    train(model, task, cfg)
    for k in ("W_xh", "W_hh", "W_skip", "W_hy"):
        np.testing.assert_allclose(model.params[k], before[k] - 0.1 * (g[k] + 0.5 * before[k]),
                                   rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(model.params["b_h"], before["b_h"] - 0.1 * g["b_h"])


def test_decay_narrows_the_update_ratio_spread_of_an_exploding_net():
    cfg = TrainConfig(steps=150, lr=0.01)
    s = weight_decay_summary(weight_decay_comparison((0.0, 0.1), depth=16, width=32,
                                                     config=cfg))
    assert s["wd=0"]["status"] == s["wd=0.1"]["status"] == "ok"
    assert s["wd=0"]["bottom_over_top"] > 5.0  # exploding: the bottom layer moves most
    assert s["wd=0.1"]["bottom_over_top"] < s["wd=0"]["bottom_over_top"] / 3


@pytest.mark.parametrize("argv", [["--weight-decay", "-0.1"], ["--weight-decay", "nan"],
                                  ["--model", "mlp", "--leak", "0.5"],
                                  ["--model", "rnn", "--skip", "1"]])
def test_bad_values_exit_2_before_any_work(argv, tmp_path, capsys):
    assert main(["train", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("decay" in err or "leak" in err or "skip" in err)
    assert not list(tmp_path.iterdir())


def test_config_rejects_negative_decay():
    with pytest.raises(ValueError, match="weight_decay"):
        TrainConfig(weight_decay=-1.0)
