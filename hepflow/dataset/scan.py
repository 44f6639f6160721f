"""Preprocessing: learn entries, cluster boundaries, branch types and UUID of every file.

A file's tree may be a TTree or an RNTuple; which one is found from the class
of its key (``ROOT::RNTuple``), so one dataset can mix both. An RNTuple is
described by `hepflow.io.rntuple.describe` (cluster starts, RDataFrame column
names and types, page bytes), a TTree by `read_tree_meta` or uproot's model.

It runs as a Dask job on the cluster (one task per file), never as a serial
loop over remote files on the client, and its results are cached on disk by
file identity, so the second run over the same files starts at once. The
identity a result is filed under is the one the worker saw when it read the
file (`FileInfo.stamp`), and the worker reads the file as it is now (its
open-file cache reopens a replaced file), so a file replaced under the same
name is described afresh, never as the old file.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from hepflow.core.chunk import RNTUPLE
from hepflow.core.types import ColumnType, column_type, dtype_kind
from hepflow.dataset.chunks import FileInfo
from hepflow.dataset.files import is_remote
from hepflow.errors import PlanError, ReadError
from hepflow.io import rntuple
from hepflow.io.baskets import LayoutTable, layouts_of
from hepflow.io.handles import (
    NotRegularFile,
    RemoteStamp,
    Stamp,
    forget,
    local_path,
    open_cached,
    remote_stamp,
    stamp_of,
)
from hepflow.io.rntuple_checksums import Corrupt
from hepflow.io.treemeta import TreeMeta, Unsupported, read_tree_meta

CACHE_VERSION = 9  # 9: std::string branches are `string` columns


def cache_dir() -> Path:
    root = os.environ.get("HEPFLOW_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hepflow")
    return Path(root) / "preprocess"


def branch_types(ttree: Any) -> dict[str, ColumnType]:
    """Per-event shape and kind of every branch, from uproot's interpretations alone."""
    import uproot

    out: dict[str, ColumnType] = {}
    for name, branch in ttree.iteritems(recursive=True, filter_typename=None):
        interp = branch.interpretation
        if isinstance(interp, uproot.interpretation.numerical.AsDtype):
            if interp.inner_shape:
                out[name] = column_type("jagged", dtype_kind(interp.to_dtype.base))
            else:
                out[name] = column_type("scalar", dtype_kind(interp.to_dtype))
        elif isinstance(interp, uproot.interpretation.jagged.AsJagged) and isinstance(
                interp.content, uproot.interpretation.numerical.AsDtype):
            out[name] = column_type("jagged", dtype_kind(interp.content.to_dtype))
        elif isinstance(interp, uproot.interpretation.strings.AsStrings) and \
                branch.typename == "std::string":
            # ROOT's `string` column; a char* leaf stays apart (ROOT reads it as RVec<Char_t>)
            out[name] = column_type("scalar", "string")
        else:
            out[name] = column_type("scalar", "other")
    return out


def _meta_from_uproot(ttree: Any) -> TreeMeta:
    """What `read_tree_meta` reads, through uproot's full TTree model (any tree uproot reads)."""
    return TreeMeta(int(ttree.num_entries),
                    tuple(int(x) for x in ttree.common_entry_offsets()), branch_types(ttree),
                    layouts_of(ttree),
                    int(sum(b.compressed_bytes for b in ttree.values(recursive=True))))


def inspect_file(url: str, tree: str, replicas: Sequence[str] = (), sample: str = "") -> FileInfo:
    """Open one file (trying replicas in turn) and describe its TTree or RNTuple. On a worker.

    The file is described as it is now: a local file replaced since this
    worker opened it is reopened (its stamp changed), a remote one is always
    opened afresh.
    """
    errors = []
    entries: tuple[int, int | None] = (0, None)  # unknown until a replica says otherwise
    for candidate in tuple(replicas) or (url,):
        try:
            opened = open_cached(candidate, fresh=local_path(candidate) is None)
            handle = opened.handle
            stamp = opened.stamp if candidate == url else None
            if _classname(handle, tree) == rntuple.CLASS_NAME:
                nt = rntuple.describe(opened.tree(tree))
                return FileInfo(url, tree, nt.num_entries, nt.cluster_starts,
                                str(handle.uuid), tuple(replicas), sample, nt.columns,
                                nt.compressed_bytes, LayoutTable(), int(handle.fEND), RNTUPLE,
                                stamp)
            try:
                meta = read_tree_meta(handle, tree)
            except Unsupported:
                meta = _meta_from_uproot(opened.tree(tree))
            return FileInfo(url, tree, meta.num_entries, meta.cluster_starts,
                            str(handle.uuid), tuple(replicas), sample, meta.branches,
                            meta.compressed_bytes, meta.layouts, int(handle.fEND), stamp=stamp)
        except Corrupt as exc:
            entries = exc.entries
            errors.append(f"{candidate}: {exc}; this makes {exc.fields} unreadable")
        except Exception as exc:  # noqa: BLE001 - every replica failure is reported below
            errors.append(f"{candidate}: {type(exc).__name__}: {exc}")
    raise ReadError(url, *entries, "cannot preprocess: " + "; ".join(errors))


