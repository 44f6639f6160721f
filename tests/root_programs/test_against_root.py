"""The differential suite: ROOT's tutorials and distributed-RDataFrame checks, run by hepflow.

Every program of `registry.all_programs()` runs with hepflow in this process
(`client="sync"`) and on the session's 2-worker LocalCluster, and its results
must equal ROOT 6.40's, stored in `references.json` by
`scripts/root_programs_references.py` (exact for integers and strings, 1e-9
relative for floats, so one event in another bin is a failure).

A program that fails because of a known defect is a strict xfail naming the
defect: when the fix lands it passes, the strict xfail fails, and the mark goes.
With HEPFLOW_ROOT_SNAPSHOTS=DIR the in-process runs leave the files hepflow's
Snapshot wrote in DIR/<program>/, for the reference script's `--check-snapshots DIR`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.root_programs.adaptor_hepflow import HepflowAdaptor
from tests.root_programs.compare import differences
from tests.root_programs.known import KNOWN
from tests.root_programs.registry import DATA, REALDATA, REFERENCES, Inputs, all_programs

PROGRAMS = all_programs()
REFS: dict[str, Any] = json.loads(REFERENCES.read_text())


def _params(mode: str) -> list[Any]:
    params = []
    for name in PROGRAMS:
        marks = []
        if name in KNOWN.get(mode, {}) or name in KNOWN["both"]:
            reason = KNOWN.get(mode, {}).get(name) or KNOWN["both"][name]
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        if mode == "cluster":
            marks.append(pytest.mark.cluster)
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def test_every_program_has_a_reference() -> None:
    assert sorted(REFS["programs"]) == sorted(PROGRAMS), \
        "rerun scripts/root_programs_references.py after adding or renaming a program"
    assert len(PROGRAMS) >= 35
    for name, prog in PROGRAMS.items():
        assert REFS["programs"][name]["ports"] == prog.ports


def _run(name: str, client: Any, out: Path) -> None:
    got = PROGRAMS[name].run(HepflowAdaptor(client), Inputs(DATA, REALDATA, out / name))
    want = REFS["programs"][name]["result"]
    from tests.root_programs.plain import plain

    diffs = differences(want, plain(got))
    assert not diffs, f"{name} differs from ROOT {REFS['root_version']}:\n  " + \
        "\n  ".join(diffs[:15])


@pytest.mark.parametrize("name", _params("sync"))
def test_in_process_equals_root(name: str, tmp_path: Path) -> None:
    keep = os.environ.get("HEPFLOW_ROOT_SNAPSHOTS")
    _run(name, "sync", Path(keep) if keep else tmp_path)


@pytest.mark.parametrize("name", _params("cluster"))
def test_on_local_cluster_equals_root(name: str, client: Any, tmp_path: Path) -> None:
    _run(name, client, tmp_path)
