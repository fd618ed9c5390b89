"""The structure a result document must have before anything reads it.

``envelope_problem`` and ``data_problem`` say what is wrong with a parsed result file
as one line (None when nothing is): the envelope (``format``, ``schema_version`` an int
in 1..SCHEMA_VERSION, ``kind`` a string, ``machine``, ``config`` and ``data`` objects)
and, for ``speed`` results, what comparisons and plots read (every record's key fields,
a non-empty list of ``samples_ns``, ``median_s``; the ceiling's GEMM rates).
``complete``, when present, is a bool (False: an interrupted run's partial file).
``vgbench.report.results.read_result`` raises ``ResultFileError`` with it.
"""

import numbers

SPEED_RECORD = {"label": str, "in_dim": int, "out_dim": int, "threads": int, "impl": str,
                "pass": str, "median_s": numbers.Real}


def _is(value, kind) -> bool:
    """isinstance without bool passing for a number."""
    return isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)


def _version_problem(version, newest: int) -> str | None:
    if not _is(version, int):
        return f"schema_version {version!r} is not an integer version"
    if version < 1:
        return f"schema_version {version} is not a valid version (1..{newest})"
    if version > newest:
        return (f"schema_version {version} is newer than this vgbench reads ({newest}); "
                "upgrade vgbench")
    return None


def _speed_problem(data: dict) -> str | None:
    records = data.get("records")
    if not isinstance(records, list):
        return "speed data has no 'records' list"
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            return f"speed record {i} is not an object"
        for key, kind in SPEED_RECORD.items():
            if not _is(r.get(key), kind):
                return f"speed record {i} has no valid {key!r} ({r.get(key)!r})"
        samples = r.get("samples_ns")
        if not isinstance(samples, list) or not samples or not all(
                _is(s, numbers.Real) for s in samples):
            return f"speed record {i} ({r['label']}) has no 'samples_ns' list of numbers"
    ceiling = data.get("ceiling", {})
    if not isinstance(ceiling, dict):
        return "speed data 'ceiling' is not an object"
    for threads, entry in ceiling.items():
        gemm = entry.get("gemm") if isinstance(entry, dict) else None
        if not isinstance(gemm, dict) or not all(
                isinstance(g, dict) and _is(g.get("best_gflops"), numbers.Real)
                for g in gemm.values()):
            return f"speed ceiling for {threads} thread(s) has no GEMM best_gflops"
    return None


def envelope_problem(doc, fmt: str, newest: int) -> str | None:
    """What is wrong with ``doc``'s envelope (format, version, kind, parts), or None."""
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        return "not a vgbench result file"
    version = _version_problem(doc.get("schema_version"), newest)
    if version:
        return version
    if not _is(doc.get("kind"), str):
        return "no 'kind' string"
    for part in ("machine", "config", "data"):
        if not isinstance(doc.get(part), dict):
            return f"'{part}' is missing or not an object ({doc.get(part)!r})"
    return None


def data_problem(kind: str, data: dict) -> str | None:
    """What is wrong with the ``data`` of a ``kind`` result, or None."""
    if "complete" in data and not _is(data["complete"], bool):
        return f"'complete' is not true/false ({data['complete']!r})"
    if kind == "speed":
        return _speed_problem(data)
    return None
