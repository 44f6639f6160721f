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
        "vecops_brace_init": "new: RVec brace initialisers (`ROOT::RVecD{1., 2., x}`) are "
                             "refused in Define (\"unexpected character '{'\"); hepflow takes "
                             "them only in Vary",
    },
    "sync": {},
    "cluster": {},
    # files written by Snapshot, by "<program>/<file>"
    "snapshots": {
    },
}
