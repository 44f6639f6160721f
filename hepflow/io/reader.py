"""Reading the branches of one chunk, with open files kept per worker process.

Opening a file parses its whole TTree (hundreds of branches), which costs far
more than reading a chunk's few branches; consecutive chunks of the same file
on the same worker therefore reuse the open file from a small LRU cache.

Each replica is tried `retries + 1` times with exponential backoff before the
next replica is tried. A replica whose file UUID differs from the one seen at
preprocessing is refused: it is a different file under the same name. Every
failure becomes a `ReadError` naming the file, the replica and the entry range.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
import uproot

from hepflow.dataset.chunks import Chunk
from hepflow.errors import ReadError
from hepflow.io import xrootd_env
from hepflow.io.policy import ReadOptions

_MAX_OPEN = 16
_lock = threading.Lock()
_open: OrderedDict[tuple[str, str], tuple[Any, Any]] = OrderedDict()


@dataclass(frozen=True, slots=True)
class ReadStats:
    """What reading one chunk cost, and the replica that served it.

    `seconds` is the whole read; within it `open_seconds` went to opening
    files (zero when the worker had it open), `decompress_seconds` and
    `interpret_seconds` were measured around uproot's own executors, and the
    rest (`network_seconds`) is waiting for bytes.
    """

    bytes_read: int
    seconds: float
    replica: str
    attempts: int
    open_seconds: float = 0.0
    decompress_seconds: float = 0.0
    interpret_seconds: float = 0.0
    bytes_uncompressed: int = 0

    @property
    def network_seconds(self) -> float:
        return max(0.0, self.seconds - self.open_seconds - self.decompress_seconds
                   - self.interpret_seconds)


class _TimingExecutor(uproot.source.futures.TrivialExecutor):  # type: ignore[misc]
    """uproot's inline executor, adding up the seconds spent in the tasks it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0

    def submit(self, task: Any, /, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return super().submit(task, *args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


@dataclass
class _Timing:
    open_seconds: float = 0.0
    decompress: _TimingExecutor | None = None
    interpret: _TimingExecutor | None = None


def _source_options(url: str, timeout: float | None) -> dict[str, Any]:
    options: dict[str, Any] = {"object_cache": None, "array_cache": None}
    if url.startswith(("root://", "xroot://")):
        options["handler"] = uproot.source.fsspec.FSSpecSource
        # fsspec-xrootd keeps a failed handle in its cached filesystem; a fresh one per
        # open lets a retry or a restarted site work (opens are rare: handles are cached).
        options["skip_instance_cache"] = True
        if timeout:
            options["timeout"] = int(max(1, timeout))
    elif timeout:
        options["timeout"] = timeout
    return options


def open_tree(url: str, tree: str, timeout: float | None = None) -> tuple[Any, Any]:
    """An open (file, tree) pair from this process's cache, opening it if needed."""
    key = (url, tree)
    with _lock:
        if key in _open:
            _open.move_to_end(key)
            return _open[key]
    if url.startswith(("root://", "xroot://")):
        xrootd_env.apply()
    handle = uproot.open(url, **_source_options(url, timeout))
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


class _Refused(ReadError):
    """A replica that answers but holds the wrong file: retrying it cannot help."""


def read_chunk(chunk: Chunk, branches: Sequence[str],
               options: ReadOptions | None = None) -> tuple[dict[str, Any], ReadStats]:
    """The chunk's branches (numpy for flat, awkward for jagged) and what reading cost."""
    options = options or ReadOptions()
    errors: list[ReadError] = []
    attempts = 0
    start = time.perf_counter()
    for url in chunk.urls:
        for attempt in range(options.retries + 1):
            attempts += 1
            timing = _Timing(0.0, _TimingExecutor(), _TimingExecutor())
            try:
                arrays, nbytes = _read(url, chunk, branches, options.timeout, timing)
                assert timing.decompress is not None and timing.interpret is not None
                unpacked = sum(int(getattr(a, "nbytes", 0)) for a in arrays.values())
                return arrays, ReadStats(nbytes, time.perf_counter() - start, url, attempts,
                                         timing.open_seconds, timing.decompress.seconds,
                                         timing.interpret.seconds, unpacked)
            except _Refused as exc:
                errors.append(exc)
                forget(url, chunk.tree)
                break
            except ReadError as exc:
                errors.append(exc)
                forget(url, chunk.tree)
                if attempt < options.retries:
                    time.sleep(options.backoff * (2 ** attempt))
    if len(chunk.urls) > 1:
        causes = "; ".join(f"{e.replica}: {e.cause}" for e in errors[-len(chunk.urls):])
        raise ReadError(chunk.url, chunk.entry_start, chunk.entry_stop,
                        f"all {len(chunk.urls)} replicas failed ({causes})",
                        replica=errors[-1].replica)
    raise errors[-1]


def _read(url: str, chunk: Chunk, branches: Sequence[str], timeout: float,
          timing: _Timing) -> tuple[dict[str, Any], int]:
    def fail(cause: str, kind: type[ReadError] = ReadError) -> ReadError:
        return kind(chunk.url, chunk.entry_start, chunk.entry_stop, cause, replica=url)

    opening = time.perf_counter()
    try:
        handle, ttree = open_tree(url, chunk.tree, timeout)
        timing.open_seconds = time.perf_counter() - opening
    except FileNotFoundError as exc:
        raise fail(f"file not found ({exc})") from exc
    except Exception as exc:
        raise fail(f"cannot open the file or tree {chunk.tree!r}: {type(exc).__name__}: "
                   f"{exc}") from exc
    if chunk.uuid and str(handle.file.uuid) != chunk.uuid:
        raise fail(f"this is a different file (UUID {handle.file.uuid}, expected "
                   f"{chunk.uuid}); refusing it", _Refused)
    if ttree.num_entries < chunk.entry_stop:
        raise fail(f"the tree has only {ttree.num_entries} entries", _Refused)
    if not branches:
        return {}, 0
    source = handle.file.source
    before = int(getattr(source, "num_requested_bytes", 0) or 0)
    try:
        arrays = ttree.arrays(list(branches), entry_start=chunk.entry_start,
                              entry_stop=chunk.entry_stop, library="ak", how=dict,
                              decompression_executor=timing.decompress,
                              interpretation_executor=timing.interpret)
    except Exception as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from exc
    nbytes = int(getattr(source, "num_requested_bytes", 0) or 0) - before
    out: dict[str, Any] = {}
    for name, array in arrays.items():
        if len(array) != chunk.num_entries:
            raise fail(f"branch {name} gave {len(array)} entries")
        out[name] = np.asarray(ak.to_numpy(array)) if array.ndim == 1 else array
    return out, max(nbytes, 0)


__all__ = ["ReadStats", "close_all", "forget", "open_tree", "read_chunk"]
