"""Option helpers shared by the commands: one style for list options.

A list option takes its values space-separated (``--depths 4 8 16``); commas are accepted
too (``--depths 4,8,16``), so scripts written either way keep working.
"""

import argparse

DENORMALS = ("keep", "flush")


class IntList(argparse.Action):
    """``nargs="+"`` integers, each token split at commas; a bad token is a usage error."""

    def __init__(self, option_strings, dest, **kwargs):
        kwargs.setdefault("nargs", "+")
        kwargs.setdefault("metavar", "N")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        out = []
        for token in values:
            for item in str(token).split(","):
                if not item.strip():
                    continue
                try:
                    out.append(int(item))
                except ValueError:
                    parser.error(f"{option_string}: expected integers, got {item!r}")
        if not out:
            parser.error(f"{option_string}: expected at least one integer")
        setattr(namespace, self.dest, out)


def add_denormals(parser) -> None:
    """``--denormals keep|flush`` (``vgbench.env.denormals``)."""
    parser.add_argument("--denormals", default="keep", choices=DENORMALS,
                        help="subnormal floats: keep (IEEE, the hardware default) or flush "
                             "(FTZ/DAZ in every compute thread); recorded in every result")


def apply_denormals(args) -> None:
    """Set the mode ``--denormals`` asks for in every thread (a note where unsupported)."""
    from vgbench.env.denormals import set_denormals

    note = set_denormals(args.denormals)["note"]
    if note:
        print(f"note: {note}")
