"""The Analysis Grand Challenge (AGC) ttbar analysis with its systematic variations.

Run it as an analysis file (the runner writes ``out/histograms.root`` with one
histogram per region and variation, ``4j1b_nominal``, ``4j2b_pt_scale_up``...)::

    hepflow run examples/agc_ttbar.py --dataset D.yaml --outdir out

or directly, which also splits every histogram by sample in the AGC's naming,
``<region>_<sample>_<variation>`` (``4j1b_ttbar_pt_scale_up``), the layout the
AGC's cabinetry fit reads::

    python examples/agc_ttbar.py --dataset D.yaml --output agc_histograms.root

or import it and call `book(df)`, which returns one `RResultMap` (the
histogram under every variation) per region.

The analysis follows the AGC's ttbar single-lepton selection (CMS 2015
NanoAOD) on hepflow's NanoAOD-like samples:

* exactly one tight lepton: a muon (pT > 30 GeV, |eta| < 2.1, tight ID,
  isolation < 0.15) or an electron (pT > 30 GeV, |eta| < 2.1, cut-based tight,
  isolation < 0.15);
* jets with pT > 30 GeV (after the jet variations), |eta| < 2.4 and jet ID;
  at least four of them; b-tagged when DeepFlavour > 0.5;
* region ``4j1b`` (exactly one b-tag): H_T, the scalar sum of the jets' pT;
* region ``4j2b`` (two or more): the mass of the trijet with the largest pT
  among the trijets containing a b-tagged jet, the reconstructed top quark;
* event weight ``genWeight`` times a muon scale factor, `muon_sf`, a Python
  function declared with `hepflow.Declare` and called from the weight string.

Systematic variations, all filled in the same pass with `Vary` / `VariationsFor`:

* ``pt_scale:up`` / ``pt_scale:down``: jet energy scale, jet pT x 1.03 / x 0.97;
* ``pt_res:up``: jet energy resolution, jet pT x a Gaussian factor N(1, 0.05)
  drawn per jet by `jet_resolution`, a hash of the event number and jet index,
  so that a rerun (or another framework) gets exactly the same smearing;
* ``btag_var_<i>:up`` / ``:down`` for i = 0..3: the AGC's b-tag weight
  variations, the event weight x (1 +- 0.075 pT_i / 50 GeV) of the i-th
  selected jet.

The selection is written in strings as a ROOT user writes it; only the two
declared functions are Python.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

import hepflow

if TYPE_CHECKING:
    from hepflow.plan.handles import RResultMap

#: DeepFlavour working point for a b-tagged jet.
BTAG_WP = 0.5
#: Jet energy scale variation (relative) and resolution (Gaussian width of the smearing).
JES, JER = 0.03, 0.05
#: The AGC's b-tag weight variation: 7.5 % per 50 GeV of the i-th jet's pT, four jets.
BTAG_VAR, BTAG_VAR_PT, BTAG_JETS = 0.075, 50.0, 4
#: The AGC's binning of both observables: 25 bins from 50 to 550 GeV.
BINS, LOW, HIGH = 25, 50.0, 550.0
#: Region -> (observable column, axis title).
REGIONS = {"4j1b": ("ht", "H_T [GeV]"), "4j2b": ("trijet_mass", "m_{bjj} [GeV]")}


# -- declared functions: Python on whole columns, called from the strings below --------------


def muon_sf(pt: ak.Array, eta: ak.Array) -> ak.Array:
    """Per-muon identification scale factor: a smooth turn-on in pT, falling with |eta|.

    sf = 0.97 + 0.02 tanh((pT - 40 GeV) / 20 GeV) - 0.01 |eta|, a shape like a
    tag-and-probe measurement of a tight ID (about 0.95 at 30 GeV in the
    barrel, 0.99 at high pT), in float64.
    """
    pt64 = ak.values_astype(pt, np.float64)
    eta64 = ak.values_astype(eta, np.float64)
    return 0.97 + 0.02 * np.tanh((pt64 - 40.0) / 20.0) - 0.01 * abs(eta64)


_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a well-mixed 64-bit hash of each uint64, wrapping like C."""
    with np.errstate(over="ignore"):
        z = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return z ^ (z >> np.uint64(31))


