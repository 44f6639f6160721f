"""Findings of the differential suite against ROOT 6.40, checked against its own answers.

The references (tests/data/root_findings_refs.json) come from
scripts/root_findings_refs.py, run once with ROOT: the statistics actions over no
entries (Min/Max are `numeric_limits<double>::max()`/`lowest()`, every result a
double), `GetColumnType`'s spelling of branches, RNTuple fields and Defines,
and the leaf type of the counter a NanoAOD collection's Snapshot writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import uproot

import hepflow

HERE = Path(__file__).resolve().parent
REALDATA = HERE.parents[1] / "shared" / "realdata"
NANO = HERE / "root_programs" / "data" / "nano_1.root"
REFS: dict[str, Any] = json.loads((HERE / "data" / "root_findings_refs.json").read_text())

SOURCES = {"ttree_every_leaf": ("sample", REALDATA / "uproot-sample-6.20.04-uncompressed.root"),
           "ttree_nano": ("Events", NANO),
           "rntuple_dimuon": ("Events", REALDATA /
                              "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"),
           "rntuple_stl": ("ntuple", REALDATA / "test_stl_containers_rntuple_v1-0-0-0.root")}

#: Columns whose *type* (not spelling) hepflow does not know as ROOT does: strings and
#: other non-numeric fields, and the RNTuple's `nMuon` projection that hepflow reads as
#: a 64-bit size (ROOT: std::uint32_t); outside GetColumnType's spelling. Tuple and
#: pair members hepflow names `x.0` where ROOT names them `x._0`; a vector of vectors,
#: which hepflow does not type (`object`).
NOT_SPELLING = {("rntuple_dimuon", "nMuon"), ("ttree_every_leaf", "str"),
                ("rntuple_stl", "vector_vector_int32"),
                *(("rntuple_stl", f"{t}._0") for t in ("pair_int32_string", "tuple_int32_string",
                                                       "vector_tuple_int32_string"))}


@pytest.mark.parametrize("case", ["empty", "ten"])
def test_statistics_are_roots_doubles(case: str) -> None:
    df = hepflow.RDataFrame(10, client="sync")
    for name, expr in REFS["stat_columns"].items():
        df = df.Define(name, expr)
    df = df.Filter("d > 100" if case == "empty" else "d < 100")
    want = REFS["stats"][case]
    results = {key: getattr(df, key.split("(")[0])(key.split("(")[1][:-1]) for key in want}
    for key, ref in want.items():
        got = results[key].GetValue()
        assert type(got).__name__ == ref["type"] == "float", key
        assert got == pytest.approx(ref["value"], rel=1e-12), key


def test_min_and_max_of_no_entries_are_the_double_limits() -> None:
    df = hepflow.RDataFrame(4, client="sync").Define("i", "(int)rdfentry_").Filter("i > 9")
    assert df.Min("i").GetValue() == REFS["stats"]["empty"]["Min(i)"]["value"] \
        == 1.7976931348623157e+308
    assert df.Max("i").GetValue() == -1.7976931348623157e+308


def _comparable(label: str, name: str, spelled: str) -> bool:
    return (label, name) not in NOT_SPELLING and "std::string" not in spelled \
        and "std::pair" not in spelled and "std::tuple" not in spelled \
        and "std::variant" not in spelled


@pytest.mark.parametrize("label", sorted(SOURCES))
def test_column_types_of_sources_are_spelled_as_roots(label: str) -> None:
    tree, path = SOURCES[label]
    df = hepflow.RDataFrame(tree, str(path), client="sync")
    want = {n: t for n, t in REFS["column_types"][label].items() if _comparable(label, n, t)}
    assert want
    got = {name: df.GetColumnType(name) for name in want}
    assert got == want


def test_column_types_of_defines_are_spelled_as_roots() -> None:
    df = hepflow.RDataFrame("Events", str(NANO), client="sync")
    for name, expr in REFS["defines"].items():
        df = df.Define(name, expr)
    got = {name: df.GetColumnType(name) for name in REFS["defines"]}
    assert got == REFS["column_types"]["defines"]


def test_alias_is_spelled_as_its_target() -> None:
    df = hepflow.RDataFrame("Events", str(NANO), client="sync").Alias("nm", "nMuon")
    assert df.GetColumnType("nm") == REFS["column_types"]["ttree_nano"]["nMuon"] == "UInt_t"


def test_snapshot_keeps_the_input_counters_leaf_type(tmp_path: Path) -> None:
    want = REFS["snapshot_branch_titles"]
    out = tmp_path / "snap.root"
    hepflow.RDataFrame("Events", str(NANO), client="sync").Snapshot(
        "Events", str(out), ["nMuon", "Muon_pt", "Muon_eta", "nJet", "Jet_pt", "MET_pt"])
    with uproot.open(out) as f:
        tree = f["Events"]
        assert {name: tree[name].title for name in want} == want
        read = tree.arrays(["nMuon", "Muon_pt"], library="ak")
    with uproot.open(NANO) as f:
        source = f["Events"].arrays(["nMuon", "Muon_pt"], library="ak")
    assert str(read["nMuon"].type.content) == "uint32"
    assert read["nMuon"].to_list() == source["nMuon"].to_list()
    assert read["Muon_pt"].to_list() == source["Muon_pt"].to_list()
