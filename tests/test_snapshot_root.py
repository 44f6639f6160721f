"""Snapshot writes files ROOT reads back unchanged (issue 21, item 9).

`scripts/snapshot_cases.py` holds the programs; ROOT 6.40 read the files
they write (scripts/root_check_snapshots.py) and its reading is recorded in
tests/data/root_snapshot_check.json. Here hepflow writes them again and must
read back exactly what ROOT read, and show the columns ROOT's own Snapshot
shows.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

CHECK = json.loads((Path(__file__).parent / "data" / "root_snapshot_check.json").read_text())


def _cases() -> Any:
    path = Path(__file__).parent.parent / "scripts" / "snapshot_cases.py"
    spec = importlib.util.spec_from_file_location("snapshot_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


C = _cases()


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out: dict[str, Any] = C.write_hepflow(tmp_path_factory.mktemp("snapshots"))
    return out


@pytest.mark.parametrize("key", [*C.CASES, C.ARRAY_CASE])
def test_root_reads_what_hepflow_reads(key: str, written: dict[str, Any]) -> None:
    root = CHECK["cases"][key]
    assert root["equal_to_hepflow"]
    for column, values in root["values"].items():
        mine = written[key]["values"][column]
        assert len(mine) == len(values)
        for got, want in zip(mine, values, strict=True):
            assert got == pytest.approx(want, rel=1e-6), (column, got, want)


@pytest.mark.parametrize("key", list(C.CASES))
def test_visible_columns_are_roots(key: str, written: dict[str, Any]) -> None:
    assert sorted(written[key]["columns"]) == CHECK["cases"][key]["root_own_snapshot_columns"]


def test_root_lists_the_columns_of_its_own_snapshot() -> None:
    """ROOT reading hepflow's file lists exactly the columns of ROOT's own Snapshot:
    the counters of lone collections carry ROOT's hidden `R_rdf_sizeof_` prefix."""
    for key in C.CASES:
        case = CHECK["cases"][key]
        assert sorted(case["columns"]) == sorted(case["root_own_snapshot_columns"]), key
