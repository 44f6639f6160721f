"""RNTuple checksums: every damaged page or envelope of a ROOT-written RNTuple is a ReadError.

ROOT writes an xxh3-64 checksum after every page and at the end of every
envelope (header, footer, page list). The files here are written by ROOT
itself: the CMS dimuon RNTuple of ../shared/realdata, and
tests/data/root640-rntuple-checksums.root, written by ROOT 6.40 through
scripts/make_root_rntuples.py (four clusters in two cluster groups, several
pages per column and cluster, ROOT's own sums beside it in JSON). One byte of
a copy is flipped in a page of values, a page of offsets, a page list, the
header or the footer; each must be a `ReadError` naming the file, and, for a
page, the field, the kind of column and the entries of its cluster. Undamaged,
the files read exactly as uproot and ROOT read them. hepflow's own
`Snapshot(format="rntuple")` writes page checksums that hepflow verifies (and
ROOT 6.40, checked by hand with `scripts/make_root_rntuples.py --check`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

import hepflow
from hepflow.errors import ReadError
from hepflow.io import rntuple_write

DATA = Path(__file__).resolve().parent / "data"
MADE = DATA / "root640-rntuple-checksums.root"
REFERENCE = json.loads((DATA / "root640-rntuple-checksums.json").read_text())
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
DIMUON = REALDATA / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"
needs_realdata = pytest.mark.skipif(not DIMUON.is_file(),
                                    reason=f"the real ROOT files are not at {REALDATA}")


def _flipped(src: Path, tmp_path: Path, offset: int, name: str = "damaged.root") -> Path:
    """A copy of `src` with one bit of the byte at `offset` flipped."""
    dst = tmp_path / name
    shutil.copyfile(src, dst)
    with open(dst, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x01]))
    return dst


def _page(path: Path, field: str, cluster: int, column_type: str = "values") -> Any:
    """The locator of the first page of `field`'s values (or offsets) column in a cluster."""
    offsets = {0x0E, 0x0F, 0x1A, 0x1B}
    with uproot.open(path) as f:
        nt = f["Events"]
        fid = nt[field].field_id
        ids = {fid} | {i for i, r in enumerate(nt.field_records) if r.parent_field_id == fid}
        column = next(c.idx for c in nt.column_records if c.field_id in ids
                      and (c.type in offsets) == (column_type == "offsets"))
        return nt.page_link_list[cluster][column].pages[0].locator


def _sum(path: Path, expr: str, client: object = "sync") -> float:
    df = hepflow.RDataFrame("Events", str(path), client=client, chunk_entries=500)
    return float(df.Define("value_", expr).Sum("value_").GetValue())


def test_the_root_written_file_reads_as_root_and_uproot_read_it() -> None:
    with uproot.open(MADE) as f:
        nt = f["Events"]
        pages = [p for cluster in nt.page_link_list for column in cluster for p in column.pages]
        arrays = nt.arrays(["event", "MET_pt", "Jet_pt"])
    assert len(pages) == REFERENCE["pages"] == REFERENCE["checksummed"]
    assert all(p.has_checksum for p in pages)
    sums = REFERENCE["sums"]
    assert _sum(MADE, "MET_pt") == sums["MET_pt"] == float(ak.sum(arrays.MET_pt))
    assert _sum(MADE, "Sum(Jet_pt)") == sums["Jet_pt"] == float(ak.sum(arrays.Jet_pt))
    assert _sum(MADE, "double(event)") == sums["event"] == float(ak.sum(arrays.event))
    df = hepflow.RDataFrame("Events", str(MADE), client="sync", chunk_entries=500)
    taken = df.Take("Jet_pt").GetValue()
    assert ak.to_list(taken) == ak.to_list(arrays.Jet_pt)


