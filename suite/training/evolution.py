"""Genetic algorithm for weight search: no gradients, only forward passes.

The variant is the "simple GA" of Such et al. (2017, Deep Neuroevolution), exactly:

* a population of ``population`` parameter vectors of one MLP architecture, generation 0
  drawn by the MLP's own initialiser with seeds seed*10^4 + i;
* each generation draws one fresh task batch; every individual is scored by its MSE on it
  (one forward pass of the ``vgbench.kernels.mlp`` kernel per individual, through
  ``MLP.forward``: no backward pass anywhere);
* truncation selection: the ``parents`` best become the parents; the ``elites`` best are
  copied unchanged into the next generation (elitism, re-scored on the next batch);
* every other child is a parent chosen uniformly at random plus Gaussian mutation
  N(0, sigma^2) on every parameter; no crossover.

It does not care how small the gradient is: the bottom layer of a deep sigmoid net moves
as much as the top one.  What it pays instead is forward passes, and their number grows
with the parameter count (a random direction improves the loss less often in more
dimensions).  ``cost_vs_params`` measures that at a fixed budget.
"""

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from vgbench.models import MLP
from vgbench.models.validate import check_positive_int
from vgbench.training.tasks import TeacherStudent
from vgbench.training.train import TrainConfig, train

DEEP_SIGMOID = {"activation": "sigmoid", "init": "normal"}


