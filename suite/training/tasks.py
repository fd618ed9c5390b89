"""Seeded synthetic training tasks, generated in code (no downloads).

Every task draws batches from a numpy Generator with ``task.batch(rng, batch)`` and says
what a trivial predictor scores (``baseline_mse``), so that a loss is read as a fraction of
"learned nothing".  MSE here is the per-output mean ``mean((y_hat - y)^2)``; the models'
loss ``0.5 / B * sum((y_hat - y)^2)`` equals ``0.5 * out_dim * MSE``.

=============  ==========================  =================  ==================================
task           x                           y                  baseline (predict the mean)
=============  ==========================  =================  ==================================
TeacherStudent (B, in_dim) N(0, 1)         (B, out_dim)       1 (targets standardised)
AddingProblem  (T, B, 2): U[0, 1], marker  (B, 1) marked sum  var(u1 + u2) = 2/12 = 0.1667
CopyMemory     (T, B, K + 2) one-hot       (B, S K) one-hots  (1/K)(1 - 1/K)
=============  ==========================  =================  ==================================
"""

from dataclasses import dataclass, field

import numpy as np

from vgbench.models import MLP
from vgbench.models.validate import check_dtype, check_positive_int

TASKS = ("teacher", "adding", "copy")


@dataclass(frozen=True)
class TeacherStudent:
    """Regression onto a fixed random teacher MLP (tanh, Xavier init, drawn from ``seed``).

    Targets are standardised per output over a large reference sample, so predicting 0
    scores MSE ~= 1.  A student of any depth can fit them: the task is easy, depth is
    what makes it hard to train.
    """

    in_dim: int = 16  # input width I
    out_dim: int = 1  # output width O
    teacher_width: int = 32  # hidden width of the teacher
    teacher_depth: int = 2  # hidden layers of the teacher
    dtype: str = "float64"
    seed: int = 0  # draws the teacher (not the batches)
    _teacher: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check_dtype(self.dtype)
        teacher = MLP(self.in_dim, check_positive_int("teacher_width", self.teacher_width),
                      check_positive_int("teacher_depth", self.teacher_depth), self.out_dim,
                      activation="tanh", init="xavier", dtype="float64", seed=self.seed)
        rng = np.random.default_rng((self.seed, 1))
        for l in range(self.teacher_depth + 1):  # nonzero biases make the map less symmetric
            teacher.params[f"b{l}"] = rng.normal(0.0, 0.5, teacher.params[f"b{l}"].shape)
        ref = teacher.forward(rng.standard_normal((4096, self.in_dim)))
        object.__setattr__(self, "_teacher", (teacher, ref.mean(0), ref.std(0)))

    @property
    def baseline_mse(self) -> float:
        return 1.0

    def batch(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """x (B, in_dim) ~ N(0, 1); y = (teacher(x) - mean) / std, (B, out_dim)."""
        teacher, mean, std = self._teacher
        x = rng.standard_normal((batch, self.in_dim))
        y = (teacher.forward(x) - mean) / std
        return x.astype(self.dtype), y.astype(self.dtype)


@dataclass(frozen=True)
class AddingProblem:
    """The adding problem (Hochreiter & Schmidhuber 1997, as in Le et al. 2015).

    Step t carries (u_t, m_t): u_t ~ U[0, 1] and a marker m_t that is 1 at exactly two
    steps, one drawn in the first half of the sequence and one in the second, 0 elsewhere.
    The target is the sum of the two marked values, read out after the last step.  The
    first marker lies about T/2 steps or more before the readout, so T is the dependency
    length.  Predicting the mean 1 scores MSE = var(u1 + u2) = 1/6.
    """

    seq_len: int = 50  # T, >= 2
    dtype: str = "float64"

    in_dim = 2
    out_dim = 1
    baseline_mse = 1.0 / 6.0

    def __post_init__(self):
        check_positive_int("seq_len", self.seq_len, minimum=2)
        check_dtype(self.dtype)

    def batch(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """x (T, B, 2), y (B, 1)."""
        T, half = self.seq_len, self.seq_len // 2
        x = np.zeros((T, batch, 2), self.dtype)
        x[:, :, 0] = rng.random((T, batch))
        cols = np.arange(batch)
        first = rng.integers(0, half, batch)
        second = rng.integers(half, T, batch)
        x[first, cols, 1] = 1.0
        x[second, cols, 1] = 1.0
        y = (x[first, cols, 0] + x[second, cols, 0])[:, None]
        return x, y


@dataclass(frozen=True)
class CopyMemory:
    """Copy-memory task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016), recall form.

    The net sees S symbols drawn uniformly from K categories (one-hot on channels 0..K-1),
    then ``delay`` blank steps (channel K), then one delimiter step (channel K+1), and must
    output all S symbols as concatenated one-hots after the delimiter: one readout at the
    last step (``loss_at="last"``), so T = S + delay + 1.  Predicting 1/K everywhere scores
    MSE = (1/K)(1 - 1/K); a symbol counts as recalled when the argmax of its block is right.
    """

    delay: int = 20  # blank steps between the symbols and the delimiter
    n_symbols: int = 3  # S
    n_categories: int = 4  # K
    dtype: str = "float64"

    def __post_init__(self):
        check_positive_int("delay", self.delay, minimum=0)
        check_positive_int("n_symbols", self.n_symbols)
        check_positive_int("n_categories", self.n_categories, minimum=2)
        check_dtype(self.dtype)

    @property
    def seq_len(self) -> int:
        return self.n_symbols + self.delay + 1

    @property
    def in_dim(self) -> int:
        return self.n_categories + 2

    @property
    def out_dim(self) -> int:
        return self.n_symbols * self.n_categories

    @property
    def baseline_mse(self) -> float:
        k = self.n_categories
        return (1.0 / k) * (1.0 - 1.0 / k)

    def batch(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """x (T, B, K + 2), y (B, S K)."""
        S, K = self.n_symbols, self.n_categories
        symbols = rng.integers(0, K, (S, batch))
        x = np.zeros((self.seq_len, batch, K + 2), self.dtype)
        cols = np.arange(batch)
        for s in range(S):
            x[s, cols, symbols[s]] = 1.0
        x[S:S + self.delay, :, K] = 1.0
        x[-1, :, K + 1] = 1.0
        y = np.zeros((batch, S, K), self.dtype)
        y[cols[None, :], np.arange(S)[:, None], symbols] = 1.0
        return x, y.reshape(batch, S * K)


def accuracy(task, y_hat: np.ndarray, y: np.ndarray) -> float:
    """Task-specific accuracy of predictions y_hat (B, O) against targets y.

    Adding problem: fraction of sequences with |y_hat - y| < 0.04 (the 1997 criterion).
    Copy memory: fraction of symbols whose block argmax is the right category.
    Teacher-student: fraction of outputs within 0.1 (in units of the target std).
    """
    if isinstance(task, AddingProblem):
        return float(np.mean(np.abs(y_hat - y) < 0.04))
    if isinstance(task, CopyMemory):
        shape = (len(y), task.n_symbols, task.n_categories)
        return float(np.mean(y_hat.reshape(shape).argmax(-1) == y.reshape(shape).argmax(-1)))
    return float(np.mean(np.abs(y_hat - y) < 0.1))


def accuracy_rule(task) -> str:
    """What ``accuracy`` counts for ``task``, in words (printed beside the number)."""
    if isinstance(task, AddingProblem):
        return "share of sequences with |y_hat - y| < 0.04"
    if isinstance(task, CopyMemory):
        return "share of symbols recalled (block argmax)"
    return "share of outputs within 0.1 target std"


def make_task(name: str, *, dtype: str = "float64", seq_len: int = 50, in_dim: int = 16,
              seed: int = 0):
    """Build a task by name (``TASKS``); ``seq_len`` is T for adding, the delay for copy."""
    if name == "teacher":
        return TeacherStudent(in_dim=in_dim, dtype=dtype, seed=seed)
    if name == "adding":
        return AddingProblem(seq_len=seq_len, dtype=dtype)
    if name == "copy":
        return CopyMemory(delay=seq_len, dtype=dtype)
    raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASKS)}")
