"""Reading the branches of one chunk, with open files kept per worker process.

Opening a file parses its whole TTree (hundreds of branches), which costs far
more than reading a chunk's few branches; consecutive chunks of the same file
on the same worker therefore reuse the open file from a small LRU cache.
Every failure is turned into a `ReadError` naming the file, the replica and
the entry range.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import awkward as ak
import numpy as np
import uproot

from hepflow.dataset.chunks import Chunk
from hepflow.errors import ReadError

_MAX_OPEN = 16
_lock = threading.Lock()
_open: OrderedDict[tuple[str, str], tuple[Any, Any]] = OrderedDict()


def open_tree(url: str, tree: str, timeout: float | None = None) -> tuple[Any, Any]:
    """An open (file, tree) pair from this process's cache, opening it if needed."""
    key = (url, tree)
    with _lock:
        if key in _open:
            _open.move_to_end(key)
            return _open[key]
    options: dict[str, Any] = {"object_cache": None, "array_cache": None}
    if timeout is not None:
        options["timeout"] = timeout
    if url.startswith("root://"):
        options["handler"] = uproot.source.fsspec.FSSpecSource
    handle = uproot.open(url, **options)
    try:
        ttree = handle[tree]
    except Exception:
        handle.close()
        raise
    with _lock:
        _open[key] = (handle, ttree)
        while len(_open) > _MAX_OPEN:
            _, (old, _) = _open.popitem(last=False)
            old.close()
    return handle, ttree


def forget(url: str, tree: str) -> None:
    """Drop a cached handle (after an error, so a retry reopens the file)."""
    with _lock:
        entry = _open.pop((url, tree), None)
    if entry is not None:
        try:
            entry[0].close()
        except Exception:  # noqa: BLE001 - closing a broken handle must not mask the cause
            pass


def close_all() -> None:
    with _lock:
        entries = list(_open.values())
        _open.clear()
    for handle, _ in entries:
        handle.close()


def read_chunk(chunk: Chunk, branches: Sequence[str]) -> dict[str, Any]:
    """The chunk's branches: numpy arrays for flat branches, awkward for jagged ones."""
    errors: list[ReadError] = []
    for url in chunk.urls:
        try:
            return _read(url, chunk, branches)
        except ReadError as exc:
            errors.append(exc)
            forget(url, chunk.tree)
    raise errors[-1]


def _read(url: str, chunk: Chunk, branches: Sequence[str]) -> dict[str, Any]:
    def fail(cause: str) -> ReadError:
        return ReadError(chunk.url, chunk.entry_start, chunk.entry_stop, cause, replica=url)

    try:
        handle, ttree = open_tree(url, chunk.tree)
    except FileNotFoundError as exc:
        raise fail(f"file not found ({exc})") from exc
    except Exception as exc:
        raise fail(f"cannot open the file or tree {chunk.tree!r}: {type(exc).__name__}: "
                   f"{exc}") from exc
    if chunk.uuid and str(handle.file.uuid) != chunk.uuid:
        raise fail(f"this is a different file (UUID {handle.file.uuid}, expected "
                   f"{chunk.uuid}); refusing it")
    if ttree.num_entries < chunk.entry_stop:
        raise fail(f"the tree has only {ttree.num_entries} entries")
    if not branches:
        return {}
    try:
        arrays = ttree.arrays(list(branches), entry_start=chunk.entry_start,
                              entry_stop=chunk.entry_stop, library="ak", how=dict)
    except Exception as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from exc
    out: dict[str, Any] = {}
    for name, array in arrays.items():
        if len(array) != chunk.num_entries:
            raise fail(f"branch {name} gave {len(array)} entries")
        if array.ndim == 1:
            out[name] = np.asarray(ak.to_numpy(array))
        else:
            out[name] = array
    return out


__all__ = ["close_all", "forget", "open_tree", "read_chunk"]
