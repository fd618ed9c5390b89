"""The ``vgbench`` command line: one module per sub-command (``COMMANDS``).

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``.  Command modules import the library inside ``run``: building the
parser imports every command module, and ``vgbench grad`` should not pay for matplotlib,
scipy.stats or the speed harness (cold start under 2 s).  ``main`` chooses the OpenBLAS
core type before anything loads numpy, and puts ``--gemm`` (every command takes it) into
``VGBENCH_GEMM`` before the kernels bind their BLAS (``vgbench.kernels.gemm_choice``).

May import: every other vgbench package.
"""

import argparse
import importlib
import os
import sys

from vgbench import __version__
from vgbench.env.blas import select_from_argv

COMMANDS = ("run", "decay", "speed", "compare", "train", "memory", "grad", "info")
# vgbench.kernels.gemm_providers.NAMES plus auto and numba (kept here: building the parser
# must not import numpy; tests/test_gemm_choice.py checks they agree).
GEMM_CHOICES = ("auto", "openblas", "scipy-openblas64", "scipy-openblas32", "mkl", "numba")


def gemm_spec(value: str) -> str:
    """An argparse type: a ``--gemm`` choice or the path of an existing library."""
    if value.lower() in GEMM_CHOICES or os.path.isfile(value):
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is neither one of {', '.join(GEMM_CHOICES)} "
                                     "nor a library file")


def select_gemm_from_argv(argv: list[str]) -> None:
    """Put ``--gemm X`` into ``VGBENCH_GEMM`` (the command line overrides the environment)
    before anything imports the kernels.  A bad value is left for argparse to report."""
    for i, arg in enumerate(argv):
        value = (argv[i + 1] if arg == "--gemm" and i + 1 < len(argv)
                 else arg.partition("=")[2] if arg.startswith("--gemm=") else None)
        if value is not None:
            try:
                os.environ["VGBENCH_GEMM"] = gemm_spec(value)
            except argparse.ArgumentTypeError:
                pass


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except None and False (no value to show)."""

    def _get_help_string(self, action) -> str:
        if action.default is None or action.default is False:
            return action.help or ""
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every discovered sub-command."""
    parser = argparse.ArgumentParser(
        prog="vgbench",
        description="Benchmark suite for vanishing/exploding gradients: speed and decay.")
    parser.add_argument("--version", action="version", version=f"vgbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"vgbench.cli.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP,
                           formatter_class=_DefaultsFormatter)
        module.add_arguments(p)
        p.add_argument("--gemm", type=gemm_spec, default=argparse.SUPPRESS,
                       help="BLAS for the kernels' matrix products: auto (default: measured "
                            "per shape class, `vgbench info` shows it), openblas, "
                            "scipy-openblas64, scipy-openblas32, mkl, numba, or a library "
                            "path; overrides VGBENCH_GEMM")
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vgbench`` console script."""
    select_from_argv(sys.argv[1:] if argv is None else argv)  # before numpy loads its BLAS
    select_gemm_from_argv(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()  # some commands' options import the kernels, hence the BLAS
    except ValueError as exc:  # e.g. VGBENCH_GEMM names a provider not installed
        print(f"vgbench: error: {exc}", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, message printed)
        return int(exc.code or 0)
    if not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError) as exc:  # RuntimeError: e.g. no GPU
        print(f"vgbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
