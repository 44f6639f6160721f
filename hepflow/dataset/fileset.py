"""Preprocessed datasets as coffea filesets, for continuing in coffea.

The export carries what coffea's own preprocessing writes (`object_path`,
`steps`, `uuid`, `num_entries`, per sample `metadata`), with hepflow's chunks
as the steps, so coffea's Runner or `apply_to_fileset` reads exactly the
entries hepflow would, and the file identities hepflow checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hepflow.core.chunk import TTREE
from hepflow.errors import PlanError

if TYPE_CHECKING:
    from hepflow.dataset.prepare import PreparedDataset


def to_fileset(prepared: PreparedDataset) -> dict[str, dict[str, Any]]:
    """``{sample: {"files": {url: {object_path, steps, uuid, num_entries}}, "metadata"}}``."""
    if prepared.friends:
        raise PlanError("a dataset with friend trees has no coffea fileset: coffea filesets "
                        "have no friends")
    out: dict[str, dict[str, Any]] = {
        s.name: {"files": {}, "metadata": dict(s.metadata)} for s in prepared.dataset}
    for chunk in prepared.chunks:
        if chunk.format != TTREE:
            raise PlanError(f"{chunk.url}: only TTree files export to a coffea fileset, this "
                            f"one holds {chunk.format}")
        info = prepared.files[chunk.file_index]
        entry = out[chunk.sample]["files"].setdefault(chunk.url, {
            "object_path": info.tree, "steps": [], "uuid": info.uuid,
            "num_entries": info.num_entries})
        entry["steps"].append([chunk.entry_start, chunk.entry_stop])
    return out


__all__ = ["to_fileset"]
