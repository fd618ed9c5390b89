"""SGD on the vgbench kernels, recording the symptoms of vanishing and exploding gradients.

``train(model, task, config)`` runs plain SGD (optionally momentum, clipping by global
norm and L2 weight decay) with the model's own ``loss_and_grads`` and updates
``model.params`` in place.  Per step it records

* the loss, and the global gradient norm (before clipping);
* per weight matrix W_l (every parameter whose name starts with ``W``, bottom to top):
  the gradient norm ||dL/dW_l||_F and the update ratio ||Delta W_l||_F / ||W_l||_F, with
  W_l taken before the update: the lower layers of a deep sigmoid net show ratios many
  orders of magnitude below the top;
* every ``probe_every`` steps, for MLPs, the fraction of dead units per hidden layer
  (``MLP.dead_fraction``: f'(z) = 0 on every example of a fixed probe batch, so they get
  no gradient; ReLU units below zero);
* non-finite events: a NaN/Inf loss, gradient or parameter stops the run with
  ``exploded_at = k`` (the step) instead of raising.

Ctrl-C ends the loop early and returns what was recorded (``interrupted = True``).

BLAS runs single-threaded during training by default (``blas_threads``): these nets are
small, and OpenBLAS thread hand-off on tiny GEMMs cost 10-17x on a loaded 2-core machine.
"""

import math
import time
from dataclasses import asdict, dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from vgbench.analysis.clip import clip_by_global_norm
from vgbench.cluster.tasks import Task, TaskResult, run_tasks
from vgbench.models import LSTM, MLP, RNN
from vgbench.models.footprint import check_fits
from vgbench.models.validate import check_positive_int
from vgbench.training.tasks import AddingProblem, TeacherStudent, accuracy


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and bookkeeping settings of one run."""

    steps: int = 300  # SGD steps (one fresh batch each)
    batch: int = 64  # examples per step
    lr: float = 0.05  # learning rate
    momentum: float = 0.0  # heavy-ball momentum mu (v = mu v - lr g; p += v)
    clip: float | None = None  # clip the gradient to this global L2 norm (None: off)
    truncate: int | None = None  # truncated BPTT window for recurrent models (None: full)
    probe_every: int = 10  # dead-unit probe interval in steps (MLPs only)
    eval_batch: int = 1000  # held-out examples for the final evaluation
    seed: int = 0  # seeds the batches (the model has its own seed)
    blas_threads: int | None = 1  # BLAS threads during the run (None: leave as is)
    # L2 regularisation: adds wd/2 ||W||^2 per weight matrix (names "W...", not biases) to
    # the loss, i.e. wd W to its gradient at the update, after clipping (as PyTorch's SGD
    # weight_decay); the recorded loss and gradient norms are the data term's
    weight_decay: float = 0.0

    def __post_init__(self):
        for name in ("steps", "batch", "probe_every", "eval_batch") + (
                ("blas_threads",) if self.blas_threads is not None else ()):
            check_positive_int(name, getattr(self, name))
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"clip must be > 0 or None, got {self.clip}")
        if self.truncate is not None:
            check_positive_int("truncate", self.truncate)
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"weight_decay must be a finite number >= 0, got "
                             f"{self.weight_decay}")


@dataclass
class TrainResult:
    """Per-step records of one run (arrays cut to the steps actually taken)."""

    weight_names: list  # names of the weight matrices, bottom to top
    loss: np.ndarray  # (S,) training loss per step, before its update
    grad_norm: np.ndarray  # (S, n_weights) ||dL/dW_l||_F before clipping
    update_ratio: np.ndarray  # (S, n_weights) ||Delta W_l|| / ||W_l|| (W_l before the step)
    global_grad_norm: np.ndarray  # (S,) L2 norm over all parameters, before clipping
    clipped_steps: int  # steps where clipping scaled the gradient down
    dead_steps: np.ndarray  # (P,) steps at which dead units were probed
    dead_fraction: np.ndarray | None  # (P, depth) dead-unit fraction per layer (MLPs)
    exploded_at: int | None  # first step with a non-finite loss/gradient/parameter
    exploded_reason: str | None  # "loss", "gradient" or "parameters"
    interrupted: bool  # stopped by Ctrl-C
    eval_mse: float  # per-output MSE on a held-out batch after training (nan if exploded)
    eval_accuracy: float  # task accuracy on that batch (``vgbench.training.tasks.accuracy``)
    baseline_mse: float  # MSE of predicting the target mean
    wall_s: float  # seconds spent in the loop
    worker: dict | None = None  # who ran it on a cluster (vgbench.cluster), else None

    @property
    def steps_done(self) -> int:
        return len(self.loss)

    def layer_ratio(self, bottom: int = 0, top: int = -2, first: int = 0,
                    last: int | None = None) -> float:
        """Median over steps [first, last) of update_ratio[bottom] / update_ratio[top].

        The default compares W_0 with the top hidden layer (the second-last weight; the
        last one is the readout).
        """
        r = self.update_ratio[first:last]
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.median(r[:, bottom] / r[:, top]))

    def status(self) -> str:
        """'ok', 'interrupted' or 'exploded at step k (reason)'."""
        if self.exploded_at is not None:
            return f"exploded at step {self.exploded_at} ({self.exploded_reason})"
        return "interrupted" if self.interrupted else "ok"

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["worker"] is None:
            del d["worker"]
        d["status"] = self.status()
        return d


def is_recurrent(model) -> bool:
    """True for models that take (T, B, I) sequences (they accept ``truncate``)."""
    return "W_hh" in model.params


def weight_names(model) -> list:
    """The weight matrices of ``model`` bottom to top (MLP: W0..W{depth}; RNN/LSTM: input,
    recurrent (and skip), readout last)."""
    names = [k for k in model.params if k.startswith("W")]
    if is_recurrent(model):
        return [k for k in names if k != "W_hy"] + ["W_hy"]
    return sorted(names, key=lambda k: int(k[1:]))


def evaluate(model, task, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(per-output MSE, task accuracy) of ``model`` on a held-out batch."""
    y_hat = model.forward(x)
    return float(np.mean((y_hat - y) ** 2)), accuracy(task, y_hat, y)


