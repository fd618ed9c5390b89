"""The same speed sweep on every worker's machine of a running Dask cluster, one machine at
a time (``vgbench speed --scheduler ADDRESS --each-worker``).

Each worker runs ``sweep_here``: ``sweep.run_sweep`` on its own machine (ceiling included,
its own thread counts), then takes that machine's fingerprint.  Workers run one after the
other (``vgbench.cluster.tasks.run_on_each_worker``), so no other task of this run shares
the machine with a timing; start one worker per machine, ideally with ``--resources
machine=1`` so other clients' tasks that ask for the machine wait too.
"""

from collections.abc import Callable

from vgbench.cluster.tasks import Task, TaskResult, run_on_each_worker
from vgbench.env.fingerprint import fingerprint
from vgbench.speed.sweep import run_sweep


def sweep_here(cases: list, sweep_kwargs: dict) -> dict:
    """``run_sweep(cases, **sweep_kwargs)`` on this machine: {"machine", "data"}."""
    data = run_sweep(cases, progress=False, **sweep_kwargs)
    return {"machine": fingerprint(), "data": data}


def sweep_each_worker(cases, scheduler: str, progress: bool = True,
                      on_machine: Callable[[dict], None] | None = None,
                      **sweep_kwargs) -> list[dict]:
    """Run the sweep on every worker in turn; one {"worker", "machine", "data", "seconds"}
    per worker, in worker-address order.  ``on_machine(run)`` sees each as it finishes
    (to write its file at once)."""
    runs = []

    def gathered(_: int, r: TaskResult) -> None:
        runs.append({"worker": r.worker, "machine": r.value["machine"],
                     "data": r.value["data"], "seconds": r.seconds})
        if on_machine is not None:
            on_machine(runs[-1])

    run_on_each_worker(Task("speed sweep", sweep_here, (list(cases), sweep_kwargs)),
                       scheduler, progress, on_result=gathered, desc="speed")
    return runs
