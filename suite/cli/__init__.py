"""The ``vgbench`` command line: one module per sub-command (``COMMANDS``).

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``.  Command modules import the library inside ``run``: building the
parser imports every command module, and ``vgbench grad`` should not pay for matplotlib,
scipy.stats or the speed harness (cold start under 2 s).  ``main`` chooses the OpenBLAS
core type before anything loads numpy, and puts ``--gemm`` (every command takes it) into
``VGBENCH_GEMM`` before the kernels bind their BLAS (``vgbench.kernels.gemm_choice``).

Exit codes: 0 success; 1 a failed gate (``compare --fail-above``) or a failure during
the work (out of memory, a write that failed); 2 a user error (one line naming the value
and what is allowed, before any work); 130 on Ctrl-C and 143 on SIGTERM, after the
partial results were written and marked (``"complete": false``).

May import: every other vgbench package.
"""

import argparse
import importlib
import os
import sys

from vgbench import __version__
from vgbench.cli.guard import exit_code, signals_as_exceptions
from vgbench.env.blas import select_from_argv
from vgbench.env.provenance import mark_start

COMMANDS = ("run", "decay", "phase", "speed", "compare", "train", "memory", "grad", "info",
            "subnormal")
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
    """Show defaults, except None and False (no value to show); lists space-separated, as
    they are typed."""

    def _get_help_string(self, action) -> str:
        help_ = action.help or ""
        if action.default is None or action.default is False or help_.startswith("default: "):
            return help_
        if isinstance(action.default, (list, tuple)):
            return f"{help_} (default: {' '.join(str(v) for v in action.default)})"
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (the option, the value, what is allowed), exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _show_every_default(parser: argparse.ArgumentParser) -> None:
    """Give options without help text one that states the default: argparse prints no
    line, and so no default, for an option whose help is None."""
    for action in parser._actions:
        if (action.help is None and action.option_strings
                and all(action.default is not v for v in (None, False, argparse.SUPPRESS))):
            d = action.default
            action.help = ("default: " + " ".join(str(v) for v in d)
                           if isinstance(d, (list, tuple)) else "default: %(default)s")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every discovered sub-command."""
    parser = _Parser(
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
        _show_every_default(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vgbench`` console script."""
    select_from_argv(sys.argv[1:] if argv is None else argv)  # before numpy loads its BLAS
    mark_start(None if argv is None else ["vgbench", *argv])  # the results' provenance
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
        with signals_as_exceptions():
            return int(args._run(args) or 0)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (``Terminated``)
        print("\ninterrupted", file=sys.stderr)
        return exit_code(exc)
    except (ValueError, TypeError, RuntimeError) as exc:  # RuntimeError: e.g. no GPU
        print(f"vgbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        print(f"vgbench {args.command}: error: out of memory ({exc})", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"vgbench {args.command}: error: {exc}", file=sys.stderr)
        return 1