def _sq_norm(a: np.ndarray) -> float:
    a = a.ravel()
    return float(np.vdot(a, a))


def train(model, task, config: TrainConfig = TrainConfig(), progress: bool = False,
          desc: str = "train") -> TrainResult:
    """Train ``model`` on ``task`` in place with SGD; return the per-step records."""
    if model.in_dim != task.in_dim or model.out_dim != task.out_dim:
        raise ValueError(f"model is {model.in_dim} -> {model.out_dim}, task needs "
                         f"{task.in_dim} -> {task.out_dim}")
    if is_recurrent(model) != hasattr(task, "seq_len"):
        raise ValueError(f"{type(model).__name__} cannot train on {type(task).__name__}")
    kwargs = {"truncate": config.truncate} if is_recurrent(model) else {}
    rng = np.random.default_rng((config.seed, 0))
    eval_x, eval_y = task.batch(np.random.default_rng((config.seed, 1)), config.eval_batch)
    probe_dead = not is_recurrent(model)
    probe_x = task.batch(np.random.default_rng((config.seed, 2)), config.batch)[0]

    params = model.params
    names = weight_names(model)
    col = {k: i for i, k in enumerate(names)}
    S, n_w = config.steps, len(names)
    check_fits(f"{S} steps of records", 8 * S * (2 + 2 * n_w))  # the float64 arrays below
    loss = np.full(S, np.nan)
    grad_norm = np.full((S, n_w), np.nan)
    update_ratio = np.full((S, n_w), np.nan)
    global_norm = np.full(S, np.nan)
    dead_steps, dead = [], []
    w_norm = np.array([math.sqrt(_sq_norm(params[k])) for k in names])
    velocity = {k: np.zeros_like(v) for k, v in params.items()} if config.momentum else None
    clipped = 0
    exploded_at = reason = None
    interrupted = False
    done = 0

    with threadpool_limits(config.blas_threads, user_api="blas"):
        bar = tqdm(range(S), desc=desc, disable=not progress, leave=False, mininterval=0.5)
        t0 = time.perf_counter()
        try:
            for step in bar:
                if probe_dead and step % config.probe_every == 0:
                    dead_steps.append(step)
                    dead.append(model.dead_fraction(probe_x))
                x, y = task.batch(rng, config.batch)
                r = model.loss_and_grads(x, y, **kwargs)
                loss[step] = r.loss
                grads = r.grads
                total = 0.0
                for k, g in grads.items():
                    sq = _sq_norm(g)
                    total += sq
                    if k in col:
                        grad_norm[step, col[k]] = math.sqrt(sq)
                global_norm[step] = math.sqrt(total)
                done = step + 1
                if not math.isfinite(r.loss):
                    exploded_at, reason = step, "loss"
                    break
                if not math.isfinite(total):
                    exploded_at, reason = step, "gradient"
                    break
                if config.clip is not None:
                    grads, _ = clip_by_global_norm(grads, config.clip)
                    clipped += global_norm[step] > config.clip
                for k, p in params.items():
                    g = grads[k]
                    if config.weight_decay and k.startswith("W"):
                        g = g + config.weight_decay * p
                    if velocity is None:
                        delta = g * -config.lr
                    else:
                        delta = velocity[k]
                        delta *= config.momentum
                        delta -= config.lr * g
                    p += delta
                    if k in col:
                        i = col[k]
                        update_ratio[step, i] = math.sqrt(_sq_norm(delta)) / w_norm[i]
                        w_norm[i] = math.sqrt(_sq_norm(p))
                if not np.isfinite(w_norm).all():
                    exploded_at, reason = step, "parameters"
                    break
                if progress and step % 50 == 0:
                    bar.set_postfix(loss=f"{r.loss:.3g}", refresh=False)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            wall = time.perf_counter() - t0
            bar.close()

        if exploded_at is None:
            eval_mse, eval_acc = evaluate(model, task, eval_x, eval_y)
        else:
            eval_mse, eval_acc = math.nan, 0.0
    return TrainResult(
        weight_names=names, loss=loss[:done], grad_norm=grad_norm[:done],
        update_ratio=update_ratio[:done], global_grad_norm=global_norm[:done],
        clipped_steps=int(clipped), dead_steps=np.array(dead_steps, dtype=np.int64),
        dead_fraction=np.array(dead) if probe_dead else None, exploded_at=exploded_at,
        exploded_reason=reason, interrupted=interrupted, eval_mse=eval_mse,
        eval_accuracy=eval_acc, baseline_mse=float(task.baseline_mse), wall_s=wall)


