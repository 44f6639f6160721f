"""ROOT's answers for the differential suite `tests/root_programs/`, computed once with ROOT 6.40.

Run with the Python that has PyPI's `root` package (never a dependency of hepflow):

    /work/rootenv/bin/python scripts/root_programs_references.py --make-inputs
        writes the small ROOT-written input files into tests/root_programs/data/
        (deterministic: a fixed numpy seed, ROOT's TTree/RNTuple writers);
    /work/rootenv/bin/python scripts/root_programs_references.py
        runs every program with PyROOT and writes tests/root_programs/references.json
        (`--only NAME ...` reruns some programs and keeps the others' references);
    /work/rootenv/bin/python scripts/root_programs_references.py --check-snapshots DIR
        reads with ROOT every file hepflow's Snapshot wrote into DIR (the test suite
        writes them there when HEPFLOW_ROOT_SNAPSHOTS=DIR is set) and compares each one
        with the dump of ROOT's own Snapshot of the same program, stored in the references.
"""

from __future__ import annotations

import argparse
import array
import json
import math
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT_DIR))

import ROOT  # type: ignore[import-not-found]  # noqa: E402

from tests.root_programs.compare import differences  # noqa: E402
from tests.root_programs.plain import plain  # noqa: E402
from tests.root_programs.registry import (  # noqa: E402
    DATA,
    REALDATA,
    REFERENCES,
    Inputs,
    all_programs,
)

SEED = 20260521


# ---------------------------------------------------------------- inputs

def _branch(tree: Any, name: str, buffer: Any, leaf: str) -> None:
    tree.Branch(name, buffer, leaf)


def make_nano(path: Path, entries: int, rng: np.random.Generator, first_event: int) -> None:
    """A NanoAOD-like TTree `Events`: counters `nX` and `X_pt[nX]`-style arrays."""
    f = ROOT.TFile(str(path), "RECREATE")
    t = ROOT.TTree("Events", "NanoAOD-like events")
    t.SetAutoFlush(250)
    scal = {
        "run": (np.zeros(1, np.uint32), "i"), "luminosityBlock": (np.zeros(1, np.uint32), "i"),
        "event": (np.zeros(1, np.uint64), "l"), "PV_npvs": (np.zeros(1, np.int32), "I"),
        "MET_pt": (np.zeros(1, np.float32), "F"), "MET_phi": (np.zeros(1, np.float32), "F"),
        "genWeight": (np.zeros(1, np.float32), "F"), "HLT_IsoMu24": (np.zeros(1, np.bool_), "O"),
        "nMuon": (np.zeros(1, np.uint32), "i"), "nElectron": (np.zeros(1, np.uint32), "i"),
        "nJet": (np.zeros(1, np.uint32), "i"),
    }
    for name, (buf, code) in scal.items():
        _branch(t, name, buf, f"{name}/{code}")
    coll = {
        "Muon": {"pt": "F", "eta": "F", "phi": "F", "mass": "F", "charge": "I",
                 "pfRelIso04_all": "F", "dxy": "F", "dz": "F", "tightId": "O"},
        "Electron": {"pt": "F", "eta": "F", "phi": "F", "mass": "F", "charge": "I",
                     "pfRelIso03_all": "F", "dxy": "F", "dz": "F"},
        "Jet": {"pt": "F", "eta": "F", "phi": "F", "mass": "F", "jetId": "b",
                "btagDeepB": "F"},
    }
    dtypes = {"F": np.float32, "I": np.int32, "O": np.bool_, "b": np.uint8}
    bufs: dict[str, dict[str, np.ndarray]] = {}
    for c, fields in coll.items():
        bufs[c] = {}
        for fld, code in fields.items():
            buf = np.zeros(16, dtypes[code])
            bufs[c][fld] = buf
            _branch(t, f"{c}_{fld}", buf, f"{c}_{fld}[n{c}]/{code}")
    for i in range(entries):
        scal["run"][0][0] = 1 + (first_event + i) // 1500
        scal["luminosityBlock"][0][0] = 1 + (first_event + i) // 100
        scal["event"][0][0] = first_event + i
        scal["PV_npvs"][0][0] = rng.poisson(20)
        scal["MET_pt"][0][0] = rng.exponential(30.0)
        scal["MET_phi"][0][0] = rng.uniform(-math.pi, math.pi)
        scal["genWeight"][0][0] = rng.choice([1.0, -1.0], p=[0.85, 0.15]) * rng.uniform(0.5, 1.5)
        scal["HLT_IsoMu24"][0][0] = rng.uniform() < 0.6
        sizes = {"Muon": min(int(rng.poisson(1.6)), 8), "Electron": min(int(rng.poisson(1.2)), 8),
                 "Jet": min(int(rng.poisson(4.0)), 15)}
        for c, n in sizes.items():
            scal[f"n{c}"][0][0] = n
            b = bufs[c]
            b["pt"][:n] = np.sort(rng.exponential(25.0, n) + 3.0)[::-1]
            b["eta"][:n] = rng.uniform(-2.8, 2.8, n)
            b["phi"][:n] = rng.uniform(-math.pi, math.pi, n)
            if c == "Jet":
                b["mass"][:n] = rng.uniform(2.0, 20.0, n)
                b["jetId"][:n] = rng.choice([0, 2, 6], n, p=[0.1, 0.2, 0.7])
                b["btagDeepB"][:n] = rng.uniform(0, 1, n)
                continue
            b["mass"][:n] = 0.1056583745 if c == "Muon" else 0.000511
            b["charge"][:n] = rng.choice([-1, 1], n)
            b["dxy"][:n] = rng.normal(0, 0.02, n)
            b["dz"][:n] = rng.normal(0, 0.05, n)
            b["pfRelIso04_all" if c == "Muon" else "pfRelIso03_all"][:n] = rng.exponential(0.2, n)
            if c == "Muon":
                b["tightId"][:n] = rng.uniform(0, 1, n) < 0.8
        t.Fill()
    t.Write()
    f.Close()


