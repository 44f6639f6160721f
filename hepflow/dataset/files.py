"""Turning what the user wrote (a path, a glob, a list, a URL) into an ordered file list.

Local paths and `file://` URLs are checked to exist and to be regular files
(a FIFO named as a data file would block whoever opens it forever), and no
name may hold a NUL character. Any other URL is read
through uproot, which hands `root://` to fsspec-xrootd and every other fsspec
URL (`s3://bucket/f.root`, `https://...`, chained ones such as
`simplecache::root://site//store/f.root`) to fsspec. A glob in a URL is
expanded by listing the directory where the files are (on the XRootD
server for `root://`), sorted, so runs are reproducible.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence

from hepflow.errors import PlanError
from hepflow.io.handles import NotRegularFile, regular_file

REMOTE_SCHEMES = ("root://", "http://", "https://", "xroot://")


def is_remote(url: str) -> bool:
    """A URL read through fsspec (anything but a local path or a plain `file://` URL)."""
    if url.startswith(REMOTE_SCHEMES) or "::" in url:
        return True
    return "://" in url and not url.startswith("file://")


def check_name(url: str, where: str = "input file") -> str:
    """`url`, if it can name a file at all: a NUL character cannot be in any file's name."""
    if "\0" in url:
        raise PlanError(f"{where} {url!r}: a file name cannot contain a NUL character")
    return url


def _check_local(path: str) -> None:
    """A local input file must exist and be a regular file (not a folder, FIFO or device)."""
    try:
        regular_file(path)
    except NotRegularFile as exc:
        raise PlanError(f"input file {exc}") from None
    except OSError:
        raise PlanError(f"input file {path!r} does not exist") from None


def expand_remote(url: str) -> list[str]:
    """The files a URL with a glob (`root://host//store/*.root`) matches, listed remotely."""
    import fsspec

    chain, _, target = url.rpartition("::")
    try:
        fs, path = fsspec.core.url_to_fs(target)
        found = sorted(fs.glob(path))
    except Exception as exc:  # noqa: BLE001 - any listing failure is reported to the user
        raise PlanError(f"cannot list the files matching {url!r}: {type(exc).__name__}: "
                        f"{exc}") from None
    if not found:
        raise PlanError(f"no files match {url!r}")
    prefix = chain + "::" if chain else ""
    return [prefix + _unstrip(fs, target, p) for p in found]


def _unstrip(fs: object, pattern: str, path: str) -> str:
    """A listed path back as a URL of the pattern's form (XRootD keeps `//` before the path)."""
    if pattern.startswith(("root://", "xroot://")):
        scheme, rest = pattern.split("://", 1)
        host = rest.split("/", 1)[0]
        return f"{scheme}://{host}/{path if path.startswith('/') else '/' + path}"
    unstrip = getattr(fs, "unstrip_protocol", None)
    return str(unstrip(path)) if callable(unstrip) else path


def expand_files(files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """Expand globs (sorted, so runs are reproducible) and check local files exist."""
    items = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not items:
        raise PlanError("no input files were given")
    out: list[str] = []
    for item in items:
        text = check_name(os.fspath(item))
        if is_remote(text):
            out.extend(expand_remote(text) if glob.has_magic(_path_part(text)) else [text])
            continue
        if text.startswith("file://"):
            text = text[len("file://"):]
        if glob.has_magic(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise PlanError(f"no files match {text!r}")
            for match in matches:
                _check_local(match)
            out.extend(os.path.abspath(m) for m in matches)
            continue
        _check_local(text)
        out.append(os.path.abspath(text))
    return out


def _path_part(url: str) -> str:
    """The path of the last URL of a chain, without its query (`?` is not a glob there)."""
    target = url.rpartition("::")[2]
    rest = target.split("://", 1)[-1]
    return rest.split("?", 1)[0]


__all__ = ["REMOTE_SCHEMES", "check_name", "expand_files", "expand_remote", "is_remote"]
