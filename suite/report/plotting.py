"""Shared matplotlib set-up for every PNG the suite writes (Agg backend, no display)."""

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend, imported on first use (keeps start-up fast)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (parents created), close it, return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return path
