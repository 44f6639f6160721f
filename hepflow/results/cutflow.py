"""The cutflow report of named filters, as RDataFrame's `Report()` prints it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cut:
    """One named filter: entries that reached it (`all`) and that passed it."""

    name: str
    all: int
    passed: int

    def GetName(self) -> str:
        return self.name

    def GetAll(self) -> int:
        return self.all

    def GetPass(self) -> int:
        return self.passed

    def GetEff(self) -> float:
        return 100.0 * self.passed / self.all if self.all else 0.0


@dataclass(frozen=True, slots=True)
class CutflowReport:
    """Cuts in the order the filters were booked; iterable like ROOT's RCutFlowReport."""

    cuts: tuple[Cut, ...]

    def __iter__(self) -> Iterator[Cut]:
        return iter(self.cuts)

    def __len__(self) -> int:
        return len(self.cuts)

    def __getitem__(self, name: str) -> Cut:
        for cut in self.cuts:
            if cut.name == name:
                return cut
        raise KeyError(f"no filter named {name!r} in this report; "
                       f"known: {[c.name for c in self.cuts]}")

    def AsString(self) -> str:
        if not self.cuts:
            return "(no named filters)"
        width = max(len(c.name) for c in self.cuts)
        first_all = self.cuts[0].all
        lines = []
        for cut in self.cuts:
            cumulative = 100.0 * cut.passed / first_all if first_all else 0.0
            lines.append(f"{cut.name:<{width}}: pass={cut.passed:<10d} all={cut.all:<10d} "
                         f"-- eff={cut.GetEff():6.2f} % cumulative eff={cumulative:6.2f} %")
        return "\n".join(lines)

    def Print(self) -> None:
        print(self.AsString())

    def __str__(self) -> str:
        return self.AsString()

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{c.name}</td><td>{c.passed}</td><td>{c.all}</td>"
            f"<td>{c.GetEff():.2f} %</td></tr>" for c in self.cuts)
        return ("<table><tr><th>filter</th><th>pass</th><th>all</th><th>eff</th></tr>"
                f"{rows}</table>")


__all__ = ["Cut", "CutflowReport"]