# Experiments: the comparisons `vgbench train --experiment` and `vgbench run` show.

# label -> MLP keyword arguments; one learning rate serves all four at depth 20.
DEPTH_CONFIGS = {
    "sigmoid / naive": {"activation": "sigmoid", "init": "normal"},
    "ReLU / He": {"activation": "relu", "init": "he"},
    # the residual branch is scaled down (gain 0.25) so that 20 summed branches start tame
    "residual (tanh, Xavier x0.25)": {"activation": "tanh", "init": "xavier", "gain": 0.25,
                                      "residual": True},
    "batch norm (sigmoid / naive)": {"activation": "sigmoid", "init": "normal",
                                     "batchnorm": True},
}

# label -> (model class, clip); every model is tanh/Xavier-style at its defaults.
ADDING_MODELS = {"RNN": (RNN, None), "LSTM": (LSTM, None), "RNN + clip 1": (RNN, 1.0)}

SOLVED_FRACTION = 0.1  # "solved": held-out MSE below this fraction of the baseline 1/6
# "learned": held-out MSE below half the baseline's (the model explains at least half of
# the variance the mean predictor leaves); "finite" (did not explode) says nothing of it.
LEARNED_FRACTION = 0.5
# A prediction whose spread over the held-out batch is below this fraction of the targets'
# is flat (nearly constant): the hidden units saturated (an exploding step without an Inf).
CONSTANT_OUTPUT = 0.05

# Recurrent runs: long plateaus before the breakthrough need many steps and momentum.
RECURRENT_DEFAULTS = {"steps": 3000, "batch": 32, "lr": 0.1, "momentum": 0.9}
# The short adding sweep of ``vgbench run``'s training section (lengths 10, 20, 40).
QUICK_ADDING = {**RECURRENT_DEFAULTS, "steps": 1500}


class _Stop(Exception):
    """Raised by a gather callback to end a sweep early (a run was interrupted)."""


def depth_run(label: str, depth: int, width: int, config: TrainConfig, dtype: str, seed: int,
              progress: bool = False) -> TrainResult:
    """One ``DEPTH_CONFIGS[label]`` run on the teacher-student task (a task: a pure
    function of its arguments)."""
    task = TeacherStudent(dtype=dtype, seed=seed)
    model = MLP(task.in_dim, width, depth, task.out_dim, dtype=dtype, seed=seed,
                **DEPTH_CONFIGS[label])
    return train(model, task, config, progress, desc=label)


def depth_comparison(depth: int = 20, width: int = 64, config: TrainConfig = TrainConfig(),
                     dtype: str = "float64", seed: int = 0, progress: bool = False,
                     on_run=None, scheduler: str | None = None) -> dict:
    """Train each of ``DEPTH_CONFIGS`` on one teacher-student task; label -> TrainResult.

    ``on_run(results)`` is called after every run (to save partial results); a run stopped
    by Ctrl-C ends the comparison.  ``scheduler`` (``vgbench.cluster``) runs the runs as
    tasks there; each result then names its ``worker``.
    """
    labels = list(DEPTH_CONFIGS)
    inline = scheduler is None
    tasks = [Task(f"train depth {label}", depth_run,
                  (label, depth, width, config, dtype, seed, progress and inline))
             for label in labels]
    done = {}

    def gathered(i: int, r: TaskResult) -> None:
        done[labels[i]] = r.value if inline else replace(r.value, worker=r.worker)
        if on_run is not None:
            on_run({k: done[k] for k in labels if k in done})
        if r.value.interrupted:
            raise _Stop

    try:
        run_tasks(tasks, scheduler, progress and not inline, on_result=gathered,
                  desc="train depth", unit="run", pin_threads=not inline)
    except _Stop:
        pass
    return {k: done[k] for k in labels if k in done}


