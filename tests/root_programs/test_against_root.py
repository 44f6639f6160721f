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
from tests.root_programs.plain import plain
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


_ROOT_TYPES = {"Bool_t": "bool", "Char_t": "int8", "UChar_t": "uint8", "Short_t": "int16",
               "UShort_t": "uint16", "Int_t": "int32", "UInt_t": "uint32", "Long64_t": "int64",
               "ULong64_t": "uint64", "Float_t": "float32", "Double_t": "float64",
               "bool": "bool", "char": "int8", "unsigned char": "uint8", "short": "int16",
               "unsigned short": "uint16", "int": "int32", "unsigned int": "uint32",
               "float": "float32", "double": "float64", "int8_t": "int8", "uint8_t": "uint8",
               "int16_t": "int16", "uint16_t": "uint16", "int32_t": "int32",
               "uint32_t": "uint32", "int64_t": "int64", "uint64_t": "uint64"}


def _canonical(spelled: str) -> str:
    """A branch type as ROOT's GetColumnType or uproot's typename spell it, in one spelling."""
    text = spelled.strip()
    if text.endswith("[]"):
        return _canonical(text[:-2]) + "[]"
    if "<" in text and text.endswith(">"):
        return _canonical(text[text.index("<") + 1:-1]) + "[]"
    return _ROOT_TYPES.get(text, text)


SNAPSHOTS: dict[str, Any] = REFS["snapshots"]


def _snapshot_params() -> list[Any]:
    params = []
    for key in sorted(SNAPSHOTS):
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN["snapshots"][key])] \
            if key in KNOWN["snapshots"] else []
        params.append(pytest.param(key, marks=marks, id=key))
    return params


@pytest.mark.parametrize("key", _snapshot_params())
def test_snapshot_file_equals_roots(key: str, tmp_path: Path) -> None:
    """The file hepflow's Snapshot writes holds ROOT's columns, types and values.

    The reference is ROOT's own reading of ROOT's Snapshot of the same program; the
    reference script's `--check-snapshots` makes ROOT itself read hepflow's files.
    """
    import awkward as ak
    import uproot

    from hepflow.io.snapshot import SIZEOF_PREFIX

    name, filename = key.split("/", 1)
    PROGRAMS[name].run(HepflowAdaptor("sync"), Inputs(DATA, REALDATA, tmp_path / name))
    want = SNAPSHOTS[key]
    with uproot.open(tmp_path / name / filename) as f:
        for tree, ref in want.items():
            t = f[tree]
            # The counter of a lone collection is a branch ROOT's RDataFrame hides
            # (its `R_rdf_sizeof_` prefix; README, deliberate differences).
            names = sorted(k for k in t.keys() if not k.startswith(SIZEOF_PREFIX))
            assert names == ref["columns"], f"{tree}: columns differ from ROOT's file"
            types = {b: _canonical(t[b].typename) for b in names}
            assert types == {c: _canonical(v) for c, v in ref["types"].items()}
            values = {c: ak.to_list(t[c].array()) for c in names}
            diffs = differences(ref["values"], values)
            assert not diffs, "\n".join(diffs[:10])
