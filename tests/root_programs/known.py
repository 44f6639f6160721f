"""Programs that differ from ROOT today, and why: the defects of issue 21 (and new findings).

`both` applies to the in-process and the cluster run; `sync`/`cluster` to one of them.
Each entry becomes a strict xfail: when the defect is fixed the program passes,
the strict xfail fails, and the entry is to be removed.
"""

from __future__ import annotations

KNOWN: dict[str, dict[str, str]] = {
    "both": {
        "df106_HiggsToFourLeptons": "issue 21 item 3: rdfsampleinfo_.GetS is missing and "
                                    "Contains() must look in \"file/tree\" (AsString), so the "
                                    "ZZ scale factor 1.3 applies; then the "
                                    "weight's statement body (new, see define_statement_bodies)",
        "df106_variations": "issue 21 items 3 and 4: GetS/Contains as in df106, and Vary of a "
                            "declared function returning RVec<double> (not a brace list); then the "
                            "weight's statement body (new, see define_statement_bodies)",
        "define_statement_bodies": "new: Define strings that are C++ statement bodies "
                                   "(`double x; return ...;`, if/else returns, range-for) are "
                                   "refused by the parser (\"unexpected character '='\")",
        "distrdf_reducer_empty": "new: Min/Max over no entries are inf/-inf in hepflow; ROOT "
                                 "gives numeric_limits<double>::max()/lowest() "
                                 "(1.7976931348623157e+308)",
        "vecops_brace_init": "new: RVec brace initialisers (`ROOT::RVecD{1., 2., x}`) are "
                             "refused in Define (\"unexpected character '{'\"); hepflow takes "
                             "them only in Vary",
        "df033_column_types": "new: GetColumnType spells types its own way: ROOT gives "
                              "'UInt_t', 'ULong64_t', 'Bool_t', 'ROOT::VecOps::RVec<Float_t>' "
                              "for branches and 'ROOT::VecOps::RVec<int>' for a defined column; "
                              "hepflow 'unsigned int', 'unsigned long', 'bool', 'RVec<float>'",
    },
    "sync": {},
    "cluster": {},
    # files written by Snapshot, by "<program>/<file>"
    "snapshots": {
        "df007_snapshot/df007_snapshot.root":
            "new: Snapshot writes the counter nMuon of Muon_eta[nMuon] as Int_t; ROOT keeps "
            "the input's UInt_t",
        "distrdf_snapshot_nano/distrdf_snapshot_nano.root":
            "new: Snapshot writes the counters nMuon, nJet as Int_t; ROOT keeps UInt_t",
    },
}
