"""The package's shape: one ``vgbench`` namespace, imports that point down, no cycle.

The import graph is read from the source (ast), so the checks cost no imports: module-level
imports must form no cycle, and every import anywhere (function-level ones too) must
respect the layers each sub-package's docstring states.  A fresh interpreter then imports
every module in dependency order, and ``import vgbench`` / ``vgbench.cli`` must not load
numpy (the BLAS core type is chosen before it loads).
"""

import ast
import configparser
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"vgbench": ROOT / "suite", "vgbench.kernels": ROOT / "kernels"}

# What each sub-package may import (besides itself), as its docstring says.
ALLOWED = {
    "kernels": set(),
    "backends": {"kernels"},
    "env": {"backends", "kernels"},
    "cluster": {"env"},
    "models": {"backends", "kernels"},
    "analysis": {"cluster", "models", "backends", "kernels"},
    "training": {"cluster", "analysis", "models", "backends", "kernels"},
    "speed": {"cluster", "env", "models", "backends", "kernels"},
    "report": {"speed", "training", "analysis", "env", "models", "backends", "kernels"},
    "cli": {"report", "speed", "training", "analysis", "cluster", "env", "models", "backends",
            "kernels"},
    "": {"env"},  # vgbench/__init__.py: kernel cache, threading layer; exports load on use
}


def _modules() -> dict[str, Path]:
    out = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def _imports(path: Path, module: str, top_level_only: bool) -> set[str]:
    """vgbench modules imported by a file (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                     for a in node.names]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] == "vgbench"}
    return {n for n in found if n in MODULES and n != module}


def _layer(module: str) -> str:
    """The sub-package a module belongs to ("" for vgbench/__init__; __main__ is the CLI)."""
    parts = module.split(".")
    if len(parts) == 1:
        return ""
    return "cli" if parts[1] == "__main__" else parts[1]


def test_module_level_imports_have_no_cycle():
    graph = {m: _imports(p, m, top_level_only=True) for m, p in MODULES.items()}
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    layer = _layer(module)
    for target in _imports(MODULES[module], module, top_level_only=False):
        other = _layer(target)
        # the root package (its version, lazy exports) is loaded by any import anyway
        assert other in (layer, "") or other in ALLOWED[layer], \
            f"{module} ({layer or 'vgbench'}) imports {target} ({other or 'vgbench'})"


def test_every_package_is_installed():
    """setup.cfg lists every folder with an __init__.py, under the right name."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    present = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert listed == present, (listed ^ present)


def test_every_module_imports_fresh_in_dependency_order():
    graph = {m: _imports(p, m, top_level_only=True) for m, p in MODULES.items()}
    order = [m for m in TopologicalSorter(graph).static_order() if not m.endswith("__main__")]
    code = ("import importlib, sys\n"
            "import vgbench, vgbench.cli\n"
            "assert 'numpy' not in sys.modules, 'vgbench or vgbench.cli loaded numpy'\n"
            f"for m in {order!r}:\n"
            "    importlib.import_module(m)\n"
            "from vgbench import MLP, RNN, LSTM\n"
            "print(len(sys.modules))\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT / "tests")
