"""A chunk's columns as coffea NanoEvents: NanoAOD's objects and behaviours.

`AsAwkward(..., nanoaod=True)` hands each partition to coffea's
`NanoEventsFactory.from_preloaded`, so a coffea processor continues from a
hepflow selection with `events.Muon.pt`, `.mass` and the rest of coffea's
behaviours. coffea comes with the `hepflow[coffea]` extra and is imported
only when asked for, with an error naming the extra when it is missing.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from typing import Any

import awkward as ak

from hepflow.core.chunk import Chunk
from hepflow.errors import PlanError

COFFEA_HINT = "pip install 'hepflow[coffea]'"


class _Preloaded(dict[str, ak.Array]):
    """The mapping `from_preloaded` takes: arrays plus the `metadata` it keys them by."""

    def __init__(self, arrays: Mapping[str, ak.Array], metadata: dict[str, Any]) -> None:
        super().__init__(arrays)
        self.metadata = metadata


def _coffea_nanoevents() -> Any:
    try:
        return importlib.import_module("coffea.nanoevents")
    except ImportError as exc:
        raise PlanError(f"AsAwkward(nanoaod=True) needs coffea: {COFFEA_HINT}") from exc


def nanoevents(columns: Mapping[str, Any], chunk: Chunk, rows: int) -> ak.Array:
    """The chunk's selected rows of NanoAOD branches as coffea NanoEvents."""
    factory = _coffea_nanoevents()
    arrays = {name: ak.Array(value) if not isinstance(value, ak.Array) else value
              for name, value in columns.items()}
    source = _Preloaded(arrays, {"uuid": chunk.uuid or f"{chunk.url}:{chunk.entry_start}",
                                 "num_rows": rows, "object_path": chunk.tree})
    with warnings.catch_warnings():
        # only the chosen columns are there: coffea's warning about every cross-reference
        # to a collection not chosen (Electron_jetIdx without Jet_*) says nothing new
        warnings.filterwarnings("ignore", "Missing cross-reference", RuntimeWarning)
        events = factory.NanoEventsFactory.from_preloaded(
            source, schemaclass=factory.NanoAODSchema,
            metadata={"dataset": chunk.sample, "filename": chunk.url,
                      "entrystart": chunk.entry_start, "entrystop": chunk.entry_stop}).events()
    return events


__all__ = ["COFFEA_HINT", "nanoevents"]
