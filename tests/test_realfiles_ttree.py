"""Every ROOT-written TTree we have, read the fast way and pinned against uproot bit for bit.

For each file: which way its metadata was read (hepflow's TTree parser or
uproot's full model), which branches have basket layouts and why the others
do not, and for every readable column the arrays the chunk reader returns —
through the basket path where a layout exists, through uproot otherwise —
equal uproot's own `arrays()`.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import hepflow
from hepflow.core.chunk import Chunk
from hepflow.dataset import scan
from hepflow.io import reader
from hepflow.io.baskets import layouts_of
from hepflow.io.treemeta import Unsupported, read_tree_meta

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
OURS = Path(__file__).resolve().parent / "data"  # written by ROOT 6.40 (benchmarks/root_nanoaod.py)
_STRINGS = "strings"
_GROUP = "a branch holding other branches"
_OBJECTS = "objects that need their streamer"

# file: (tree, metadata read by hepflow's parser?, branches, {branch: why it goes to uproot})
FILES: dict[str, tuple[str, bool, int, dict[str, str]]] = {
    **{f"uproot-HZZ{c}.root": ("events", True, 51, {})
       for c in ("", "-lz4", "-lzma", "-zstd", "-uncompressed")},
    **{f"uproot-Zmumu{c}.root": ("events", True, 20, {"Type": _STRINGS})
       for c in ("", "-lzma", "-zstd")},
    "uproot-sample-6.16.00-zlib.root": ("sample", True, 35, {"str": _STRINGS}),
    "uproot-sample-6.20.04-uncompressed.root": ("sample", True, 35, {"str": _STRINGS}),
    "uproot-demo-double32.root": ("T", False, 26, {"d": _GROUP}),
    "uproot-mc10events.root": ("Events", False, 687, {
        "Info": _GROUP, "GenEvtInfo": _GROUP, "Info/triggerBits": _OBJECTS,
        **{f"{c}/{c}.hltMatchBits": _OBJECTS
           for c in ("Electron", "Muon", "Tau", "Photon", "AK4CHS", "AK8CHS", "CA15CHS",
                     "AK4Puppi", "CA8Puppi", "CA15Puppi")}}),
}
OWN_FILES: dict[str, tuple[str, bool, int, dict[str, str]]] = {
    "root640-nanoaod-embedded.root": ("Events", True, 28, {}),
    "root640-extras-embedded-lz4.root": ("Events", False, 17, {}),
}


def _path(name: str) -> Path:
    path = (OURS if name in OWN_FILES else REALDATA) / name
    if not path.exists():
        pytest.skip(f"{path.parent} (ROOT-written test files) is not there")
    return path


def same_bits(got: object, want: object) -> None:
    """`got` and `want` hold the same values bit for bit, with the same type and list sizes."""
    if isinstance(got, np.ndarray):
        expected = np.asarray(ak.to_numpy(want))
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes()
        return
    g, w = ak.Array(got), ak.Array(want)
    assert str(g.type) == str(w.type)
    while g.ndim > 1:
        assert np.array_equal(ak.num(g, axis=1), ak.num(w, axis=1))
        g, w = ak.flatten(g, axis=1), ak.flatten(w, axis=1)
    if g.layout.is_numpy:
        a, b = ak.to_numpy(g), ak.to_numpy(w)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    else:
        assert ak.to_list(g) == ak.to_list(w)


def _ranges(n: int) -> list[tuple[int, int]]:
    return sorted({(0, n), (0, max(1, n // 3)), (n // 3, n), (n - 1, n)})


@pytest.mark.parametrize("name", [*FILES, *OWN_FILES])
def test_every_column_matches_uproot_and_the_path_is_known(name):
    tree, parsed, count, skipped = {**FILES, **OWN_FILES}[name]
    path = str(_path(name))
    with uproot.reading.ReadOnlyFile(path) as raw:
        if parsed:
            meta = read_tree_meta(raw, tree)
        else:
            with pytest.raises(Unsupported, match="branch class other than TBranch"):
                read_tree_meta(raw, tree)
    info = scan.inspect_file(path, tree)
    layouts = info.layouts
    with uproot.open(path) as f:
        ttree = f[tree]
        names = list(ttree.keys(recursive=True))
        model = layouts_of(ttree)
        assert len(names) == count
        assert layouts.skipped == skipped == model.skipped
        assert list(layouts) == [n for n in names if n not in skipped]
        if parsed:
            assert list(meta.layouts) == list(model)
            assert all(meta.layouts[n] == model[n] for n in model)
        assert layouts.read_path == ("baskets" if not skipped else "mixed")
        assert layouts.metadata == ("hepflow" if parsed else "uproot")
        num = ttree.num_entries
        readable = [n for n in names
                    if not isinstance(ttree[n].interpretation,
                                      uproot.interpretation.grouped.AsGrouped)
                    and n not in {"Info/triggerBits"} and not n.endswith(".hltMatchBits")]
        for start, stop in _ranges(num):
            want = ttree.arrays(readable, entry_start=start, entry_stop=stop, library="ak",
                                how=dict)
            chunk = Chunk(0, 0, path, tree, start, stop, start, info.uuid)
            fast = [n for n in readable if n in layouts]
            got, stats = reader.read_chunk(chunk, fast, layout=(info.file_end, layouts))
            assert stats.measured.read_paths == {"baskets": 1}, stats.measured.fallbacks
            for n in fast:
                same_bits(got[n], want[n])
            slow = [n for n in readable if n not in layouts]
            if slow:
                got, stats = reader.read_chunk(chunk, slow, layout=(info.file_end, layouts))
                assert stats.measured.read_paths == {"uproot": 1}
                for n in slow:
                    same_bits(got[n], want[n])


def test_embedded_baskets_in_a_root_written_nanoaod_file():
    path = str(_path("root640-nanoaod-embedded.root"))
    with uproot.open(path) as f:
        ttree = f["Events"]
        assert all(b.embedded_baskets for b in ttree.values())
        ev = ttree.arrays(["nMuon", "Muon_pt", "MET_pt"])
    info = scan.inspect_file(path, "Events")
    assert all(info.layouts[n].seeks[-1] < 0 for n in info.layouts)  # the embedded ones
    reader.close_all()
    df = hepflow.RDataFrame("Events", path, client="sync", chunk_entries=200)
    total = df.Filter("nMuon >= 1").Define("pt0", "Muon_pt[0]").Sum("pt0").GetValue()
    met = df.Sum("MET_pt").GetValue()
    assert not reader.open_trees(), "a chunk deserialised the TTree"
    pt0 = ak.to_numpy(ak.firsts(ev.Muon_pt[ev.nMuon >= 1])).astype(np.float64)
    assert total == pytest.approx(float(pt0.sum()), rel=1e-12)
    assert met == pytest.approx(float(np.sum(ev.MET_pt.to_numpy().astype(np.float64))),
                                rel=1e-12)


def test_branch_elements_std_vector_and_truncated_floats_take_the_basket_path():
    path = str(_path("root640-extras-embedded-lz4.root"))
    info = scan.inspect_file(path, "Events")
    kinds = {n: (info.layouts[n].kind, info.layouts[n].dtype)
             for n in ("Track_pt", "Soft_f16", "Range_d32", "Vertex_xyz")}
    assert kinds == {"Track_pt": ("vector", ">f4"), "Soft_f16": ("flat", "f16(0.0,0.0,12)"),
                     "Range_d32": ("flat", "d32(0.0,100.0,12)"),
                     "Vertex_xyz": ("flat", ">f4[3]")}
