"""L2 regularisation on an exploding net: what weight decay does to the update ratios.

The net is a deep tanh MLP with i.i.d. normal weights of variance sigma_w^2 / fan_in,
sigma_w = 3: the chaotic phase of mean-field theory, where the backward factor per layer
exceeds 1 and the lowest layers get the largest gradients (the exploding side of the
problem; ``vgbench.analysis.theory``).  L2 regularisation (``TrainConfig.weight_decay``)
shrinks every weight matrix toward zero at each step, which moves the net toward the
ordered phase: the spread of update ratios between the bottom and the top hidden layer
narrows as training goes on.  Same task, seed and learning rate for every decay.
"""

from dataclasses import replace

import numpy as np

from vgbench.models import MLP
from vgbench.training.tasks import TeacherStudent
from vgbench.training.train import TrainConfig, train

DECAYS = (0.0, 0.01, 0.1)
CONFIG = TrainConfig(lr=0.01)  # the exploding net diverges at the default 0.05
EXPLODING = {"activation": "tanh", "init": "normal", "sigma_w": 3.0}


def weight_decay_comparison(decays=DECAYS, depth: int = 20, width: int = 64,
                            config: TrainConfig = CONFIG,
                            dtype: str = "float64", seed: int = 0,
                            progress: bool = False) -> dict:
    """Train the exploding MLP (``EXPLODING``) once per weight decay; label -> TrainResult
    (labels "wd=<value>"); ``config.weight_decay`` is replaced by each value."""
    task = TeacherStudent(dtype=dtype, seed=seed)
    results = {}
    for wd in decays:
        model = MLP(task.in_dim, width, depth, task.out_dim, dtype=dtype, seed=seed,
                    **EXPLODING)
        label = f"wd={wd:g}"
        results[label] = train(model, task, replace(config, weight_decay=wd), progress,
                               desc=label)
        if results[label].interrupted:
            break
    return results


def weight_decay_summary(results: dict) -> dict:
    """label -> bottom/top update-ratio median over the last third of the steps, the
    median update ratio of W0 and of the top hidden layer there, held-out MSE, status."""
    out = {}
    for label, r in results.items():
        first = 2 * r.steps_done // 3
        with np.errstate(all="ignore"):
            late = np.median(r.update_ratio[first:], axis=0)
        out[label] = {"bottom_over_top": r.layer_ratio(first=first),
                      "bottom_ratio": float(late[0]), "top_ratio": float(late[-2]),
                      "eval_mse": r.eval_mse, "baseline_mse": r.baseline_mse,
                      "status": r.status()}
    return out
