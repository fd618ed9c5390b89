"""Run a list of independent tasks in this process, on a Dask LocalCluster, or on a
running Dask cluster, and gather their results with who computed them.

``scheduler``:

* ``None``: in this process, one task after the other (no Dask needed).
* ``"local"``: a Dask LocalCluster on this machine, one single-threaded worker process per
  usable core (Numba and BLAS pinned to one thread there, ``workers.PIN_ENV``).
* ``"tcp://host:port"`` (any Dask address): a running cluster (``dask scheduler`` and
  ``dask worker`` processes, or one started by dask-jobqueue on SLURM/PBS).

A task is a module-level function and its arguments (``Task``); its result must depend on
its arguments only (seed from them, never from the order of execution), so the gathered
results equal the in-process run whatever the cluster.  Dask reruns the tasks of a worker
lost mid-run on the others.  Ctrl-C (or any exception) cancels every pending future
before it propagates; ``on_result`` has seen every finished task by then, so a caller that
saves there keeps them.  Progress: a tqdm bar over finished tasks on a terminal, one line
per finished task otherwise.
"""

import logging
import os
import re
import sys
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from vgbench.cluster.workers import IN_PROCESS, PIN_ENV, execute

CONNECT_TIMEOUT_S = 10  # seconds to reach a running scheduler before giving up
ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx|inproc)://\S+$")
DASK_MISSING = "--scheduler needs Dask: pip install 'vgbench[dask]'"


@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(*args, **kwargs)``, named ``key`` in progress lines."""

    key: str                       # e.g. "decay mlp tanh L=8 seed=1"
    fn: Callable                   # module-level (a cluster pickles it by reference)
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TaskResult:
    """What a task returned, and where."""

    key: str
    value: Any
    worker: dict        # address ("in-process" here), host, pid, fingerprint_hash
    seconds: float      # wall time of the task itself, on its worker


def check_scheduler(value: str | None) -> str | None:
    """``None``, ``"local"`` or a Dask address ``scheme://host:port``; ValueError otherwise."""
    if value is None or value == "local" or ADDRESS.match(value):
        return value
    raise ValueError(f"scheduler must be 'local' or a Dask address such as "
                     f"tcp://host:8786, got {value!r}")