def _classname(handle: Any, tree: str) -> str:
    """The class of the key `tree` (``TTree``, ``ROOT::RNTuple``, ...), or a clear error."""
    try:
        return str(handle.root_directory.classname_of(tree))
    except KeyError:
        found = {k.split(";")[0]: v for k, v in handle.root_directory.classnames().items()}
        readable = sorted(k for k, v in found.items() if v in ("TTree", "TNtuple",
                                                                 rntuple.CLASS_NAME))
        raise KeyError(f"no TTree or RNTuple named {tree!r}; the file holds "
                       f"{readable or sorted(found)}") from None


def _identity(url: str, tree: str) -> str | None:
    """The cache key of a local file as it is now (None when it cannot be seen here).

    A path that exists but is no regular file (a FIFO would block the worker
    that opens it forever) is refused here, before any task starts.
    """
    try:
        return _local_key(url, tree, stamp_of(url))
    except NotRegularFile as exc:
        raise PlanError(f"input file {exc}") from None
    except OSError:
        return None


def _local_key(url: str, tree: str, stamp: Stamp | None) -> str | None:
    """A cache key from a local file's path, size and modification time.

    Not its device and inode: workers and the client may see one shared
    filesystem under different device (and, for some, inode) numbers.
    """
    path = local_path(url)
    if stamp is None or path is None:
        return None
    text = f"{CACHE_VERSION}|{os.path.abspath(path)}|{tree}|{stamp[2]}|{stamp[3]}"
    return hashlib.sha256(text.encode()).hexdigest()


#: Seconds a remote file's stat may take before its cached description is not trusted.
REMOTE_STAT_TIMEOUT = 10.0


def _remote_identity(url: str, tree: str,
                     replicas: Sequence[str]) -> tuple[str, RemoteStamp] | None:
    """The cache key of a remote file as its server describes it now, and that stamp.

    Keyed by what a stat reports (`remote_stamp`), so a file replaced under
    the same URL, in this session or any earlier one, is a cache miss and is
    described afresh. The first replica that answers names the file; none
    answering means no key (no cache), and the workers' preprocessing reports why.
    """
    for candidate in tuple(replicas) or (url,):
        stamp = remote_stamp(candidate, REMOTE_STAT_TIMEOUT)
        if stamp is not None:
            text = f"{CACHE_VERSION}|{url}|{tree}|{candidate}|{stamp}"
            return hashlib.sha256(text.encode()).hexdigest(), stamp
    return None


def _identities(files: Sequence[tuple[str, str, tuple[str, ...], str]], stat_remote: bool
                ) -> tuple[list[str | None], dict[int, RemoteStamp]]:
    """Cache keys of `files`, and the stamps of the remote ones that answered a stat.

    Local files are always looked at (one that is no regular file is refused
    here); the remote ones' stats run side by side, one round trip each.
    """
    remote = [i for i, f in enumerate(files) if is_remote(f[0])] if stat_remote else []
    keys = [None if is_remote(url) else _identity(url, tree) for url, tree, _, _ in files]
    stamps: dict[int, RemoteStamp] = {}
    if remote:
        with ThreadPoolExecutor(max_workers=min(16, len(remote))) as pool:
            found = pool.map(lambda i: _remote_identity(files[i][0], files[i][1], files[i][2]),
                             remote)
            for i, identity in zip(remote, found, strict=True):
                if identity is not None:
                    keys[i], stamps[i] = identity
    return keys, stamps


def _forget(urls: Sequence[str]) -> None:
    for url in urls:
        forget(url)


def _release(client: Any, urls: Sequence[str]) -> None:
    """Close this session's handles to remote files about to be described, everywhere.

    An XRootD server hands a file that any client still holds open to every
    new open of its name: a file replaced since a worker read it would be
    described, and then read, as the old one.
    """
    _forget(urls)
    if client is not None and urls:
        client.run(_forget, list(urls))


def _check_served(info: FileInfo, stamp: RemoteStamp | None) -> None:
    """The file read must be the one the stat saw: a ROOT file ends where its header says."""
    if stamp is None or info.file_end == stamp.size:
        return
    if info.file_end > stamp.size:
        why = (f"the file is truncated: its header says it ends at byte {info.file_end}, "
               f"the server has {stamp.size} bytes")
    else:
        why = (f"the server reports {stamp.size} bytes but serves a file of "
               f"{info.file_end}: the file was replaced while a process still has the old "
               "one open (an XRootD server serves an open file to every new open of its name); "
               "close the other readers and run again")
    raise ReadError(info.url, 0, info.num_entries, why)


