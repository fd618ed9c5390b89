"""``vgbench`` command line: one sub-command per module in ``suite/commands``.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; heavy imports stay inside ``run`` so start-up is fast.
"""

import argparse
import importlib
import pkgutil
import sys

import suite.commands


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except None and False (no value to show)."""

    def _get_help_string(self, action) -> str:
        if action.default is None or action.default is False:
            return action.help or ""
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every discovered sub-command."""
    from suite import __version__

    parser = argparse.ArgumentParser(
        prog="vgbench",
        description="Benchmark suite for vanishing/exploding gradients: speed and decay.")
    parser.add_argument("--version", action="version", version=f"vgbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(suite.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"suite.commands.{info.name}")
        p = sub.add_parser(info.name, help=module.HELP, description=module.HELP,
                           formatter_class=_DefaultsFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vgbench`` console script."""
    from suite.blas import select_from_argv

    select_from_argv(sys.argv[1:] if argv is None else argv)  # before numpy loads its BLAS
    parser = build_parser()
    args = parser.parse_args(argv)
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
