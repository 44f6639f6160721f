"""`RDataFrame.Snapshot` checks its target at booking, before any data is read."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import hepflow
from hepflow.errors import SnapshotError


@pytest.fixture(scope="module")
def df(sample_files: list[str]) -> hepflow.RDataFrame:
    return hepflow.RDataFrame("Events", sample_files[0], client="sync", chunk_entries=8_000)


@pytest.mark.parametrize(("where", "words"), [
    (lambda tmp: tmp, "existing folder"),
    (lambda tmp: Path("/proc/snap.root"), "not writable"),
    (lambda tmp: tmp / "missing" / "snap.root", "create_dirs=True"),
])
def test_bad_target_fails_at_booking_before_the_run(df: hepflow.RDataFrame, tmp_path: Path,
                                                    where: object, words: str) -> None:
    target = where(tmp_path)  # type: ignore[operator]
    with pytest.raises(SnapshotError, match=words) as info:
        df.Filter("nMuon == 2").Snapshot("Events", target, ["event"], lazy=True)
    assert str(target) in str(info.value)
    assert not df._graph.pending  # nothing was booked, so nothing will run
    assert not [p for p in tmp_path.rglob(".*")]


def test_rntuple_snapshot_through_the_facade(df: hepflow.RDataFrame, tmp_path: Path,
                                             sample_files: list[str]) -> None:
    out = df.Filter("nMuon >= 1").Snapshot("Events", tmp_path / "a" / "mu.root",
                                            ["event", "Muon_pt"], format="rntuple",
                                            create_dirs=True)
    with uproot.open(sample_files[0]) as f:
        eager = f["Events"].arrays(["event", "Muon_pt", "nMuon"])
    mask = np.asarray(eager["nMuon"]) >= 1
    path = tmp_path / "a" / "mu.root"
    assert out.Count().GetValue() == int(mask.sum())  # read back by hepflow as an RNTuple
    with uproot.open(path) as f:
        assert f.classname_of("Events") == "ROOT::RNTuple"
        got = f["Events"].arrays(["event", "Muon_pt"])
    assert ak.to_list(got["event"]) == ak.to_list(eager["event"][mask])
    assert ak.to_list(got["Muon_pt"]) == ak.to_list(eager["Muon_pt"][mask])
