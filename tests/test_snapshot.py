"""The snapshot layer on plain values: target checks before any run, parts, atomic finish.

The round trips read real ROOT-written files eagerly with uproot, write them
back in chunks through `write_part` and `finalize`, and compare what uproot
reads from the snapshot with the source, for a TTree and for an RNTuple.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from hepflow.errors import HepflowError, PlanError, SnapshotError
from hepflow.io.snapshot import SnapshotPart, SnapshotTarget, check_target, finalize, write_part

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
HZZ = REALDATA / "uproot-HZZ.root"
DIMUON = REALDATA / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"
HZZ_COLUMNS = ("NMuon", "Muon_Px", "Muon_Py", "Muon_Charge", "Jet_ID", "MET_px",
               "triggerIsoMu24", "EventWeight", "NPrimaryVertices")
DIMUON_COLUMNS = ("nMuon", "Muon_pt", "Muon_eta", "Muon_charge")

needs_realdata = pytest.mark.skipif(not REALDATA.is_dir(),
                                    reason=f"the real ROOT files folder {REALDATA} is absent")


def _read(path: Path, tree: str, columns: tuple[str, ...]) -> dict[str, Any]:
    with uproot.open(path) as f:
        arrays = f[tree].arrays(list(columns), library="ak", how=dict)
    return {c: arrays[c] for c in columns}


def _snapshot(target: SnapshotTarget, source: dict[str, Any], chunks: int) -> str:
    """Write `source` as `chunks` parts, in a shuffled order as workers would, then finish."""
    n = len(next(iter(source.values())))
    edges = np.linspace(0, n, chunks + 1).astype(int)
    parts: dict[int, SnapshotPart] = {}
    for index in reversed(range(chunks)):
        values = {c: v[edges[index]:edges[index + 1]] for c, v in source.items()}
        parts[index] = write_part(target, index, values)
    assert [p.entries for _, p in sorted(parts.items())] == np.diff(edges).tolist()
    return finalize(target, [parts[i] for i in range(chunks)])


def _assert_equal(read: dict[str, Any], source: dict[str, Any], counter: str = "") -> None:
    """Equal values and types; a NanoAOD counter written by uproot is int32 whatever it was."""
    assert set(read) == set(source)
    for name, value in source.items():
        assert ak.to_list(read[name]) == ak.to_list(value), name
        want = "int32" if name == counter else str(ak.type(value).content)
        assert str(ak.type(read[name]).content) == want, name


@needs_realdata
@pytest.mark.parametrize("fmt", ["root", "rntuple"])
def test_round_trip_of_a_root_written_ttree(tmp_path: Path, fmt: str) -> None:
    source = _read(HZZ, "events", HZZ_COLUMNS)
    target = SnapshotTarget("events", str(tmp_path / "hzz.root"), HZZ_COLUMNS, "LZ4", fmt)  # type: ignore[arg-type]
    check_target(target)
    path = _snapshot(target, source, chunks=4)
    assert path == str(tmp_path / "hzz.root")
    with uproot.open(path) as f:
        kind = "ROOT::RNTuple" if fmt == "rntuple" else "TTree"
        assert f.classname_of("events") == kind
        assert f["events"].num_entries == 2421
    _assert_equal(_read(Path(path), "events", HZZ_COLUMNS), source)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hzz.root"]


@needs_realdata
@pytest.mark.parametrize("fmt", ["root", "rntuple"])
def test_round_trip_of_a_root_written_rntuple(tmp_path: Path, fmt: str) -> None:
    source = _read(DIMUON, "Events", DIMUON_COLUMNS)
    target = SnapshotTarget("Events", str(tmp_path / "mu.root"), DIMUON_COLUMNS,
                            format=fmt)  # type: ignore[arg-type]
    path = _snapshot(target, source, chunks=3)
    _assert_equal(_read(Path(path), "Events", DIMUON_COLUMNS), source,
                  counter="nMuon" if fmt == "root" else "")
    if fmt == "root":
        # NanoAOD layout: Muon_* share one counter, which is the source's nMuon.
        with uproot.open(path) as f:
            assert f["Events"]["Muon_pt"].count_branch.name == "nMuon"


def test_defined_numpy_columns_and_an_all_empty_selection(tmp_path: Path) -> None:
    values = {"lead_pt": np.array([], np.float32),
              "Jet_pt": ak.Array([[1.5]])[:0], "event": np.array([], np.uint64)}
    for fmt in ("root", "rntuple"):
        target = SnapshotTarget("Events", str(tmp_path / f"empty-{fmt}.root"), tuple(values),
                                format=fmt)
        parts = [write_part(target, i, values) for i in range(2)]
        path = finalize(target, parts)
        with uproot.open(path) as f:
            tree = f["Events"]
            assert tree.num_entries == 0
            assert tree["lead_pt"].array(library="np").dtype == np.float32
            assert tree["event"].array(library="np").dtype == np.uint64
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_finalize_replaces_an_existing_file_atomically(tmp_path: Path) -> None:
    target = SnapshotTarget("T", str(tmp_path / "out.root"), ("x",))
    (tmp_path / "out.root").write_bytes(b"old contents")
    check_target(target)
    path = finalize(target, [write_part(target, 0, {"x": np.arange(5.0)})])
    with uproot.open(path) as f:
        assert f["T"]["x"].array(library="np").tolist() == [0, 1, 2, 3, 4]


def test_finalize_failure_names_the_target_and_removes_the_parts(tmp_path: Path) -> None:
    target = SnapshotTarget("T", str(tmp_path / "out.root"), ("x",))
    parts = [write_part(target, i, {"x": np.arange(3.0)}) for i in range(2)]
    (tmp_path / "out.root").mkdir()  # the target became a folder during the run
    with pytest.raises(SnapshotError, match=r"cannot write .*out\.root") as info:
        finalize(target, parts)
    assert ".part" not in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    assert [p.name for p in tmp_path.iterdir()] == ["out.root"]


# -- bad targets: refused by check_target, before the run reads anything --------------------


def _read_only_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


BAD_TARGETS = [
    # (name, how to make the target path, words the message must hold)
    ("existing folder", lambda tmp: tmp, ["existing folder"]),
    ("/proc", lambda tmp: Path("/proc/hepflow-snap.root"), ["/proc", "not writable"]),
    ("read-only system folder", lambda tmp: Path("/sys/hepflow-snap.root"),
     ["/sys", "not writable"]),
    ("missing parent", lambda tmp: tmp / "no" / "such" / "out.root",
     ["does not exist", "create_dirs=True"]),
    ("parent is a file", lambda tmp: (tmp / "f.txt", (tmp / "f.txt").write_text("x"))[0]
     / "out.root", ["not a folder"]),
    ("not a regular file", lambda tmp: Path("/dev/null"), ["not a regular file"]),
]


@pytest.mark.parametrize(("case", "make", "words"), BAD_TARGETS, ids=[c[0] for c in BAD_TARGETS])
def test_bad_targets_are_refused_with_the_target_named(tmp_path: Path, case: str, make: Any,
                                                       words: list[str]) -> None:
    path = make(tmp_path)
    if case == "read-only system folder" and os.access("/sys", os.W_OK) and os.geteuid() != 0:
        pytest.skip("/sys is writable here")
    before = sorted(tmp_path.rglob("*"))
    target = SnapshotTarget("Events", str(path), ("x",))
    with pytest.raises(SnapshotError) as info:
        check_target(target)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, (word, message)
    assert isinstance(info.value, HepflowError) and isinstance(info.value, OSError)
    assert sorted(tmp_path.rglob("*")) == before  # no probe, part or folder left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders "
                    "(the /sys and /proc cases cover a folder root cannot write)")
def test_read_only_folder_is_refused(tmp_path: Path) -> None:
    target = SnapshotTarget("Events", str(_read_only_dir(tmp_path) / "out.root"), ("x",))
    with pytest.raises(SnapshotError, match="not writable"):
        check_target(target)


def test_read_only_existing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keep.root"
    path.write_bytes(b"precious")
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    with pytest.raises(SnapshotError, match=r"keep\.root: the existing file is read-only"):
        check_target(SnapshotTarget("Events", str(path), ("x",)))
    assert path.read_bytes() == b"precious"


def test_missing_parent_is_created_only_when_asked(tmp_path: Path) -> None:
    target = SnapshotTarget("Events", str(tmp_path / "a" / "b" / "out.root"), ("x",))
    check_target(target, create_dirs=True)
    assert (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"format": "parquet"}, "unknown format 'parquet'"),
    ({"compression": "LZMA9"}, "unknown compression 'LZMA9'"),
    ({"columns": ()}, "no columns selected"),
    ({"columns": ("x", 3)}, "column names must be non-empty strings"),
    ({"treename": ""}, "tree name '' must be"),
    ({"treename": "a/b"}, "without `/`"),
    ({"filename": ""}, "file name '' must be"),
])
def test_bad_target_values_are_plan_errors(kwargs: dict[str, Any], words: str) -> None:
    fields: dict[str, Any] = {"treename": "Events", "filename": "out.root", "columns": ("x",)}
    fields.update(kwargs)
    with pytest.raises(PlanError, match=re.escape(words)):
        SnapshotTarget(**fields)


def test_target_is_frozen_and_absolute() -> None:
    target = SnapshotTarget("Events", "rel/out.root", ["x", "y"])  # type: ignore[arg-type]
    assert os.path.isabs(target.filename) and target.columns == ("x", "y")
    with pytest.raises(AttributeError):
        target.treename = "other"  # type: ignore[misc]


def test_write_part_without_a_column_names_it(tmp_path: Path) -> None:
    target = SnapshotTarget("Events", str(tmp_path / "o.root"), ("x", "y"))
    with pytest.raises(PlanError, match=r"no values given for column.*y"):
        write_part(target, 0, {"x": np.zeros(2)})