def make_friend(path: Path, entries: int, rng: np.random.Generator) -> None:
    """Tree `Friends`, entry-aligned with nano_1: a weight and an integer flag."""
    f = ROOT.TFile(str(path), "RECREATE")
    t = ROOT.TTree("Friends", "friend")
    w = np.zeros(1, np.float64)
    flag = np.zeros(1, np.int32)
    t.Branch("weight", w, "weight/D")
    t.Branch("flag", flag, "flag/I")
    for _ in range(entries):
        w[0] = rng.uniform(0.5, 2.0)
        flag[0] = int(rng.integers(0, 3))
        t.Fill()
    t.Write()
    f.Close()


def make_missing(paths: list[Path]) -> None:
    """df036's dataset: tree `events` with x=i, y=2i; then y=3i; then x=4i (i = 1..5)."""
    layouts = [{"x": 1, "y": 2}, {"y": 3}, {"x": 4}]
    for path, layout in zip(paths, layouts, strict=True):
        f = ROOT.TFile(str(path), "RECREATE")
        t = ROOT.TTree("events", "events")
        bufs = {k: array.array("i", [0]) for k in layout}
        for k, buf in bufs.items():
            t.Branch(k, buf, f"{k}/I")
        for i in range(1, 6):
            for k, factor in layout.items():
                bufs[k][0] = factor * i
            t.Fill()
        t.Write()
        f.Close()


def make_dimuon_ttree(path: Path) -> None:
    """The realdata dimuon RNTuple rewritten as a TTree with NanoAOD's counter layout."""
    src = REALDATA / "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root"
    cols = ROOT.RDataFrame("Events", str(src)).AsNumpy(
        ["nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"])
    f = ROOT.TFile(str(path), "RECREATE")
    t = ROOT.TTree("Events", "dimuon events")
    n = np.zeros(1, np.uint32)
    t.Branch("nMuon", n, "nMuon/i")
    bufs = {k: np.zeros(64, np.int32 if k == "Muon_charge" else np.float32)
            for k in ("Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge")}
    for k, buf in bufs.items():
        t.Branch(k, buf, f"{k}[nMuon]/{'I' if k == 'Muon_charge' else 'F'}")
    for i in range(len(cols["nMuon"])):
        n[0] = int(cols["nMuon"][i])
        for k, buf in bufs.items():
            vals = np.asarray(cols[k][i])
            buf[:len(vals)] = vals
        t.Fill()
    t.Write()
    f.Close()