def dask_available() -> bool:
    """True when ``distributed`` can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def usable_cores() -> int:
    """CPUs this process may run on (the LocalCluster's worker count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _local_cluster():
    """A LocalCluster: one single-threaded worker process per usable core, pinned."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=usable_cores(), threads_per_worker=1, processes=True,
                        dashboard_address=None, env=PIN_ENV, silence_logs=logging.ERROR)


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise RuntimeError(DASK_MISSING) from exc
    return distributed


@contextmanager
def session(scheduler: str | None):
    """Keep one cluster for several ``run_tasks`` calls: yields ``scheduler`` unchanged,
    except that ``"local"`` starts a LocalCluster for the block and yields its address."""
    check_scheduler(scheduler)
    if scheduler != "local":
        yield scheduler
        return
    _import_distributed()
    with _local_cluster() as cluster:
        yield cluster.scheduler_address


@contextmanager
def connect(scheduler: str):
    """A ``distributed.Client`` for ``"local"`` (a fresh LocalCluster, closed on exit) or
    for a running cluster's address.  RuntimeError when Dask is missing or the scheduler
    cannot be reached."""
    check_scheduler(scheduler)
    distributed = _import_distributed()
    cluster = _local_cluster() if scheduler == "local" else None
    try:
        if cluster is not None:
            client = distributed.Client(cluster)
        else:
            try:
                client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S)
            except OSError as exc:
                raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler}: "
                                   f"{exc}") from exc
        try:
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def _cancel(client, futures: list) -> None:
    """Cancel ``futures`` on the way out of an interrupted run.  A failure here (Ctrl-C
    also reaches a LocalCluster's workers, which may already be going down) must not
    replace the exception that is propagating."""
    with suppress(Exception):
        client.cancel(futures, force=True)


def _workers(client) -> dict:
    """The scheduler's workers, address -> info, all of them (recent distributed lists
    only the first few unless asked for every one)."""
    try:
        return client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:  # older distributed: no n_workers, always all workers
        return client.scheduler_info()["workers"]


class _Progress:
    """A tqdm bar over finished tasks on a terminal, else one stderr line per task."""

    def __init__(self, total: int, desc: str, unit: str, enabled: bool):
        tty = sys.stderr.isatty()
        self.bar = tqdm(total=total, desc=desc, unit=unit, leave=False,
                        disable=not (enabled and tty))
        self.lines = enabled and not tty
        self.total, self.desc, self.done = total, desc, 0

    def update(self, r: TaskResult) -> None:
        self.done += 1
        self.bar.update()
        if self.lines:
            w = r.worker
            print(f"{self.desc}: {self.done}/{self.total} {r.key} on {w['address']} "
                  f"({w['host']} pid {w['pid']}), {r.seconds:.2f} s", file=sys.stderr,
                  flush=True)

    def close(self) -> None:
        self.bar.close()


def run_tasks(tasks: Iterable[Task], scheduler: str | None = None, progress: bool = True,
              on_result: Callable[[int, TaskResult], None] | None = None,
              desc: str = "tasks", unit: str = "task",
              pin_threads: bool = True) -> list[TaskResult]:
    """Run every task (module docstring) and return their results in task order.

    ``on_result(index, result)`` is called as each task finishes (completion order on a
    cluster); an exception it raises stops the run like Ctrl-C does.  ``pin_threads``
    runs each task with Numba and BLAS on one thread (``workers.one_thread``).
    """
    tasks = list(tasks)
    results: list[TaskResult | None] = [None] * len(tasks)
    bar = _Progress(len(tasks), desc, unit, progress)

    def finish(i: int, value, worker: dict, seconds: float) -> None:
        results[i] = TaskResult(tasks[i].key, value, worker, seconds)
        bar.update(results[i])
        if on_result is not None:
            on_result(i, results[i])

    try:
        if scheduler is None:
            for i, t in enumerate(tasks):
                finish(i, *execute(t.fn, t.args, t.kwargs, pin_threads, IN_PROCESS))
        else:
            from distributed import as_completed

            with connect(scheduler) as client:
                run = uuid.uuid4().hex[:8]
                futures = {client.submit(execute, t.fn, t.args, t.kwargs, pin_threads,
                                         key=f"vgbench-{run}-{i}", pure=False): i
                           for i, t in enumerate(tasks)}
                try:
                    for fut in as_completed(futures):
                        finish(futures[fut], *fut.result())
                except BaseException:
                    _cancel(client, list(futures))
                    raise
    finally:
        bar.close()
    return results


def run_on_each_worker(task: Task, scheduler: str, progress: bool = True,
                       on_result: Callable[[int, TaskResult], None] | None = None,
                       desc: str = "workers") -> list[TaskResult]:
    """Run ``task`` once on every worker of a running cluster, one worker at a time.

    Nothing else of this run executes meanwhile, and a worker that offers a ``machine``
    resource (``dask worker ... --resources machine=1``) has it taken for the task, so
    other clients' tasks that ask for it wait too: a timing sweep owns its machine.
    Threads are not pinned (a speed sweep sets its own).  A worker that leaves during its
    run is reported on stderr and skipped.  Results come in worker-address order.
    """
    if scheduler == "local":
        raise ValueError("running on each worker needs a running cluster's address, not "
                         "'local' (its workers share this machine)")
    from distributed import wait

    out = []
    with connect(scheduler) as client:
        workers = _workers(client)
        if not workers:
            raise RuntimeError(f"the Dask cluster at {scheduler} has no workers")
        bar = _Progress(len(workers), desc, "worker", progress)
        try:
            for addr in sorted(workers):
                resources = {"machine": 1} if "machine" in workers[addr].get("resources",
                                                                                {}) else None
                fut = client.submit(execute, task.fn, task.args, task.kwargs, False,
                                    workers=[addr], allow_other_workers=False,
                                    resources=resources, pure=False,
                                    key=f"vgbench-{uuid.uuid4().hex[:8]}-{addr}")
                try:
                    while not fut.done():
                        try:
                            wait(fut, timeout=2)
                        except TimeoutError:
                            if addr not in _workers(client):
                                break
                    if not fut.done():
                        _cancel(client, [fut])
                        print(f"{desc}: worker {addr} left during its run; no result from "
                              "it", file=sys.stderr)
                        continue
                    value, worker, seconds = fut.result()
                except BaseException:
                    _cancel(client, [fut])
                    raise
                out.append(TaskResult(task.key, value, worker, seconds))
                bar.update(out[-1])
                if on_result is not None:
                    on_result(len(out) - 1, out[-1])
        finally:
            bar.close()
    return out
