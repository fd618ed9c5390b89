"""Where independent tasks run: in this process, on a Dask LocalCluster, or on a running
Dask cluster (``tasks``: ``Task``, ``run_tasks``, ``run_on_each_worker``; ``workers``: the
worker-side wrapper, thread pinning and provenance).

Dask (``pip install vgbench[dask]``) is imported only when a scheduler is asked for, and
nothing here imports numpy at module level.

May import: ``vgbench.env`` (the machine fingerprint each record's worker hash comes from).
"""
