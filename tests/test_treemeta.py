"""The direct TTree metadata reader, pinned against uproot's own model of the same trees."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import uproot

from hepflow.dataset import scan
from hepflow.io import reader
from hepflow.io.baskets import LayoutTable, layouts_of
from hepflow.io.treemeta import Unsupported, read_tree_meta

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def _uproot_meta(path: str, tree: str = "Events") -> scan.TreeMeta:
    with uproot.open(path) as f:
        return scan._meta_from_uproot(f[tree])


def _same(got: scan.TreeMeta, want: scan.TreeMeta) -> None:
    assert got.num_entries == want.num_entries
    assert got.cluster_starts == want.cluster_starts
    assert got.compressed_bytes == want.compressed_bytes
    assert list(got.branches.items()) == list(want.branches.items())
    assert list(got.layouts) == list(want.layouts)
    for name in want.layouts:
        assert got.layouts[name] == want.layouts[name], name
    assert got.layouts.skipped == want.layouts.skipped
    assert (got.layouts.metadata, want.layouts.metadata) == ("hepflow", "uproot")


@pytest.mark.parametrize("compression,branches,basket_entries", [
    ("ZSTD", 320, 1_500), ("LZ4", 200, 700), ("ZLIB", 150, 10_000)])
def test_matches_uproot_on_nanoaod_like_files(tmp_path, compression, branches, basket_entries):
    from hepflow.samples import make_sample

    (path,) = make_sample(tmp_path, events=6_000, files=1, seed=5, branches=branches,
                          basket_entries=basket_entries, compression=compression)
    with uproot.reading.ReadOnlyFile(str(path)) as f:
        got = read_tree_meta(f, "Events")
    want = _uproot_meta(str(path))
    _same(got, want)
    assert len(got.branches) == branches
    kinds = {t.kind for t in got.branches.values()}
    assert kinds == {"scalar", "jagged"}
    assert {"float", "int", "bool"} <= {t.category for t in got.branches.values()}
    assert len(got.cluster_starts) > 1


def test_every_numeric_leaf_type_and_empty_collections(tmp_path):
    import awkward as ak

    path = str(tmp_path / "types.root")
    counts = np.array([0, 3, 0, 1, 2] * 40)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    scalars = [("b", np.bool_), ("i1", np.int8), ("u1", np.uint8), ("i2", np.int16),
               ("u2", np.uint16), ("i4", np.int32), ("u4", np.uint32), ("i8", np.int64),
               ("u8", np.uint64), ("f4", np.float32), ("f8", np.float64)]

    def block(start: int) -> dict:
        n = counts[start:start + 100]
        ids = ak.unflatten(np.arange(offsets[start], offsets[start + 100]), n)
        jets = ak.zip({"pt": ak.values_astype(ids, np.float32), "id": ids, "ok": ids % 2 == 0})
        return {**{k: np.arange(start, start + 100).astype(t) for k, t in scalars},
                "Jet": jets}

    first = block(0)
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: v.dtype for k, v in first.items() if k != "Jet"}
                 | {"Jet": first["Jet"].type.content})
        f["Events"].extend(first)
        f["Events"].extend(block(100))
    with uproot.reading.ReadOnlyFile(path) as f:
        got = read_tree_meta(f, "Events")
    want = _uproot_meta(path)
    _same(got, want)
    assert got.cluster_starts == (0, 100, 200)
    assert got.layouts["u8"].dtype == ">u8" and got.layouts["b"].dtype == "|b1"
    assert got.layouts["Jet_ok"].kind == "jagged" and got.branches["nJet"].kind == "scalar"


def test_fixed_size_arrays_and_strings_have_layouts_or_reasons(tmp_path):
    path = str(tmp_path / "fixed.root")
    with uproot.recreate(path) as f:
        f.mktree("Events", {"x": (np.float32, (3,)), "y": np.int32})
        f["Events"].extend({"x": np.arange(30, dtype=np.float32).reshape(10, 3),
                            "y": np.arange(10, dtype=np.int32)})
    with uproot.reading.ReadOnlyFile(path) as f:
        got = read_tree_meta(f, "Events")
    _same(got, _uproot_meta(path))
    assert set(got.layouts) == {"x", "y"} and got.layouts.read_path == "baskets"
    assert got.layouts["x"].dtype == ">f4[3]"


def test_branch_elements_fall_back_to_uproot_for_metadata(tmp_path):
    path = REALDATA / "uproot-demo-double32.root"
    if not path.exists():
        pytest.skip(f"{REALDATA} (ROOT-written test files) is not there")
    with uproot.reading.ReadOnlyFile(str(path)) as f, \
            pytest.raises(Unsupported, match="branch class other than TBranch"):
        read_tree_meta(f, "T")
    info = scan.inspect_file(str(path), "T")
    assert len(info.layouts) == 25 and info.layouts.skipped == {
        "d": "a branch holding other branches"}


def test_damaged_tree_bytes_are_unsupported_not_misread(tmp_path, monkeypatch):
    from hepflow.samples import make_sample

    (path,) = make_sample(tmp_path, events=500, files=1, seed=1, branches=130)
    from hepflow.io import uproot_private

    with uproot.reading.ReadOnlyFile(str(path)) as f:
        data, displacement = uproot_private.key_payload(f, "Events")
        damaged = bytearray(data)
        middle = len(damaged) // 2  # inside the branch list: byte counts and tags become garbage
        damaged[middle:middle + 400] = b"\xff" * 400
        monkeypatch.setattr(uproot_private, "key_payload",
                            lambda file, name: (bytes(damaged), displacement))
        with pytest.raises(Unsupported):
            read_tree_meta(f, "Events")


def test_preprocessing_never_builds_uproot_branches(tmp_path, monkeypatch):
    from hepflow.samples import make_sample

    (path,) = make_sample(tmp_path, events=3_000, files=1, seed=2, branches=400)
    want = _uproot_meta(str(path))
    monkeypatch.setattr(reader, "open_tree", _fail)
    monkeypatch.setattr(scan, "layouts_of", _fail)
    info = scan.inspect_file(str(path), "Events")
    assert info.branches == want.branches and len(info.layouts) == 400
    assert info.cluster_starts == want.cluster_starts


def _fail(*args, **kwargs):
    raise AssertionError("the TTree was deserialised through uproot")


def test_layout_table_packs_and_round_trips(tmp_path):
    from hepflow.samples import make_sample

    (path,) = make_sample(tmp_path, events=1_000, files=1, seed=3, branches=140,
                          basket_entries=300)
    with uproot.open(str(path)) as f:
        table = layouts_of(f["Events"])
    assert isinstance(table, LayoutTable)
    again = LayoutTable.from_json(table.to_json())
    unpickled = pickle.loads(pickle.dumps(table))
    for other in (again, unpickled):
        assert list(other) == list(table)
        assert (other.skipped, other.metadata) == (table.skipped, table.metadata)
        assert all(other[name] == table[name] for name in table)
    assert "no_such_branch" not in table
    with pytest.raises(KeyError):
        table["no_such_branch"]



def test_class_references_resolve_to_the_name_written_first():
    """ROOT writes a class by name once and as a reference afterwards (uproot, used for
    the sample files, writes the name every time): both must give the same classes."""
    from hepflow.io.treemeta import _classes, _Columns

    displacement = 70  # where the buffer starts, seen from the start of the key
    payload = b"\x00" * 30

    def counted(body: bytes) -> bytes:
        return (0x40000000 | len(body)).to_bytes(4, "big") + body

    first = counted(b"\xff\xff\xff\xffTBranch\x00" + payload)
    tag = 0x80000000 | (4 + displacement + 2)  # kClassMask | (tag position + kMapOffset)
    second = counted(tag.to_bytes(4, "big") + payload)
    leaf = counted(b"\xff\xff\xff\xffTLeafF\x00" + payload)
    data = first + second + leaf + b"\x00" * 64
    at = np.asarray([0, len(first), len(first) + len(second)])
    names, starts = _classes(_Columns(data, displacement), at)
    assert list(names) == ["TBranch", "TBranch", "TLeafF"]
    assert starts.tolist() == [16, len(first) + 8, len(first) + len(second) + 15]
    bad = 0x80000000 | 12345
    with pytest.raises(Unsupported, match="points at no class name"):
        _classes(_Columns(counted(bad.to_bytes(4, "big") + payload), 0), np.asarray([0]))