@pytest.mark.parametrize(("field", "column", "cluster", "expr"), [
    ("MET_pt", "values", 2, "MET_pt"),
    ("Jet_pt", "values", 1, "Sum(Jet_pt)"),
    ("Jet_pt", "offsets", 3, "Jet_pt.size()"),
])
def test_a_damaged_page_names_file_field_and_entries(tmp_path: Path, field: str, column: str,
                                                     cluster: int, expr: str) -> None:
    loc = _page(MADE, field, cluster, column)
    for where in (loc.offset + loc.num_bytes // 2, loc.offset + loc.num_bytes + 3):
        bad = _flipped(MADE, tmp_path, where)  # in the page, then in its checksum
        with pytest.raises(ReadError) as caught:
            _sum(bad, expr)
        text = str(caught.value)
        first = 500 * cluster
        assert str(bad) in text and f"field {field}:" in text and f"of its {column}" in text
        assert f"cluster of entries {first}-{first + 500}" in text and "xxh3-64" in text
        assert caught.value.entry_start <= first < caught.value.entry_stop + 1


def test_a_damaged_page_of_a_column_not_read_does_not_matter(tmp_path: Path) -> None:
    loc = _page(MADE, "Jet_pt", 0, "values")
    bad = _flipped(MADE, tmp_path, loc.offset + 5)
    assert _sum(bad, "MET_pt") == REFERENCE["sums"]["MET_pt"]


def _page_list(path: Path, group: int) -> Any:
    with uproot.open(path) as f:
        return f["Events"].footer.cluster_group_records[group].page_list_link.locator


def _anchor(path: Path) -> dict[str, int]:
    with uproot.open(path) as f:
        return {k: int(v) for k, v in f["Events"].members.items() if k.startswith("f")}


#: What each damaged envelope makes unreadable: the fields it hits and the entries (the
#: footer counts the entries, so with it damaged they run to the file's end).
ENVELOPE_DAMAGE = {
    "header": ("entries 0-2000 of", "every field (the header describes them all)"),
    "footer": ("entries 0-end of", "every field (event, MET_pt, Jet_pt)"),
    "page list": ("entries 1000-2000 of", "every field (the page list locates the pages"),
}


@pytest.mark.parametrize("envelope", ["header", "footer", "page list"])
def test_a_damaged_envelope_names_the_file_fields_and_entries(tmp_path: Path,
                                                              envelope: str) -> None:
    anchor = _anchor(MADE)
    if envelope == "page list":
        loc = _page_list(MADE, 1)
        where, entries = loc.offset + loc.num_bytes // 2, "(the page list of entries 1000-2000)"
    else:
        key = "Header" if envelope == "header" else "Footer"
        where, entries = anchor[f"fSeek{key}"] + anchor[f"fNBytes{key}"] // 2, ""
    bad = _flipped(MADE, tmp_path, where)
    with pytest.raises(ReadError) as caught:
        _sum(bad, "MET_pt")
    text = str(caught.value)
    assert str(bad) in text and f"the {envelope} envelope" in text and entries in text
    span, fields = ENVELOPE_DAMAGE[envelope]
    assert f"cannot read {span} {bad}" in text and fields in text


@needs_realdata
def test_a_flipped_byte_in_a_muon_pt_page_no_longer_changes_the_sum(tmp_path: Path) -> None:
    """Regression: uproot decodes this damaged page without complaint into other values, and
    hepflow used to return the changed Sum(Muon_pt)."""
    loc = _page(DIMUON, "_collection0.Muon_pt", 0)
    bad = _flipped(DIMUON, tmp_path, loc.offset + 4859)
    with uproot.open(DIMUON) as good, uproot.open(bad) as damaged:
        assert ak.sum(damaged["Events"]["Muon_pt"].array()) != \
            ak.sum(good["Events"]["Muon_pt"].array())  # a silent change for uproot
    with pytest.raises(ReadError, match=r"field Muon_pt: a page of its values in the cluster "
                                        r"of entries 0-1000 .* xxh3-64") as caught:
        _sum(bad, "Sum(Muon_pt)")
    assert str(bad) in str(caught.value)


@needs_realdata
def test_a_flipped_byte_in_the_dimuon_page_list_is_refused(tmp_path: Path) -> None:
    loc = _page_list(DIMUON, 0)
    bad = _flipped(DIMUON, tmp_path, loc.offset + loc.num_bytes // 2)
    with pytest.raises(ReadError, match="the page list envelope does not match its xxh3-64"):
        _sum(bad, "Sum(Muon_pt)")


@needs_realdata
def test_a_damaged_page_is_a_read_error_on_the_cluster_too(tmp_path: Path,
                                                           client: object) -> None:
    loc = _page(DIMUON, "_collection0.Muon_pt", 0)
    bad = _flipped(DIMUON, tmp_path, loc.offset + 4859)
    with pytest.raises(ReadError, match="field Muon_pt"):
        _sum(bad, "Sum(Muon_pt)", client)


def test_snapshot_writes_page_checksums_hepflow_verifies(tmp_path: Path) -> None:
    df = hepflow.RDataFrame("Events", str(MADE), client="sync", chunk_entries=500)
    out = tmp_path / "snap.root"
    df.Filter("MET_pt > 20").Snapshot("Events", str(out), ["event", "MET_pt", "Jet_pt"],
                                      format="rntuple")
    with uproot.open(out) as f:
        nt = f["Events"]
        pages = [p for cluster in nt.page_link_list for column in cluster for p in column.pages]
        want = nt.arrays(["MET_pt", "Jet_pt"])
    assert pages and all(p.has_checksum for p in pages)
    with uproot.open(MADE) as f:
        src = f["Events"].arrays(["MET_pt", "Jet_pt"])
    src = src[src.MET_pt > 20]
    assert ak.to_list(want) == ak.to_list(src)
    assert _sum(out, "MET_pt") == pytest.approx(float(np.sum(np.asarray(src.MET_pt,
                                                                        dtype=np.float64))))
    loc = pages[len(pages) // 2].locator
    bad = _flipped(out, tmp_path, loc.offset + loc.num_bytes // 2, "snap-damaged.root")
    with pytest.raises(ReadError, match="xxh3-64"):
        _sum(bad, "double(event) + MET_pt + Sum(Jet_pt)")


def test_the_writer_marks_every_page_of_every_cluster(tmp_path: Path) -> None:
    path = tmp_path / "two.root"
    with uproot.recreate(path) as out:
        rntuple_write.create(out, "Events", ak.Array({"x": np.arange(300, dtype=np.int32),
                                                      "v": ak.Array([[1.0, 2.0]] * 300)}))
        rntuple_write.extend(out, "Events", ak.Array({"x": np.arange(5, dtype=np.int32),
                                                      "v": ak.Array([[3.0]] * 5)}))
    with uproot.open(path) as f:
        nt = f["Events"]
        flags = [[p.has_checksum for column in cluster for p in column.pages]
                 for cluster in nt.page_link_list]
        got = nt.arrays(["x", "v"])
    assert flags == [[True] * 3, [True] * 3]
    assert got.x.tolist() == list(range(300)) + list(range(5))
    assert _sum(path, "Sum(v) + x") == float(300 * 3 + sum(range(300)) + 5 * 3 + sum(range(5)))
