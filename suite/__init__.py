"""vgbench harness: models, initialisers, probes, timing, theory, results, CLI."""

__version__ = "0.1.0"
