"""Ports of ROOT's physics tutorials df102-df107 onto small ROOT-written inputs.

df102 runs on the 1,000 CMS Open Data dimuon events (RNTuple, and the same events as a
TTree); df103 on the NanoAOD-like files; df104-df107 on ATLAS-Open-Data-like files with
the tutorials' branch names. Functions the tutorials declare in C++ are declared with
their C++ text for ROOT and, where hepflow cannot compile that text yet, with a Python
twin for hepflow (`R.Declare`); df104's and df106's run as written in both.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from tests.root_programs.registry import Inputs, nonzero, program

if TYPE_CHECKING:  # the twins run in hepflow only; ROOT's Python has no awkward
    import awkward as ak

T = "tutorials/analysis/dataframe/"


def _dimuon(R: Any, path: str) -> dict[str, Any]:
    df = R.RDataFrame("Events", path)
    df_2mu = df.Filter("nMuon == 2", "Events with exactly two muons")
    df_os = df_2mu.Filter("Muon_charge[0] != Muon_charge[1]", "Muons with opposite charge")
    df_mass = df_os.Define("Dimuon_mass", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)")
    h = df_mass.Histo1D(("Dimuon_mass", "Dimuon mass;m_{#mu#mu} (GeV);N_{Events}",
                         30000, 0.25, 300), "Dimuon_mass")
    report = df.Report()
    return {"h": nonzero(R.h1(h)),
            "cuts": [[c.GetName(), int(c.GetAll()), int(c.GetPass())] for c in report.GetValue()]}


@program(T + "df102_NanoAODDimuonAnalysis.py")
def df102_NanoAODDimuonAnalysis(R: Any, data: Inputs) -> dict[str, Any]:
    """The dimuon spectrum, 30,000 bins, on the RNTuple and on the TTree of the same events."""
    return {"rntuple": _dimuon(R, data.dimuon), "ttree": _dimuon(R, data.dimuon_ttree)}


@program(T + "df102_NanoAODDimuonAnalysis.py (cut flow and Z window)")
def df102_cutflow(R: Any, data: Inputs) -> dict[str, Any]:
    """df102's selection: the Report and the events in a wide Z window."""
    df = R.RDataFrame("Events", data.dimuon)
    sel = (df.Filter("nMuon == 2", "Events with exactly two muons")
             .Filter("Muon_charge[0] != Muon_charge[1]", "Muons with opposite charge")
             .Define("Dimuon_mass", "InvariantMass(Muon_pt, Muon_eta, Muon_phi, Muon_mass)"))
    z = sel.Filter("Dimuon_mass > 70 && Dimuon_mass < 110", "Z window").Count()
    report = df.Report()
    return {"z": z.GetValue(),
            "cuts": [[c.GetName(), int(c.GetAll()), int(c.GetPass())] for c in report.GetValue()]}


PT_CUTS_CPP = """
bool rp_pt_cuts(const ROOT::RVecF &mu_pt) {
    auto sorted = ROOT::VecOps::Reverse(ROOT::VecOps::Sort(mu_pt));
    return sorted.size() > 1 && sorted[0] > 20 && sorted[1] > 10;
}
"""


def _pt_cuts(mu_pt: ak.Array) -> np.ndarray:
    import awkward as ak

    s = ak.sort(mu_pt, axis=1, ascending=False)
    padded = ak.fill_none(ak.pad_none(s, 2, axis=1), -1.0)
    return np.asarray((padded[:, 0] > 20) & (padded[:, 1] > 10), dtype=bool)


