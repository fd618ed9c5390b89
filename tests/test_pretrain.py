"""Greedy layer-wise pre-training then fine-tuning (``vgbench.training.pretrain``)."""

import numpy as np

from vgbench.cli import main
from vgbench.kernels.activations import activation_numpy
from vgbench.models import MLP
from vgbench.training.pretrain import (
    _Reconstruct,
    finetune,
    pretrain_comparison,
    pretrain_layers,
    pretrain_summary,
)
from vgbench.training.tasks import TeacherStudent
from vgbench.training.train import TrainConfig


def test_reconstruction_task_feeds_the_trained_layers_below():
    task = TeacherStudent(seed=1)
    rng = np.random.default_rng(2)
    enc = ((rng.standard_normal((task.in_dim, 5)), rng.standard_normal(5)),
           (rng.standard_normal((5, 3)), rng.standard_normal(3)))
    x, y = _Reconstruct(task, enc, 3).batch(np.random.default_rng(3), 4)
    src = task.batch(np.random.default_rng(3), 4)[0]
    want = activation_numpy("sigmoid", activation_numpy("sigmoid", src @ enc[0][0]
                                                        + enc[0][1]) @ enc[1][0] + enc[1][1])
    np.testing.assert_allclose(x, want, rtol=1e-14)
    assert x is y


def test_pretraining_installs_each_encoder_and_the_first_one_learns():
    task = TeacherStudent(seed=4)
    model = MLP(task.in_dim, 12, 3, task.out_dim, activation="sigmoid", init="normal", seed=5)
    before = {k: v.copy() for k, v in model.params.items()}
    scores = pretrain_layers(model, task, TrainConfig(steps=200, lr=0.1, momentum=0.9))
    assert len(scores) == 3 and scores[0] < 0.3  # layer 0 reconstructs its inputs
    for l in range(3):
        assert not np.array_equal(model.params[f"W{l}"], before[f"W{l}"])
    np.testing.assert_array_equal(model.params["W3"], before["W3"])  # readout untouched


def test_finetune_records_every_step_and_evaluates_in_chunks():
    task = TeacherStudent(seed=6)
    model = MLP(task.in_dim, 8, 3, task.out_dim, activation="sigmoid", init="normal", seed=7)
    r = finetune(model, task, TrainConfig(steps=25, lr=0.05, eval_batch=50), eval_every=10)
    assert r["update_ratio"].shape == (25, 4) and r["loss"].shape == (25,)
    assert r["eval_steps"] == [0, 10, 20, 25] and len(r["eval_mse"]) == 4


def test_pretraining_wakes_the_bottom_layer():
    """Random init: W0 moves orders of magnitude less than the top hidden layer (sigmoid
    gradients vanish downward); after pre-training the gap is far smaller."""
    res = pretrain_comparison(depth=6, width=16, pretrain=TrainConfig(steps=200, lr=0.1,
                                                                      momentum=0.9),
                              config=TrainConfig(steps=100, lr=0.1, momentum=0.9,
                                                 eval_batch=200), eval_every=50)
    s = pretrain_summary(res)
    assert s["random init"]["bottom_over_top"] < 1e-2
    assert s["pre-trained"]["bottom_over_top"] > 10 * s["random init"]["bottom_over_top"]


def test_cli_pretrain(tmp_path, capsys):
    assert main(["train", "--experiment", "pretrain", "--depth", "3", "--width", "8",
                 "--steps", "20", "--out", str(tmp_path)]) == 0
    assert "pre-trained" in capsys.readouterr().out
    assert (tmp_path / "train_pretrain.json").exists()
