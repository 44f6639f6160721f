"""Baskets embedded in the TTree key are kept from preprocessing, so a chunk never needs the key.

ROOT-written files (tests/data/root640-*-embedded*.root, written by ROOT 6.40
with each branch's last basket left inside the TTree key, as CMSSW's NanoAOD)
are read with the TTree key made unreadable: the results must still equal
uproot's. The preprocessing cache keeps the baskets in a binary file beside
its JSON; a damaged or missing one makes the entry a miss, never wrong data.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from hepflow.core.chunk import Chunk
from hepflow.dataset import scan
from hepflow.io import reader, uproot_private
from hepflow.io.baskets import BasketTiming, BranchLayout, read_branches
from hepflow.io.embedded import EmbeddedBaskets

DATA = Path(__file__).resolve().parent / "data"
FILES = ("root640-nanoaod-embedded.root", "root640-extras-embedded-lz4.root")


def test_the_store_gives_back_each_basket_and_none_for_branches_without():
    baskets = [bytes(range(7)) * 3, None, b"", np.arange(50, dtype=np.uint8).tobytes()]
    store = EmbeddedBaskets.of(baskets)
    assert len(store) == 4 and store
    for slot, want in enumerate(baskets):
        assert store.basket(slot) == (b"" if want is None else want)
    assert store.basket(17) == b""
    again = pickle.loads(pickle.dumps(store))
    assert [again.basket(i) for i in range(4)] == [store.basket(i) for i in range(4)]
    assert not EmbeddedBaskets() and not EmbeddedBaskets.of([None, None])


def test_the_store_reads_one_basket_at_a_time_from_its_file(tmp_path):
    store = EmbeddedBaskets.of([b"x" * 100, b"yz" * 40])
    path = tmp_path / "blob"
    path.write_bytes(store.data())
    on_disk = store.in_file(str(path))
    assert [on_disk.basket(i) for i in range(2)] == [store.basket(i) for i in range(2)]
    path.write_bytes(store.data()[:5])
    with pytest.raises(OSError, match="shorter"):
        on_disk.basket(1)


@pytest.mark.parametrize("name", FILES)
def test_chunks_read_embedded_baskets_without_the_ttree_key(name, monkeypatch):
    path = str(DATA / name)
    info = scan.inspect_file(path, "Events")
    held = [n for n in info.layouts if info.layouts[n].seeks[-1] < 0]
    assert held and all(info.layouts[n].embedded for n in held)
    reader.close_all()

    def no_key(*args: object, **kwargs: object) -> None:
        raise AssertionError("a chunk decompressed the TTree key")

    monkeypatch.setattr(uproot_private, "key_payload", no_key)
    n = info.num_entries
    chunk = Chunk(0, 0, path, "Events", n // 3, n, n // 3, info.uuid)  # every last basket
    got, _ = reader.read_chunk(chunk, held, layout=(info.file_end, info.layouts))
    with uproot.open(path) as f:
        want = f["Events"].arrays(held, entry_start=n // 3, entry_stop=n, library="ak")
    for branch in held:
        assert ak.to_list(got[branch]) == ak.to_list(want[branch]), branch


def test_a_layout_without_its_embedded_basket_is_a_damaged_read():
    info = scan.inspect_file(str(DATA / FILES[0]), "Events")
    layout = info.layouts["MET_pt"]
    stripped = BranchLayout(layout.kind, layout.dtype, layout.seeks, layout.nbytes,
                            layout.entries, layout.counter, b"")
    damaged = BranchLayout(layout.kind, layout.dtype, layout.seeks, layout.nbytes,
                           layout.entries, layout.counter, layout.embedded[:-3])
    with uproot.open(str(DATA / FILES[0])) as f:
        for bad, what in ((stripped, "missing"), (damaged, "is \\d+ bytes, not")):
            with pytest.raises(Exception, match=what) as caught:
                read_branches(f.file, {"MET_pt": bad}, 0, info.num_entries, BasketTiming())
            assert "MET_pt" in str(caught.value)


def test_the_cache_keeps_embedded_baskets_beside_its_json(tmp_path, monkeypatch):
    monkeypatch.setenv("HEPFLOW_CACHE_DIR", str(tmp_path))
    path = str(DATA / FILES[0])
    files = [(path, "Events", (), "")]
    fresh = scan.inspect_file(path, "Events")
    first = scan.preprocess_files(files)[0]
    blobs = list(scan.cache_dir().glob("*.embedded"))
    assert len(blobs) == 1 and first.layouts.embedded.path == str(blobs[0])
    cached = scan.preprocess_files(files)[0]
    assert cached.layouts.embedded.path == str(blobs[0])
    assert all(cached.layouts[n] == fresh.layouts[n] for n in fresh.layouts)
    blobs[0].write_bytes(blobs[0].read_bytes()[:-1])  # damaged: a miss, preprocessed again
    redone = scan.preprocess_files(files)[0]
    assert all(redone.layouts[n] == fresh.layouts[n] for n in fresh.layouts)
    assert blobs[0].stat().st_size == fresh.layouts.embedded.size
