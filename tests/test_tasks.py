"""The task generators produce the documented statistics and shapes."""

import numpy as np
import pytest

from vgbench.training.tasks import AddingProblem, CopyMemory, TeacherStudent, accuracy, make_task


def test_adding_problem_structure_and_baseline():
    T, B = 9, 20000
    task = AddingProblem(seq_len=T)
    x, y = task.batch(np.random.default_rng(1), B)
    assert x.shape == (T, B, 2) and y.shape == (B, 1) and x.dtype == np.float64
    marks = x[:, :, 1]
    assert np.all(marks.sum(0) == 2)
    assert np.all(marks[: T // 2].sum(0) == 1)  # one marker in each half
    assert np.allclose(y[:, 0], (x[:, :, 0] * marks).sum(0))
    u = x[:, :, 0]
    assert 0.0 <= u.min() and u.max() < 1.0
    # predicting the mean 1 scores var(u1 + u2) = 1/6; the std error of this estimate with
    # 20000 samples is ~0.0012, so 0.006 is 5 sigma
    assert abs(np.mean((y - 1.0) ** 2) - 1.0 / 6.0) < 0.006
    assert task.baseline_mse == pytest.approx(1.0 / 6.0)


def test_copy_memory_recall_layout():
    task = CopyMemory(delay=5, n_symbols=3, n_categories=4)
    x, y = task.batch(np.random.default_rng(2), 4000)
    S, K = 3, 4
    assert x.shape == (S + 5 + 1, 4000, K + 2) and y.shape == (4000, S * K)
    assert np.all(x.sum(-1) == 1)  # exactly one channel on at every step
    assert np.all(x[S:S + 5, :, K] == 1) and np.all(x[-1, :, K + 1] == 1)
    assert np.array_equal(y.reshape(-1, S, K), x[:S].transpose(1, 0, 2)[:, :, :K])
    # uniform symbols: predicting 1/K everywhere scores (1/K)(1 - 1/K) = 0.1875
    assert abs(np.mean((y - 1 / K) ** 2) - task.baseline_mse) < 0.005
    assert accuracy(task, y, y) == 1.0


def test_teacher_targets_standardised_and_deterministic():
    task = TeacherStudent(in_dim=8, out_dim=2, dtype="float32", seed=3)
    x, y = task.batch(np.random.default_rng(4), 8192)
    assert x.dtype == y.dtype == np.float32 and y.shape == (8192, 2)
    assert np.all(np.abs(y.mean(0)) < 0.1) and np.all(np.abs(y.std(0) - 1) < 0.1)
    again = TeacherStudent(in_dim=8, out_dim=2, dtype="float32", seed=3)
    x2, y2 = again.batch(np.random.default_rng(4), 8192)
    assert np.array_equal(y, y2)
    other = TeacherStudent(in_dim=8, out_dim=2, dtype="float32", seed=5)
    assert not np.allclose(other.batch(np.random.default_rng(4), 16)[1], y[:16])


def test_adding_accuracy_threshold():
    task = AddingProblem(seq_len=4)
    y = np.array([[1.0], [1.0], [1.0], [1.0]])
    assert accuracy(task, y + np.array([[0.0], [0.039], [-0.05], [0.5]]), y) == 0.5


@pytest.mark.parametrize("bad", [
    lambda: AddingProblem(seq_len=1),
    lambda: CopyMemory(n_categories=1),
    lambda: make_task("xor"),
    lambda: AddingProblem(dtype="int8"),
])
def test_bad_arguments_raise(bad):
    with pytest.raises(ValueError):
        bad()
