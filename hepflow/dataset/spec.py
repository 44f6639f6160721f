"""Datasets: samples of files (each with replicas at several sites) plus per-sample metadata.

Three spellings are accepted, because users arrive with all of them
(`hepflow.dataset.loaders` reads them; every key it does not know is an error):

* hepflow's own YAML/JSON::

    tree: Events
    samples:
      DYJetsToLL:
        metadata: {xsec: 6077.2, lumi: 59.7, is_data: false}
        files:
          - root://site-a.example//store/dy_1.root
          - replicas: [root://site-a.example//store/dy_2.root,
                       root://site-b.example//store/dy_2.root]
            entries: [0, 50000]          # only these entries of this file
          - url: dy_3.root
            steps: [[0, 1000], [5000, 6000]]
    friends:                             # columns `calib.<branch>`, entry by entry
      calib: {tree: Calib, files: [calib_1.root, calib_2.root]}
    range: [0, 100000]                   # first/last entry of the whole chain

* coffea fileset dicts: ``{"sample": {"files": {url: tree or {"object_path": tree,
  "steps": [[0, 10], ...], "uuid": ..., "num_entries": ...}}, "metadata": {...}}}``;
* ROOT's RDatasetSpec JSON: ``{"samples": {"s": {"trees": [...], "files": [...],
  "metadata": {...}}}, "friends": {"alias": {"trees": [...], "files": [...]}},
  "range": [begin, end]}``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hepflow.dataset.files import check_name
from hepflow.errors import PlanError

EntryRange = tuple[int, int]


def _check_range(start: Any, stop: Any, what: str) -> EntryRange:
    """An entry range [start, stop) of non-negative integers, or a clear error."""
    for value in (start, stop):
        if isinstance(value, bool) or not isinstance(value, int):
            raise PlanError(f"{what}: entry numbers must be integers, got {value!r}")
    if not 0 <= start <= stop:
        raise PlanError(f"{what}: [{start}, {stop}) is not an entry range "
                        "(need 0 <= start <= stop)")
    return int(start), int(stop)


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One file: its replicas (tried in order), tree, and optionally which entries to read.

    `entry_start`/`entry_stop` give one range; `steps` several sorted, disjoint
    ones (a coffea fileset's steps). `uuid` and `num_entries`, when given (as
    coffea's preprocessing writes them), are checked against the file.
    """

    replicas: tuple[str, ...]
    tree: str = "Events"
    entry_start: int | None = None
    entry_stop: int | None = None
    steps: tuple[EntryRange, ...] = ()
    uuid: str = ""
    num_entries: int | None = None

    def __post_init__(self) -> None:
        if not self.replicas:
            raise PlanError("a file needs at least one URL")
        for url in self.replicas:
            check_name(url)
        where = f"file {self.replicas[0]}"
        if self.steps and (self.entry_start is not None or self.entry_stop is not None):
            raise PlanError(f"{where}: give either an entry range or steps, not both")
        if self.entry_start is not None and self.entry_stop is not None:
            _check_range(self.entry_start, self.entry_stop, where)
        elif self.entry_start is not None:
            _check_range(self.entry_start, self.entry_start, where)
        elif self.entry_stop is not None:
            _check_range(0, self.entry_stop, where)
        previous = 0
        for start, stop in self.steps:
            _check_range(start, stop, f"{where}: step")
            if start < previous:
                raise PlanError(f"{where}: steps must be sorted and must not overlap; "
                                f"[{start}, {stop}) starts before {previous}")
            previous = stop

    @property
    def url(self) -> str:
        return self.replicas[0]

    def ranges(self, num_entries: int) -> list[EntryRange]:
        """The entry ranges to read of a file of `num_entries`; beyond its end is an error."""
        if self.num_entries is not None and self.num_entries != num_entries:
            raise PlanError(f"file {self.url}: the dataset says {self.num_entries} entries, "
                            f"the file has {num_entries}")
        if self.steps:
            spans = list(self.steps)
        else:
            start = self.entry_start or 0
            stop = num_entries if self.entry_stop is None else self.entry_stop
            spans = [(start, stop)]
        for start, stop in spans:
            if stop > num_entries or start > num_entries:
                raise PlanError(f"file {self.url}: entries [{start}, {stop}) asked for, but "
                                f"{self.tree!r} has only {num_entries} entries")
        return spans


