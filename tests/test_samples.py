"""Tests of the NanoAOD-like sample generator (hepflow.samples).

Every other test and benchmark trusts these files, so their layout, types,
physics and determinism are checked here by reading them back with plain uproot.
"""

from __future__ import annotations

import argparse
import pathlib

import awkward as ak
import numpy as np
import pytest
import uproot

from hepflow.samples import (
    CORE_BRANCHES,
    MUON_MASS,
    Z_MASS,
    make_sample,
    sample_layout,
    split_events,
)
from hepflow.samples import cli as samples_cli

EVENTS = 20_000
FILES = 2
BASKET = 4_000

EXPECTED_TYPES = {
    "run": np.uint32,
    "luminosityBlock": np.uint32,
    "event": np.uint64,
    "nMuon": np.int32,
    "Muon_pt": np.float32,
    "Muon_eta": np.float32,
    "Muon_phi": np.float32,
    "Muon_mass": np.float32,
    "Muon_charge": np.int32,
    "Muon_pfRelIso04_all": np.float32,
    "Muon_tightId": np.bool_,
    "nElectron": np.int32,
    "Electron_pt": np.float32,
    "Electron_eta": np.float32,
    "Electron_phi": np.float32,
    "Electron_mass": np.float32,
    "Electron_charge": np.int32,
    "Electron_pfRelIso03_all": np.float32,
    "Electron_cutBased": np.int32,
    "nJet": np.int32,
    "Jet_pt": np.float32,
    "Jet_eta": np.float32,
    "Jet_phi": np.float32,
    "Jet_mass": np.float32,
    "Jet_btagDeepFlavB": np.float32,
    "Jet_jetId": np.int32,
    "MET_pt": np.float32,
    "MET_phi": np.float32,
    "genWeight": np.float32,
    "PV_npvs": np.int32,
    "HLT_IsoMu24": np.bool_,
    "process": np.int32,
    "nGenMuon": np.int32,
    "GenMuon_pt": np.float32,
}
COLLECTIONS = {"Muon": "nMuon", "Electron": "nElectron", "Jet": "nJet", "GenMuon": "nGenMuon"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> list[pathlib.Path]:
    """One small default-layout sample shared by the read-back tests."""
    out = tmp_path_factory.mktemp("sample")
    return make_sample(out, events=EVENTS, files=FILES, seed=7, basket_entries=BASKET)


@pytest.fixture(scope="module")
def events(sample: list[pathlib.Path]) -> ak.Array:
    """The core branches of all files, concatenated in file order."""
    parts = []
    for path in sample:
        with uproot.open(path) as f:
            parts.append(f["Events"].arrays(list(CORE_BRANCHES)))
    return ak.concatenate(parts)


def _arrays(path: pathlib.Path) -> ak.Array:
    with uproot.open(path) as f:
        return f["Events"].arrays()


def test_files_and_split(sample: list[pathlib.Path]) -> None:
    assert [p.name for p in sample] == ["sample_000.root", "sample_001.root"]
    # No temporary files are left behind.
    assert sorted(p.name for p in sample[0].parent.iterdir()) == [p.name for p in sample]
    assert split_events(10, 3) == [4, 3, 3]
    assert split_events(2, 4) == [1, 1, 0, 0]
    for path, n in zip(sample, split_events(EVENTS, FILES), strict=True):
        with uproot.open(path) as f:
            assert f.keys(cycle=False) == ["Events"]
            assert f["Events"].num_entries == n


def test_branch_layout_and_types(sample: list[pathlib.Path]) -> None:
    with uproot.open(sample[0]) as f:
        tree = f["Events"]
        keys = tree.keys()
        assert keys[: len(CORE_BRANCHES)] == list(CORE_BRANCHES)
        assert len(keys) == len(CORE_BRANCHES) + 100 == sample_layout().n_branches
        assert keys == sample_layout().branch_names
        arrays = tree.arrays(list(EXPECTED_TYPES), entry_stop=1000)
        for name, dtype in EXPECTED_TYPES.items():
            flat = ak.flatten(arrays[name], axis=None)
            assert ak.to_numpy(flat).dtype == np.dtype(dtype), name
        # Jagged branches are counter-sized C arrays, as in NanoAOD.
        for coll, counter in COLLECTIONS.items():
            assert tree[f"{coll}_pt"].title == f"{coll}_pt[{counter}]/F"
        extras = [k for k in keys if k not in CORE_BRANCHES]
        assert all(tree[k].typename == "float" for k in extras)
        assert "fixedGridRhoFastjetAll" in extras


def test_counters_match_jagged_lengths(events: ak.Array) -> None:
    for coll, counter in COLLECTIONS.items():
        counts = ak.to_numpy(events[counter])
        for name in events.fields:
            if name.startswith(coll + "_"):
                assert np.array_equal(ak.to_numpy(ak.num(events[name])), counts), name
    # Collections are pt-ordered within each event, as in NanoAOD (GenMuon follows Muon's
    # order: its entries are the truth of the reconstructed muons, one to one).
    for coll in ("Muon", "Electron", "Jet"):
        pt = events[f"{coll}_pt"]
        assert ak.all(pt[:, :-1] >= pt[:, 1:])


def test_gen_muon_truth_and_resolution(events: ak.Array) -> None:
    """GenMuon_pt is matched one to one to Muon_pt with the documented pT-dependent smearing."""
    from hepflow.samples.generator import MUON_RESOLUTION

    assert np.array_equal(ak.to_numpy(events.nGenMuon), ak.to_numpy(events.nMuon))
    reco = ak.to_numpy(ak.flatten(events.Muon_pt)).astype(np.float64)
    gen = ak.to_numpy(ak.flatten(events.GenMuon_pt)).astype(np.float64)
    assert np.all(gen > 0)
    pull = (reco / gen - 1.0) / (MUON_RESOLUTION[0] + MUON_RESOLUTION[1] * reco)
    assert abs(np.mean(pull)) < 0.05
    assert 0.95 < np.std(pull) < 1.05
    low, high = (reco > 10) & (reco < 30), reco > 60
    width_low = np.std(reco[low] / gen[low] - 1.0)
    width_high = np.std(reco[high] / gen[high] - 1.0)
    assert width_high > 1.3 * width_low  # the resolution worsens with pT


def test_truth_leaves_the_other_branches_of_a_seed_unchanged() -> None:
    """The truth has its own random stream: the reconstructed values do not depend on it."""
    from hepflow.samples.generator import generate_chunk

    layout = sample_layout(extra_branches=3)
    one = generate_chunk(np.random.default_rng((5, 0)), 500, 0, layout)
    two = generate_chunk(np.random.default_rng((5, 0)), 500, 0, layout,
                         truth_rng=np.random.default_rng(99))
    for name, value in one.items():
        if name != "GenMuon":
            assert ak.to_list(value) == ak.to_list(two[name]), name
    assert not ak.all(one["GenMuon"].pt == two["GenMuon"].pt)


def test_event_numbers_unique_across_files(events: ak.Array) -> None:
    ev = ak.to_numpy(events.event)
    assert np.array_equal(ev, np.arange(1, EVENTS + 1, dtype=np.uint64))
    assert np.all(ak.to_numpy(events.run) == 1)


def test_cluster_size_is_basket_entries(sample: list[pathlib.Path]) -> None:
    with uproot.open(sample[0]) as f:
        tree = f["Events"]
        n = tree.num_entries
        assert list(tree.common_entry_offsets()) == [*range(0, n, BASKET), n]


def test_determinism(tmp_path: pathlib.Path) -> None:
    kw = {"events": 3_000, "files": 2, "basket_entries": 1_000, "branches": 120}
    a = make_sample(tmp_path / "a", seed=3, **kw)
    b = make_sample(tmp_path / "b", seed=3, **kw)
    c = make_sample(tmp_path / "c", seed=4, **kw)
    for pa, pb, pc in zip(a, b, c, strict=True):
        xa, xb, xc = _arrays(pa), _arrays(pb), _arrays(pc)
        assert xa.fields == xb.fields == xc.fields
        for name in xa.fields:
            assert ak.array_equal(xa[name], xb[name]), name
        assert not ak.array_equal(xa.Muon_pt, xc.Muon_pt)
        assert not ak.array_equal(xa.process, xc.process)
    # Files of one sample are not copies of each other.
    assert not ak.array_equal(_arrays(a[0]).process, _arrays(a[1]).process)


def test_drell_yan_dimuon_mass_peak(events: ak.Array) -> None:
    dy = events[events.process == 0]
    assert ak.all(dy.nMuon == 2)
    assert ak.all(ak.sum(dy.Muon_charge, axis=1) == 0)
    assert np.allclose(ak.to_numpy(ak.flatten(dy.Muon_mass)), MUON_MASS)
    pt, eta, phi, m = (
        ak.to_numpy(dy[f"Muon_{v}"]).astype(np.float64) for v in ("pt", "eta", "phi", "mass")
    )
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    mass = np.sqrt(np.maximum(e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2, 0))
    hist, edges = np.histogram(mass, bins=np.arange(60.0, 121.0, 1.0))
    peak = edges[np.argmax(hist)] + 0.5
    assert abs(peak - Z_MASS) < 2.0
    # Most of the Breit-Wigner lies within a few widths of the peak.
    assert np.mean(np.abs(mass - Z_MASS) < 10.0) > 0.8


def test_process_physics(events: ak.Array) -> None:
    process = ak.to_numpy(events.process)
    fractions = np.bincount(process, minlength=3) / process.size
    assert np.allclose(fractions, [0.3, 0.2, 0.5], atol=0.02)

    tt = events[events.process == 1]
    assert ak.all(tt.nJet >= 2)
    assert ak.all(tt.nMuon + tt.nElectron >= 1)
    n_btag = ak.sum(tt.Jet_btagDeepFlavB > 0.5, axis=1)
    assert 1.2 < ak.mean(n_btag) < 2.5

    qcd = events[events.process == 2]
    assert ak.all(qcd.nJet >= 2)
    assert ak.max(qcd.nMuon) <= 3
    assert ak.mean(qcd.Muon_pfRelIso04_all) > 0.5
    assert ak.mean(tt.MET_pt) > 2 * ak.mean(qcd.MET_pt)

    # DY muons are isolated and fire the single-muon trigger often, QCD rarely.
    dy = events[events.process == 0]
    assert ak.mean(dy.HLT_IsoMu24) > 0.5 > ak.mean(qcd.HLT_IsoMu24)


def test_negative_gen_weights(events: ak.Array) -> None:
    w = ak.to_numpy(events.genWeight)
    assert 0.04 < np.mean(w < 0) < 0.12
    assert np.all(w != 0)


@pytest.mark.parametrize(("name", "code"), [("ZSTD", 505), ("lz4", 404), ("ZLIB", 101)])
def test_compression_choice(tmp_path: pathlib.Path, name: str, code: int) -> None:
    (path,) = make_sample(tmp_path, events=500, compression=name, extra_branches=2)
    with uproot.open(path) as f:
        assert f.file.fCompress == code
        # The baskets themselves carry the algorithm in their block headers.
        (block,) = f["Events"]["Muon_pt"].basket(0).block_compression_info
        assert block[0] == name.upper()


def test_compression_level_and_bad_name(tmp_path: pathlib.Path) -> None:
    (path,) = make_sample(
        tmp_path, events=100, compression="ZSTD", compression_level=9, extra_branches=0
    )
    with uproot.open(path) as f:
        assert f.file.fCompress == 509
    with pytest.raises(ValueError, match="unknown compression 'BROTLI'"):
        make_sample(tmp_path, events=10, compression="BROTLI")


def test_branches_target(tmp_path: pathlib.Path) -> None:
    (path,) = make_sample(tmp_path, events=2_000, branches=300)
    with uproot.open(path) as f:
        tree = f["Events"]
        assert len(tree.keys()) == 300 == sample_layout(branches=300).n_branches
        typenames = {tree[k].typename for k in tree.keys()}
        assert {"float", "int32_t", "bool"} <= typenames
        assert tree["Tau_pt"].title == "Tau_pt[nTau]/F"
        arrays = tree.arrays(filter_name=["nTau", "Tau_*"])
        assert np.array_equal(ak.to_numpy(ak.num(arrays.Tau_pt)), ak.to_numpy(arrays.nTau))
    with pytest.raises(ValueError, match="below the 34 physics branches"):
        sample_layout(branches=10)


def test_empty_files(tmp_path: pathlib.Path) -> None:
    paths = make_sample(tmp_path, events=1, files=2, extra_branches=3)
    with uproot.open(paths[1]) as f:
        assert f["Events"].num_entries == 0
        assert f["Events"].keys() == sample_layout(3).branch_names


def test_cli(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="hepflow")
    samples_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "make-sample",
            str(tmp_path),
            "--events",
            "1000",
            "--files",
            "2",
            "--seed",
            "5",
            "--compression",
            "lz4",
            "--branches",
            "60",
        ]
    )
    assert args.func is samples_cli.run
    assert samples_cli.run(args) == 0
    out = capsys.readouterr().out
    assert "events/s" in out
    assert "1,000 mix events in 2 file(s)" in out
    with uproot.open(tmp_path / "sample_001.root") as f:
        assert f.file.fCompress == 404
        assert len(f["Events"].keys()) == 60
    with pytest.raises(SystemExit):
        parser.parse_args(["make-sample", str(tmp_path), "--compression", "BROTLI"])


