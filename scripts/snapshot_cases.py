"""Snapshot programs whose files ROOT must read back unchanged (issue 21, item 9).

    PYTHONPATH=. .venv/bin/python scripts/snapshot_cases.py OUTDIR
    /work/rootenv/bin/python scripts/root_check_snapshots.py OUTDIR

The first command writes each case with hepflow's Snapshot into OUTDIR (and
what hepflow reads back, as OUTDIR/hepflow.json); the second reads those
files with ROOT, runs ROOT's own Snapshot of the same program, and records
both in tests/data/root_snapshot_check.json. `CASES` is plain data, so the
ROOT script and the tests share it without importing hepflow or ROOT.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ENTRIES = 7
#: key -> (Defines in order, columns written). Expressions both ROOT and hepflow run.
CASES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "scalar_next_to_vector": ([("b2", "(int)rdfentry_"),
                               ("b2_vector", "ROOT::RVecF(rdfentry_ % 3, 1.5f)")],
                              ["b2", "b2_vector"]),
    "collection_next_to_field": ([("Muon", "ROOT::RVecF(rdfentry_ % 3, 2.5f)"),
                                  ("Muon_pt", "ROOT::RVecF(rdfentry_ % 3, 0.5f*rdfentry_)")],
                                 ["Muon", "Muon_pt"]),
    "lone_rvec": ([("b2", "ROOT::RVecF(rdfentry_ % 4, 0.25f*rdfentry_)")], ["b2"]),
    "nanoaod_record": ([("nJet", "(unsigned int)(rdfentry_ % 3)"),
                        ("Jet_pt", "ROOT::RVecF(rdfentry_ % 3, 10.f + rdfentry_)"),
                        ("Jet_eta", "ROOT::RVecF(rdfentry_ % 3, -1.f)")],
                       ["nJet", "Jet_pt", "Jet_eta"]),
    "underscore_define": ([("good_jets", "ROOT::RVecF(rdfentry_ % 3, 1.f)"),
                           ("good_muons", "ROOT::RVecF(rdfentry_ % 3, 2.f)")],
                          ["good_jets", "good_muons"]),
}
#: Written from a Python callable returning a fixed-size array per event (std::array's shape).
ARRAY_CASE = "fixed_array"


def _lists(values: Any) -> list[Any]:
    import numpy as np

    return [np.asarray(v).tolist() for v in values]


def write_hepflow(folder: Path) -> dict[str, Any]:
    """Write every case with hepflow into `folder`; return what hepflow reads back."""
    import numpy as np

    import hepflow

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for key, (defines, columns) in CASES.items():
        df = hepflow.RDataFrame(ENTRIES, client="sync", chunk_entries=3)
        for name, expr in defines:
            df = df.Define(name, expr)
        back = df.Snapshot("Events", folder / f"{key}.root", columns)
        data = back.AsNumpy(columns)
        out[key] = {"columns": back.GetColumnNames(),
                    "values": {c: _lists(data[c]) for c in columns}}
    df = hepflow.RDataFrame(ENTRIES, client="sync", chunk_entries=3).Define(
        "e", "rdfentry_").Define(
        "a", lambda e: np.stack([np.asarray(e, np.float32), np.asarray(e, np.float32) + 0.5,
                                 np.full(len(e), 2.0, np.float32)], axis=1), ["e"])
    back = df.Snapshot("Events", folder / f"{ARRAY_CASE}.root", ["a"])
    out[ARRAY_CASE] = {"columns": back.GetColumnNames(),
                       "values": {"a": _lists(back.AsNumpy(["a"])["a"])}}
    return out


def main() -> int:
    folder = Path(sys.argv[1])
    read_back = write_hepflow(folder)
    (folder / "hepflow.json").write_text(json.dumps(read_back, indent=1) + "\n")
    print(f"wrote the cases into {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
