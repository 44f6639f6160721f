"""The first rows of chosen columns, printed exactly as RDataFrame's Display() prints them.

ROOT 6.40's table: `+-----+` rules between rows, the entry number in the
`Row` column, one collection element per line, floating-point values with
`%f`, booleans as `true`/`false`, strings quoted, and no more columns than
fit in 100 characters (the rest shown as one `...` column). A column holding a
collection longer than `nMaxCollectionElements` is made at least as wide as
ROOT's `...` marker, which ROOT reserves but (in 6.40) does not print: every
element is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak

_ELLIPSIS = "..."
#: ROOT's widest table line: later columns are replaced by one `...` column.
_MAX_WIDTH = 100


def _cell(value: Any) -> str:
    """One value as ROOT's Display writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:f}"
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        return f'"{text}"'
    return str(value)


def _lines(value: Any) -> list[str]:
    """The lines of one cell: one per collection element (none for an empty one)."""
    if isinstance(value, (list, tuple)):
        return [_cell(v) for v in value]
    return [_cell(value)]


@dataclass(frozen=True)
class DisplayResult:
    """The rows ROOT's `Display` shows: their entry numbers and the values of each column."""

    columns: Mapping[str, list[Any]]
    entries: Sequence[int] = ()
    max_elements: int = 10

    def _widths(self, names: list[str], cells: list[list[list[str]]]) -> list[int]:
        widths = [len("Row")] + [len(n) for n in names]
        widths[0] = max([widths[0]] + [len(str(e)) for e in self.entries])
        for i, (name, column) in enumerate(zip(names, cells, strict=True)):
            longest = max((len(line) for cell in column for line in cell), default=0)
            truncated = any(isinstance(v, (list, tuple)) and len(v) > self.max_elements
                            for v in self.columns[name])
            widths[i + 1] = max(widths[i + 1], longest, len(_ELLIPSIS) if truncated else 0)
        return widths

    def AsString(self) -> str:
        """ROOT's text of the table, each line ending in `| ` and a newline.

        As ROOT, columns are shown while a line stays within `_MAX_WIDTH`
        characters; the rest become one `...` column.
        """
        names = list(self.columns)
        cells = [[_lines(v) for v in self.columns[n]] for n in names]
        nrows = len(self.entries)
        widths = self._widths(names, cells)
        total, shown = widths[0] + 3, 0
        while shown < len(names) and total + widths[shown + 1] + 3 <= _MAX_WIDTH:
            total += widths[shown + 1] + 3
            shown += 1
        cut = shown < len(names)
        if cut:
            names, cells = names[:shown], cells[:shown]
            widths = [*widths[:shown + 1], len(_ELLIPSIS)]
        more = [_ELLIPSIS] if cut else []
        rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+\n"

        def line(items: Sequence[str]) -> str:
            return "".join(f"| {item.ljust(w)} " for item, w in zip(items, widths,
                                                                    strict=True)) + "| \n"

        out = [rule, line(["Row", *names, *more]), rule]
        for row in range(nrows):
            per_column = [column[row] for column in cells]
            height = max([1] + [len(c) for c in per_column])
            for k in range(height):
                first = str(self.entries[row]) if k == 0 else ""
                out.append(line([first] + [c[k] if k < len(c) else "" for c in per_column]
                                + more))
            out.append(rule)
        return "".join(out)

    def Print(self) -> None:
        """Print the table as ROOT does."""
        print(self.AsString(), end="")

    def __str__(self) -> str:
        return self.AsString()


def to_lists(values: Mapping[str, Any], nrows: int) -> dict[str, list[Any]]:
    return {k: ak.to_list(v[:nrows]) for k, v in values.items()}


__all__ = ["DisplayResult", "to_lists"]
