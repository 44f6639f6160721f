"""The AGC ttbar example: every variation's histograms against an eager awkward/numpy analysis.

The eager side is `benchmarks.agc.analysis_columns` on arrays read with
uproot (the dask-awkward benchmark runs the same function lazily); hepflow's
side is the example's expression strings with `Vary` / `VariationsFor`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import hist
import numpy as np
import pytest
import uproot

import hepflow
import hepflow.analysis
from benchmarks.agc import (
    CPP_TWIN,
    EXAMPLE,
    Outcome,
    analysis_columns,
    compare,
    fill,
    load_example,
    record_program,
)
from benchmarks.dimuon import MOVED_FRACTION

AGC = load_example()
AGC_CPP = load_example(CPP_TWIN)


def _eager(ev: dict[str, ak.Array]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    events = ak.zip(ev, depth_limit=1)
    columns = analysis_columns(events, ak, lambda fn, *args, like: fn(*args), AGC)
    return fill(columns, lambda: hist.Hist.new.Reg(AGC.BINS, AGC.LOW, AGC.HIGH,
                                                    name="x").Weight())


@pytest.fixture(scope="module")
def reference(eager: dict[str, ak.Array]) -> Outcome:
    weighted, counts = _eager(eager)
    return Outcome(0.0, 0.0, weighted, counts)


def _run(sample_files: list[str], declare: Any, client: Any = "sync") -> Outcome:
    """Every weighted and unweighted histogram of the example, with `declare`'s helpers."""
    declare()  # an expression takes the helper declared when it is built
    df = hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=10_000)
    ht, top = AGC.with_observables(*AGC.select(df))
    weighted = AGC.book_histograms(ht, top)
    counts = AGC.book_histograms(ht, top, weight=None)
    return Outcome(0.0, 0.0, {r: {k: m[k] for k in m} for r, m in weighted.items()},
                   {r: {k: m[k] for k in m} for r, m in counts.items()})


def test_every_variation_matches_eager(sample_files: list[str], reference: Outcome) -> None:
    AGC.declare()
    df = hepflow.RDataFrame("Events", sample_files, client="sync", chunk_entries=10_000)
    ht, top = AGC.with_observables(*AGC.select(df))
    weighted = AGC.book_histograms(ht, top)
    counts = AGC.book_histograms(ht, top, weight=None)
    expected = {"nominal", "pt_scale:down", "pt_scale:up", "pt_res:up",
                *(f"btag_var_{i}:{d}" for i in range(4) for d in ("up", "down"))}
    assert set(weighted["4j1b"]) == set(weighted["4j2b"]) == expected
    # the b-tag weights change no count: the unweighted maps have only the jet variations
    assert set(counts["4j2b"]) == {"nominal", "pt_scale:down", "pt_scale:up", "pt_res:up"}
    got = Outcome(0.0, 0.0, {r: {k: m[k] for k in m} for r, m in weighted.items()},
                  {r: {k: m[k] for k in m} for r, m in counts.items()})
    # The eager twin computes the trijet in double, the example in float as ROOT does.
    assert compare(reference, got, MOVED_FRACTION) == []
    moved = got.counts["4j2b"]["pt_res:up"].copy()
    moved[3] = moved[3] + 1  # one event in another bin is a mismatch
    shifted = Outcome(0.0, 0.0, got.weighted, {**got.counts, "4j2b": {
        **got.counts["4j2b"], "pt_res:up": moved}})
    assert [p.split(":")[0] for p in compare(got, shifted)] == ["counts 4j2b pt_res"]
    for region in ("4j1b", "4j2b"):  # the variations really move the histograms
        nominal = reference.weighted[region]["nominal"].values()
        for key in ("pt_scale:up", "pt_res:up", "btag_var_0:up"):
            assert not np.allclose(got.weighted[region][key].values(), nominal)
        assert reference.counts[region]["nominal"].values().sum() > 100
    up = got.weighted["4j1b"]["btag_var_1:up"].values().sum()
    down = got.weighted["4j1b"]["btag_var_1:down"].values().sum()
    assert up > got.weighted["4j1b"]["nominal"].values().sum() > down


