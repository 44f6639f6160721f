"""Programs that differ from ROOT today, and why: the defects of issue 21 (and new findings).

`both` applies to the in-process and the cluster run; `sync`/`cluster` to one of them.
Each entry becomes a strict xfail: when the defect is fixed the program passes,
the strict xfail fails, and the entry is to be removed.
"""

from __future__ import annotations

I5 = ("issue 21 item 5: RResultPtr does not forward to its value "
      "(ROOT: ptr.AsString()/Print()/GetMean()/GetEntries() work on the pointer)")
I6 = ("issue 21 item 6: Display's text is not ROOT's (+-----+ boxes, one element per line, "
      "%f floats)")
I11 = ("issue 21 item 11: float arithmetic computed in double where C++ keeps float "
       "(float results, AsNumpy dtypes)")

KNOWN: dict[str, dict[str, str]] = {
    "both": {
        "df002_dataModel": I11 + ": Sum(RVec<float>) is a float in ROOT",
        "df017_vecOpsHEP": I11 + ": DeltaPhi(float, float) is a float in ROOT",
        "df026_AsNumpy_floats": I11 + ": Muon_pt[0] * 2 and Muon_pt[0] + MET_pt are float",
        "spec_GetS": "issue 21 item 3: rdfsampleinfo_.GetS is missing",
        "df102_NanoAODDimuonAnalysis": I11 + ": InvariantMass of floats is computed in float "
                                       "(events land in other bins of the 30,000)",
        "df105_WBosonAnalysis_mc": I11 + ": the product of float scale factors is a float",
        "df106_HiggsToFourLeptons": "issue 21 item 3: rdfsampleinfo_.GetS is missing and "
                                    "Contains() must look in \"file/tree\" (AsString), so the "
                                    "ZZ scale factor 1.3 applies; then the "
                                    "weight's statement body (new, see define_statement_bodies)",
        "df106_variations": "issue 21 items 3 and 4: GetS/Contains as in df106, and Vary of a "
                            "declared function returning RVec<double> (not a brace list); then the "
                            "weight's statement body (new, see define_statement_bodies)",
        "distrdf_variations_expression": "issue 21 item 4: Vary takes only brace lists, not "
                                         "`x * ROOT::RVecD(2, 3.)`",
        "distrdf_reducer_merge_floats": I11 + ": `1.f/(1.f+rdfentry_)` is a float column",
        "distrdf_snapshot_floats": I11 + ": a float column is written as Double_t",
        "vecops_float_results": I11 + ": Dot and DeltaR of RVec<float> are float",
        "define_statement_bodies": "new: Define strings that are C++ statement bodies "
                                   "(`double x; return ...;`, if/else returns, range-for) are "
                                   "refused by the parser (\"unexpected character '='\")",
        "vecops_brace_init": "new: RVec brace initialisers (`ROOT::RVecD{1., 2., x}`) are "
                             "refused in Define (\"unexpected character '{'\"); hepflow takes "
                             "them only in Vary",
        "vecops_integer_mask": "issue 21 item 1: an integer RVec inside [] is a mask in ROOT, "
                               "hepflow takes positions (index out of range)",
        "vecops_fourvector_collections": "issue 21 item 2: collections of 4-vectors pass the "
                                         "check, then fail on every chunk (unknown type "
                                         "FourVector)",
    },
    "sync": {},
    "cluster": {},
    # files written by Snapshot, by "<program>/<file>"
    "snapshots": {
        "distrdf_snapshot_floats/distrdf_snapshot_floats.root":
            I11 + ": Snapshot writes Double_t where ROOT writes Float_t",
    },
}
