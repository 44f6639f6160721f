"""ROOT 6.40's answers for branches missing in some files (issue 21, item 10).

    /work/rootenv/bin/python scripts/root_refs_missing.py

Writes three files under tests/data/frame/ whose trees have the branches
(x, y), (y) and (x), and ROOT's results of the programs in `PROGRAMS` over
them to tests/data/root_missing_refs.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import ROOT

FRAME = Path(__file__).resolve().parent.parent / "tests" / "data" / "frame"
OUT = FRAME.parent / "root_missing_refs.json"
FILES = {"missing_xy": {"x": "(int)rdfentry_", "y": "(int)rdfentry_ * 10"},
         "missing_y": {"y": "(int)rdfentry_ * 100"},
         "missing_x": {"x": "(int)(rdfentry_ + 1) * 4"}}
#: (key, steps, column taken): steps are (method, argument) applied in order.
PROGRAMS: list[tuple[str, list[tuple[str, Any]], str]] = [
    ("filter_missing_y_take_x", [("FilterMissing", "y")], "x"),
    ("define_above_filter", [("Define", ("x2", "x * 2")), ("FilterMissing", "y")], "x2"),
    ("filter_available_x_take_x", [("FilterAvailable", "x")], "x"),
    ("filter_available_y_take_y", [("FilterAvailable", "y")], "y"),
    ("missing_x_then_available_y", [("FilterMissing", "x"), ("FilterAvailable", "y")], "y"),
]


def files() -> list[str]:
    return [str(FRAME / f"{name}.root") for name in FILES]


def main() -> int:
    FRAME.mkdir(parents=True, exist_ok=True)
    for name, columns in FILES.items():
        df = ROOT.RDataFrame(5)
        for column, expr in columns.items():
            df = df.Define(column, expr)
        df.Snapshot("Events", str(FRAME / f"{name}.root"), list(columns))
    refs = {}
    for key, steps, column in PROGRAMS:
        df = ROOT.RDataFrame("Events", files())
        for method, arg in steps:
            df = getattr(df, method)(*arg) if isinstance(arg, tuple) else \
                getattr(df, method)(arg)
        refs[key] = [int(v) for v in df.Take["int"](column).GetValue()]
    OUT.write_text(json.dumps(refs, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
