"""The dimuon analysis as an analysis file: `hepflow run examples/dimuon.py --dataset D.yaml`."""

import hepflow
from hepflow.analysis import dataset

df = hepflow.RDataFrame(dataset())
dimuons = (df.Filter("nMuon == 2", "two muons")
             .Filter("Muon_charge[0] != Muon_charge[1]", "opposite charge")
             .Define("Dimuon_mass", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)"))
mass = dimuons.Histo1D(("mass", "Dimuon mass;m_{#mu#mu} [GeV]", 120, 60, 120), "Dimuon_mass")
selected = dimuons.Count()
cutflow = df.Report()
