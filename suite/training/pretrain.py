"""Multi-level hierarchy: greedy layer-wise pre-training, then backprop fine-tuning.

The net is a deep sigmoid MLP (``MLP(..., activation="sigmoid", init="normal")``, whose
gradients vanish toward the input).  Pre-training (Hinton & Salakhutdinov 2006, Bengio et
al. 2007, autoencoder form) trains one layer at a time: layer l is the encoder of an
autoencoder ``h_l -> sigmoid(h_l W_l + b_l) -> linear decoder -> h_l``, fitted by SGD on
the representations h_l of the task's inputs produced by the already trained layers
below; each autoencoder is a depth-1 ``MLP`` trained with ``vgbench.training.train``, so
every gradient runs through the same kernels.  Its encoder then initialises W_l, b_l.
Fine-tuning trains the whole net on the task with plain backprop, beside the same net
from its random initialisation, and records per-layer update ratios and the held-out MSE
every ``eval_every`` steps.
"""

from dataclasses import dataclass, replace

import numpy as np

from vgbench.kernels.activations import activation_numpy
from vgbench.models import MLP
from vgbench.training.tasks import TeacherStudent
from vgbench.training.train import TrainConfig, evaluate, train

PRETRAIN = TrainConfig(steps=1000, lr=0.1, momentum=0.9)  # per layer
FINETUNE = TrainConfig(steps=600, lr=0.1, momentum=0.9)


@dataclass(frozen=True)
class _Reconstruct:
    """Autoencoder task for layer l: inputs and targets are h_l of the source's inputs."""

    source: object
    encoders: tuple  # ((W, b), ...) of the layers below, bottom first
    in_dim: int

    @property
    def out_dim(self) -> int:
        return self.in_dim

    @property
    def baseline_mse(self) -> float:
        h = self.batch(np.random.default_rng(0), 1000)[0]
        return float(np.mean(np.var(h, axis=0)))

    def batch(self, rng: np.random.Generator, batch: int) -> tuple:
        h = self.source.batch(rng, batch)[0]
        for W, b in self.encoders:
            h = activation_numpy("sigmoid", h @ W + b).astype(h.dtype)
        return h, h


def pretrain_layers(model: MLP, task, config: TrainConfig = PRETRAIN) -> list:
    """Greedy layer-wise pre-training of ``model``'s hidden layers in place; returns each
    layer's final reconstruction MSE relative to its baseline (predicting the mean)."""
    encoders, scores = [], []
    for l in range(model.depth):
        W = model.params[f"W{l}"]
        ae_task = _Reconstruct(task, tuple(encoders), W.shape[0])
        ae = MLP(W.shape[0], W.shape[1], 1, W.shape[0], activation="sigmoid", init="xavier",
                 dtype=model.dtype.name, seed=model.seed + 1000 + l)
        # the decoder starts at the inputs' mean: sigmoid layers sit near 0.5 with a
        # variance that shrinks layer by layer, and a zero bias would spend the first
        # steps learning only that offset
        sample = ae_task.batch(np.random.default_rng((config.seed, 5, l)), 1000)[0]
        ae.params["b1"] = sample.mean(0)
        r = train(ae, ae_task, replace(config, seed=config.seed + l, eval_batch=500))
        model.params[f"W{l}"] = ae.params["W0"]
        model.params[f"b{l}"] = ae.params["b0"]
        encoders.append((ae.params["W0"].copy(), ae.params["b0"].copy()))
        scores.append(r.eval_mse / ae_task.baseline_mse)
    return scores


def finetune(model: MLP, task, config: TrainConfig = FINETUNE, eval_every: int = 50) -> dict:
    """Backprop on the task in chunks of ``eval_every`` steps; held-out MSE after each.

    Returns update_ratio (steps, n_weights), loss (steps,), eval_steps, eval_mse, status.
    """
    eval_x, eval_y = task.batch(np.random.default_rng((config.seed, 9)), config.eval_batch)
    ratios, losses = [], []
    eval_steps, eval_mse = [0], [evaluate(model, task, eval_x, eval_y)[0]]
    status = "ok"
    done = 0
    while done < config.steps:
        n = min(eval_every, config.steps - done)
        r = train(model, task, replace(config, steps=n, seed=config.seed + 1 + done,
                                       eval_batch=8))
        ratios.append(r.update_ratio)
        losses.append(r.loss)
        done += r.steps_done
        if r.status() != "ok":
            status = r.status()
            break
        eval_steps.append(done)
        eval_mse.append(evaluate(model, task, eval_x, eval_y)[0])
    return {"update_ratio": np.concatenate(ratios), "loss": np.concatenate(losses),
            "eval_steps": eval_steps, "eval_mse": eval_mse, "status": status,
            "baseline_mse": float(task.baseline_mse)}


def pretrain_comparison(depth: int = 8, width: int = 32, pretrain: TrainConfig = PRETRAIN,
                        config: TrainConfig = FINETUNE, eval_every: int = 50,
                        dtype: str = "float64", seed: int = 0) -> dict:
    """The same deep sigmoid MLP fine-tuned from random init and after pre-training:
    label -> ``finetune`` record (plus ``pretrain_scores`` for the pre-trained one)."""
    task = TeacherStudent(dtype=dtype, seed=seed)
    out = {}
    for label in ("random init", "pre-trained"):
        model = MLP(task.in_dim, width, depth, task.out_dim, activation="sigmoid",
                    init="normal", dtype=dtype, seed=seed)
        scores = pretrain_layers(model, task, pretrain) if label == "pre-trained" else None
        out[label] = finetune(model, task, config, eval_every)
        if scores is not None:
            out[label]["pretrain_scores"] = scores
    return out


def pretrain_summary(results: dict) -> dict:
    """label -> median update ratio of W0 and of the top hidden layer, their ratio, first
    and final held-out MSE, status."""
    out = {}
    for label, r in results.items():
        with np.errstate(all="ignore"):
            med = np.median(r["update_ratio"], axis=0)
        out[label] = {"bottom_ratio": float(med[0]), "top_ratio": float(med[-2]),
                      "bottom_over_top": float(med[0] / med[-2]),
                      "eval_mse_start": r["eval_mse"][0], "eval_mse_end": r["eval_mse"][-1],
                      "baseline_mse": r["baseline_mse"], "status": r["status"]}
    return out