def jet_resolution(event: np.ndarray, jet_pt: ak.Array) -> ak.Array:
    """A factor N(1, JER) per jet, a pure function of (event number, jet index).

    The AGC smears jets with a random Gaussian; a random generator would give
    different numbers on each rerun, each chunking and each framework. Here two
    uniforms come from a SplitMix64 hash of ``event * 1024 + index`` and become
    one Gaussian by Box-Muller, so the smearing is reproducible exactly.
    Returned in float32 (the jets' precision).
    """
    counts = np.asarray(ak.num(jet_pt, axis=1))
    index = np.asarray(ak.flatten(ak.local_index(jet_pt, axis=1)), dtype=np.uint64)
    owner = np.repeat(np.asarray(event, dtype=np.uint64), counts)
    with np.errstate(over="ignore"):
        key = owner * np.uint64(1024) + index
    first = _splitmix64(key)
    second = _splitmix64(first)
    u1 = ((first >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    u2 = (second >> np.uint64(11)).astype(np.float64) / 2.0**53
    gauss = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    factor = (1.0 + JER * gauss).astype(np.float32)
    return ak.unflatten(factor, counts)


def declare() -> None:
    """Declare the two Python helpers for the strings below.

    An expression takes the declared function when it is built, so `book`
    declares them again first: `agc_ttbar_cpp.py` declares C++ functions of the
    same names, and whichever was declared last is the one a new string calls.
    """
    hepflow.Declare("muon_sf", muon_sf, ["RVec<float>", "RVec<float>"], "RVec<double>")
    hepflow.Declare("jet_resolution", jet_resolution, ["ULong64_t", "RVec<float>"],
                    "RVec<float>")


declare()


# -- the analysis -----------------------------------------------------------------------------

MUON_OK = ("Muon_pt > 30 && abs(Muon_eta) < 2.1 && Muon_tightId "
           "&& Muon_pfRelIso04_all < 0.15")
ELECTRON_OK = ("Electron_pt > 30 && abs(Electron_eta) < 2.1 && Electron_cutBased == 4 "
               "&& Electron_pfRelIso03_all < 0.15")
JET_OK = "Jet_pt > 30 && abs(Jet_eta) < 2.4 && Jet_jetId >= 2"


def vary_jets(df: Any) -> Any:
    """The jet energy scale and resolution variations of `Jet_pt`."""
    return (df.Vary("Jet_pt", "ROOT::RVec<ROOT::RVecF>"
                              f"{{Jet_pt * {1 - JES}f, Jet_pt * {1 + JES}f}}",
                    ["down", "up"], "pt_scale")
              .Vary("Jet_pt", "ROOT::RVec<ROOT::RVecF>{Jet_pt * jet_resolution(event, Jet_pt)}",
                    ["up"], "pt_res"))


def select(df: Any) -> tuple[Any, Any]:
    """The 4j1b and 4j2b regions, each with the selected jets and the varied `weight`."""
    jets = (vary_jets(df)
            .Define("muon_ok", MUON_OK)
            .Define("electron_ok", ELECTRON_OK)
            .Filter("Sum(muon_ok) + Sum(electron_ok) == 1", "exactly one lepton")
            .Define("weight", "genWeight * Product(muon_sf(Muon_pt[muon_ok], "
                              "Muon_eta[muon_ok]))")
            .Define("jet_ok", JET_OK)
            .Define("jet_pt", "Jet_pt[jet_ok]")
            .Define("jet_eta", "Jet_eta[jet_ok]")
            .Define("jet_phi", "Jet_phi[jet_ok]")
            .Define("jet_mass", "Jet_mass[jet_ok]")
            .Define("jet_btag", "Jet_btagDeepFlavB[jet_ok]")
            .Filter("size(jet_pt) >= 4", "at least four jets")
            .Define("n_btag", f"Sum(jet_btag > {BTAG_WP})"))
    for i in range(BTAG_JETS):
        shift = f"{BTAG_VAR} * jet_pt[{i}] / {BTAG_VAR_PT}"
        jets = jets.Vary("weight", f"ROOT::RVecD{{weight * (1 + {shift}), "
                                   f"weight * (1 - {shift})}}", ["up", "down"],
                         f"btag_var_{i}")
    region_4j1b = jets.Filter("n_btag == 1", "4j1b: exactly one b-tag")
    region_4j2b = jets.Filter("n_btag >= 2", "4j2b: at least two b-tags")
    return region_4j1b, region_4j2b


def with_observables(region_4j1b: Any, region_4j2b: Any) -> tuple[Any, Any]:
    """H_T in 4j1b; in 4j2b the mass of the highest-pT trijet with a b-tagged jet."""
    ht = region_4j1b.Define("ht", "Sum(jet_pt)")
    top = (region_4j2b
           .Define("jet_px", "jet_pt * cos(jet_phi)")
           .Define("jet_py", "jet_pt * sin(jet_phi)")
           .Define("jet_pz", "jet_pt * sinh(jet_eta)")
           .Define("jet_e", "sqrt(jet_px*jet_px + jet_py*jet_py + jet_pz*jet_pz "
                            "+ jet_mass*jet_mass)")
           .Define("trijet", "Combinations(jet_pt, 3)")
           .Define("j1", "trijet[0]").Define("j2", "trijet[1]").Define("j3", "trijet[2]")
           .Define("tri_px", "Take(jet_px, j1) + Take(jet_px, j2) + Take(jet_px, j3)")
           .Define("tri_py", "Take(jet_py, j1) + Take(jet_py, j2) + Take(jet_py, j3)")
           .Define("tri_pz", "Take(jet_pz, j1) + Take(jet_pz, j2) + Take(jet_pz, j3)")
           .Define("tri_e", "Take(jet_e, j1) + Take(jet_e, j2) + Take(jet_e, j3)")
           .Define("tri_pt2", "tri_px*tri_px + tri_py*tri_py")
           .Define("tri_btag", "auto b1 = Take(jet_btag, j1), b2 = Take(jet_btag, j2), "
                               "b3 = Take(jet_btag, j3); auto b12 = Where(b1 > b2, b1, b2); "
                               "return Where(b12 > b3, b12, b3);")
           .Define("tri_rank", f"Where(tri_btag > {BTAG_WP}, tri_pt2, -1.0)")
           .Define("best", "ArgMax(tri_rank)")
           .Define("trijet_mass", "sqrt(std::max((double)(tri_e[best]*tri_e[best] "
                                  "- tri_px[best]*tri_px[best] - tri_py[best]*tri_py[best] "
                                  "- tri_pz[best]*tri_pz[best]), 0.0))"))
    return ht, top


def book(df: Any) -> dict[str, RResultMap[Any]]:
    """Book both regions' histograms under every variation; region -> `RResultMap`.

    Nothing runs until a value is read; then every variation of both regions
    fills in one pass over the data.
    """
    declare()
    return book_histograms(*with_observables(*select(df)))


def book_histograms(ht: Any, top: Any, weight: str | None = "weight",
                    variations_for: Callable[[Any], Any] = hepflow.VariationsFor,
                    ) -> dict[str, RResultMap[Any]]:
    """The observable of each region filled with `weight` (None: unweighted counts).

    `variations_for` is ROOT's ``ROOT.RDF.Experimental.VariationsFor`` when
    the frames are ROOT's (`benchmarks/agc.py` runs these strings in ROOT too).
    """
    frames = {"4j1b": ht, "4j2b": top}
    maps = {}
    for region, (column, title) in REGIONS.items():
        model = (region, f"{region};{title}", BINS, LOW, HIGH)
        booked = (frames[region].Histo1D(model, column) if weight is None
                  else frames[region].Histo1D(model, column, weight))
        maps[region] = variations_for(booked)
    return maps


def histogram_name(region: str, variation: str, sample: str | None = None) -> str:
    """AGC-style names: ``4j1b_pt_scale_up``, with a sample ``4j1b_ttbar_pt_scale_up``."""
    tag = variation.replace(":", "_")
    return f"{region}_{tag}" if sample is None else f"{region}_{sample}_{tag}"


def handles(maps: Mapping[str, RResultMap[Any]]) -> dict[str, Any]:
    """Every histogram handle by its output name, for the analysis-file runner."""
    return {histogram_name(region, key): varied.handle(key)
            for region, varied in maps.items() for key in varied}


def write_histograms(maps: Mapping[str, RResultMap[Any]], path: str | Path,
                     ) -> list[str]:
    """Write ``<region>_<sample>_<variation>`` histograms with uproot; returns the names.

    A dataset without named samples is written under the sample name ``all``.
    """
    import uproot

    hepflow.RunGraphs([maps[r].handle(k) for r in maps for k in maps[r]])
    names = []
    with uproot.recreate(path) as out:
        for region, varied in maps.items():
            for key in varied:
                split = varied.handle(key).per_sample() or {"": varied[key]}
                for sample, histogram in split.items():
                    name = histogram_name(region, key, sample or "all")
                    out[name] = histogram
                    names.append(name)
    return names


if __name__ == "__hepflow_analysis__":  # `hepflow run examples/agc_ttbar.py --dataset ...`
    from hepflow.analysis import dataset

    results = handles(book(hepflow.RDataFrame(dataset())))


def main(argv: Sequence[str] | None = None,
         booking: Callable[[Any], dict[str, RResultMap[Any]]] = book,
         description: str | None = __doc__) -> int:
    """`python examples/agc_ttbar.py --dataset D.yaml --output agc.root [--workers 2]`
    (`booking` is the C++ twin's `book` when it runs)."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="hepflow dataset file (YAML/JSON)")
    parser.add_argument("--output", default="agc_histograms.root", help="ROOT file to write")
    parser.add_argument("--workers", type=int, default=2, help="local process workers")
    args = parser.parse_args(argv)

    import distributed

    from hepflow.cluster import local_cluster

    with local_cluster(args.workers) as cluster, distributed.Client(cluster) as client:
        maps = booking(hepflow.RDataFrame(hepflow.Dataset.load(args.dataset), client=client))
        names = write_histograms(maps, args.output)
    print(f"{len(names)} histograms written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
