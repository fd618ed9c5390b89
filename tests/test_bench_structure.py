"""Structure of the asv suite (bench/asv): no class silently untimed, params consistent.

asv only runs methods named time_, timeraw_, mem_, peakmem_ and track_; a class with
none of them, a track_ without a unit or params that do not match param_names would be
dropped or mislabelled without an error.  The suite is imported as a package under its
own name (``vgbench_asv``) so it cannot shadow the installed ``asv``.
"""

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench" / "asv"
PREFIXES = ("time_", "timeraw_", "mem_", "peakmem_", "track_")
PACKAGE = "vgbench_asv"


def _suite_modules() -> list:
    spec = importlib.util.spec_from_file_location(
        PACKAGE, BENCH_DIR / "__init__.py", submodule_search_locations=[str(BENCH_DIR)])
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)
    return [importlib.import_module(f"{PACKAGE}.{m.name}")
            for m in pkgutil.iter_modules([str(BENCH_DIR)])]


MODULES = _suite_modules()
CLASSES = [(f"{mod.__name__}.{name}", cls) for mod in MODULES
           for name, cls in vars(mod).items()
           if inspect.isclass(cls) and cls.__module__ == mod.__name__
           and not name.startswith("_")]  # asv skips private names (shared set-up bases)


def _benchmarks(cls) -> dict:
    return {name: f for name, f in inspect.getmembers(cls, inspect.isfunction)
            if name.startswith(PREFIXES)}


def test_suite_has_every_kind():
    names = [name for _, cls in CLASSES for name in _benchmarks(cls)]
    for prefix in ("time_", "track_", "peakmem_"):
        assert any(n.startswith(prefix) for n in names), f"no {prefix} benchmark"
    assert any(n.startswith(("timeraw_", "track_compile")) for n in names), "no compile time"


@pytest.mark.parametrize("qualname, cls", CLASSES, ids=[q for q, _ in CLASSES])
def test_class_has_a_benchmark(qualname, cls):
    assert _benchmarks(cls), f"{qualname} has no {'/'.join(PREFIXES)} method"


@pytest.mark.parametrize("qualname, cls", CLASSES, ids=[q for q, _ in CLASSES])
def test_track_methods_have_a_unit(qualname, cls):
    for name, f in _benchmarks(cls).items():
        if name.startswith("track_"):
            unit = getattr(f, "unit", None)
            assert isinstance(unit, str) and unit, f"{qualname}.{name} has no unit"


@pytest.mark.parametrize("qualname, cls", CLASSES, ids=[q for q, _ in CLASSES])
def test_params_match_param_names(qualname, cls):
    params = getattr(cls, "params", None)
    names = getattr(cls, "param_names", None)
    if params is None:
        assert names is None, f"{qualname} has param_names but no params"
        return
    assert isinstance(params, list) and all(isinstance(p, list) and p for p in params)
    assert names is not None and len(names) == len(params), \
        f"{qualname}: {len(params)} params lists, param_names {names}"
    assert len(set(names)) == len(names), f"{qualname} repeats a param name"
    for values in params:
        assert len({repr(v) for v in values}) == len(values), f"{qualname}: {values}"
    for method in ["setup", *_benchmarks(cls)]:
        f = getattr(cls, method, None)
        if f is not None:
            args = list(inspect.signature(f).parameters)[1:]
            if getattr(cls, "setup_cache", None) is not None:
                args = args[1:]  # asv passes the setup_cache result first
            assert args == names, f"{qualname}.{method}{tuple(args)} != {names}"
