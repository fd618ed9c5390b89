"""Option helpers shared by the commands: one style for list options, checked values.

A list option takes its values space-separated (``--depths 4 8 16``); commas are accepted
too (``--depths 4,8,16``), so scripts written either way keep working.

Every numeric option is checked as it is parsed (``type=`` below): a bad value is a usage
error, exit 2 with one line naming the option, the value and the allowed range, before
any work starts.
"""

import argparse
import math


def _range_text(low, high, low_open: bool, high_open: bool) -> str:
    """``>= 1``, ``> 0``, ``in [0, 1)``, or "" for no bound."""
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False, integer: bool = False):
    """An argparse ``type=``: a finite float (or an int) in the given range, else a usage
    error naming the allowed range: ``argument --lr: expected a finite number > 0, got
    'nan'``."""
    kind = "an integer" if integer else "a finite number"
    wanted = f"expected {kind} {_range_text(low, high, low_open, high_open)}".rstrip()

    def parse(text: str):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{wanted}, got {text!r}") from None
        if not math.isfinite(value) or (
                low is not None and (value < low or (low_open and value == low))) or (
                high is not None and (value > high or (high_open and value == high))):
            raise argparse.ArgumentTypeError(f"{wanted}, got {text!r}")
        return value

    return parse


positive_int = number(1, integer=True)  # sizes, counts, steps
nonneg_int = number(0, integer=True)  # seeds
finite = number()  # any finite float
nonneg = number(0)  # scales such as sigma_w, sigma_b, gain; budgets in seconds
positive = number(0, low_open=True)  # learning rates, clip thresholds
fraction = number(0, 1, high_open=True)  # momentum
factor = number(1)  # ratios such as compare's threshold

DENORMALS = ("keep", "flush")


class NumberList(argparse.Action):
    """``nargs="+"`` numbers (``convert``), each token split at commas; a bad token or a
    value below ``minimum`` (None: no bound) is a usage error."""

    convert = int
    noun = "integers"

    def __init__(self, option_strings, dest, minimum: float | None = None, **kwargs):
        kwargs.setdefault("nargs", "+")
        kwargs.setdefault("metavar", "N")
        self.minimum = minimum
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        out = []
        for token in values:
            for item in str(token).split(","):
                if not item.strip():
                    continue
                try:
                    out.append(self.convert(item))
                except ValueError:
                    parser.error(f"{option_string}: expected {self.noun}, got {item!r}")
                if self.minimum is not None and out[-1] < self.minimum:
                    parser.error(f"{option_string}: expected {self.noun} >= {self.minimum}, "
                                 f"got {item.strip()!r}")
        if not out:
            parser.error(f"{option_string}: expected at least one value")
        setattr(namespace, self.dest, out)


class IntList(NumberList):
    """Integers >= ``minimum`` (default 1: sizes)."""

    def __init__(self, option_strings, dest, minimum: int = 1, **kwargs):
        super().__init__(option_strings, dest, minimum, **kwargs)


class FloatList(NumberList):
    """Floats (no bound unless ``minimum``)."""

    convert = float
    noun = "numbers"


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
