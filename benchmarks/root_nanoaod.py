"""Write NanoAOD-like TTrees with ROOT itself, for the fast-path tests and the wide benchmark.

hepflow's own generator and uproot write TTrees their own way; ROOT (and so
CMSSW) writes TBranch v13 with class references, and -- when the tree is
written without flushing its baskets, as CMSSW's NanoAOD output does -- the
last basket of every branch inside the TTree key. This script needs PyROOT
(``pip install root`` in a separate environment) and is not imported by hepflow:

    /work/rootenv/bin/python benchmarks/root_nanoaod.py OUT.root --events 20000 \\
        --branches 1500 --embedded

The tree has ``run``, ``event``, ``MET_pt``, the dimuon analysis' muons
(``nMuon``, ``Muon_pt/eta/phi/mass/charge``), Jet/Electron/Tau/Photon
collections and flat float, int and bool branches padding it to ``--branches``
(floats keep 10 mantissa bits, as most NanoAOD floats do, so they compress
like NanoAOD rather than like noise).
``--extras`` adds a ``std::vector<float>`` branch (a TBranchElement),
``Float16_t`` and ``Double32_t`` leaves and a fixed-size array. The event
loop is C++ (declared to ROOT's interpreter), so a 1,500-branch file of
50,000 events takes seconds.
"""

from __future__ import annotations

import argparse