def make_atlas(path: Path, sample: str, entries: int, rng: np.random.Generator) -> None:
    """An ATLAS-Open-Data-like TTree `mini`: std::vector branches for leptons, photons, jets."""
    f = ROOT.TFile(str(path), "RECREATE")
    t = ROOT.TTree("mini", "mini")
    t.SetAutoFlush(200)
    scal = {"runNumber": (np.zeros(1, np.int32), "I"), "eventNumber": (np.zeros(1, np.int32), "I"),
            "trigE": (np.zeros(1, np.bool_), "O"), "trigM": (np.zeros(1, np.bool_), "O"),
            "trigP": (np.zeros(1, np.bool_), "O"),
            "mcWeight": (np.zeros(1, np.float32), "F"), "met_et": (np.zeros(1, np.float32), "F"),
            "met_phi": (np.zeros(1, np.float32), "F"),
            "scaleFactor_ELE": (np.zeros(1, np.float32), "F"),
            "scaleFactor_MUON": (np.zeros(1, np.float32), "F"),
            "scaleFactor_LepTRIGGER": (np.zeros(1, np.float32), "F"),
            "scaleFactor_PILEUP": (np.zeros(1, np.float32), "F"),
            "scaleFactor_PHOTON": (np.zeros(1, np.float32), "F"),
            "lep_n": (np.zeros(1, np.uint32), "i"), "photon_n": (np.zeros(1, np.uint32), "i"),
            "jet_n": (np.zeros(1, np.uint32), "i")}
    for name, (buf, code) in scal.items():
        t.Branch(name, buf, f"{name}/{code}")
    vec_types = {
        "lep_pt": "float", "lep_eta": "float", "lep_phi": "float", "lep_E": "float",
        "lep_charge": "int", "lep_type": "unsigned int", "lep_ptcone30": "float",
        "lep_etcone20": "float", "lep_trackd0pvunbiased": "float",
        "lep_tracksigd0pvunbiased": "float", "lep_z0": "float", "lep_isTightID": "bool",
        "photon_pt": "float", "photon_eta": "float", "photon_phi": "float", "photon_E": "float",
        "photon_isTightID": "bool", "photon_ptcone30": "float", "photon_etcone20": "float",
        "jet_pt": "float", "jet_eta": "float", "jet_jvt": "float", "jet_MV2c10": "float",
    }
    vecs = {k: ROOT.std.vector(v)() for k, v in vec_types.items()}
    for k, v in vecs.items():
        t.Branch(k, v)
    is_mc = sample != "data"
    for i in range(entries):
        scal["runNumber"][0][0] = 284500 if is_mc else 300000 + i // 500
        scal["eventNumber"][0][0] = i
        scal["trigE"][0][0] = rng.uniform() < 0.5
        scal["trigM"][0][0] = rng.uniform() < 0.5
        scal["trigP"][0][0] = rng.uniform() < 0.7
        scal["mcWeight"][0][0] = rng.uniform(0.8, 1.2) if is_mc else 0.0
        scal["met_et"][0][0] = rng.exponential(30000.0)
        scal["met_phi"][0][0] = rng.uniform(-math.pi, math.pi)
        for sf in ("ELE", "MUON", "LepTRIGGER", "PILEUP", "PHOTON"):
            scal[f"scaleFactor_{sf}"][0][0] = rng.uniform(0.9, 1.1) if is_mc else 1.0
        for v in vecs.values():
            v.clear()
        nlep = int(rng.choice([1, 2, 3, 4, 4, 4, 5]))
        charges = [int(c) for c in rng.choice([-1, 1], nlep)]
        if nlep >= 4 and rng.uniform() < 0.7:
            charges[:4] = [1, -1, 1, -1]
        types = [int(rng.choice([11, 13])) for _ in range(nlep)]
        if nlep >= 4 and rng.uniform() < 0.7:
            pair = [int(rng.choice([11, 13])), int(rng.choice([11, 13]))]
            types[:4] = [pair[0], pair[0], pair[1], pair[1]]
        pts = sorted((float(rng.exponential(25000.0)) + 6000.0 for _ in range(nlep)),
                     reverse=True)
        for j in range(nlep):
            eta = float(rng.uniform(-2.7, 2.7))
            vecs["lep_pt"].push_back(pts[j])
            vecs["lep_eta"].push_back(eta)
            vecs["lep_phi"].push_back(float(rng.uniform(-math.pi, math.pi)))
            vecs["lep_E"].push_back(pts[j] * math.cosh(eta))
            vecs["lep_charge"].push_back(charges[j])
            vecs["lep_type"].push_back(types[j])
            vecs["lep_ptcone30"].push_back(float(rng.exponential(0.05)) * pts[j])
            vecs["lep_etcone20"].push_back(float(rng.exponential(0.05)) * pts[j])
            vecs["lep_trackd0pvunbiased"].push_back(float(rng.normal(0, 0.02)))
            vecs["lep_tracksigd0pvunbiased"].push_back(float(rng.uniform(0.005, 0.02)))
            vecs["lep_z0"].push_back(float(rng.normal(0, 0.3)))
            vecs["lep_isTightID"].push_back(bool(rng.uniform() < 0.85))
        nph = int(rng.choice([0, 1, 2, 2, 3]))
        phpts = sorted((float(rng.exponential(30000.0)) + 20000.0 for _ in range(nph)),
                       reverse=True)
        for j in range(nph):
            eta = float(rng.uniform(-2.5, 2.5))
            vecs["photon_pt"].push_back(phpts[j])
            vecs["photon_eta"].push_back(eta)
            vecs["photon_phi"].push_back(float(rng.uniform(-math.pi, math.pi)))
            vecs["photon_E"].push_back(phpts[j] * math.cosh(eta))
            vecs["photon_isTightID"].push_back(bool(rng.uniform() < 0.8))
            vecs["photon_ptcone30"].push_back(float(rng.exponential(0.03)) * phpts[j])
            vecs["photon_etcone20"].push_back(float(rng.exponential(0.03)) * phpts[j])
        njet = int(rng.poisson(3))
        for _ in range(njet):
            vecs["jet_pt"].push_back(float(rng.exponential(40000.0)) + 20000.0)
            vecs["jet_eta"].push_back(float(rng.uniform(-4.0, 4.0)))
            vecs["jet_jvt"].push_back(float(rng.uniform(0, 1)))
            vecs["jet_MV2c10"].push_back(float(rng.uniform(-1, 1)))
        scal["lep_n"][0][0] = nlep
        scal["photon_n"][0][0] = nph
        scal["jet_n"][0][0] = njet
        t.Fill()
    t.Write()
    f.Close()


