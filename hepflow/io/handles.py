"""Open files kept per worker process, and noticed when the file under a name changes.

Opening a file parses its header and top directory, and its TTree (hundreds
of branches) or RNTuple anchor costs far more than reading a chunk's few
columns; consecutive chunks of the same file on the same worker therefore
reuse the open file from a small LRU cache keyed by URL.

A URL is not a file, though: a file replaced under the same name (renamed
over, or overwritten in place) must never be answered from the old handle,
or preprocessing records the old file's UUID and entries with the new file's
identity and every later read refuses the file. So each use of a cached
local file compares its `Stamp` (inode, size, modification time, one
`os.stat`) with the one seen when it was opened, and reopens on any change.
A remote file's identity is what its server reports for a stat
(`remote_stamp`: size with modification time or ETag), one round trip and no
open; callers that must see it as it is now (preprocessing) also ask for a
fresh open, and a reader that expects a certain UUID reopens once before it
calls the file a different one.

Only regular files are opened: a FIFO, a device or a folder named as a data
file would block the worker forever or read without end (`NotRegularFile`).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import fsspec
import uproot

from hepflow.core.measure import Measurement
from hepflow.io import uproot_private, xrootd_env

_MAX_OPEN = 16

#: A local file's identity: (device, inode, size, modification time in ns).
Stamp = tuple[int, int, int, int]


class NotRegularFile(OSError):
    """A local path that is not a regular file (FIFO, device, socket, folder)."""


def local_path(url: str) -> str | None:
    """The path of a local file URL (plain path or ``file://``), None for anything remote."""
    if url.startswith("file://"):
        return url[len("file://"):]
    if "://" in url or "::" in url:
        return None
    return url


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def regular_file(path: str) -> os.stat_result:
    """`os.stat(path)` of a regular file, checked before anything opens it.

    Raises `FileNotFoundError` (and other `OSError`s) as `os.stat` does, a
    `FileNotFoundError` for a name with a NUL character (which no file can
    have; `os.stat` would raise a bare `ValueError`), and `NotRegularFile`
    for anything but a regular file.
    """
    if "\0" in path:
        raise FileNotFoundError(errno.ENOENT, "a file name cannot contain a NUL character", path)
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(f"{path} is {_kind(st.st_mode)}, not a regular file; "
                             "refusing to open it")
    return st


def stamp_of(url: str) -> Stamp | None:
    """The `Stamp` of a local regular file (see `regular_file`); None for a remote URL."""
    path = local_path(url)
    if path is None:
        return None
    st = regular_file(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


#: What a stat reports that changes when a remote file is replaced: xrootd's
#: `mtime`, S3's `ETag` and `LastModified`, HTTP's `ETag`/`last-modified`.
_REMOTE_IDENTITY_FIELDS = ("mtime", "ETag", "LastModified", "last-modified", "etag")


@dataclass(frozen=True, slots=True)
class RemoteStamp:
    """A remote file's identity as a stat reports it: its size and what changes on a rewrite."""

    size: int
    marks: str

    def __str__(self) -> str:
        return f"size={self.size}|{self.marks}"


def remote_stamp(url: str, timeout: float) -> RemoteStamp | None:
    """A remote file's identity as its server reports it now, or None when it cannot tell.

    The size alone says too little (a replaced file of the same size), so a
    stat without a modification time or ETag gives None, as does a server
    that does not answer within `timeout`: callers then treat the file as
    unknown (preprocess it afresh) rather than trust an old description.
    XRootD reports modification times in whole seconds: a file replaced by
    another of the same size within the same second is not told apart.
    """
    if local_path(url) is not None:
        return None
    if url.startswith(("root://", "xroot://")):
        xrootd_env.apply()
    options = _source_options(url, timeout)
    for uproot_only in ("object_cache", "array_cache", "handler"):
        options.pop(uproot_only, None)
    if url.startswith(("http://", "https://")):
        options.pop("timeout", None)  # aiohttp takes a ClientTimeout, not a number
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
        info = fs.info(path)
    except Exception:  # noqa: BLE001 - any failure means "cannot tell", never a wrong answer
        return None
    marks = [f"{name}={info[name]}" for name in _REMOTE_IDENTITY_FIELDS if info.get(name)]
    if not marks or info.get("size") is None:
        return None
    return RemoteStamp(int(info["size"]), "|".join(marks))


@dataclass
class OpenFile:
    """One opening of a file: its handle, the stamp it had then, and its deserialised trees.

    A handle and the trees read through it always belong together, so a
    caller that needs both (preprocessing) takes them from one `OpenFile`.
    """

    handle: Any
    stamp: Stamp | None
    trees: dict[str, Any] = field(default_factory=dict)

    def tree(self, name: str) -> Any:
        """The TTree or RNTuple `name` of this opening, deserialised once."""
        with _lock:
            found = self.trees.get(name)
        if found is None:
            found = self.handle.root_directory[name]
            with _lock:
                self.trees[name] = found
        return found


_lock = threading.Lock()
_files: OrderedDict[str, OpenFile] = OrderedDict()


def _source_options(url: str, timeout: float | None) -> dict[str, Any]:
    options: dict[str, Any] = {"object_cache": None, "array_cache": None}
    if url.startswith(("root://", "xroot://")):
        options["handler"] = uproot.source.fsspec.FSSpecSource
        # fsspec-xrootd keeps a failed handle in its cached filesystem; a fresh one per
        # open lets a retry or a restarted site work (opens are rare: handles are cached).
        options["skip_instance_cache"] = True
        if timeout:
            options["timeout"] = int(max(1, timeout))
    elif url.startswith("s3://"):
        if timeout:  # s3fs takes botocore's settings, not uproot's `timeout`
            options["config_kwargs"] = {"connect_timeout": timeout, "read_timeout": timeout}
    elif timeout and ("://" not in url or url.startswith(("file://", "http://", "https://"))):
        options["timeout"] = timeout  # other fsspec filesystems do not all take one
    return options


def _open(url: str, timeout: float | None) -> OpenFile:
    """A newly opened file and the stamp it had throughout the opening.

    The stamp is taken before and after: if the file changed while its header
    was read, it is opened again, so a handle never mixes two files' bytes.
    """
    for _ in range(3):
        before = stamp_of(url)
        if url.startswith(("root://", "xroot://")):
            xrootd_env.apply()
        handle = uproot.reading.ReadOnlyFile(url, **_source_options(url, timeout))
        if stamp_of(url) == before:
            return OpenFile(handle, before)
        handle.close()
    raise OSError(f"{url} keeps changing while it is opened; is it still being written?")


def open_file(url: str, timeout: float | None = None, *, fresh: bool = False,
              uuid: str = "") -> Any:
    """An open `uproot.ReadOnlyFile` for `url`, from this process's cache when still valid.

    A cached handle is reused only if the local file's stamp is unchanged;
    `fresh` always reopens (preprocessing a remote file); `uuid` reopens a
    cached handle whose file has another UUID, so a remote file replaced since
    it was opened is seen as it is now (the caller still compares the UUID).
    Opening reads only the header and top directory; a tree is deserialised
    only if `open_tree` asks.
    """
    return open_cached(url, timeout, fresh=fresh, uuid=uuid).handle


def open_cached(url: str, timeout: float | None = None, *, fresh: bool = False,
                uuid: str = "") -> OpenFile:
    """The cached `OpenFile` for `url` (see `open_file`), opened anew when stale."""
    now = None if fresh else stamp_of(url)
    with _lock:
        cached = _files.get(url)
        if cached is not None and not fresh and cached.stamp == now and (
                not uuid or str(cached.handle.uuid) == uuid):
            _files.move_to_end(url)
            return cached
    # A stale local handle is only dropped from the cache, not closed: another thread
    # may still be reading from it, and it closes when the last user lets go. A remote
    # one opened afresh is closed first: while any handle to it stays open, an XRootD
    # server answers every new open of the name with the old file.
    if fresh and local_path(url) is None:
        forget(url)
    entry = _open(url, timeout)
    evicted: list[OpenFile] = []
    with _lock:
        _files[url] = entry
        _files.move_to_end(url)
        while len(_files) > _MAX_OPEN:
            evicted.append(_files.popitem(last=False)[1])
    for old in evicted:
        uproot_private.close(old.handle)
    return entry


def open_tree(url: str, tree: str, timeout: float | None = None, *,
              fresh: bool = False) -> tuple[Any, Any]:
    """An open (ReadOnlyFile, TTree or RNTuple) pair, deserialising the tree once per open file.

    The pair always belongs to one opening of the file: a file replaced since
    it was cached is reopened, and its trees read afresh.
    """
    entry = open_cached(url, timeout, fresh=fresh)
    return entry.handle, entry.tree(tree)


def open_trees() -> list[tuple[str, str]]:
    """(url, tree) of every tree deserialised in this process's open files (for checks that
    a read path never deserialises a TTree)."""
    with _lock:
        return [(url, name) for url, entry in _files.items() for name in entry.trees]


def forget(url: str, tree: str = "") -> None:
    """Close a cached handle (after an error, or a file replaced, so the next use reopens it)."""
    with _lock:
        entry = _files.pop(url, None)
    if entry is not None:
        try:
            uproot_private.close(entry.handle)
        except Exception:  # noqa: BLE001 - closing a broken handle must not mask the cause
            pass


def close_all() -> None:
    with _lock:
        entries = list(_files.values())
        _files.clear()
    for entry in entries:
        uproot_private.close(entry.handle)


@dataclass(frozen=True, slots=True)
class ReadStats:
    """What reading one chunk cost, and the replica that served it after `attempts` tries.

    `measured` is the reading part of the chunk's one `Measurement`: its
    bytes, the open, decompress and interpret seconds (measured around
    uproot's own executors), the rest of the read (including retries) as
    ``network``, and the read path. The kernel completes it.
    """

    measured: Measurement
    replica: str = ""
    attempts: int = 0


__all__ = ["NotRegularFile", "OpenFile", "ReadStats", "RemoteStamp", "Stamp", "close_all",
           "forget", "local_path", "open_cached", "open_file", "open_tree", "open_trees",
           "regular_file", "remote_stamp", "stamp_of"]
