"""Reading dataset files: hepflow's YAML/JSON, coffea filesets and ROOT's RDatasetSpec JSON.

Nothing in a dataset file is silently dropped: a key this module does not know
is an error naming the key and where it is, because a misspelt `step` or a
`friends` block nobody reads changes which events a physicist analyses.

A dataset file may come from anywhere, so reading it is bounded: only a
regular file is opened (a FIFO would block forever), nesting deeper than
`MAX_DEPTH` is refused (Python's parsers would recurse until `RecursionError`),
and YAML aliases are refused: nine nested aliases of nine items each are 9^9
leaves to whoever walks the result, from a file of a few hundred bytes, and a
list of files and their metadata needs none.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from hepflow.dataset.files import check_name
from hepflow.dataset.spec import Dataset, EntryRange, FileSpec, Friend, Sample
from hepflow.dataset.yamlnumbers import with_exponent_floats
from hepflow.errors import PlanError, did_you_mean
from hepflow.io.handles import NotRegularFile, regular_file

#: How deeply lists and mappings may nest in a dataset file (a real one needs about six).
MAX_DEPTH = 32

_HEPFLOW_TOP = ("tree", "samples", "friends", "range")
_HEPFLOW_SAMPLE = ("files", "metadata", "tree")
_HEPFLOW_FILE = ("url", "replicas", "tree", "entries", "entry_start", "entry_stop", "steps",
                 "uuid", "num_entries")
_HEPFLOW_FRIEND = ("files", "tree")
# coffea's preprocessing also writes the awkward form of each dataset ("form"): hepflow
# learns column types itself, so the form is accepted and not needed.
# coffea 2026's DatasetSpec/DataGroupSpec dump `format`, `compressed_form`, `did`,
# `lfn`, `pfn` and `num_selected_entries` too (None where unset).
_COFFEA_SAMPLE = ("files", "metadata", "form", "format", "compressed_form", "did")
_COFFEA_FILE = ("object_path", "steps", "uuid", "num_entries", "format", "lfn", "pfn",
                "num_selected_entries")
_RDF_TOP = ("samples", "friends", "range")
_RDF_SAMPLE = ("trees", "files", "metadata")
_RDF_FRIEND = ("trees", "files")


def _known(mapping: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    """Refuse keys that would otherwise be ignored, with a spelling hint."""
    for key in mapping:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed)
            raise PlanError(f"{where}: unknown key {key!r}" + (f"; {hint}" if hint else "")
                            + f" (known keys: {', '.join(allowed)})")


def load(path: str | os.PathLike[str]) -> Dataset:
    """Load YAML or JSON, recognising hepflow, coffea and RDatasetSpec layouts."""
    text = _read(os.fspath(path))
    try:
        data = _parse_yaml(text) if str(path).endswith((".yaml", ".yml")) \
            else _parse_json(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = " ".join(str(exc).split())  # YAML's message spans lines: one line here
        raise PlanError(f"cannot parse dataset file {path}: {first}") from exc
    return from_dict(data, base=Path(path).parent, source=str(path))


def _read(path: str) -> str:
    """The text of a dataset file, refusing anything but a regular file before opening it."""
    try:
        regular_file(path)
        return Path(path).read_text()
    except NotRegularFile as exc:
        if stat.S_ISDIR(os.stat(path).st_mode):
            raise PlanError(f"the dataset file {path} is a folder; give a .yaml or .json "
                            "file") from None
        raise PlanError(f"the dataset file {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PlanError(f"cannot read the dataset file {path!r}: {why}") from None


class _BoundedLoader(with_exponent_floats(yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader, refusing aliases and nesting deeper than `MAX_DEPTH`."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"YAML aliases (*{event.anchor}) are not allowed in a dataset "
                "file; write the value out", event.start_mark)
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"lists and mappings nest more than {MAX_DEPTH} levels deep",
                self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader: no arbitrary objects


def _parse_json(text: str) -> Any:
    try:
        data = json.loads(text)
    except RecursionError:  # deeper than the interpreter's recursion limit
        raise ValueError(f"lists and mappings nest more than {MAX_DEPTH} levels deep") from None
    _check_depth(data)
    return data


def _check_depth(data: Any) -> None:
    """Refuse nesting deeper than `MAX_DEPTH` (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"lists and mappings nest more than {MAX_DEPTH} levels deep")
        children = value.values() if isinstance(value, dict) else \
            value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children)


