"""The direct basket reader, pinned bit for bit against uproot's own `arrays()`."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import hepflow
from hepflow.core.chunk import Chunk
from hepflow.io import reader
from hepflow.io.baskets import BasketTiming, layouts_of, read_branches


@pytest.fixture(scope="module", params=["ZSTD", "LZ4", "ZLIB"])
def wide_file(request, tmp_path_factory):
    from hepflow.samples import make_sample

    outdir = tmp_path_factory.mktemp(f"wide-{request.param}")
    (path,) = make_sample(outdir, events=7_000, files=1, seed=17, basket_entries=1_500,
                          branches=320, compression=request.param)
    return str(path)


def _same(got, want) -> None:
    if isinstance(want, np.ndarray) or getattr(want, "ndim", 2) == 1:
        want = np.asarray(ak.to_numpy(want))
        assert isinstance(got, np.ndarray)
        assert got.dtype == want.dtype
        assert got.tobytes() == want.tobytes()
    else:
        assert str(got.type).split(" * ", 1)[1] == str(want.type).split(" * ", 1)[1]
        assert np.array_equal(ak.num(got), ak.num(want))
        flat_got = ak.to_numpy(ak.flatten(got))
        flat_want = ak.to_numpy(ak.flatten(want))
        assert flat_got.dtype == flat_want.dtype
        assert flat_got.tobytes() == flat_want.tobytes()


@pytest.mark.parametrize("start,stop", [(0, 7_000), (0, 1), (1_499, 1_501), (3_000, 4_500),
                                        (6_999, 7_000), (2_000, 2_000)])
def test_every_branch_matches_uproot(wide_file, start, stop):
    with uproot.open(wide_file) as f:
        tree = f["Events"]
        layouts = layouts_of(tree)
        names = list(tree.keys(recursive=True))
        kinds = {layouts[n].kind for n in layouts}
        dtypes = {layouts[n].dtype for n in layouts}
        assert len(layouts) == len(names) >= 320
        assert kinds == {"flat", "jagged"}
        assert {">f4", ">i4", "|b1", ">u8", ">u4"} <= dtypes
        want = tree.arrays(names, entry_start=start, entry_stop=stop, library="ak", how=dict)
        raw = uproot.reading.ReadOnlyFile(wide_file)
        timing = BasketTiming()
        got = read_branches(raw, layouts, start, stop, timing)
        raw.close()
    for name in names:
        _same(got[name], want[name])
    assert timing.bytes_read > 0 or start == stop


def test_chunks_never_deserialise_the_ttree(wide_file):
    reader.close_all()
    df = hepflow.RDataFrame("Events", wide_file, client="sync", chunk_entries=1_500)
    reader.close_all()
    total = df.Filter("nMuon >= 1").Define("pt0", "Muon_pt[0]").Sum("pt0").GetValue()
    assert not reader.open_trees(), "a chunk deserialised the TTree"
    with uproot.open(wide_file) as f:
        ev = f["Events"].arrays(["nMuon", "Muon_pt"])
    pt0 = ak.to_numpy(ak.firsts(ev.Muon_pt[ev.nMuon >= 1])).astype(np.float64)
    assert total == pytest.approx(float(pt0.sum()), rel=1e-12)


def test_rewritten_file_falls_back_to_fresh_metadata(wide_file, tmp_path):
    import shutil

    from hepflow.samples import make_sample

    copy = tmp_path / "copy.root"
    shutil.copy(wide_file, copy)
    prepared = hepflow.preprocess(hepflow.Dataset.from_files([copy], "Events"),
                                  chunk_entries=1_500)
    info = prepared.files[0]
    layout = (info.file_end + 1, dict(info.layouts))  # pretend the file grew since
    chunk = Chunk(0, 0, str(copy), "Events", 0, 1_500, 0, info.uuid)
    reader.close_all()
    arrays, _ = reader.read_chunk(chunk, ["Muon_pt", "MET_pt"], layout=layout)
    assert reader.open_trees(), "a size mismatch must fall back to reading the TTree afresh"
    with uproot.open(copy) as f:
        _same(arrays["Muon_pt"], f["Events"]["Muon_pt"].array(entry_stop=1_500))
    other = make_sample(tmp_path / "other", events=1_500, files=1, seed=2, branches=320)[0]
    shutil.copy(other, copy)
    reader.close_all()
    with pytest.raises(hepflow.ReadError, match="different file"):
        reader.read_chunk(chunk, ["Muon_pt"], layout=layout)


@pytest.mark.parametrize("algorithm", [uproot.ZLIB(4), uproot.LZMA(4), uproot.LZ4(4),
                                       uproot.ZSTD(4)])
def test_compressed_blocks_are_checked(algorithm):
    from hepflow.io.compression import Damaged, decompress

    plain = np.repeat(np.arange(50, dtype=">i4"), 100).tobytes()
    packed = uproot.compression.compress(plain, algorithm)
    assert decompress(packed, len(plain)).tobytes() == plain
    with pytest.raises(Damaged, match=r"declares|more than"):
        decompress(packed, len(plain) + 4)  # fObjlen too large
    with pytest.raises(Damaged, match="more than"):
        decompress(packed, len(plain) - 4)
    with pytest.raises(Damaged, match=r"remain|stray"):
        decompress(packed[:-3], len(plain))  # cut short
    with pytest.raises(Damaged, match="names no compression algorithm"):
        decompress(b"QQ" + packed[2:], len(plain))


def test_basket_header_fields_are_checked_against_the_basket_table(tmp_path):
    from hepflow.io.basketbytes import Damaged, basket_contents

    path = str(tmp_path / "one.root")
    with uproot.recreate(path, compression=None) as f:
        f.mktree("Events", {"n": np.int32, "x": "var * float32"}, counter_name=lambda _: "n")
        f["Events"].extend({"n": np.array([1, 0, 2], np.int32),
                            "x": ak.Array([[1.0], [], [2.0, 3.0]])})
    with uproot.open(path) as f:
        layout = layouts_of(f["Events"])["x"]
    raw = np.frombuffer(Path(path).read_bytes(), np.uint8)
    basket = raw[layout.seeks[0]:layout.seeks[0] + layout.nbytes[0]].copy()
    data, offsets = basket_contents(basket, layout.nbytes[0], 3, False)
    assert offsets.tolist() == [0, 4, 4, 12] and len(data) == 12
    with pytest.raises(Damaged, match="holds 3 entries where the branch's basket table says 4"):
        basket_contents(basket, layout.nbytes[0], 4, False)
    with pytest.raises(Damaged, match="fNbytes"):
        basket_contents(basket[:-1], layout.nbytes[0] - 1, 3, False)
    with pytest.raises(Damaged, match="the file ends inside the basket"):
        basket_contents(basket[:-1], layout.nbytes[0], 3, False)
    backwards = basket.copy()
    keylen = int(backwards[14:16].view(">i2")[0])
    area = keylen + 12  # entry offsets: [count, 72, 76, 76, 0] after the 12 data bytes
    backwards[area + 8:area + 12] = np.frombuffer(np.int32(keylen + 2).astype(">i4").tobytes(),
                                                  np.uint8)
    with pytest.raises(Damaged, match="go backwards"):
        basket_contents(backwards, layout.nbytes[0], 3, False)
