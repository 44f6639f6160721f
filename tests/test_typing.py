"""The core is `mypy --strict` clean, and the layers import each other one way only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ["hepflow/plan", "hepflow/engine", "hepflow/results", "hepflow/io", "hepflow/dataset",
        "hepflow/frame", "hepflow/rdataframe.py", "hepflow/core"]

#: hepflow's layers, lowest first: a module may import (at the top, inside a
#: function or for type checking alike) only from its own layer and the layers
#: listed before it. A layer is a top-level package or module of hepflow;
#: "hepflow" is the package's own `__init__` (the public names).
LAYERS = (
    "util", "errors", "version", "logs", "config_loader", "errorreport",
    "core", "io", "options", "dataset", "results", "observe", "plan", "engine",
    "ml", "serve", "frame", "rdataframe", "hepflow", "analysis", "cluster",
    "samples", "demo", "bench", "testing", "cli", "__main__",
)
RANK = {name: rank for rank, name in enumerate(LAYERS)}
PACKAGE = ROOT / "hepflow"

@pytest.mark.slow
def test_core_is_mypy_strict_clean(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir",
                          str(tmp_path / "cache"), *CORE], cwd=ROOT, capture_output=True,
                         text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def _layer(module: str) -> str:
    """The layer of a dotted module name inside hepflow ("hepflow" for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "hepflow"


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every hepflow module `path` imports, anywhere in the file (relative ones resolved)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            here = _module(path).split(".")
            base = ".".join(here[:len(here) - node.level + (path.name == "__init__.py")])
            names.add(f"{base}.{node.module}" if node.module else base)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return {n for n in names if n == "hepflow" or n.startswith("hepflow.")}


def test_every_package_has_a_layer() -> None:
    """A new top-level package or module must be placed in the order before it is used."""
    found = {"hepflow" if p.name == "__init__.py" else p.stem if p.suffix == ".py" else p.name
             for p in PACKAGE.iterdir()
             if (p.suffix == ".py") or (p.is_dir() and (p / "__init__.py").exists())}
    assert found <= set(RANK), f"not in LAYERS: {sorted(found - set(RANK))}"


def test_layers_are_one_total_order() -> None:
    """Each module imports only from its own layer and the layers below it, no exceptions."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _layer(_module(path))
        bad += [f"{path.relative_to(ROOT)} ({own}) imports {name} ({_layer(name)})"
                for name in sorted(_imports(path)) if RANK[_layer(name)] > RANK[own]]
    assert not bad, "\n".join(bad)


def test_the_order_check_sees_upward_imports(tmp_path: Path) -> None:
    """The check itself: an import inside a function, or only for type checking, counts."""
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                     "    from hepflow.rdataframe import RDataFrame\n"
                     "def f():\n    import hepflow.cli\n")
    assert _imports(probe) == {"hepflow.rdataframe", "hepflow.cli"}


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