@dataclass(frozen=True, slots=True)
class Sample:
    """A named group of files with its metadata (cross-section, luminosity, is-data, ...)."""

    name: str
    files: tuple[FileSpec, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def xsec(self) -> float | None:
        value = self.metadata.get("xsec")
        return None if value is None else float(value)

    @property
    def lumi(self) -> float | None:
        value = self.metadata.get("lumi")
        return None if value is None else float(value)

    @property
    def is_data(self) -> bool:
        return bool(self.metadata.get("is_data", False))


@dataclass(frozen=True, slots=True)
class Friend:
    """A friend chain: its entry i goes with entry i of the dataset's whole chain (as in ROOT).

    Its columns are `alias.branch`. The chain must hold exactly as many entries
    as the dataset; preprocessing refuses it otherwise.
    """

    alias: str
    files: tuple[FileSpec, ...]

    def __post_init__(self) -> None:
        if not self.alias or "." in self.alias or not self.alias.isidentifier():
            raise PlanError(f"friend alias {self.alias!r} must be a name without dots")
        if not self.files:
            raise PlanError(f"friend {self.alias!r} needs at least one file")
        for spec in self.files:
            if spec.steps or spec.entry_start is not None or spec.entry_stop is not None:
                raise PlanError(f"friend {self.alias!r}: a friend file is read entry by entry "
                                "with the main chain; it cannot have its own entry range")


@dataclass(frozen=True, slots=True)
class Dataset:
    """An ordered set of samples; the order fixes chunk order and so every result's order.

    `friends` are read alongside every sample; `range` restricts the whole
    chain (all samples' files in order) to entries [begin, end), as ROOT's
    RDatasetSpec global range does.
    """

    samples: tuple[Sample, ...]
    friends: tuple[Friend, ...] = ()
    range: EntryRange | None = None

    def __post_init__(self) -> None:
        names = [s.name for s in self.samples]
        if len(set(names)) != len(names):
            raise PlanError(f"sample names must be unique, got {names}")
        if not self.samples:
            raise PlanError("a dataset needs at least one sample")
        aliases = [f.alias for f in self.friends]
        if len(set(aliases)) != len(aliases):
            raise PlanError(f"friend aliases must be unique, got {aliases}")
        if self.range is not None:
            _check_range(self.range[0], self.range[1], "dataset range")

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, name: str) -> Sample:
        for sample in self.samples:
            if sample.name == name:
                return sample
        raise KeyError(f"no sample {name!r}; samples: {[s.name for s in self.samples]}")

    @property
    def files(self) -> list[tuple[Sample, FileSpec]]:
        return [(s, f) for s in self.samples for f in s.files]

    # -- loaders (see hepflow.dataset.loaders) ---------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Dataset:
        """Load YAML or JSON, recognising hepflow, coffea and RDatasetSpec layouts."""
        from hepflow.dataset.loaders import load

        return load(path)

    @classmethod
    def from_dict(cls, data: Any, base: Path | None = None, source: str = "dataset") -> Dataset:
        from hepflow.dataset.loaders import from_dict

        return from_dict(data, base, source)

    @classmethod
    def from_fileset(cls, fileset: Mapping[str, Any], base: Path | None = None) -> Dataset:
        """A coffea-style fileset: ``{sample: {"files": {url: tree}, "metadata": {...}}}``."""
        from hepflow.dataset.loaders import from_fileset

        return from_fileset(fileset, base)

    @classmethod
    def from_rdatasetspec(cls, spec: Mapping[str, Any], base: Path | None = None) -> Dataset:
        """ROOT's RDatasetSpec JSON (``samples`` with ``trees``, ``files``, ``metadata``)."""
        from hepflow.dataset.loaders import from_rdatasetspec

        return from_rdatasetspec(spec, base)

    @classmethod
    def from_files(cls, files: Sequence[str | os.PathLike[str]], tree: str,
                   name: str = "") -> Dataset:
        return cls((Sample(name, tuple(FileSpec((os.fspath(f),), tree) for f in files)),))

    def to_dict(self) -> dict[str, Any]:
        """hepflow's own layout (round-trips through `from_dict`)."""
        out: dict[str, Any] = {"samples": {
            s.name: {"metadata": dict(s.metadata), "files": [_file_dict(f) for f in s.files]}
            for s in self.samples}}
        if self.friends:
            out["friends"] = {f.alias: {"files": [_file_dict(x) for x in f.files]}
                              for f in self.friends}
        if self.range is not None:
            out["range"] = list(self.range)
        return out


def _file_dict(spec: FileSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"replicas": list(spec.replicas), "tree": spec.tree}
    if spec.entry_start is not None or spec.entry_stop is not None:
        out["entry_start"] = spec.entry_start
        out["entry_stop"] = spec.entry_stop
    if spec.steps:
        out["steps"] = [list(s) for s in spec.steps]
    if spec.uuid:
        out["uuid"] = spec.uuid
    if spec.num_entries is not None:
        out["num_entries"] = spec.num_entries
    return out


__all__ = ["Dataset", "EntryRange", "FileSpec", "Friend", "Sample"]
