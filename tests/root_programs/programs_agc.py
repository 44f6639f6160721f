"""C++ helpers in the forms of root-project's AGC RDataFrame port, run as written in both.

root-project/analysis-grand-challenge (analyses/cms-open-data-ttbar) keeps its helpers in
a C++ header: weight variations built with a range-for over `ROOT::VecOps::Take(jet_pt,
n)`, `ROOT::RVecF res(size)` filled by index, functions of no argument, a function
filling an `RVecF` with `std::generate(std::begin(res), std::end(res), lambda)`, and a
function returning `ROOT::RVec<ROOT::Math::PxPyPzMVector>` built by
`Construct<PxPyPzMVector>(Construct<PtEtaPhiMVector>(...))`; its Define strings take
trijets with `Take(Jet_p4, Trijet[i])`, sum and mask them, `Map` a lambda over them and
pick `.M()` at `ArgMax`. These programs are hepflow's own helpers in those forms (not the
port's code), on the NanoAOD-like files, declared as C++ for ROOT and hepflow alike.
"""

from __future__ import annotations

from typing import Any

from tests.root_programs.registry import Inputs, program

AGC = "root-project/analysis-grand-challenge cms-open-data-ttbar "

HELPERS_CPP = """
#include <cmath>
#include "ROOT/RVec.hxx"
#include <Math/Vector4D.h>

// up and down weights for each of the three leading jets, scaled by the jet's pT
ROOT::RVecF rp_agc_tag_updown(const ROOT::RVecF &jet_pt)
{
   ROOT::RVecF res;
   for (const float &pt : ROOT::VecOps::Take(jet_pt, 3))
   {
      res.push_back(1 + .06 * pt / 40);
      res.push_back(1 - .06 * pt / 40);
   }
   return res;
}

// one factor per jet, growing with the jet's position
ROOT::RVecF rp_agc_ramp(std::size_t size)
{
   ROOT::RVecF res(size);
   for (std::size_t i = 0; i < size; ++i)
      res[i] = 1.f + 0.015f * i;
   return res;
}

// a fixed factor where a real analysis would draw one at random
float rp_agc_smear() { return 0.97; }

ROOT::RVecF rp_agc_resolution(std::size_t size)
{
   ROOT::RVecF res(size);
   std::generate(std::begin(res), std::end(res), []()
                 { return rp_agc_smear(); });
   return res;
}

float rp_agc_lead_sum(const ROOT::RVecF &jet_pt)
{
   auto lead = ROOT::VecOps::Take(jet_pt, 2);
   float s = 0;
   for (std::size_t i = 0; i < lead.size(); ++i)
      s += lead[i] / (i + 1);
   return s;
}

float rp_agc_scale() { return 1.04; }

ROOT::RVecF rp_agc_flat() { return 1 + ROOT::RVecF({.02, -.02}); }

ROOT::RVec<ROOT::Math::PxPyPzMVector> rp_agc_p4(const ROOT::RVecD &Pt, const ROOT::RVecD &Eta,
                                                const ROOT::RVecD &Phi, const ROOT::RVecD &M)
{
   return ROOT::VecOps::Construct<ROOT::Math::PxPyPzMVector>(
      ROOT::VecOps::Construct<ROOT::Math::PtEtaPhiMVector>(Pt, Eta, Phi, M));
}
"""


def _selected(R: Any, data: Inputs) -> Any:
    R.Declare(HELPERS_CPP, {})
    return (R.RDataFrame("Events", data.nano)
            .Define("Jet_pt_mask", "Jet_pt > 15")
            .Filter("Sum(Jet_pt_mask) >= 3"))


@program(AGC + "helpers.h (weight variations, RVecF(size), Take in a range-for)")
def agc_cxx_weight_helpers(R: Any, data: Inputs) -> dict[str, Any]:
    """The weight helpers called from Define strings: a range-for over `Take(jet_pt, 3)`
    pushing up/down factors, `RVecF res(size)` filled by index, `auto t = Take(v, 2)`
    read by index, and functions of no argument."""
    df = (_selected(R, data)
          .Define("updown", "rp_agc_tag_updown(Jet_pt[Jet_pt_mask])")
          .Define("w_up0", "updown[0]")
          .Define("w_down2", "updown[5]")
          .Define("n_updown", "(int)updown.size()")
          .Define("ramped", "Jet_pt * rp_agc_ramp(Jet_pt.size())")
          .Define("lead", "rp_agc_lead_sum(Jet_pt[Jet_pt_mask])")
          .Define("scaled", "Sum(Jet_pt * rp_agc_scale())")
          .Define("flat", "rp_agc_flat()[1] * lead"))
    return {"count": df.Count().GetValue(),
            "sum_up0": df.Sum("w_up0").GetValue(), "sum_down2": df.Sum("w_down2").GetValue(),
            "h_n": R.h1(df.Histo1D(("n", "", 8, 0, 8), "n_updown")),
            "h_ramped": R.h1(df.Histo1D(("ramped", "", 30, 0, 150), "ramped")),
            "h_lead": R.h1(df.Histo1D(("lead", "", 30, 0, 150), "lead", "w_up0")),
            "sum_scaled": df.Sum("scaled").GetValue(), "sum_flat": df.Sum("flat").GetValue()}


