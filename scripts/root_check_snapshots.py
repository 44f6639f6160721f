"""ROOT 6.40 reads the files hepflow's Snapshot wrote (see scripts/snapshot_cases.py).

    /work/rootenv/bin/python scripts/root_check_snapshots.py OUTDIR

For every case: the columns ROOT lists and the values it reads from
hepflow's file, whether they equal what hepflow reads back, and the columns
ROOT's own Snapshot of the same program writes. Recorded in
tests/data/root_snapshot_check.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import ROOT

sys.path.insert(0, str(Path(__file__).resolve().parent))
from snapshot_cases import ARRAY_CASE, CASES, ENTRIES

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "root_snapshot_check.json"


def _value(v: Any) -> Any:
    """A number, or a list of numbers for an RVec (numpy scalars made plain)."""
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return v.item()
    if isinstance(v, (int, float, bool)):
        return v
    return [_value(x) for x in v]


def _read(path: Path, columns: list[str]) -> dict[str, Any]:
    df = ROOT.RDataFrame("Events", str(path))
    data = df.AsNumpy(columns)
    return {"columns": sorted(str(c) for c in df.GetColumnNames()),
            "types": {c: str(df.GetColumnType(c)) for c in columns},
            "values": {c: [_value(v) for v in data[c]] for c in columns}}


def _root_own(key: str, defines: list[tuple[str, str]], columns: list[str],
              folder: Path) -> list[str]:
    df = ROOT.RDataFrame(ENTRIES)
    for name, expr in defines:
        df = df.Define(name, expr)
    path = folder / f"{key}.root-by-root.root"
    df.Snapshot("Events", str(path), columns)
    return sorted(str(c) for c in ROOT.RDataFrame("Events", str(path)).GetColumnNames())


def main() -> int:
    folder = Path(sys.argv[1])
    hepflow_read = json.loads((folder / "hepflow.json").read_text())
    report: dict[str, Any] = {"root_version": str(ROOT.gROOT.GetVersion()), "cases": {}}
    for key in [*CASES, ARRAY_CASE]:
        columns = CASES[key][1] if key in CASES else ["a"]
        read = _read(folder / f"{key}.root", columns)
        def close(a: Any, b: Any) -> bool:
            if isinstance(a, list):
                return isinstance(b, list) and len(a) == len(b) and all(
                    close(x, y) for x, y in zip(a, b, strict=True))
            return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
        equal = all(close(read["values"][c], hepflow_read[key]["values"][c]) for c in columns)
        report["cases"][key] = {
            **read, "equal_to_hepflow": equal,
            "hepflow_columns": sorted(hepflow_read[key]["columns"]),
            "root_own_snapshot_columns": (_root_own(key, *CASES[key], folder)
                                          if key in CASES else None)}
    OUT.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
    return 0 if all(c["equal_to_hepflow"] for c in report["cases"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
