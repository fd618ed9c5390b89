"""Numba's threading layer (vgbench.env.numba_layer): "workqueue" unless the user chose one,
whether numba loads before or after vgbench; each case in a fresh interpreter, because
Numba starts its pool once per process."""

import os
import subprocess
import sys

import pytest

LAYER_AFTER_POOL_STARTS = (
    "from vgbench.env.threading_probe import touch_parallel; import numba; "
    "touch_parallel(); print(numba.threading_layer())"
)


def _layer(prelude: str, env_layer: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    if env_layer is not None:
        env["NUMBA_THREADING_LAYER"] = env_layer
    out = subprocess.run([sys.executable, "-c", prelude + LAYER_AFTER_POOL_STARTS], env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.split()[-1]


@pytest.mark.parametrize("prelude", ["import vgbench; ", "import numba; import vgbench; "],
                         ids=["vgbench-first", "numba-first"])
def test_workqueue_unless_chosen(prelude):
    assert _layer(prelude, None) == "workqueue"
    assert _layer(prelude, "default") == "workqueue"


def test_user_choice_is_kept():
    assert _layer("import vgbench; ", "omp") == "omp"
