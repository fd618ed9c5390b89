"""The GEMM provider choice (``vgbench.kernels.gemm_choice``): shape classes, the rule
that picks a provider from measured rates, the calibration cache, the precedence of
``--gemm`` / ``VGBENCH_GEMM`` / auto, and every installed provider's products against
float64 NumPy through the kernels' own ``gemm`` (one subprocess per provider: the binding
is made at import).  Providers that are not installed are skipped."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from vgbench.cli import GEMM_CHOICES, select_gemm_from_argv
from vgbench.kernels import gemm_choice
from vgbench.kernels.gemm_choice import (
    CLASSES,
    LARGE_MNK,
    SHAPES,
    SMALL_K_MAX,
    TINY_MNK,
    choose,
    resolve,
    shape_class,
)
from vgbench.kernels.gemm_providers import NAMES, discover

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOUND = discover()


def test_shape_classes_at_their_boundaries():
    def cls(M, K, N):
        return CLASSES[shape_class(M, N, K)]

    assert cls(1, 4096, 4096) == "gemv"
    assert cls(2, 512, 512) == "tiny"            # 2^19 exactly
    assert cls(2, 513, 512) == "mid"
    assert cls(4096, SMALL_K_MAX, 4096) == "small_k"
    assert cls(4096, SMALL_K_MAX + 1, 4096) == "large"
    assert cls(512, 512, 512) == "large"          # 2^27 exactly
    assert cls(511, 512, 512) == "mid"
    assert TINY_MNK < LARGE_MNK
    for name, shapes in SHAPES.items():  # the calibration measures each class on its own
        assert {cls(*s) for s in shapes} == {name}


def test_choose_binds_one_library_per_dtype_on_a_clear_overall_win():
    table = {"tiny": {"float32": {"openblas": [40.0, 40.0], "mkl": [30.0, 34.0],
                                  "other": [44.0, 44.0]},
                      "float64": {"openblas": [20.0, 20.0], "mkl": [10.0, 10.0]}},
             "mid": {"float32": {"openblas": [100.0, 100.0], "mkl": [200.0, 210.0],
                                 "other": [110.0, 110.0]},
                     "float64": {"openblas": [50.0, 50.0], "mkl": [60.0, 60.0]}}}
    got = choose(table, margin=1.15)
    # float32: mkl gains 0.75-0.85x on tiny and 2-2.1x on mid (geometric mean ~1.3);
    # "other" gains 1.1x everywhere, short of the margin.  One library for every class.
    assert {got[c]["float32"] for c in CLASSES} == {"mkl"}
    # float64: 0.5x and 1.2x, mean 0.77: OpenBLAS stays.
    assert {got[c]["float64"] for c in CLASSES} == {"openblas"}
    assert choose(table, margin=2.5)["mid"]["float32"] == "openblas"
    # Without the default provider the fastest by mean wins.
    assert choose({"mid": {"float32": {"a": [1.0, 9.0], "b": [4.0, 4.0]}}},
                  default="openblas")["mid"]["float32"] == "b"


def test_calibration_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("VGBENCH_CACHE_DIR", str(tmp_path / "c"))
    key = gemm_choice.cache_key(FOUND)
    assert gemm_choice.load_cached(key) is None
    table = {"mid": {"float32": {"openblas": [70.5, 71.0], "mkl": [120.0, 121.5]}},
             "tiny": {"float32": {"openblas": [40.0, 40.0], "mkl": [40.0, 41.0]}}}
    gemm_choice.save_cached(key, table)
    gemm_choice.save_cached("other", {"tiny": {}})  # entries accumulate, none is lost
    assert gemm_choice.load_cached(key) == table
    assert gemm_choice.load_cached("other") == {"tiny": {}}
    doc = json.loads((tmp_path / "c" / "gemm-calibration.json").read_text())
    assert set(doc["entries"]) == {key, "other"}
    # resolve() reads it instead of measuring when more than one provider is there.
    two = {"openblas": FOUND["openblas"], "mkl": FOUND["openblas"]} if "openblas" in FOUND \
        else None
    if two is None:
        pytest.skip("NumPy does not bundle OpenBLAS")
    gemm_choice.save_cached(gemm_choice.cache_key(two), table)
    monkeypatch.setattr(gemm_choice, "calibrate", lambda *a: pytest.fail("re-measured"))
    got = resolve("auto", providers=two)
    assert got["source"] == "calibration (cached)"
    assert got["classes"]["mid"]["float32"] == got["classes"]["tiny"]["float32"] == "mkl"
    assert got["classes"]["mid"]["float64"] == "openblas"  # not measured


def test_cache_key_changes_with_the_library_build(tmp_path):
    from dataclasses import replace

    if "openblas" not in FOUND:
        pytest.skip("NumPy does not bundle OpenBLAS")
    lib = tmp_path / "libfake.so"
    lib.write_bytes(b"x")
    other = replace(FOUND["openblas"], path=str(lib))
    assert gemm_choice.cache_key(FOUND) != gemm_choice.cache_key({**FOUND, "openblas": other})


def test_resolve_precedence_and_errors(monkeypatch):
    monkeypatch.setenv("VGBENCH_GEMM", "numba")
    assert resolve()["classes"] is None                    # the environment over auto
    assert resolve("openblas")["spec"] == "openblas"       # an explicit spec over it
    select_gemm_from_argv(["speed", "--gemm", "openblas"])  # --gemm over the environment
    assert os.environ["VGBENCH_GEMM"] == "openblas"
    select_gemm_from_argv(["speed", "--gemm=numba"])
    assert os.environ["VGBENCH_GEMM"] == "numba"
    with pytest.raises(ValueError, match="valid: auto"):
        resolve("fastest")
    missing = [n for n in NAMES if n not in FOUND]
    if missing:
        with pytest.raises(ValueError, match="not installed"):
            resolve(missing[0])
    with pytest.raises(ValueError, match="cannot load"):
        resolve(os.path.abspath(__file__) + ".so")


def test_cli_choices_match_the_providers():
    assert set(GEMM_CHOICES) == {"auto", "numba", *NAMES}


def test_cli_rejects_a_bad_gemm_value(tmp_path):
    for argv, env in ((["grad", "--gemm", "fastest"], {}), (["grad"], {"VGBENCH_GEMM": "x"})):
        out = subprocess.run([sys.executable, "-m", "vgbench", *argv], capture_output=True,
                             text=True, timeout=300, cwd=ROOT, env={**os.environ, **env})
        assert out.returncode == 2, out.stderr
        assert "Traceback" not in out.stderr
        assert "fastest" in out.stderr or "'x'" in out.stderr


@pytest.mark.parametrize("name", NAMES)
def test_every_provider_matches_numpy_on_every_class_and_layout(name):
    if name not in FOUND:
        pytest.skip(f"{name} is not installed")
    code = ("from vgbench.kernels import gemm; from tests.test_gemm import _check_all; "
            f"assert gemm.BACKEND in ({name!r}, 'numpy-openblas'), gemm.BACKEND; "
            "print(_check_all(2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, cwd=ROOT, env={**os.environ, "VGBENCH_GEMM": name})
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.split()[-1]) <= 1.0


def test_calibration_measures_and_checks_results():
    if "openblas" not in FOUND:
        pytest.skip("NumPy does not bundle OpenBLAS")
    table = gemm_choice.calibrate({"openblas": FOUND["openblas"]}, rounds=1, block_s=1e-4)
    assert set(table) == set(SHAPES)
    for cls, per in table.items():
        for rates in per.values():
            assert len(rates["openblas"]) == len(SHAPES[cls])
            assert all(np.isfinite(r) and r > 0 for r in rates["openblas"])


def test_ceiling_is_the_fastest_provider():
    from vgbench.speed.ceiling import measure_ceiling

    c = measure_ceiling(gemm_n=64, copy_mib=1, budget_s=0.01)
    assert set(c["gemm_providers"]) == (set(FOUND) or {"numpy"})
    for dt in ("float32", "float64"):
        rates = {p: r[dt]["best_gflops"] for p, r in c["gemm_providers"].items()}
        assert c["gemm"][dt]["provider"] == max(rates, key=rates.get)
        assert c["gemm"][dt]["best_gflops"] == max(rates.values()) > 0