def from_dict(data: Any, base: Path | None = None, source: str = "dataset") -> Dataset:
    if not isinstance(data, Mapping):
        raise PlanError(f"{source}: a dataset is a mapping of samples")
    samples = data.get("samples")
    if isinstance(samples, Mapping) and samples and all(
            isinstance(v, Mapping) and "trees" in v for v in samples.values()):
        return from_rdatasetspec(data, base, source)
    if isinstance(samples, Mapping):
        return _from_hepflow(data, base, source)
    return from_fileset(data, base, source)


def _metadata(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise PlanError(f"{where}: 'metadata' must map names to values, got {value!r}")
    for key, item in value.items():
        if not isinstance(item, (str, int, float, bool)):
            raise PlanError(f"{where}: metadata {key!r} must be a string or a number "
                            f"(as in ROOT's RDatasetSpec), got {item!r}")
    return dict(value)


def _pairs(value: Any, where: str) -> tuple[EntryRange, ...]:
    """[[start, stop], ...] → a tuple of ranges."""
    if not isinstance(value, Sequence) or isinstance(value, str) or not all(
            isinstance(v, Sequence) and not isinstance(v, str) and len(v) == 2 for v in value):
        raise PlanError(f"{where}: steps are a list of [start, stop] pairs, got {value!r}")
    return tuple((v[0], v[1]) for v in value)


def _range(value: Any, where: str) -> EntryRange:
    """ROOT's `range`: [end] or [begin, end] over the whole chain."""
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) in (1, 2):
        return (0, value[0]) if len(value) == 1 else (value[0], value[1])
    raise PlanError(f"{where}: 'range' is [end] or [begin, end], got {value!r}")


def _file_entry(entry: Any, tree: str, base: Path | None, where: str) -> FileSpec:
    if isinstance(entry, str):
        return FileSpec((_resolve(entry, base),), tree)
    if not isinstance(entry, Mapping):
        raise PlanError(f"{where}: bad file entry {entry!r}")
    _known(entry, _HEPFLOW_FILE, where)
    urls = entry.get("replicas") or [entry.get("url")]
    if not isinstance(urls, Sequence) or not all(isinstance(u, str) for u in urls):
        raise PlanError(f"{where}: a file needs 'url' or 'replicas'")
    start, stop = entry.get("entry_start"), entry.get("entry_stop")
    if "entries" in entry:
        if start is not None or stop is not None:
            raise PlanError(f"{where}: give 'entries' or 'entry_start'/'entry_stop', not both")
        value = entry["entries"]
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
            raise PlanError(f"{where}: 'entries' is [start, stop], got {value!r}")
        start, stop = value
    steps = _pairs(entry["steps"], where) if "steps" in entry else ()
    return FileSpec(tuple(_resolve(u, base) for u in urls), str(entry.get("tree", tree)),
                    start, stop, steps, str(entry.get("uuid", "")), entry.get("num_entries"))


def _from_hepflow(data: Mapping[str, Any], base: Path | None, source: str) -> Dataset:
    _known(data, _HEPFLOW_TOP, source)
    default_tree = str(data.get("tree", "Events"))
    out = []
    for name, body in data["samples"].items():
        where = f"{source}: sample {name!r}"
        if not isinstance(body, Mapping) or "files" not in body:
            raise PlanError(f"{where} needs a 'files' list")
        _known(body, _HEPFLOW_SAMPLE, where)
        tree = str(body.get("tree", default_tree))
        files = tuple(_file_entry(e, tree, base, where) for e in body["files"])
        out.append(Sample(str(name), files, _metadata(body.get("metadata"), where)))
    friends = []
    for alias, body in (data.get("friends") or {}).items():
        where = f"{source}: friend {alias!r}"
        if not isinstance(body, Mapping) or "files" not in body:
            raise PlanError(f"{where} needs a 'files' list")
        _known(body, _HEPFLOW_FRIEND, where)
        tree = str(body.get("tree", default_tree))
        friends.append(Friend(str(alias), tuple(_file_entry(e, tree, base, where)
                                                for e in body["files"])))
    span = _range(data["range"], source) if "range" in data else None
    return Dataset(tuple(out), tuple(friends), span)


