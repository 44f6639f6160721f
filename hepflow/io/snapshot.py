"""Snapshot: write selected columns to a ROOT file, never leaving a partial file that looks done.

Each chunk task writes its own part file next to the target under a hidden
temporary name; the client then appends the parts, in chunk order, to one new
tree written under a temporary name and renamed into place only when complete.
Collections keep the NanoAOD layout: `Muon_pt` and `Muon_eta` with equal sizes
are written together with one `nMuon` counter.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

_COMPRESSION = {"ZSTD": uproot.ZSTD(5), "LZ4": uproot.LZ4(4), "ZLIB": uproot.ZLIB(1)}


def _compression(name: str) -> Any:
    try:
        return _COMPRESSION[name.upper()]
    except KeyError:
        raise ValueError(f"unknown compression {name!r}; choose one of "
                         f"{', '.join(sorted(_COMPRESSION))}") from None


def group_collections(values: Mapping[str, Any]) -> dict[str, Any]:
    """Group equally sized `Prefix_field` collections into NanoAOD-style records."""
    groups: dict[str, dict[str, Any]] = {}
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, ak.Array) and value.ndim == 2 and "_" in name:
            prefix, field = name.split("_", 1)
            groups.setdefault(prefix, {})[field] = value
        elif isinstance(value, ak.Array) and value.ndim == 2:
            groups.setdefault(name, {})[""] = value
        else:
            flat[name] = np.asarray(value)
    out: dict[str, Any] = {}
    for prefix, fields in groups.items():
        counts = [np.asarray(ak.num(v, axis=1)) for v in fields.values()]
        same = all(np.array_equal(counts[0], c) for c in counts[1:])
        counter = "n" + prefix
        if same and "" not in fields:
            if counter in flat and np.array_equal(flat[counter], counts[0]):
                del flat[counter]
            if counter not in flat:
                out[prefix] = ak.zip(fields)
                continue
        for field, value in fields.items():
            out[f"{prefix}_{field}" if field else prefix] = value
    out.update(flat)
    return out


def write_tree(out: Any, name: str, data: Mapping[str, Any], create: bool) -> None:
    """Create (or extend) a TTree; `mktree` because plain assignment may write an RNTuple."""
    if create:
        types = {k: (v.type if isinstance(v, ak.Array) else np.asarray(v).dtype)
                 for k, v in data.items()}
        out.mktree(name, types)
    out[name].extend(dict(data))


@dataclass(frozen=True, slots=True)
class SnapshotTarget:
    """Where and how a Snapshot writes: plain values, so io depends on no plan type."""

    treename: str
    filename: str
    columns: tuple[str, ...]
    compression: str = "ZSTD"


def _part_path(target: SnapshotTarget, chunk_index: int) -> Path:
    path = Path(target.filename)
    return path.parent / f".{path.name}.part{chunk_index:06d}.{uuid.uuid4().hex[:8]}.root"


def write_part(action: SnapshotTarget, chunk_index: int, values: Mapping[str, Any],
               ) -> tuple[str, int]:
    """Write one chunk's selected entries to a hidden part file; return (path, entries)."""
    n = len(next(iter(values.values()))) if values else 0
    path = _part_path(action, chunk_index)
    path.parent.mkdir(parents=True, exist_ok=True)
    with uproot.recreate(path, compression=_compression(action.compression)) as out:
        write_tree(out, action.treename, group_collections(values), create=True)
    return str(path), n


def finalize(action: SnapshotTarget, parts: Sequence[tuple[str, int]]) -> str:
    """Append the parts in order into the target file, atomically; remove the parts."""
    target = Path(action.filename)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with uproot.recreate(tmp, compression=_compression(action.compression)) as out:
            written = False
            nonempty = [p for p in parts if p[1] > 0] or list(parts[:1])
            for path, _ in nonempty:
                with uproot.open(path) as part:
                    tree = part[action.treename]
                    data = tree.arrays(list(action.columns), library="ak", how=dict)
                data = {k: (np.asarray(ak.to_numpy(v)) if v.ndim == 1 else v)
                        for k, v in data.items()}
                grouped = group_collections(data)
                write_tree(out, action.treename, grouped, create=not written)
                written = True
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
        for path, _ in parts:
            Path(path).unlink(missing_ok=True)
    return str(target)


__all__ = ["SnapshotTarget", "finalize", "group_collections", "write_part"]