def test_the_cpp_twin_gives_the_python_examples_histograms(sample_files: list[str],
                                                         reference: Outcome,
                                                         client: Any) -> None:
    """The helpers as C++ source (numba-compiled on the workers) give every histogram of
    the Python helpers: counts bin for bin, weighted sums within 1e-6."""
    python = _run(sample_files, AGC.declare)
    cpp = _run(sample_files, AGC_CPP.declare, client)
    assert compare(python, cpp) == []
    assert compare(reference, cpp, MOVED_FRACTION) == []
    assert sum(h.values().sum() for h in cpp.counts["4j2b"].values()) > 400


def test_the_program_root_replays_is_the_examples(tmp_path: Path) -> None:
    """benchmarks/agc_rdf.py replays this program in ROOT: the twin's C++, every call of
    the example on its dataframes in order, and the four booked histograms."""
    program = record_program(AGC, AGC_CPP.HELPERS)
    steps = program["steps"]
    assert program["cpp"] == AGC_CPP.HELPERS and "ULong64_t splitmix64" in program["cpp"]
    assert steps[0][:2] == [0, "Vary"] and "ROOT::RVec<ROOT::RVecF>{" in steps[0][2][1]
    assert [method for _, method, _ in steps].count("Histo1D") == 4
    assert all(0 <= parent <= i for i, (parent, _, _) in enumerate(steps))
    histos = {index for regions in program["results"].values() for index in regions.values()}
    assert {steps[i - 1][1] for i in histos} == {"Histo1D"}
    assert len(histos) == 4
    (tmp_path / "p.json").write_text(json.dumps(program))  # what ROOT's script is given


def test_resolution_smearing_is_reproducible(eager: dict[str, ak.Array]) -> None:
    """Same factors for the same (event, jet) whatever the chunking; about N(1, 0.05)."""
    event, pt = np.asarray(eager["event"]), eager["Jet_pt"]
    whole = AGC.jet_resolution(event, pt)
    halves = ak.concatenate([AGC.jet_resolution(event[:1234], pt[:1234]),
                             AGC.jet_resolution(event[1234:], pt[1234:])])
    assert ak.all(whole == halves)
    assert str(ak.type(whole).content.content) == "float32"  # the jets' precision
    flat = np.asarray(ak.flatten(whole), dtype=np.float64)
    assert abs(flat.mean() - 1) < 0.002
    assert abs(flat.std() - AGC.JER) < 0.002


def test_written_per_sample_in_agc_names(sample_files: list[str], tmp_path: Path) -> None:
    """Two samples: `<region>_<sample>_<variation>` histograms whose sum is the total."""
    spec = tmp_path / "agc.yaml"
    spec.write_text("tree: Events\nsamples:\n"
                    f"  ttbar: {{files: [{sample_files[0]}]}}\n"
                    f"  wjets: {{files: [{sample_files[1]}, {sample_files[2]}]}}\n")
    booked = hepflow.analysis.load(EXAMPLE, str(spec))  # what `hepflow run` books
    assert len(booked) == 24 and "4j2b_btag_var_0_up" in booked and "4j1b_nominal" in booked
    df = hepflow.RDataFrame(hepflow.Dataset.load(spec), client="sync")
    maps = AGC.book(df)
    names = AGC.write_histograms(maps, tmp_path / "agc.root")
    assert len(names) == 2 * 2 * 12 and "4j1b_ttbar_pt_scale_up" in names
    with uproot.open(tmp_path / "agc.root") as f:
        for region in ("4j1b", "4j2b"):
            for key in ("nominal", "pt_res:up", "btag_var_3:down"):
                tag = key.replace(":", "_")
                parts = [f[f"{region}_{s}_{tag}"].values(flow=True) for s in ("ttbar", "wjets")]
                np.testing.assert_allclose(parts[0] + parts[1],
                                           maps[region][key].values(flow=True), rtol=1e-12)
