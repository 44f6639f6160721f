"""What `rdfsampleinfo_` exposes about the file and sample an event comes from.

As ROOT's `RSampleInfo`, one object describes one file of the dataset (one
per file also for a plain list of files): `AsString()` is ROOT's
`"<file>/<tree>"` and `Contains` looks in it; the sample's name, id and
metadata exist only when the dataset has named samples (a spec), as in ROOT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hepflow.errors import PlanError


@dataclass(frozen=True, slots=True)
class SampleInfo:
    """A file's sample: its name, index in the dataset and metadata, and the file and tree."""

    name: str
    index: int
    metadata: Mapping[str, Any] = field(default_factory=dict)
    file: str = ""
    tree: str = ""
    named: bool = True
    #: ROOT's id where it is not "<file>/<tree>" (the empty source's entry range)
    id: str = ""
    #: The file's entries, as ROOT's single-threaded run reports them
    entry_range: tuple[int, int] = (0, 0)

    # ROOT's RSampleInfo accessors --------------------------------------------------------

    def AsString(self) -> str:
        """ROOT's id of the file: `"<file>/<tree>"` (`RDataFrame(N)`: its entry range)."""
        if self.id:
            return self.id
        return f"{self.file}/{self.tree}" if self.file or self.tree else ""

    def Contains(self, substr: str) -> bool:
        """Whether `substr` occurs in `AsString()` (not in the sample name, as in ROOT)."""
        return substr in self.AsString()

    def EntryRange(self) -> tuple[int, int]:
        """(begin, end) entries of the file (ROOT's multi-threaded run gives each task's)."""
        return self.entry_range

    def Empty(self) -> bool:
        return not self.AsString()

    def GetSampleName(self) -> str:
        return self._sample().name

    def GetSampleId(self) -> int:
        return self._sample().index

    def GetS(self, key: str) -> str:
        return str(self._meta(key))

    def GetI(self, key: str) -> int:
        return int(self._meta(key))

    def GetD(self, key: str) -> float:
        return float(self._meta(key))

    def _sample(self) -> SampleInfo:
        if not self.named:
            raise PlanError("rdfsampleinfo_: sample data was requested but no samples are "
                            "available (a plain list of files has none; give a dataset "
                            "spec with samples)")
        return self

    def _meta(self, key: str) -> Any:
        try:
            return self._sample().metadata[key]
        except KeyError:
            raise PlanError(f"rdfsampleinfo_: sample {self.name!r} has no metadata "
                            f"{key!r}") from None


__all__ = ["SampleInfo"]
