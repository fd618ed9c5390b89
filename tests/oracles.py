"""Independent autodiff oracles (PyTorch, JAX): skipped where missing, unless required.

``VGBENCH_REQUIRE_ORACLES`` names the oracles that must be present ("torch", "torch,jax";
"1" means all): ``.ci/run`` installs ``vgbench[oracle]`` and sets it, so a CI run in which
the comparisons against PyTorch would silently skip fails instead.
"""

import importlib
import importlib.util
import os

import pytest

ORACLES = ("torch", "jax")


def required() -> set[str]:
    """The oracles this run must have (from ``VGBENCH_REQUIRE_ORACLES``)."""
    names = {n.strip() for n in os.environ.get("VGBENCH_REQUIRE_ORACLES", "").split(",")}
    return set(ORACLES) if "1" in names else names & set(ORACLES)


def oracle(name: str):
    """Import oracle ``name``; skip the test where it is missing, fail where required."""
    if name in required():
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            pytest.fail(f"{name} is required here (VGBENCH_REQUIRE_ORACLES) but does not "
                        f"import: {exc}")
    return pytest.importorskip(name)


def available(name: str) -> bool:
    """Whether oracle ``name`` is installed; a required one that is not fails the test."""
    if importlib.util.find_spec(name) is not None:
        return True
    if name in required():
        pytest.fail(f"{name} is required here (VGBENCH_REQUIRE_ORACLES) but not installed")
    return False
