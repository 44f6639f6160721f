"""A branch missing in some files is an error only for entries that reach its use (issue 21,
item 10), as in ROOT: entries a FilterMissing/FilterAvailable above already dropped never
need it. ROOT's answers: scripts/root_refs_missing.py → tests/data/root_missing_refs.json.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hepflow
from hepflow.errors import EvaluationError

DATA = Path(__file__).parent / "data"
REFS = json.loads((DATA / "root_missing_refs.json").read_text())


def _programs() -> Any:
    path = Path(__file__).parent.parent / "scripts" / "root_refs_missing.py"
    spec = importlib.util.spec_from_file_location("root_refs_missing", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ROOT", type(sys)("ROOT"))  # the script imports ROOT; never used
    spec.loader.exec_module(module)
    return module


P = _programs()


def _run(df: Any, steps: list[tuple[str, Any]], column: str) -> list[int]:
    for method, arg in steps:
        df = getattr(df, method)(*arg) if isinstance(arg, tuple) else getattr(df, method)(arg)
    return [int(v) for v in np.asarray(df.Take(column).GetValue())]


@pytest.mark.parametrize(("key", "steps", "column"), P.PROGRAMS, ids=[p[0] for p in P.PROGRAMS])
def test_guarded_missing_branch_equals_root(key: str, steps: list[tuple[str, Any]],
                                            column: str) -> None:
    df = hepflow.RDataFrame("Events", P.files(), client="sync", chunk_entries=2)
    assert _run(df, steps, column) == REFS[key]


@pytest.mark.cluster
def test_guarded_missing_branch_on_cluster(client: Any) -> None:
    key, steps, column = P.PROGRAMS[1]
    df = hepflow.RDataFrame("Events", P.files(), client=client)
    assert _run(df, steps, column) == REFS[key]


def test_unguarded_missing_branch_is_an_error_naming_the_file() -> None:
    df = hepflow.RDataFrame("Events", P.files(), client="sync")
    with pytest.raises(EvaluationError, match=r"branch `x` is missing.*missing_y\.root"):
        df.Take("x").GetValue()
    with pytest.raises(EvaluationError, match="branch `x` is missing"):
        df.Filter("x >= 0").Take("x").GetValue()   # entries of the file without x reach it