@program(T + "df103_NanoAODHiggsAnalysis.py (four-muon channel)")
def df103_NanoAODHiggsAnalysis(R: Any, data: Inputs) -> dict[str, Any]:
    """df103's 4μ selection: good-muon masks, charge balance, a declared pT cut, m4μ."""
    R.Declare(PT_CUTS_CPP, {"rp_pt_cuts": (_pt_cuts, ["RVec<float>"], "bool")})
    df = R.RDataFrame("Events", data.nano)
    df4mu = (df.Filter("nMuon>=4", "At least four muons")
               .Define("Muon_ip3d", "sqrt(Muon_dxy*Muon_dxy + Muon_dz*Muon_dz)")
               .Define("good", "abs(Muon_eta) < 2.4 && Muon_pt > 5 && "
                               "abs(Muon_pfRelIso04_all) < 0.40 && Muon_ip3d < 0.2")
               .Filter("Sum(good) == 4", "Four good muons")
               .Define("gpt", "Muon_pt[good]").Define("geta", "Muon_eta[good]")
               .Define("gphi", "Muon_phi[good]").Define("gm", "Muon_mass[good]")
               .Define("gq", "Muon_charge[good]")
               .Filter("Sum(gq == 1) == 2 && Sum(gq == -1) == 2", "Two positive, two negative")
               .Filter("rp_pt_cuts(gpt)", "pT cuts")
               .Define("H_mass", "InvariantMass(gpt, geta, gphi, gm)"))
    h = df4mu.Histo1D(("h", "", 36, 0, 360), "H_mass")
    return {"h": R.h1(h), "count": df4mu.Count().GetValue(),
            "cuts": [[c.GetName(), int(c.GetAll()), int(c.GetPass())]
                     for c in df.Report().GetValue()]}


MASS_CPP = """
float rp_ComputeInvariantMass(ROOT::RVecF pt, ROOT::RVecF eta, ROOT::RVecF phi, ROOT::RVecF e) {
    ROOT::Math::PtEtaPhiEVector p1(pt[0], eta[0], phi[0], e[0]);
    ROOT::Math::PtEtaPhiEVector p2(pt[1], eta[1], phi[1], e[1]);
    return (p1 + p2).mass() / 1000.0;
}
"""


@program(T + "df104_HiggsToTwoPhotons.py")
def df104_HiggsToTwoPhotons(R: Any, data: Inputs) -> dict[str, Any]:
    """Two tight, isolated photons; m_yy from a declared 4-vector function; data and MC."""
    R.Declare(MASS_CPP, {})  # as written: PtEtaPhiEVector locals, (p1 + p2).mass()
    out = {}
    for sample in ("data", "higgs"):
        df = R.RDataFrame("mini", data.atlas[sample])
        df = df.Filter("trigP")
        df = df.Define("goodphotons", "photon_isTightID && (photon_pt > 25000) && "
                       "(abs(photon_eta) < 2.37) && ((abs(photon_eta) < 1.37) || "
                       "(abs(photon_eta) > 1.52))").Filter("Sum(goodphotons) == 2")
        df = df.Filter("Sum(photon_ptcone30[goodphotons] / photon_pt[goodphotons] < 0.065) == 2")
        df = df.Filter("Sum(photon_etcone20[goodphotons] / photon_pt[goodphotons] < 0.065) == 2")
        df = df.Define("m_yy", "rp_ComputeInvariantMass(photon_pt[goodphotons], "
                       "photon_eta[goodphotons], photon_phi[goodphotons], photon_E[goodphotons])")
        df = df.Filter("photon_pt[goodphotons][0] / 1000.0 / m_yy > 0.35")
        df = df.Filter("photon_pt[goodphotons][1] / 1000.0 / m_yy > 0.25")
        df = df.Filter("m_yy > 40 && m_yy < 400")
        h = df.Histo1D(("m_yy", "", 36, 40, 400), "m_yy")
        out[sample] = {"h": R.h1(h), "count": df.Count().GetValue(),
                       "masses": R.take(R.Take(df, "m_yy", "float"))}
    return out


def _w_selection(R: Any, path: str) -> Any:
    df = R.RDataFrame("mini", path)
    return (df.Filter("trigE || trigM")
              .Define("goodlep", "lep_isTightID && lep_pt > 35000 && "
                      "lep_ptcone30 / lep_pt < 0.1 && lep_etcone20 / lep_pt < 0.1")
              .Filter("Sum(goodlep) == 1")
              .Define("idx", "ROOT::VecOps::ArgMax(goodlep)")
              .Filter("abs(lep_eta[idx]) < 2.5")
              .Filter("met_et > 30000")
              .Define("mtw", "sqrt(2 * lep_pt[idx] * met_et * (1 - cos(lep_phi[idx] - met_phi)))"
                      " / 1000.")
              .Filter("mtw > 30"))