@program(AGC + "analysis.py (trijet mass from PxPyPzMVector collections)")
def agc_cxx_trijet(R: Any, data: Inputs) -> dict[str, Any]:
    """Jets as `Construct<PxPyPzMVector>(Construct<PtEtaPhiMVector>(...))`, in a Define
    and from a declared function; trijets by `Take(Jet_p4, Trijet[i])`, summed, masked by
    a body's b-tag test, their pT by `return Map(..., lambda)` and the mass of the one of
    highest pT by `Trijet_p4[ArgMax(Trijet_pt)].M()`."""
    df = (_selected(R, data)
          .Filter("Sum(Jet_btagDeepB[Jet_pt_mask] > 0.5) >= 1")
          .Define("Jet_p4", """
                  ROOT::VecOps::Construct<ROOT::Math::PxPyPzMVector>(
                      ROOT::VecOps::Construct<ROOT::Math::PtEtaPhiMVector>(
                          Jet_pt[Jet_pt_mask], Jet_eta[Jet_pt_mask], Jet_phi[Jet_pt_mask],
                          Jet_mass[Jet_pt_mask]))""")
          .Define("Jet_p4_f", "rp_agc_p4(Jet_pt[Jet_pt_mask], Jet_eta[Jet_pt_mask], "
                              "Jet_phi[Jet_pt_mask], Jet_mass[Jet_pt_mask])")
          .Define("Trijet", "ROOT::VecOps::Combinations(Jet_pt[Jet_pt_mask],3)")
          .Define("Trijet_btag", """
                  auto btag_masked = Jet_btagDeepB[Jet_pt_mask];
                  auto B1 = ROOT::VecOps::Take(btag_masked, Trijet[0]);
                  auto B2 = ROOT::VecOps::Take(btag_masked, Trijet[1]);
                  auto B3 = ROOT::VecOps::Take(btag_masked, Trijet[2]);
                  return (B1 > 0.5) || (B2 > 0.5) || (B3 > 0.5);
                  """)
          .Define("J1", "ROOT::VecOps::Take(Jet_p4, Trijet[0])")
          .Define("J2", "ROOT::VecOps::Take(Jet_p4_f, Trijet[1])")
          .Define("J3", "ROOT::VecOps::Take(Jet_p4, Trijet[2])")
          .Define("Trijet_p4", "(J1+J2+J3)[Trijet_btag]")
          .Define("Trijet_pt", "return ROOT::VecOps::Map(Trijet_p4, "
                               "[](const ROOT::Math::PxPyPzMVector &v) { return v.Pt(); })")
          .Define("Trijet_mass", "Trijet_p4[ROOT::VecOps::ArgMax(Trijet_pt)].M()")
          .Define("Jet_e", "return ROOT::VecOps::Map(Jet_p4_f, "
                           "[](const ROOT::Math::PxPyPzMVector &v) { return v.E(); });"))
    return {"count": df.Count().GetValue(),
            "h_mass": R.h1(df.Histo1D(("m", "", 25, 50, 550), "Trijet_mass")),
            "sum_mass": df.Sum("Trijet_mass").GetValue(),
            "h_pt": R.h1(df.Histo1D(("pt", "", 25, 0, 300), "Trijet_pt")),
            "sum_e": df.Sum("Jet_e").GetValue()}


@program(AGC + "analysis.py (Vary with the C++ helpers)")
def agc_cxx_variations(R: Any, data: Inputs) -> dict[str, Any]:
    """The port's Vary forms with declared helpers: a jet-pT Vary by
    `RVec<RVecF>{Jet_pt*f(), Jet_pt*g(Jet_pt.size())}` (g filling `RVecF res(size)` by
    `std::generate` with a lambda), a weight Vary by `w*flat()`, and
    the b-tag-style weights by `RVecD{w*updown(Jet_pt[mask])}` (one RVec item: a copy)."""
    R.Declare(HELPERS_CPP, {})
    df = (R.RDataFrame("Events", data.nano)
          .Define("Weights", "0.25")
          .Vary("Jet_pt", "ROOT::RVec<ROOT::RVecF>{Jet_pt*rp_agc_scale(), "
                          "Jet_pt*rp_agc_resolution(Jet_pt.size())}", ["scale_up", "res_up"])
          .Vary("Weights", "Weights*rp_agc_flat()", ["flat_up", "flat_down"], "flat")
          .Define("Jet_pt_mask", "Jet_pt > 15")
          .Filter("Sum(Jet_pt_mask) >= 3")
          .Vary("Weights", "ROOT::RVecD{Weights*rp_agc_tag_updown(Jet_pt[Jet_pt_mask])}",
                [f"tag_{i}_{d}" for i in range(3) for d in ("up", "down")], "tag")
          .Define("HT", "Sum(Jet_pt[Jet_pt_mask])"))
    h = df.Histo1D(("ht", "", 25, 50, 550), "HT", "Weights")
    histos = R.VariationsFor(h)
    keys = ["nominal", "Jet_pt:scale_up", "Jet_pt:res_up", "flat:flat_up", "flat:flat_down",
            *[f"tag:tag_{i}_{d}" for i in range(3) for d in ("up", "down")]]
    return {k: R.h1(histos[k]) for k in keys}