def make_rntuple(src: str, dst: Path) -> None:
    """nano_1 rewritten by ROOT's RNTuple writer (Snapshot with the RNTuple output format)."""
    opts = ROOT.RDF.RSnapshotOptions()
    opts.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kRNTuple
    cols = ["run", "event", "nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass",
            "Muon_charge", "nJet", "Jet_pt", "Jet_eta", "MET_pt", "genWeight"]
    ROOT.RDataFrame("Events", src).Snapshot("Events", str(dst), cols, opts)


def make_inputs() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    inputs = Inputs(DATA, REALDATA, DATA)
    for i, path in enumerate(inputs.nano):
        make_nano(Path(path), 1000, rng, 1000 * i)
    make_friend(Path(inputs.friend), 1000, rng)
    make_missing([Path(p) for p in inputs.missing])
    make_dimuon_ttree(Path(inputs.dimuon_ttree))
    for sample, path in inputs.atlas.items():
        make_atlas(Path(path), sample, 600, rng)
    make_rntuple(inputs.nano[0], Path(inputs.nano_rntuple))


# ---------------------------------------------------------------- snapshots

def dump_file(path: str) -> dict[str, Any]:
    """Every tree/RNTuple of a file as ROOT reads it: column names, types and values."""
    out: dict[str, Any] = {}
    f = ROOT.TFile.Open(path)
    keys = sorted({(k.GetName(), k.GetClassName()) for k in f.GetListOfKeys()})
    f.Close()
    for name, cls in keys:
        if cls not in ("TTree", "ROOT::RNTuple"):
            continue
        df = ROOT.RDataFrame(name, path)
        columns = sorted(str(c) for c in df.GetColumnNames())
        types = {c: str(df.GetColumnType(c)) for c in columns}
        values = df.AsNumpy(columns) if columns else {}
        out[name] = {"class": cls, "columns": columns, "types": types,
                     "values": {c: plain(values[c]) for c in columns}}
    return out