def _to_json(info: FileInfo) -> dict[str, Any]:
    return {
        "url": info.url, "tree": info.tree, "num_entries": info.num_entries,
        "cluster_starts": list(info.cluster_starts), "uuid": info.uuid,
        "replicas": list(info.replicas), "sample": info.sample,
        "branches": {"names": list(info.branches),
                     "kinds": [v.kind for v in info.branches.values()],
                     "dtypes": [v.dtype for v in info.branches.values()]},
        "compressed_bytes": info.compressed_bytes,
        "file_end": info.file_end,
        "layouts": info.layouts.to_json(),
        "format": info.format,
    }


def _from_json(data: dict[str, Any], embedded_file: str | None = None) -> FileInfo:
    return FileInfo(data["url"], data["tree"], int(data["num_entries"]),
                    tuple(data["cluster_starts"]), data["uuid"], tuple(data["replicas"]),
                    data["sample"], _branches_from_json(data["branches"]),
                    int(data["compressed_bytes"]),
                    LayoutTable.from_json(data["layouts"], embedded_file),
                    int(data["file_end"]), str(data["format"]))


def _branches_from_json(data: dict[str, list[str]]) -> dict[str, ColumnType]:
    return dict(zip(data["names"], map(column_type, data["kinds"], data["dtypes"]),
                    strict=True))


def _load_cached(key: str) -> FileInfo | None:
    path = cache_dir() / f"{key}.json"
    try:
        return _from_json(json.loads(path.read_text()), str(cache_dir() / f"{key}.embedded"))
    except (OSError, ValueError, KeyError, TypeError):  # unreadable or older format: a miss
        return None


def _store(key: str, info: FileInfo) -> FileInfo:
    """Write `info` to the cache; returned with its embedded baskets read from there.

    The embedded baskets (`hepflow.io.embedded`) go to a binary file of their
    own, written before the JSON that points to it, so a reader never finds
    the JSON without them.
    """
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    embedded = info.layouts.embedded
    if embedded:
        target = directory / f"{key}.embedded"
        tmp = directory / f".{key}.{os.getpid()}.embedded.tmp"
        tmp.write_bytes(embedded.data())
        os.replace(tmp, target)
        info.layouts.embedded = embedded.in_file(str(target))
    tmp = directory / f".{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(_to_json(info)))
    os.replace(tmp, directory / f"{key}.json")
    return info


def preprocess_files(files: Sequence[tuple[str, str, tuple[str, ...], str]], client: Any = None,
                     use_cache: bool = True) -> list[FileInfo]:
    """Describe files `(url, tree, replicas, sample)`, from the cache or as one Dask job."""
    results: list[FileInfo | None] = [None] * len(files)
    keys, stamps = _identities(files, stat_remote=use_cache)
    todo: list[int] = []
    for i, (url, _, _, sample) in enumerate(files):
        key = keys[i]
        cached = _load_cached(key) if (use_cache and key) else None
        if cached is not None:
            results[i] = replace(cached, url=url, replicas=tuple(files[i][2]), sample=sample)
        else:
            todo.append(i)
    if todo:
        args = [files[i] for i in todo]
        _release(client, [a[0] for a in args if is_remote(a[0])])
        if client is not None:
            batch = uuid.uuid4().hex[:12]
            futures = client.map(inspect_file, [a[0] for a in args], [a[1] for a in args],
                                 [a[2] for a in args], [a[3] for a in args], pure=False,
                                 key=[f"hepflow-preprocess-{batch}-{i}" for i in todo])
            found: Iterable[FileInfo] = _in_batches(client, futures)
        else:
            with ThreadPoolExecutor(max_workers=min(8, len(args))) as pool:
                found = list(pool.map(lambda a: inspect_file(*a), args))
        for i, info in zip(todo, found, strict=True):
            _check_served(info, stamps.get(i))
            key = _local_key(info.url, info.tree, info.stamp) or keys[i]
            results[i] = _store(key, info) if use_cache and key else info
    return [r for r in results if r is not None]


#: Preprocessing results gathered at once (`_in_batches`).
GATHER_BATCH = 16


def _in_batches(client: Any, futures: list[Any]) -> Iterator[FileInfo]:
    """The futures' results in order, gathered `GATHER_BATCH` at a time and then released.

    A file's result holds its embedded baskets (MBs for a wide NanoAOD file);
    gathering a batch (in parallel) and writing it to the cache before the next
    keeps the client from holding those of every file at once. A bar counts the
    files described, since describing thousands of remote files takes minutes.
    """
    with tqdm(total=len(futures), desc="preprocessing", unit="file", leave=False, mininterval=0,
              disable=len(futures) < 2) as progress:
        for start in range(0, len(futures), GATHER_BATCH):
            batch = futures[start:start + GATHER_BATCH]
            infos: list[FileInfo] = client.gather(batch)
            for future in batch:
                future.release()
            progress.update(len(batch))
            yield from infos


__all__ = ["branch_types", "cache_dir", "inspect_file", "preprocess_files"]