@pytest.mark.parametrize(("process", "label"), [("dy", 0), ("ttbar", 1), ("qcd", 2)])
def test_cli_one_process_per_sample(tmp_path: pathlib.Path, process: str, label: int) -> None:
    """`--process` writes one process only, so signal and background are separate samples."""
    parser = argparse.ArgumentParser(prog="hepflow")
    samples_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["make-sample", str(tmp_path), "--events", "2000",
                              "--process", process, "--extra-branches", "0"])
    assert samples_cli.run(args) == 0
    with uproot.open(tmp_path / "sample_000.root") as f:
        assert set(f["Events"]["process"].array(library="np")) == {label}
    with pytest.raises(SystemExit):
        parser.parse_args(["make-sample", str(tmp_path), "--process", "wjets"])


def test_two_processes_differ_but_overlap(tmp_path: pathlib.Path) -> None:
    """DY and ttbar samples are different events, yet no single feature separates them."""
    from hepflow.ml.metrics import roc_auc

    def leading(process: str) -> dict[str, np.ndarray]:
        (path,) = make_sample(tmp_path / process, events=6000, seed=3, process=process,
                              extra_branches=0)
        with uproot.open(path) as f:
            ev = f["Events"].arrays(["nJet", "MET_pt", "Jet_btagDeepFlavB"])
        return {"nJet": ak.to_numpy(ev.nJet), "MET_pt": ak.to_numpy(ev.MET_pt),
                "nbtag": ak.to_numpy(ak.sum(ev.Jet_btagDeepFlavB > 0.5, axis=1))}

    dy, tt = leading("dy"), leading("ttbar")
    for name in dy:
        labels = np.r_[np.zeros(dy[name].size), np.ones(tt[name].size)]
        auc = roc_auc(labels, np.r_[dy[name], tt[name]])
        assert 0.5 < auc < 0.85, (name, auc)
    with pytest.raises(ValueError, match="process must be one of"):
        make_sample(tmp_path / "bad", events=10, process="wjets")