def _resolved(dump: dict[str, Any]) -> dict[str, Any]:
    """The dump with each column type's typedefs resolved as the interpreter does
    (`RVec<Float_t>` is `RVec<float>`): a leaf-list branch and ROOT's RVec branch name the
    same C++ type differently (README: the `R_rdf_sizeof_` counter branch)."""
    def resolve(name: str) -> str:
        return re.sub(r"\b\w+_t\b",
                      lambda m: str(ROOT.TClassEdit.ResolveTypedef(m.group(0), True)), name)
    return {tree: {**entry, "types": {c: resolve(t) for c, t in entry["types"].items()}}
            for tree, entry in dump.items()}


def check_snapshots(directory: Path, references: dict[str, Any]) -> int:
    """ROOT reads each file hepflow wrote; its dump must equal that of ROOT's own file."""
    wanted = references.get("snapshots", {})
    failures = 0
    seen = 0
    for name, ref in sorted(wanted.items()):
        path = directory / name
        if not path.exists():
            print(f"MISSING {name}: hepflow wrote no such file in {directory}")
            failures += 1
            continue
        seen += 1
        try:
            got = dump_file(str(path))
        except Exception as exc:  # noqa: BLE001 - report every file, then fail
            print(f"FAIL {name}: ROOT cannot read it: {exc}")
            failures += 1
            continue
        diffs = differences(_resolved(ref), _resolved(got))
        if diffs:
            failures += 1
            print(f"FAIL {name}:")
            for d in diffs[:10]:
                print(f"    {d}")
        else:
            print(f"ok   {name}")
    print(f"{seen} of {len(wanted)} snapshot files read by ROOT; {failures} differ or are missing")
    return 1 if failures else 0


# ---------------------------------------------------------------- references

def run_programs(only: list[str]) -> None:
    from tests.root_programs.adaptor_root import RootAdaptor

    references: dict[str, Any] = json.loads(REFERENCES.read_text()) if REFERENCES.exists() \
        else {"programs": {}, "snapshots": {}}
    R = RootAdaptor()
    programs = all_programs()
    unknown = [n for n in only if n not in programs]
    if unknown:
        raise SystemExit(f"no program named {', '.join(unknown)}")
    names = only or list(programs)
    if not only:
        references = {"programs": {}, "snapshots": {}}
    out = Path(tempfile.mkdtemp(prefix="root-programs-"))
    failed: list[str] = []
    try:
        for name in names:
            prog = programs[name]
            outdir = out / name
            try:
                result = prog.run(R, Inputs(DATA, REALDATA, outdir))
            except Exception as exc:  # noqa: BLE001 - every program is tried, then fail
                failed.append(name)
                print(f"{name}: ROOT FAILED: {exc}")
                continue
            references["programs"][name] = {"ports": prog.ports, "result": plain(result)}
            for written in sorted(outdir.glob("*.root")) if outdir.exists() else []:
                references["snapshots"][f"{name}/{written.name}"] = dump_file(str(written))
            print(f"{name}: ok")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    references["root_version"] = str(ROOT.gROOT.GetVersion())
    REFERENCES.write_text(json.dumps(references, indent=1, sort_keys=True) + "\n")
    print(f"wrote {REFERENCES} ({len(references['programs'])} programs)")
    if failed:
        raise SystemExit(f"ROOT failed on: {', '.join(failed)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--make-inputs", action="store_true")
    parser.add_argument("--check-snapshots", type=Path, metavar="DIR")
    parser.add_argument("--only", nargs="*", default=[])
    args = parser.parse_args()
    if args.make_inputs:
        make_inputs()
        return 0
    if args.check_snapshots:
        return check_snapshots(args.check_snapshots, json.loads(REFERENCES.read_text()))
    run_programs(args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