@dataclass(frozen=True)
class GAConfig:
    """Settings of one GA run (module docstring)."""

    population: int = 32  # individuals per generation
    parents: int = 8  # truncation selection: the best this many breed
    elites: int = 1  # the best this many survive unchanged
    sigma: float = 0.1  # mutation std, per parameter
    generations: int = 150
    batch: int = 64  # examples per generation's batch
    eval_batch: int = 1000  # held-out examples for evaluating the best individual
    eval_every: int = 10  # generations between held-out evaluations (not counted as cost)
    seed: int = 0

    def __post_init__(self):
        for name in ("population", "parents", "generations", "batch", "eval_batch",
                     "eval_every"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("elites", self.elites, minimum=0)
        if not self.elites <= self.parents <= self.population:
            raise ValueError("need elites <= parents <= population")
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ValueError(f"sigma must be a positive finite number, got {self.sigma}")


def flatten(model: MLP) -> np.ndarray:
    """All parameters of ``model`` as one float64 vector (``model.params`` order)."""
    return np.concatenate([np.asarray(p, np.float64).ravel() for p in model.params.values()])


def load(model: MLP, vec: np.ndarray) -> None:
    """Write the flat vector ``vec`` into ``model.params`` in place."""
    i = 0
    for p in model.params.values():
        p[...] = vec[i:i + p.size].reshape(p.shape)
        i += p.size


def _mse(model: MLP, vec: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    load(model, vec)
    with np.errstate(all="ignore"):
        return float(np.mean((model.forward(x) - y) ** 2))


def evolve(depth: int, width: int, task, config: GAConfig = GAConfig(),
           dtype: str = "float64") -> dict:
    """Run the GA on a deep sigmoid MLP (``DEEP_SIGMOID``) for ``task``; per generation
    the best batch MSE, the cumulative forward passes (one per individual and batch) and
    wall seconds; every ``eval_every`` generations and at the end the held-out MSE of the
    generation's best (``eval_passes``, ``eval_curve``; ``eval_mse``: the last)."""
    rng = np.random.default_rng((config.seed, 7))

    def build(seed):
        return MLP(task.in_dim, width, depth, task.out_dim, dtype=dtype, seed=seed,
                   **DEEP_SIGMOID)

    model = build(config.seed)
    pop = np.stack([flatten(build(config.seed * 10_000 + i)) for i in range(config.population)])
    best, passes, wall = [], [], []
    eval_passes, eval_curve = [], []
    xe, ye = task.batch(np.random.default_rng((config.seed, 9)), config.eval_batch)
    n_passes = 0
    t0 = time.perf_counter()
    for g in range(config.generations):
        x, y = task.batch(np.random.default_rng((config.seed, 8, g)), config.batch)
        scores = np.array([_mse(model, v, x, y) for v in pop])
        scores[~np.isfinite(scores)] = np.inf
        n_passes += config.population
        order = np.argsort(scores, kind="stable")
        best.append(float(scores[order[0]]))
        passes.append(n_passes)
        wall.append(time.perf_counter() - t0)
        if g % config.eval_every == 0 or g == config.generations - 1:
            eval_passes.append(n_passes)
            eval_curve.append(_mse(model, pop[order[0]], xe, ye))
        parents = pop[order[:config.parents]]
        children = parents[rng.integers(0, config.parents, config.population - config.elites)]
        children += config.sigma * rng.standard_normal(children.shape)
        pop = np.concatenate([pop[order[:config.elites]], children])
    return {"best_batch_mse": best, "forward_passes": passes, "wall_s": wall,
            "eval_passes": eval_passes, "eval_curve": eval_curve, "eval_mse": eval_curve[-1],
            "baseline_mse": float(task.baseline_mse), "n_params": int(pop.shape[1]),
            "config": asdict(config)}


SGD = TrainConfig(lr=0.1, momentum=0.9)  # steps: set to the GA's compute (below)
TARGET_MSE = 0.8  # "reached": held-out MSE of the best at or below this (baseline 1)


def cost_vs_params(widths=(4, 8, 16, 32), depth: int = 8, config: GAConfig = GAConfig(),
                   dtype: str = "float64", seed: int = 0) -> list:
    """One GA run per width at the same budget; per run the parameter count, the final
    held-out MSE, the forward passes until the held-out MSE first reached ``TARGET_MSE``
    (None: never; resolution ``eval_every`` generations), the wall seconds and the wall
    microseconds per forward pass."""
    task = TeacherStudent(dtype=dtype, seed=seed)
    out = []
    for w in widths:
        r = evolve(depth, w, task, config, dtype)
        hit = np.flatnonzero(np.asarray(r["eval_curve"]) <= TARGET_MSE)
        out.append({"width": w, "n_params": r["n_params"], "eval_mse": r["eval_mse"],
                    "passes_to_target": int(r["eval_passes"][hit[0]]) if hit.size else None,
                    "wall_s": r["wall_s"][-1],
                    "us_per_pass": 1e6 * r["wall_s"][-1] / r["forward_passes"][-1]})
    return out


def evolution_comparison(depth: int = 8, width: int = 32, config: GAConfig = GAConfig(),
                         sgd: TrainConfig = SGD,
                         dtype: str = "float64", seed: int = 0) -> dict:
    """The GA and SGD on the same deep sigmoid net and task: "GA" -> ``evolve`` record,
    "SGD" -> its loss per step with forward passes (one per step; each step also runs one
    backward, about two forwards' work) and wall seconds (the run's total spread evenly
    over its steps), and its held-out MSE.  SGD gets the GA's compute: population x
    generations / 3 steps (one forward + one backward ~ three forwards)."""
    task = TeacherStudent(dtype=dtype, seed=seed)
    sgd = replace(sgd, steps=max(1, config.population * config.generations // 3))
    ga = evolve(depth, width, task, config, dtype)
    model = MLP(task.in_dim, width, depth, task.out_dim, dtype=dtype, seed=seed,
                **DEEP_SIGMOID)
    r = train(model, task, sgd)
    n = r.steps_done
    # train's loss is 0.5 / B * sum of squares: per-output MSE = 2 loss / O
    return {"GA": ga, "SGD": {"best_batch_mse": (2.0 * r.loss / task.out_dim).tolist(),
                              "eval_passes": [n], "eval_curve": [r.eval_mse],
                              "forward_passes": list(range(1, n + 1)),
                              "wall_s": (r.wall_s * np.arange(1, n + 1) / n).tolist(),
                              "eval_mse": r.eval_mse, "baseline_mse": r.baseline_mse,
                              "n_params": ga["n_params"], "status": r.status()}}
