"""The ``--scheduler`` option of the sweeps that run as tasks (``vgbench.cluster``).

No flag: in this process.  ``local``: a Dask LocalCluster, one single-threaded worker per
core.  ``tcp://host:port``: a running Dask cluster.  A bad value, or Dask not installed,
is a usage error (exit 2) before any work.
"""

import argparse


def scheduler_value(value: str) -> str:
    """argparse ``type`` of ``--scheduler``: the value, checked (imports the library only
    when the option is given)."""
    from vgbench.cluster.tasks import DASK_MISSING, check_scheduler, dask_available

    try:
        check_scheduler(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not dask_available():
        raise argparse.ArgumentTypeError(DASK_MISSING)
    return value


def add_scheduler_argument(parser) -> None:
    """Add ``--scheduler local|ADDRESS`` to a command's parser."""
    parser.add_argument("--scheduler", default=None, type=scheduler_value,
                        metavar="local|ADDRESS",
                        help="run the sweep's tasks on Dask: 'local' (one single-threaded "
                             "worker per core) or a running scheduler, e.g. "
                             "tcp://host:8786 (needs vgbench[dask]); default: this process")
