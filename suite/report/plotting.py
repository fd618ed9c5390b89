"""Shared matplotlib set-up for every PNG the suite writes (Agg backend, no display)."""

import io
from pathlib import Path

from vgbench.report.results import write_bytes_atomic


def pyplot():
    """matplotlib.pyplot on the Agg backend, imported on first use (keeps start-up fast)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically (parents created; a reader never sees
    a half-written PNG), close it, return the path."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    finally:
        pyplot().close(fig)
    return write_bytes_atomic(path, buffer.getvalue())
