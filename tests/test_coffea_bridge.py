"""hepflow and coffea hand work to each other (the coffea-compatible set; `make test-coffea`).

A coffea processor continues from a hepflow selection (`AsAwkward(nanoaod=True)`
partitions are NanoEvents with coffea's behaviours); a preprocessed dataset
exported as a coffea fileset runs in coffea's Runner and fills the same
histogram as hepflow; coffea 2026's DataGroupSpec loads as a hepflow Dataset.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np
import pytest

import hepflow
from hepflow import Dataset

pytestmark = pytest.mark.coffea

COLUMNS = ["run", "luminosityBlock", "event", "nMuon", "Muon_pt", "Muon_eta", "Muon_phi",
           "Muon_mass", "Muon_charge"]
AXIS = (60, 0.0, 120.0)
SELECTION = "nMuon == 2 && Muon_charge[0] != Muon_charge[1]"


def _mass_hist() -> hist.Hist:
    return hist.Hist.new.Reg(*AXIS, name="mass").Double()


def _hepflow_mass(df: hepflow.RDataFrame) -> np.ndarray:
    h = (df.Filter(SELECTION)
           .Define("mass", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)")
           .Histo1D(("mass", "mass", *AXIS), "mass").GetValue())
    return np.asarray(h.values())


class DimuonProcessor:
    """A coffea processor: the opposite-charge dimuon mass from NanoEvents."""

    def process(self, events: Any) -> dict[str, hist.Hist]:
        pair = events[(ak.num(events.Muon) == 2)]
        pair = pair[pair.Muon.charge[:, 0] != pair.Muon.charge[:, 1]]
        h = _mass_hist()
        h.fill(mass=ak.to_numpy((pair.Muon[:, 0] + pair.Muon[:, 1]).mass))
        return {"mass": h}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def test_a_coffea_processor_continues_from_a_hepflow_selection(sample_files: list[str],
                                                                client: Any) -> None:
    import dask

    df = hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=8_000)
    events = df.Filter("nMuon >= 1").AsAwkward(COLUMNS, nanoaod=True)
    parts = events.to_delayed()
    outputs = dask.compute(*[dask.delayed(DimuonProcessor().process)(p) for p in parts],
                           scheduler=client.get)
    total = sum((o["mass"] for o in outputs), _mass_hist())
    assert np.array_equal(total.values(), _hepflow_mass(df))
    assert total.values().sum() > 0
    computed = events.compute(scheduler="sync")
    assert type(computed.Muon).__name__ == "MuonArray"  # coffea's NanoAOD behaviour
    assert ak.all(ak.num(computed.Muon) >= 1)


# The generated sample is NanoAOD-like, not complete: it lacks Jet_electronIdx and friends.
@pytest.mark.filterwarnings("ignore:Missing cross-reference:RuntimeWarning")
def test_an_exported_fileset_runs_in_coffeas_runner(sample_files: list[str]) -> None:
    from coffea import processor
    from coffea.nanoevents import NanoAODSchema

    class Processor(DimuonProcessor, processor.ProcessorABC):  # type: ignore[misc]
        pass

    ds = Dataset.from_files(sample_files, "Events")
    prepared = hepflow.preprocess(ds, chunk_entries=8_000)
    fileset = prepared.to_fileset()
    (sample,) = fileset.values()
    assert sum(stop - start for f in sample["files"].values()
               for start, stop in f["steps"]) == prepared.entries
    assert all(f["uuid"] and f["num_entries"] for f in sample["files"].values())
    runner = processor.Runner(executor=processor.IterativeExecutor(), schema=NanoAODSchema,
                              chunksize=8_000)
    out = runner(fileset, processor_instance=Processor(), treename="Events")
    want = _hepflow_mass(hepflow.RDataFrame(prepared, client="sync"))
    assert np.array_equal(out["mass"].values(), want)
    again = Dataset.from_fileset(fileset)  # and back: the steps are the entries read
    assert hepflow.preprocess(again).entries == prepared.entries


def test_coffea_dataset_specs_load_as_datasets(sample_files: list[str]) -> None:
    from coffea.dataset_tools.filespec import DataGroupSpec

    prepared = hepflow.preprocess(Dataset.from_files(sample_files[:2], "Events"),
                                  chunk_entries=8_000)
    spec = DataGroupSpec({"dy": {**prepared.to_fileset()[next(iter(prepared.to_fileset()))],
                                 "metadata": {"xsec": 2.5}}})
    ds = Dataset.from_fileset(spec)
    assert [s.name for s in ds] == ["dy"] and ds.samples[0].xsec == 2.5
    df = hepflow.RDataFrame(hepflow.preprocess(ds), client="sync")
    assert df.Count().GetValue() == prepared.entries
    from_spec = Dataset.from_fileset({"dy": spec["dy"]})  # one DatasetSpec
    assert from_spec.samples[0].files == ds.samples[0].files