def adding_run(label: str, seq_len: int, hidden: int, config: TrainConfig, dtype: str,
               seed: int, progress: bool = False) -> tuple[TrainResult, bool]:
    """One ``ADDING_MODELS[label]`` run on the adding problem at length ``seq_len``: its
    result, and whether the trained net's output is nearly constant over held-out
    sequences (``CONSTANT_OUTPUT``: it learned to predict the mean)."""
    cls, clip = ADDING_MODELS[label]
    task = AddingProblem(seq_len=seq_len, dtype=dtype)
    model = cls(task.in_dim, hidden, task.out_dim, dtype=dtype, seed=seed)
    r = train(model, task, replace(config, clip=clip), progress, desc=f"{label} T={seq_len}")
    ex, ey = task.batch(np.random.default_rng((config.seed, 1)), 256)
    spread = float(np.std(model.forward(ex))) if r.exploded_at is None else math.nan
    return r, bool(spread < CONSTANT_OUTPUT * float(np.std(ey)))


def adding_sweep(lengths, hidden: int = 32, config: TrainConfig = TrainConfig(),
                 dtype: str = "float64", seed: int = 0, progress: bool = False,
                 on_run=None, scheduler: str | None = None) -> dict:
    """Train each of ``ADDING_MODELS`` on the adding problem at every length T.

    Returns label -> {"lengths", "eval_mse", "eval_accuracy", "solved", "status",
    "max_grad_norm" (largest global gradient norm before clipping), "constant_output"
    (the trained net's output is nearly constant over held-out sequences: ``CONSTANT_OUTPUT``),
    "baseline_mse", "longest_solved"}; ``config.clip`` is replaced by each model's own.
    ``scheduler`` (``vgbench.cluster``) runs the runs as tasks there; each label then also
    lists the ``workers`` of its lengths.
    """
    cells = [(T, label) for T in lengths for label in ADDING_MODELS]
    inline = scheduler is None
    tasks = [Task(f"train adding {label} T={T}", adding_run,
                  (label, T, hidden, config, dtype, seed, progress and inline))
             for T, label in cells]
    done: dict[int, TaskResult] = {}

    def sweep() -> dict:
        out = {label: {"lengths": [], "eval_mse": [], "eval_accuracy": [], "solved": [],
                       "status": [], "max_grad_norm": [], "constant_output": [],
                       "baseline_mse": AddingProblem.baseline_mse,
                       "longest_solved": None} for label in ADDING_MODELS}
        for i in sorted(done):
            (T, label), (r, constant) = cells[i], done[i].value
            s = out[label]
            solved = bool(r.eval_mse < SOLVED_FRACTION * AddingProblem.baseline_mse)
            for key, value in (("lengths", T), ("eval_mse", r.eval_mse), ("solved", solved),
                               ("eval_accuracy", r.eval_accuracy), ("status", r.status()),
                               ("max_grad_norm", float(np.nanmax(r.global_grad_norm))
                                if r.steps_done else math.nan),
                               ("constant_output", constant)):
                s[key].append(value)
            if not inline:
                s.setdefault("workers", []).append(done[i].worker)
            if solved:
                s["longest_solved"] = max(T, s["longest_solved"] or 0)
        return out

    def gathered(i: int, r: TaskResult) -> None:
        done[i] = r
        if on_run is not None:
            on_run(sweep())
        if r.value[0].interrupted:
            raise _Stop

    try:
        run_tasks(tasks, scheduler, progress and not inline, on_result=gathered,
                  desc="train adding", unit="run", pin_threads=not inline)
    except _Stop:
        pass
    return sweep()


def depth_summary(results: dict) -> dict:
    """label -> bottom/top update-ratio median, final eval MSE, status (finite or exploded)
    and learned (held-out MSE < ``LEARNED_FRACTION`` x baseline), for tables and JSON."""
    return {label: {"bottom_over_top": r.layer_ratio(), "eval_mse": r.eval_mse,
                    "baseline_mse": r.baseline_mse, "status": r.status(),
                    "learned": bool(r.eval_mse < LEARNED_FRACTION * r.baseline_mse)}
            for label, r in results.items()}


