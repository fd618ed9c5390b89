"""What every command shares to fail cleanly: output checks before work, signals as exceptions.

* ``check_output_path(path, kind)``: refuse, before any work, an ``--out`` that cannot be
  written (a file where a folder is wanted or the other way round, a path under a
  regular file, a read-only folder).  Raises ``OutputPathError`` (a ``ValueError``:
  ``vgbench.cli.main`` answers it with exit 2 and one line).
* ``signals_as_exceptions()``: SIGTERM raises ``Terminated``, a ``KeyboardInterrupt``, so
  every path that keeps partial results on Ctrl-C (``except KeyboardInterrupt``,
  ``try/finally``, context managers that kill child processes and remove temporary
  folders) runs for SIGTERM too.  ``main`` then exits 130 (SIGINT) or 143 (SIGTERM).
* ``save_or_rescue(write, path)``: a result that cannot be written where asked is
  written to the temporary folder instead, and the message says where.

May import: nothing from vgbench (the commands call it before loading the library).
"""

import contextlib
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


class Terminated(KeyboardInterrupt):
    """SIGTERM, delivered as an exception like Ctrl-C's ``KeyboardInterrupt``."""


class OutputPathError(ValueError):
    """An output path that cannot be written."""


_received = []  # SIGTERM once our handler has seen it (Ctrl-C needs no record)


def _raise_terminated(signum, frame):
    _received.append(signum)
    raise Terminated()


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """Within the block SIGTERM raises ``Terminated`` (main thread only; the previous
    handler comes back afterwards)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    _received.clear()
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (SIGINT), 143 for SIGTERM: 128 + the signal number, as shells do.

    SIGTERM counts once received, even when a library call swallowed the ``Terminated``
    (``vgbench.training.train.train`` returns its steps so far) and a plain
    ``KeyboardInterrupt`` was raised again after the partial results were saved."""
    if _received or isinstance(exc, Terminated):
        return 128 + signal.SIGTERM
    return 128 + signal.SIGINT


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (or is a dangling link)."""
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def check_output_path(path, kind: str, option: str = "--out") -> Path:
    """Return ``path`` if a ``kind`` ("file" or "dir") can be written there; else raise
    ``OutputPathError`` naming ``option``.  Creates nothing."""
    if kind not in ("file", "dir"):
        raise ValueError(f"kind must be 'file' or 'dir', got {kind!r}")
    path = Path(path)
    if str(path) == "":
        raise OutputPathError(f"{option}: empty path")
    existing = _first_existing(path)
    if existing == Path(os.path.abspath(path)):
        if kind == "file" and existing.is_dir():
            raise OutputPathError(f"{option} {path}: is a folder, expected a file name")
        if kind == "dir" and not existing.is_dir():
            raise OutputPathError(f"{option} {path}: exists and is not a folder")
        folder = existing if kind == "dir" else existing.parent
    else:
        if not existing.is_dir():
            raise OutputPathError(f"{option} {path}: {existing} is a file, not a folder")
        folder = existing
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {path}: folder {folder} is not writable")
    return path


def save_or_rescue(write: Callable[[Path], Path], path) -> Path:
    """``write(path)``; if that fails with an OSError, ``write`` into a new file in the
    temporary folder instead, print where to stderr, and return that path."""
    path = Path(path)
    try:
        return write(path)
    except OSError as exc:
        fd, rescue = tempfile.mkstemp(prefix=f"vgbench-{path.stem}-", suffix=path.suffix)
        os.close(fd)
        written = write(Path(rescue))
        print(f"vgbench: could not write {path} ({exc.strerror or exc}); "
              f"the results are in {written}", file=sys.stderr)
        return written