@program(T + "df105_WBosonAnalysis.py (data)")
def df105_WBosonAnalysis(R: Any, data: Inputs) -> dict[str, Any]:
    """One tight isolated lepton, MET, the transverse mass of the W (unweighted data)."""
    df = _w_selection(R, data.atlas["data"])
    return {"h": R.h1(df.Histo1D(("mtw", "", 24, 30, 150), "mtw")),
            "count": df.Count().GetValue()}


@program(T + "df105_WBosonAnalysis.py (weighted MC)")
def df105_WBosonAnalysis_mc(R: Any, data: Inputs) -> dict[str, Any]:
    """The same on MC, weighted by the product of float scale factors and mcWeight."""
    df = _w_selection(R, data.atlas["zz"]).Define(
        "weight", "scaleFactor_ELE * scaleFactor_MUON * scaleFactor_LepTRIGGER * "
        "scaleFactor_PILEUP * mcWeight")
    return {"h": R.h1(df.Histo1D(("mtw", "", 24, 30, 150), "mtw", "weight")),
            "sumw": df.Sum("weight").GetValue()}


GOOD_LEP_CPP = """
bool rp_GoodElectronsAndMuons(const ROOT::RVec<unsigned int> &type, const ROOT::RVecF &pt,
    const ROOT::RVecF &eta, const ROOT::RVecF &phi, const ROOT::RVecF &e,
    const ROOT::RVecF &trackd0pv, const ROOT::RVecF &tracksigd0pv, const ROOT::RVecF &z0)
{
    for (size_t i = 0; i < type.size(); i++) {
        ROOT::Math::PtEtaPhiEVector p(0.001*pt[i], eta[i], phi[i], 0.001*e[i]);
        if (type[i] == 11) {
            if (pt[i] < 7000 || abs(eta[i]) > 2.47 || abs(trackd0pv[i] / tracksigd0pv[i]) > 5
                || abs(z0[i] * sin(p.Theta())) > 0.5) return false;
        } else {
            if (abs(trackd0pv[i] / tracksigd0pv[i]) > 5 || abs(z0[i] * sin(p.Theta())) > 0.5)
                return false;
        }
    }
    return true;
}
"""

M4L_CPP = """
float rp_ComputeInvariantMass4(ROOT::RVecF pt, ROOT::RVecF eta, ROOT::RVecF phi, ROOT::RVecF e)
{
    ROOT::Math::PtEtaPhiEVector p1{pt[0], eta[0], phi[0], e[0]};
    ROOT::Math::PtEtaPhiEVector p2{pt[1], eta[1], phi[1], e[1]};
    ROOT::Math::PtEtaPhiEVector p3{pt[2], eta[2], phi[2], e[2]};
    ROOT::Math::PtEtaPhiEVector p4{pt[3], eta[3], phi[3], e[3]};
    return 0.001 * (p1 + p2 + p3 + p4).M();
}
"""


def _declare_df106(R: Any) -> None:
    # as ROOT's tutorial writes them: a PtEtaPhiEVector per lepton in a loop and its
    # Theta(); four PtEtaPhiEVector locals and their sum's M()
    R.Declare(GOOD_LEP_CPP, {})
    R.Declare(M4L_CPP, {})


def _four_leptons(df: Any) -> Any:
    df = df.Filter("trigE || trigM")
    df = (df.Define("good_lep", "abs(lep_eta) < 2.5 && lep_pt > 5000 && "
                    "lep_ptcone30 / lep_pt < 0.3 && lep_etcone20 / lep_pt < 0.3")
            .Filter("Sum(good_lep) == 4")
            .Filter("Sum(lep_charge[good_lep]) == 0")
            .Define("goodlep_sumtypes", "Sum(lep_type[good_lep])")
            .Filter("goodlep_sumtypes == 44 || goodlep_sumtypes == 52 || goodlep_sumtypes == 48"))
    df = df.Filter("rp_GoodElectronsAndMuons(lep_type[good_lep], lep_pt[good_lep], "
                   "lep_eta[good_lep], lep_phi[good_lep], lep_E[good_lep], "
                   "lep_trackd0pvunbiased[good_lep], lep_tracksigd0pvunbiased[good_lep], "
                   "lep_z0[good_lep])")
    df = (df.Define("goodlep_pt", "lep_pt[good_lep]").Define("goodlep_eta", "lep_eta[good_lep]")
            .Define("goodlep_phi", "lep_phi[good_lep]").Define("goodlep_E", "lep_E[good_lep]")
            .Define("goodlep_type", "lep_type[good_lep]"))
    df = df.Filter("goodlep_pt[0] > 25000 && goodlep_pt[1] > 15000 && goodlep_pt[2] > 10000")
    return df.Define("m4l", "rp_ComputeInvariantMass4(goodlep_pt, goodlep_eta, goodlep_phi, "
                     "goodlep_E)")


