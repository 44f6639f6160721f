"""The core is `mypy --strict` clean, and the layers import each other one way only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ["hepflow/plan", "hepflow/engine", "hepflow/results", "hepflow/io", "hepflow/dataset",
        "hepflow/frame", "hepflow/rdataframe.py"]

#: package -> hepflow packages it must never import (even inside functions).
FORBIDDEN = {
    "hepflow.io": ("hepflow.dataset", "hepflow.plan.nodes", "hepflow.plan.actions",
                   "hepflow.engine",
                   "hepflow.rdataframe", "hepflow.ml", "hepflow.observe"),
    "hepflow.results": ("hepflow.plan.nodes", "hepflow.plan.actions", "hepflow.engine",
                        "hepflow.rdataframe"),
    "hepflow.plan": ("hepflow.engine", "hepflow.rdataframe", "hepflow.ml", "hepflow.observe"),
    "hepflow.dataset": ("hepflow.engine", "hepflow.rdataframe", "hepflow.plan.nodes",
                        "hepflow.plan.actions"),
    "hepflow.observe": ("hepflow.demo", "hepflow.analysis", "hepflow.cluster", "hepflow.bench"),
}


@pytest.mark.slow
def test_core_is_mypy_strict_clean(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir",
                          str(tmp_path / "cache"), *CORE], cwd=ROOT, capture_output=True,
                         text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layers_point_one_way(package: str) -> None:
    folder = ROOT / package.replace(".", "/")
    bad = sorted(f"{path.relative_to(ROOT)} imports {name}"
                 for path in folder.rglob("*.py") for name in _imports(path)
                 if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package]))
    assert not bad, "\n".join(bad)


def test_io_has_no_function_level_imports() -> None:
    """io's modules import each other at the top, in one direction (sources -> reader,
    rntuple -> failover -> handles), so no import is hidden inside a function."""
    bad = []
    for path in sorted((ROOT / "hepflow" / "io").rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}"
                        for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not bad, "\n".join(bad)

