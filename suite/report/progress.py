"""Progress of long report sections: a tqdm bar on a terminal, one line per finished case
in a log (stderr not a terminal: CI, ``vgbench run 2> log``), nothing when switched off.
"""

import sys
import time

from tqdm import tqdm


def on_terminal() -> bool:
    """True when stderr is a terminal (bars redraw in place there; elsewhere they litter)."""
    return sys.stderr.isatty()


class CaseProgress:
    """Counts finished cases of one section: ``done(name)`` after each.

    ``enabled`` False: silent.  On a terminal a tqdm bar; otherwise a line per case on
    stderr, ``[decay 3/19] sigmoid, xavier: done (12 s)``, flushed at once.
    """

    def __init__(self, section: str, total: int, enabled: bool = True, unit: str = "case"):
        self.section, self.total, self.count = section, total, 0
        self.lines = enabled and not on_terminal()
        self.t0 = time.perf_counter()
        self.bar = tqdm(total=total, desc=section, unit=unit,
                        disable=not enabled or self.lines)

    def set_total(self, total: int) -> None:
        """The number of cases, once known (after planning)."""
        self.total = total
        self.bar.reset(total=total)

    def start(self, name: str) -> None:
        """Show which case runs now (bar only)."""
        self.bar.set_postfix_str(name)

    def done(self, name: str) -> None:
        """One more case finished."""
        self.count += 1
        self.bar.update()
        if self.lines:
            print(f"[{self.section} {self.count}/{self.total}] {name}: done "
                  f"({time.perf_counter() - self.t0:.0f} s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