@program(T + "df106_HiggsToFourLeptons.py (selection)")
def df106_selection(R: Any, data: Inputs) -> dict[str, Any]:
    """df106's four-lepton selection and m4l on the three files, no per-sample information."""
    _declare_df106(R)
    df = _four_leptons(R.RDataFrame("mini", list(data.atlas.values())))
    return {"h": R.h1(df.Histo1D(("m4l", "", 24, 80, 170), "m4l")),
            "count": df.Count().GetValue()}


def _df106_spec(data: Inputs) -> str:
    spec = {"samples": {
        "data": {"trees": ["mini"], "files": [data.atlas["data"]],
                 "metadata": {"xsecs": 1.0, "lumi": 1.0, "sumws": 1.0,
                              "sample_category": "data"}},
        "higgs": {"trees": ["mini"], "files": [data.atlas["higgs"]],
                  "metadata": {"xsecs": 0.0060239, "lumi": 10064.0, "sumws": 27881776.6,
                               "sample_category": "higgs"}},
        "zz": {"trees": ["mini"], "files": [data.atlas["zz"]],
               "metadata": {"xsecs": 1.2578, "lumi": 10064.0, "sumws": 7538705.8,
                            "sample_category": "zz"}}}}
    path = data.output("df106_spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return path


WEIGHTS_CPP = """
double rp_weights(float scaleFactor_1, float scaleFactor_2, float scaleFactor_3,
                  float scaleFactor_4, float scale, float mcWeight, double xsecs, double sumws,
                  double lumi)
{
    return scaleFactor_1 * scaleFactor_2 * scaleFactor_3 * scaleFactor_4 * scale * mcWeight
           * xsecs / sumws * lumi;
}
"""


def _weights(s1: np.ndarray, s2: np.ndarray, s3: np.ndarray, s4: np.ndarray, scale: np.ndarray,
             mcw: np.ndarray, xsecs: np.ndarray, sumws: np.ndarray, lumi: np.ndarray
             ) -> np.ndarray:
    """Twin of df106's weights(): the float product first (in float), then doubles."""
    f = np.float32
    prod = (s1.astype(f) * s2.astype(f) * s3.astype(f) * s4.astype(f) * scale.astype(f)
            * mcw.astype(f))
    return prod.astype(np.float64) * xsecs / sumws * lumi


def _df106_weighted(R: Any, data: Inputs) -> Any:
    _declare_df106(R)
    R.Declare(WEIGHTS_CPP, {"rp_weights": (
        _weights, ["float"] * 6 + ["double"] * 3, "double")})
    df = R.FromSpec(_df106_spec(data))
    df = df.DefinePerSample("xsecs", 'rdfsampleinfo_.GetD("xsecs")')
    df = df.DefinePerSample("lumi", 'rdfsampleinfo_.GetD("lumi")')
    df = df.DefinePerSample("sumws", 'rdfsampleinfo_.GetD("sumws")')
    df = df.DefinePerSample("sample_category", 'rdfsampleinfo_.GetS("sample_category")')
    df = df.DefinePerSample("scale", 'rdfsampleinfo_.Contains("mc_363490.llll.4lep.root") '
                            '? 1.3f : 1.0f')
    df = _four_leptons(df)
    df = df.DefinePerSample("isMC", 'rdfsampleinfo_.Contains("mc")')
    return df.Define("weight", "double x; return isMC ? rp_weights(scaleFactor_ELE, "
                     "scaleFactor_MUON, scaleFactor_LepTRIGGER, scaleFactor_PILEUP, scale, "
                     "mcWeight, xsecs, sumws, lumi) :  1.;")


@program(T + "df106_HiggsToFourLeptons.py (declared weights from GetD metadata)")
def df106_weights(R: Any, data: Inputs) -> dict[str, Any]:
    """The declared weights() of float scale factors and double metadata, on MC samples."""
    _declare_df106(R)
    R.Declare(WEIGHTS_CPP, {"rp_weights": (
        _weights, ["float"] * 6 + ["double"] * 3, "double")})
    df = R.FromSpec(_df106_spec(data)).Filter("mcWeight != 0")
    df = df.DefinePerSample("xsecs", 'rdfsampleinfo_.GetD("xsecs")')
    df = df.DefinePerSample("lumi", 'rdfsampleinfo_.GetD("lumi")')
    df = df.DefinePerSample("sumws", 'rdfsampleinfo_.GetD("sumws")')
    df = df.DefinePerSample("scale", "1.0f")
    df = _four_leptons(df).Define("weight", "rp_weights(scaleFactor_ELE, scaleFactor_MUON, "
                                  "scaleFactor_LepTRIGGER, scaleFactor_PILEUP, scale, mcWeight, "
                                  "xsecs, sumws, lumi)")
    return {"h": R.h1(df.Histo1D(("m4l", "", 24, 80, 170), "m4l", "weight")),
            "sumw": df.Sum("weight").GetValue()}


@program(T + "df106_HiggsToFourLeptons.py (FromSpec, per-sample weights)")
def df106_HiggsToFourLeptons(R: Any, data: Inputs) -> dict[str, Any]:
    """The tutorial's spec, metadata, ZZ scale factor and per-category histograms."""
    df = _df106_weighted(R, data)
    histos = {c: df.Filter(f'sample_category == "{c}"').Histo1D(
        ("m4l_" + c, "m4l", 24, 80, 170), "m4l", "weight") for c in ("data", "higgs", "zz")}
    return {c: R.h1(h) for c, h in histos.items()}


CPP_HELPERS = """
#include <cmath>
// df106's weights() and helpers of its kind, declared in C++ for ROOT and hepflow alike
double rp_cpp_weights(float scaleFactor_1, float scaleFactor_2, float scaleFactor_3,
                      float scaleFactor_4, float scale, float mcWeight, double xsecs,
                      double sumws, double lumi)
{
    return scaleFactor_1 * scaleFactor_2 * scaleFactor_3 * scaleFactor_4 * scale * mcWeight
           * xsecs / sumws * lumi;
}
/* the scalar sum of the leptons' pT above a cut, in GeV, in float as C++ sums it */
float rp_cpp_ht(const ROOT::RVecF &pt, float cut)
{
    float ht = 0;
    for (auto p : pt) {
        if (p < cut) continue;
        ht += p / 1000.f;
    }
    return ht;
}
int rp_cpp_category(unsigned int n)
{
    if (n >= 4) return 2;
    else if (n == 3) return 1;
    return 0;
}
int rp_cpp_first_muon(const ROOT::RVec<unsigned int> &type)
{
    for (int i = 0; i < (int)type.size(); ++i) {
        if (type[i] == 13) return i;
    }
    return -1;
}
ROOT::RVecD rp_cpp_pair(double a, double b) { return {a, b}; }
float rp_cpp_mass2(const ROOT::RVecF &pt, const ROOT::RVecF &eta, const ROOT::RVecF &phi)
{
    if (pt.size() < 2) return -1.f;
    ROOT::Math::PtEtaPhiMVector p1(pt[0] / 1000, eta[0], phi[0], 0.);
    ROOT::Math::PtEtaPhiMVector p2{pt[1] / 1000, eta[1], phi[1], 0.};
    return (p1 + p2).M();
}
"""


@program(T + "df106_HiggsToFourLeptons.py (C++ helpers declared with gInterpreter.Declare)")
def declare_cpp_functions(R: Any, data: Inputs) -> dict[str, Any]:
    """C++ function definitions (loop-free, range-for, classic for, if/else, brace return)
    declared as C++ source and called from Define strings."""
    R.Declare(CPP_HELPERS, {})
    df = (R.RDataFrame("mini", data.atlas["zz"])
          .Define("w", "rp_cpp_weights(scaleFactor_ELE, scaleFactor_MUON, scaleFactor_LepTRIGGER, "
                       "scaleFactor_PILEUP, 1.0f, mcWeight, 1.2578, 7538705.8, 10064.0)")
          .Define("ht", "rp_cpp_ht(lep_pt, 20000.f)")
          .Define("cat", "rp_cpp_category(lep_n)")
          .Define("mu", "rp_cpp_first_muon(lep_type)")
          .Define("pair", "rp_cpp_pair(ht, (double)cat)")
          .Define("m2", "rp_cpp_mass2(lep_pt, lep_eta, lep_phi)"))
    return {"h_ht": R.h1(df.Histo1D(("ht", "", 20, 0, 400), "ht", "w")),
            "sum_w": df.Sum("w").GetValue(), "sum_ht": df.Sum("ht").GetValue(),
            "h_cat": R.h1(df.Histo1D(("cat", "", 3, 0, 3), "cat")),
            "h_mu": R.h1(df.Histo1D(("mu", "", 6, -1, 5), "mu")),
            "h_pair": R.h1(df.Histo1D(("pair", "", 20, 0, 400), "pair")),
            "h_m2": R.h1(df.Histo1D(("m2", "", 30, 0, 300), "m2")),
            "sum_m2": df.Sum("m2").GetValue()}


VARY_CPP = """
class RpVaryHelper
{
    const std::vector<double> x{5.50e3, 5.52e3, 12.54e3, 17.43e3, 22.40e3, 27.48e3, 30e3, 10000e3};
    const std::vector<double> y{0.06628, 0.06395, 0.06396, 0.03372, 0.02441, 0.01403, 0, 0};
    TGraph graph;
public:
    RpVaryHelper() : graph(x.size(), x.data(), y.data()) {}
    ROOT::RVec<double> operator()(const double &w, const ROOT::RVecF &pt,
                                  const ROOT::RVec<unsigned int> &type)
    {
        const auto v = ROOT::VecOps::Mean(ROOT::VecOps::Map(pt[type == 11],
            [this](auto p) { return this->graph.Eval(p); }));
        return ROOT::RVec<double>{(1 + v) * w, (1 - v) * w};
    }
};
RpVaryHelper rp_variationsFactory;
"""

_VX = [5.50e3, 5.52e3, 12.54e3, 17.43e3, 22.40e3, 27.48e3, 30e3, 10000e3]
_VY = [0.06628, 0.06395, 0.06396, 0.03372, 0.02441, 0.01403, 0, 0]


def _graph_eval(p: float) -> float:
    """TGraph::Eval: linear between the two nearest points, extrapolated at the ends."""
    i = 0 if p < _VX[1] else len(_VX) - 2 if p >= _VX[-2] else \
        max(j for j in range(len(_VX) - 1) if _VX[j] <= p)
    x0, x1, y0, y1 = _VX[i], _VX[i + 1], _VY[i], _VY[i + 1]
    return y0 + (p - x0) * (y1 - y0) / (x1 - x0)


def _variations(w: np.ndarray, pt: ak.Array, type_: ak.Array) -> ak.Array:
    import awkward as ak

    out = []
    for wi, pts, types in zip(w.tolist(), ak.to_list(pt), ak.to_list(type_), strict=True):
        vals = [_graph_eval(float(p)) for p, t in zip(pts, types, strict=True) if t == 11]
        v = sum(vals) / len(vals) if vals else 0.0
        out.append([(1 + v) * wi, (1 - v) * wi])
    return ak.Array(out)


@program(T + "df106_HiggsToFourLeptons.py (Vary with a declared variations factory)")
def df106_variations(R: Any, data: Inputs) -> dict[str, Any]:
    """`Vary("weight", "variationsFactory(weight, goodlep_pt, goodlep_type)", ["up", "down"])`."""
    df = _df106_weighted(R, data)
    R.Declare(VARY_CPP, {"rp_variationsFactory": (
        _variations, ["double", "RVec<float>", "RVec<unsigned int>"], "RVec<double>")})
    h = (df.Filter("isMC == true")
           .Vary("weight", "rp_variationsFactory(weight, goodlep_pt, goodlep_type)",
                 ["up", "down"])
           .Histo1D(("Invariant Mass", "m4l", 24, 80, 170), "m4l", "weight"))
    histos = R.VariationsFor(h)
    return {k: R.h1(histos[k]) for k in ("nominal", "weight:up", "weight:down")}


@program(T + "df107_SingleTopAnalysis.py")
def df107_SingleTopAnalysis(R: Any, data: Inputs) -> dict[str, Any]:
    """One lepton, two or three jets with exactly one b-tag, W transverse mass cut."""
    out = {}
    for sample in ("data", "zz"):
        df = R.RDataFrame("mini", data.atlas[sample])
        df = (df.Filter("trigE || trigM")
                .Define("goodlep", "lep_isTightID && lep_pt > 30000 && abs(lep_eta) < 2.5 && "
                        "lep_ptcone30 / lep_pt < 0.15 && lep_etcone20 / lep_pt < 0.15")
                .Filter("Sum(goodlep) == 1")
                .Define("goodjet", "jet_pt > 30000 && abs(jet_eta) < 2.5 && "
                        "(jet_pt > 60000 || abs(jet_eta) > 2.4 || jet_jvt > 0.59)")
                .Filter("Sum(goodjet) == 2 || Sum(goodjet) == 3")
                .Define("goodbjet", "goodjet && jet_MV2c10 > 0.8244273")
                .Filter("Sum(goodbjet) == 1")
                .Define("lep_idx", "ROOT::VecOps::ArgMax(goodlep)")
                .Define("mtw", "sqrt(2 * lep_pt[lep_idx] * met_et * "
                        "(1 - cos(lep_phi[lep_idx] - met_phi))) / 1000.")
                .Filter("mtw > 30")
                .Define("bjet_pt", "jet_pt[goodbjet][0] / 1000.")
                .Define("njet", "Sum(goodjet)"))
        out[sample] = {"h_b": R.h1(df.Histo1D(("bjet_pt", "", 20, 30, 230), "bjet_pt")),
                       "h_n": R.h1(df.Histo1D(("njet", "", 2, 1.5, 3.5), "njet")),
                       "count": df.Count().GetValue()}
    return out


@program(T + "df103_NanoAODHiggsAnalysis.py (integer masks: v[int RVec])")
def vecops_integer_mask(R: Any, data: Inputs) -> dict[str, Any]:
    """An integer collection inside [] is a mask in ROOT (nonzero keeps), not positions."""
    df = R.RDataFrame("Events", data.nano).Filter("nJet > 0")
    g = (df.Define("sel_jets", "Jet_pt[Jet_jetId]")
           .Define("n_sel", "sel_jets.size()")
           .Define("cmp", "Jet_pt > 30")
           .Define("twice", "Jet_pt[cmp * 2]"))
    return {"n_sel": g.Sum("n_sel").GetValue(),
            "h": R.h1(g.Histo1D(("pt", "", 20, 0, 200), "sel_jets")),
            "h_twice": R.h1(g.Histo1D(("pt2", "", 20, 0, 200), "twice"))}


@program("AGC ttbar idiom / df103-style 4-vector collections")
def vecops_fourvector_collections(R: Any, data: Inputs) -> dict[str, Any]:
    """Collections of PtEtaPhiMVector: size, Take by Argsort, trijet from Combinations."""
    df = R.RDataFrame("Events", data.nano).Filter("nJet >= 3")
    g = (df.Define("p4", "ROOT::VecOps::Construct<ROOT::Math::PtEtaPhiMVector>"
                   "(Jet_pt, Jet_eta, Jet_phi, Jet_mass)")
           .Filter("p4.size() > 3")
           .Define("sorted_p4", "Take(p4, Argsort(Jet_pt))")
           .Define("first_pt", "sorted_p4[0].Pt()")
           .Define("trijet", "Take(p4, Combinations(Jet_pt, 3)[0])")
           .Define("trijet_m", "(trijet[0] + trijet[1] + trijet[2]).M()"))
    return {"count": g.Count().GetValue(),
            "h_pt": R.h1(g.Histo1D(("pt", "", 20, 0, 100), "first_pt")),
            "h_m": R.h1(g.Histo1D(("m", "", 20, 0, 400), "trijet_m"))}
