"""Shared fixtures of the pytest-benchmark micro-benchmarks (run: pytest bench/micro)."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed: every run times the same inputs."""
    return np.random.default_rng(0)
