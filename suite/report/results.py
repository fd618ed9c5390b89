"""Results are data: versioned JSON with the machine fingerprint, written atomically.

Every file is one JSON object::

    {"format": "vgbench-result", "schema_version": 1, "kind": "decay" | "speed" | ...,
     "created": ISO-8601 UTC, "vgbench_version": ..., "provenance": {...},
     "machine": {...fingerprint...},
     "config": {...}, "data": {...}}

``provenance`` (``vgbench.env.provenance``): vgbench version, git commit and dirty flag
(None outside a checkout), the command line and the process's start time (UTC).

Readers accept any schema_version in 1..SCHEMA_VERSION (a later schema upgrades older
documents as it reads them) and refuse newer, foreign or malformed files (structure in
``vgbench.report.schema``) with a clear one-line ``ResultFileError``.  ``data.complete``
false marks the partial file of an interrupted run.
Arrays are stored as lists; NaN and Inf as the strings "nan", "inf", "-inf" so the file
stays strict JSON.
"""

import datetime as _dt
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from vgbench import __version__
from vgbench.env.fingerprint import fingerprint
from vgbench.env.provenance import provenance
from vgbench.report import schema

FORMAT = "vgbench-result"
SCHEMA_VERSION = 1


class ResultFileError(ValueError):
    """A result file that is truncated, foreign, or from a newer vgbench."""


def _encode(obj):
    """Make ``obj`` strict-JSON: numpy to Python, non-finite floats to strings."""
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _encode(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        if math.isfinite(f):
            return f
        return "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")
    return obj


_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _decode(obj):
    """Inverse of the non-finite encoding."""
    if isinstance(obj, dict):
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    if isinstance(obj, str) and obj in _NONFINITE:
        return _NONFINITE[obj]
    return obj


def make_result(kind: str, config: dict, data: dict, machine: dict | None = None) -> dict:
    """Assemble a result document (fingerprint taken now unless ``machine`` is given)."""
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "vgbench_version": __version__,
        "provenance": provenance(),
        "machine": fingerprint() if machine is None else machine,
        "config": config,
        "data": data,
    }


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike, content: bytes) -> Path:
    """Write ``content`` to ``path`` atomically (temp file in the same dir, fsync, rename):
    a reader sees the old file or the new one, never a torn one.  The file gets the mode
    a plain ``open`` would give it (0666 less the umask), not mkstemp's 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (``write_bytes_atomic``)."""
    return write_bytes_atomic(path, text.encode())


def write_json_atomic(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as strict JSON to ``path`` atomically (``write_text_atomic``)."""
    return write_text_atomic(path, json.dumps(_encode(obj), indent=1, allow_nan=False) + "\n")


def write_result(path: str | os.PathLike, kind: str, config: dict, data: dict,
                 machine: dict | None = None) -> Path:
    """Build a result document and write it atomically; return the path."""
    return write_json_atomic(path, make_result(kind, config, data, machine))


def read_result(path: str | os.PathLike, kind: str | None = None) -> dict:
    """Read a result file, checking format, version, structure (``vgbench.report.schema``)
    and (optionally) kind; any problem is a one-line ``ResultFileError``."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except UnicodeDecodeError as exc:
        raise ResultFileError(f"{path}: not a vgbench result file (not text)") from exc
    except json.JSONDecodeError as exc:
        raise ResultFileError(f"{path}: not valid JSON (truncated?): {exc}") from exc
    doc = _decode(doc)
    wrong = schema.envelope_problem(doc, FORMAT, SCHEMA_VERSION)
    if not wrong and kind is not None and doc["kind"] != kind:
        wrong = f"a {doc['kind']!r} result, expected {kind!r}"
    wrong = wrong or schema.data_problem(doc["kind"], doc["data"])
    if wrong:
        raise ResultFileError(f"{path}: {wrong}")
    return doc