_WRITER = r"""
#include <TFile.h>
#include <TRandom3.h>
#include <TTree.h>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

static Float_t Truncated(double x) {
  Float_t f = x;
  UInt_t bits;
  std::memcpy(&bits, &f, 4);
  bits &= 0xFFFFE000u;
  std::memcpy(&f, &bits, 4);
  return f;
}

void hepflow_write_nanoaod(const char* path, long events, int branches, int compression,
                           int seed, bool embedded, bool extras, int basket_size) {
  const int kMax = 16;
  TFile file(path, "RECREATE");
  file.SetCompressionSettings(compression);
  TTree* tree = new TTree("Events", "NanoAOD-like, written by ROOT");
  TRandom3 rng(seed);
  UInt_t run = 1, nMuon = 0;
  ULong64_t event = 0;
  Float_t met = 0, pt[kMax], eta[kMax], phi[kMax], mass[kMax];
  Int_t charge[kMax];
  tree->Branch("run", &run, "run/i");
  tree->Branch("event", &event, "event/l");
  tree->Branch("MET_pt", &met, "MET_pt/F");
  tree->Branch("nMuon", &nMuon, "nMuon/i");
  tree->Branch("Muon_pt", pt, "Muon_pt[nMuon]/F");
  tree->Branch("Muon_eta", eta, "Muon_eta[nMuon]/F");
  tree->Branch("Muon_phi", phi, "Muon_phi[nMuon]/F");
  tree->Branch("Muon_mass", mass, "Muon_mass[nMuon]/F");
  tree->Branch("Muon_charge", charge, "Muon_charge[nMuon]/I");
  const char* names[] = {"Jet", "Electron", "Tau", "Photon"};
  const int ncoll = 4, per = 6;
  UInt_t counts[ncoll];
  std::vector<Float_t> floats(ncoll * per * kMax);
  for (int c = 0; c < ncoll; ++c) {
    std::string n = std::string("n") + names[c];
    tree->Branch(n.c_str(), &counts[c], (n + "/i").c_str());
    for (int j = 0; j < per; ++j) {
      std::string b = std::string(names[c]) + "_v" + std::to_string(j);
      tree->Branch(b.c_str(), &floats[(c * per + j) * kMax], (b + "[" + n + "]/F").c_str());
    }
  }
  int flat = std::max(0, branches - 9 - ncoll * (per + 1));
  std::vector<Float_t> aux(flat);
  std::vector<Int_t> auxi(flat);
  std::vector<char> auxb(flat);
  for (int j = 0; j < flat; ++j) {
    std::string b = "Aux_" + std::to_string(j);
    if (j % 8 == 1) tree->Branch(b.c_str(), &auxi[j], (b + "/I").c_str());
    else if (j % 8 == 2) tree->Branch(b.c_str(), (bool*)&auxb[j], (b + "/O").c_str());
    else tree->Branch(b.c_str(), &aux[j], (b + "/F").c_str());
  }
  std::vector<float> track;
  Float_t soft = 0, vertex[3];
  Double_t ranged = 0;
  if (extras) {
    tree->Branch("Track_pt", &track);
    tree->Branch("Soft_f16", &soft, "Soft_f16/f");
    tree->Branch("Range_d32", &ranged, "Range_d32/d[0,100,12]");
    tree->Branch("Vertex_xyz", vertex, "Vertex_xyz[3]/F");
  }
  if (basket_size > 0) tree->SetBasketSize("*", basket_size);
  for (long i = 0; i < events; ++i) {
    run = 1 + i / 10000;
    event = i;
    met = rng.Exp(30.0);
    nMuon = std::min<UInt_t>(rng.Poisson(1.6), kMax);
    for (UInt_t m = 0; m < nMuon; ++m) {
      pt[m] = 3.0 + rng.Exp(25.0);
      eta[m] = rng.Uniform(-2.4, 2.4);
      phi[m] = rng.Uniform(-3.14159265, 3.14159265);
      mass[m] = 0.1056583745;
      charge[m] = rng.Rndm() < 0.5 ? -1 : 1;
    }
    for (int c = 0; c < ncoll; ++c) {
      counts[c] = std::min<UInt_t>(rng.Poisson(2.0), kMax);
      for (int j = 0; j < per; ++j)
        for (UInt_t m = 0; m < counts[c]; ++m)
          floats[(c * per + j) * kMax + m] = Truncated(10.0 + rng.Exp(20.0));
    }
    for (int j = 0; j < flat; ++j) {  // like NanoAOD: floats keep 10 mantissa bits
      if (j % 8 == 1) auxi[j] = int(rng.Integer(64));
      else if (j % 8 == 2) auxb[j] = rng.Rndm() < 0.9;
      else aux[j] = Truncated(10.0 * (j % 5) + (1 + j % 7) * rng.Gaus());
    }
    if (extras) {
      track.clear();
      int ntrack = rng.Poisson(3.0);
      for (int m = 0; m < ntrack; ++m) track.push_back(rng.Gaus(10.0, 3.0));
      soft = rng.Gaus(0.0, 5.0);
      ranged = rng.Uniform(0.0, 100.0);
      for (int m = 0; m < 3; ++m) vertex[m] = rng.Gaus();
    }
    tree->Fill();
  }
  if (embedded)
    file.WriteTObject(tree);  // no flush: each branch's last basket stays in the TTree key
  else
    tree->Write();
  file.Close();
}
"""


def write(path: str, events: int, branches: int, embedded: bool, extras: bool,
          compression: int, seed: int, basket_size: int = 0) -> None:
    """One file of `events` entries and about `branches` branches, written by ROOT."""
    import ROOT

    if not hasattr(ROOT, "hepflow_write_nanoaod"):
        ROOT.gInterpreter.Declare(_WRITER)
    ROOT.hepflow_write_nanoaod(path, events, branches, compression, seed, embedded, extras,
                               basket_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("paths", nargs="+", help="files to write (seeds seed, seed+1, ...)")
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--extras", action="store_true")
    parser.add_argument("--compression", type=int, default=505,
                        help="ROOT's algorithm * 100 + level (505: ZSTD level 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--basket-size", type=int, default=0, help="bytes; 0 for ROOT's default")
    args = parser.parse_args()
    for i, path in enumerate(args.paths):
        write(path, args.events, args.branches, args.embedded, args.extras, args.compression,
              args.seed + i, args.basket_size)


if __name__ == "__main__":
    main()
