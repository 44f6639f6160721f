"""The first rows of chosen columns, printed as RDataFrame's Display() prints them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak


def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "{ " + ", ".join(_cell(v) for v in value) + " }"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class DisplayResult:
    columns: Mapping[str, list[Any]]

    def AsString(self) -> str:
        names = list(self.columns)
        rows = [[_cell(v) for v in self.columns[n]] for n in names]
        nrows = max((len(r) for r in rows), default=0)
        widths = [max([len(n)] + [len(c) for c in col]) for n, col in zip(names, rows,
                                                                            strict=True)]
        header = "| Row | " + " | ".join(n.ljust(w) for n, w in zip(names, widths,
                                                                   strict=True)) + " |"
        lines = [header, "|" + "-" * (len(header) - 2) + "|"]
        for i in range(nrows):
            cells = [(col[i] if i < len(col) else "").ljust(w) for col, w in zip(rows, widths,
                                                                                 strict=True)]
            lines.append(f"| {i:<3d} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def Print(self) -> None:
        print(self.AsString())

    def __str__(self) -> str:
        return self.AsString()


def to_lists(values: Mapping[str, Any], nrows: int) -> dict[str, list[Any]]:
    return {k: ak.to_list(v[:nrows]) for k, v in values.items()}


__all__ = ["DisplayResult", "to_lists"]
