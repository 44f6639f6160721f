"""Programs that differ from ROOT today, and why: the defects of issue 21 (and new findings).

`both` applies to the in-process and the cluster run; `sync`/`cluster` to one of them.
Each entry becomes a strict xfail: when the defect is fixed the program passes,
the strict xfail fails, and the entry is to be removed.
"""

from __future__ import annotations

KNOWN: dict[str, dict[str, str]] = {
    "both": {
        "df106_HiggsToFourLeptons": "not yet (issue 22): the weight's C++ statement body "
                                    "(`double x; return ...;`), see define_statement_bodies",
        "df106_variations": "not yet (issue 22): the weight's C++ statement body; and Vary "
                            "of a collection through one expression returning RVec<RVec<T>>",
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
