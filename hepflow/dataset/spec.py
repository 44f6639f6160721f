"""Datasets: samples of files (each with replicas at several sites) plus per-sample metadata.

Three spellings are accepted, because users arrive with all of them:

* hepflow's own YAML/JSON::

    tree: Events
    samples:
      DYJetsToLL:
        metadata: {xsec: 6077.2, lumi: 59.7, is_data: false}
        files:
          - root://site-a.example//store/dy_1.root
          - replicas: [root://site-a.example//store/dy_2.root,
                       root://site-b.example//store/dy_2.root]

* coffea fileset dicts: ``{"sample": {"files": {url: tree}, "metadata": {...}}}``;
* ROOT's RDatasetSpec JSON: ``{"samples": {"s": {"trees": [...], "files": [...],
  "metadata": {...}}}}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hepflow.errors import PlanError


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One file: its replicas (tried in order), tree and optionally an entry range."""

    replicas: tuple[str, ...]
    tree: str = "Events"
    entry_start: int | None = None
    entry_stop: int | None = None

    def __post_init__(self) -> None:
        if not self.replicas:
            raise PlanError("a file needs at least one URL")

    @property
    def url(self) -> str:
        return self.replicas[0]


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
class Dataset:
    """An ordered set of samples; the order fixes chunk order and so every result's order."""

    samples: tuple[Sample, ...]

    def __post_init__(self) -> None:
        names = [s.name for s in self.samples]
        if len(set(names)) != len(names):
            raise PlanError(f"sample names must be unique, got {names}")
        if not self.samples:
            raise PlanError("a dataset needs at least one sample")

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

    # -- loaders ---------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Dataset:
        """Load YAML or JSON, recognising hepflow, coffea and RDatasetSpec layouts."""
        text = Path(path).read_text()
        try:
            data = yaml.safe_load(text) if str(path).endswith((".yaml", ".yml")) \
                else json.loads(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise PlanError(f"cannot parse dataset file {path}: {exc}") from None
        return cls.from_dict(data, base=Path(path).parent, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, base: Path | None = None, source: str = "dataset") -> Dataset:
        if not isinstance(data, Mapping):
            raise PlanError(f"{source}: a dataset is a mapping of samples")
        samples = data.get("samples")
        if isinstance(samples, Mapping) and samples and all(
                isinstance(v, Mapping) and "trees" in v for v in samples.values()):
            return cls.from_rdatasetspec(data, base)
        if isinstance(samples, Mapping):
            return cls._from_hepflow(data, base, source)
        return cls.from_fileset(data, base)

    @classmethod
    def _from_hepflow(cls, data: Mapping[str, Any], base: Path | None, source: str) -> Dataset:
        default_tree = str(data.get("tree", "Events"))
        out = []
        for name, body in data["samples"].items():
            if not isinstance(body, Mapping) or "files" not in body:
                raise PlanError(f"{source}: sample {name!r} needs a 'files' list")
            tree = str(body.get("tree", default_tree))
            files = []
            for entry in body["files"]:
                if isinstance(entry, str):
                    files.append(FileSpec((_resolve(entry, base),), tree))
                elif isinstance(entry, Mapping):
                    urls = entry.get("replicas") or [entry.get("url")]
                    if not all(isinstance(u, str) for u in urls):
                        raise PlanError(f"{source}: sample {name!r}: a file needs 'url' or "
                                        "'replicas'")
                    files.append(FileSpec(tuple(_resolve(u, base) for u in urls),
                                          str(entry.get("tree", tree)),
                                          entry.get("entry_start"), entry.get("entry_stop")))
                else:
                    raise PlanError(f"{source}: sample {name!r}: bad file entry {entry!r}")
            out.append(Sample(str(name), tuple(files), dict(body.get("metadata", {}))))
        return cls(tuple(out))

    @classmethod
    def from_fileset(cls, fileset: Mapping[str, Any], base: Path | None = None) -> Dataset:
        """A coffea-style fileset: ``{sample: {"files": {url: tree}, "metadata": {...}}}``."""
        out = []
        for name, body in fileset.items():
            if isinstance(body, Mapping) and "files" in body:
                files_obj, metadata = body["files"], dict(body.get("metadata") or {})
            else:
                files_obj, metadata = body, {}
            files = []
            if isinstance(files_obj, Mapping):
                for url, tree in files_obj.items():
                    if isinstance(tree, Mapping):
                        tree = tree.get("object_path", "Events")
                    files.append(FileSpec((_resolve(str(url), base),), str(tree)))
            elif isinstance(files_obj, Sequence) and not isinstance(files_obj, str):
                files = [FileSpec((_resolve(str(u), base),)) for u in files_obj]
            else:
                raise PlanError(f"fileset sample {name!r}: 'files' must map URLs to tree names")
            out.append(Sample(str(name), tuple(files), metadata))
        return cls(tuple(out))

    @classmethod
    def from_rdatasetspec(cls, spec: Mapping[str, Any], base: Path | None = None) -> Dataset:
        """ROOT's RDatasetSpec JSON (``samples`` with ``trees``, ``files``, ``metadata``)."""
        out = []
        for name, body in spec["samples"].items():
            trees = list(body["trees"])
            urls = list(body["files"])
            if len(trees) == 1:
                trees = trees * len(urls)
            if len(trees) != len(urls):
                raise PlanError(f"RDatasetSpec sample {name!r}: {len(trees)} trees for "
                                f"{len(urls)} files")
            files = tuple(FileSpec((_resolve(u, base),), t) for u, t in zip(urls, trees,
                                                                            strict=True))
            out.append(Sample(str(name), files, dict(body.get("metadata") or {})))
        return cls(tuple(out))

    @classmethod
    def from_files(cls, files: Sequence[str | os.PathLike[str]], tree: str,
                   name: str = "") -> Dataset:
        return cls((Sample(name, tuple(FileSpec((os.fspath(f),), tree) for f in files)),))

    def to_dict(self) -> dict[str, Any]:
        """hepflow's own layout (round-trips through `from_dict`)."""
        return {"samples": {
            s.name: {
                "metadata": dict(s.metadata),
                "files": [
                    {"replicas": list(f.replicas), "tree": f.tree,
                     **({"entry_start": f.entry_start, "entry_stop": f.entry_stop}
                        if f.entry_start is not None else {})}
                    for f in s.files
                ],
            } for s in self.samples}}


def _resolve(url: str, base: Path | None) -> str:
    if "://" in url or base is None or os.path.isabs(url):
        return url
    return str((base / url).resolve())


__all__ = ["Dataset", "FileSpec", "Sample"]
