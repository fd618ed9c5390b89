"""Where a result came from: vgbench version, git commit and dirty flag (when vgbench runs
from a checkout), the command line and the start time (UTC, ISO 8601).

The start time and command line are those of the process: ``mark_start()`` (called by the
``vgbench`` entry point before any work) fixes them; without it, the time this module was
first imported and ``sys.argv`` stand in.  Git is asked once per process; without git, or
outside a checkout, the commit and dirty flag are None.
"""

import datetime as _dt
import functools
import os
import shlex
import subprocess
import sys
from pathlib import Path

from vgbench import __version__

_START = {"time": _dt.datetime.now(_dt.timezone.utc), "argv": list(sys.argv)}


def mark_start(argv: list[str] | None = None) -> None:
    """Record now as the start time and ``argv`` (default ``sys.argv``) as the command."""
    _START["time"] = _dt.datetime.now(_dt.timezone.utc)
    _START["argv"] = list(sys.argv if argv is None else argv)


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[2]  # the checkout holding suite/ and kernels/
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                             timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


@functools.lru_cache(maxsize=1)
def git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout vgbench is imported from; (None, None) elsewhere
    (an installed wheel, no git).  Dirty = tracked files differ from the commit."""
    if _git("rev-parse", "--show-toplevel") is None:
        return None, None
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return commit, None if status is None else bool(status)


def provenance() -> dict:
    """The provenance block stored in every result and shown in the report header."""
    commit, dirty = git_state()
    return {"vgbench_version": __version__, "git_commit": commit, "git_dirty": dirty,
            "command": shlex.join([os.path.basename(a) if i == 0 else a
                                   for i, a in enumerate(_START["argv"])]),
            "started": _START["time"].strftime("%Y-%m-%dT%H:%M:%SZ")}


def provenance_line(p: dict) -> str:
    """One Markdown line: version, commit (+dirty), start time, command."""
    if p["git_commit"]:
        dirty = " (dirty: uncommitted changes)" if p["git_dirty"] else ""
        commit = f"git {p['git_commit'][:12]}{dirty}"
    else:
        commit = "not run from a git checkout"
    return (f"vgbench {p['vgbench_version']}, {commit}; started {p['started']}; "
            f"command `{p['command']}`")