def from_fileset(fileset: Mapping[str, Any], base: Path | None = None,
                 source: str = "fileset") -> Dataset:
    """A coffea fileset: ``{sample: {"files": {url: tree or {...}}, "metadata": {...}}}``.

    coffea 2026's `DataGroupSpec` and `DatasetSpec` objects load too.
    """
    out = []
    for name, spec in _plain(fileset).items():
        body = _plain(spec)
        where = f"{source}: sample {name!r}"
        _root_format(body, where)
        if isinstance(body, Mapping) and "files" in body:
            _known(body, _COFFEA_SAMPLE, where)
            files_obj, metadata = body["files"], _metadata(body.get("metadata"), where)
        else:
            files_obj, metadata = body, {}
        files = []
        if isinstance(files_obj, Mapping):
            for url, tree in files_obj.items():
                files.append(_coffea_file(str(url), tree, base, where))
        elif isinstance(files_obj, Sequence) and not isinstance(files_obj, str):
            files = [FileSpec((_resolve(str(u), base),)) for u in files_obj]
        else:
            raise PlanError(f"{where}: 'files' must map URLs to tree names")
        out.append(Sample(str(name), tuple(files), metadata))
    return Dataset(tuple(out))


def _plain(value: Any) -> Any:
    """coffea 2026's pydantic specs as the plain dicts they dump to; anything else as is."""
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else value


def _root_format(body: Any, where: str) -> None:
    """coffea's `format` (absent or None in older filesets) must be ROOT's."""
    fmt = body.get("format") if isinstance(body, Mapping) else None
    if fmt not in (None, "root"):
        raise PlanError(f"{where}: format {fmt!r}; hepflow reads ROOT files only")


def _coffea_file(url: str, value: Any, base: Path | None, where: str) -> FileSpec:
    if isinstance(value, str):
        return FileSpec((_resolve(url, base),), value)
    if not isinstance(value, Mapping):
        raise PlanError(f"{where}: file {url!r} maps to {value!r}, not a tree name")
    _known(value, _COFFEA_FILE, f"{where}, file {url!r}")
    _root_format(value, f"{where}, file {url!r}")
    steps = _pairs(value["steps"], f"{where}, file {url!r}") if value.get("steps") else ()
    return FileSpec((_resolve(url, base),), str(value.get("object_path", "Events")),
                    steps=steps, uuid=str(value.get("uuid") or ""),
                    num_entries=value.get("num_entries"))


def from_rdatasetspec(spec: Mapping[str, Any], base: Path | None = None,
                      source: str = "RDatasetSpec") -> Dataset:
    """ROOT's RDatasetSpec JSON (``samples``, ``friends``, ``range``)."""
    _known(spec, _RDF_TOP, source)
    out = []
    for name, body in spec["samples"].items():
        where = f"{source}: sample {name!r}"
        _known(body, _RDF_SAMPLE, where)
        files = _trees_files(body, base, where)
        out.append(Sample(str(name), files, _metadata(body.get("metadata"), where)))
    friends = []
    for alias, body in (spec.get("friends") or {}).items():
        where = f"{source}: friend {alias!r}"
        if not isinstance(body, Mapping):
            raise PlanError(f"{where}: a friend is {{'trees': [...], 'files': [...]}}")
        _known(body, _RDF_FRIEND, where)
        friends.append(Friend(str(alias), _trees_files(body, base, where)))
    span = _range(spec["range"], source) if "range" in spec else None
    return Dataset(tuple(out), tuple(friends), span)


def _trees_files(body: Mapping[str, Any], base: Path | None,
                 where: str) -> tuple[FileSpec, ...]:
    trees = list(body.get("trees") or [])
    urls = list(body.get("files") or [])
    if len(trees) == 1:
        trees = trees * len(urls)
    if len(trees) != len(urls) or not urls:
        raise PlanError(f"{where}: {len(trees)} trees for {len(urls)} files")
    return tuple(FileSpec((_resolve(u, base),), t) for u, t in zip(urls, trees, strict=True))


def _resolve(url: str, base: Path | None) -> str:
    check_name(url)
    if "://" in url or base is None or os.path.isabs(url):
        return url
    return str((base / url).resolve())


__all__ = ["from_dict", "from_fileset", "from_rdatasetspec", "load"]
