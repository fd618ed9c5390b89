"""Option helpers shared by the commands: one style for list options.

A list option takes its values space-separated (``--depths 4 8 16``); commas are accepted
too (``--depths 4,8,16``), so scripts written either way keep working.
"""

import argparse


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


class FloatList(IntList):
    """``nargs="+"`` floats, each token split at commas; a bad token is a usage error."""

    def __call__(self, parser, namespace, values, option_string=None):
        out = []
        for token in values:
            for item in str(token).split(","):
                if not item.strip():
                    continue
                try:
                    out.append(float(item))
                except ValueError:
                    parser.error(f"{option_string}: expected numbers, got {item!r}")
        if not out:
            parser.error(f"{option_string}: expected at least one number")
        setattr(namespace, self.dest, out)
