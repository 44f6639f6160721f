"""Unpacking an uploaded bundle archive without trusting it.

An upload is a tar (optionally gzip/bz2/xz-compressed) or zip archive of a
bundle directory: ``bundle.json`` plus the model file, at the top or inside
one folder. Whoever holds the admin role can upload, but an archive is still
untrusted input (a stolen token, a bundle built elsewhere), and archives are
the classic way to write outside a target folder. So nothing here calls
``extractall``; every member is checked and copied by hand:

* only regular files and folders: symbolic links, hard links, devices and
  FIFOs are refused (a link is how a later write escapes the folder);
* names must be relative, without ``..``, backslashes, NUL or empty parts,
  and not too deep;
* at most `max_files` members and `max_bytes` unpacked, counted on the bytes
  actually written, not on the sizes the archive declares (a zip bomb lies);
* files are created with fixed permissions; owners, modes and times from the
  archive are ignored.
"""

from __future__ import annotations

import functools
import lzma
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import IO

from hepflow.serve.errors import InputError, TooLarge, UnsupportedMediaType

_MAX_DEPTH = 4
_CHUNK = 1 << 20


def _safe_name(name: str) -> PurePosixPath | None:
    """The member's relative path, or None for the archive's own top entry (``./``)."""
    if "\\" in name or "\x00" in name:
        raise InputError(f"archive member {name!r}: backslashes and NUL are not allowed")
    if name.startswith("/"):
        raise InputError(f"archive member {name!r}: absolute paths are not allowed")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InputError(f"archive member {name!r}: `..` (path traversal) is not allowed")
    if len(parts) > _MAX_DEPTH:
        raise InputError(f"archive member {name!r} is nested too deeply")
    return PurePosixPath(*parts) if parts else None


class _Budget:
    def __init__(self, max_files: int, max_bytes: int) -> None:
        self.files_left = max_files
        self.bytes_left = max_bytes

    def file(self) -> None:
        self.files_left -= 1
        if self.files_left < 0:
            raise TooLarge("the archive holds too many files for a model bundle")

    def copy(self, source: IO[bytes], target: Path) -> None:
        with open(target, "xb") as out:
            while True:
                chunk = source.read(_CHUNK)
                if not chunk:
                    return
                self.bytes_left -= len(chunk)
                if self.bytes_left < 0:
                    raise TooLarge("the archive unpacks to more than the allowed size")
                out.write(chunk)


def _target(root: Path, rel: PurePosixPath) -> Path:
    path = root.joinpath(*rel.parts)
    # Belt and braces: the name checks already make this impossible.
    if not path.resolve().is_relative_to(root.resolve()):
        raise InputError(f"archive member {rel} would land outside the bundle folder")
    return path


def _make_dirs(root: Path, rel: PurePosixPath) -> None:
    path = root
    for part in rel.parts:
        path = path / part
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise InputError(f"archive member {rel}: a file and a folder share a name")
        path.mkdir(mode=0o755, exist_ok=True)


#: An archive member as both formats describe it: name, kind ("file", "dir", "link" or
#: "other") and how to open its bytes.
_Member = tuple[str, str, Callable[[], "IO[bytes] | None"]]


def _unpack(members: Iterable[_Member], root: Path, budget: _Budget) -> None:
    """Check and copy every member; the same rules for tar and zip."""
    for name, kind, open_member in members:
        budget.file()
        if kind == "link":
            raise InputError(f"archive member {name!r} is a link; links are "
                             "not allowed in a bundle")
        if kind == "other":
            raise InputError(f"archive member {name!r} is not a regular file or folder")
        rel = _safe_name(name)
        if rel is None:
            continue
        if kind == "dir":
            _make_dirs(root, rel)
            continue
        _make_dirs(root, rel.parent)
        source = open_member()
        if source is None:
            raise InputError(f"archive member {name!r} cannot be read")
        with source:
            budget.copy(source, _target(root, rel))


def _tar_kind(member: tarfile.TarInfo) -> str:
    if member.issym() or member.islnk():
        return "link"
    return "dir" if member.isdir() else "file" if member.isfile() else "other"


def _zip_kind(info: zipfile.ZipInfo) -> str:
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type recorded
    if kind == stat.S_IFLNK:
        return "link"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "other"
    return "dir" if info.is_dir() else "file"


def _untar(file: IO[bytes], root: Path, budget: _Budget) -> None:
    try:
        archive = tarfile.open(fileobj=file, mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as err:
        raise InputError(f"cannot read the tar archive: {err}") from None
    with archive:
        try:
            _unpack(((m.name, _tar_kind(m), functools.partial(archive.extractfile, m))
                     for m in archive), root, budget)
        except FileExistsError:
            raise InputError("the archive names a file twice") from None
        except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as err:
            raise InputError(f"the tar archive cannot be unpacked: {err}") from None


def _unzip(file: IO[bytes], root: Path, budget: _Budget) -> None:
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise InputError(f"cannot read the zip archive: {err}") from None
    with archive:
        try:
            _unpack(((i.filename, _zip_kind(i), functools.partial(archive.open, i))
                     for i in archive.infolist()), root, budget)
        except FileExistsError:
            raise InputError("the archive names a file twice") from None
        except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError,
                zlib.error, lzma.LZMAError, OSError) as err:
            raise InputError(f"the zip archive is damaged or encrypted: {err}") from None


def sniff(file: IO[bytes]) -> str:
    """``"zip"`` or ``"tar"`` from the first bytes (content types from clients vary)."""
    head = file.read(512)
    file.seek(0)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" \
            or head[257:262] == b"ustar":
        return "tar"
    raise UnsupportedMediaType("the upload is neither a tar(.gz/.bz2/.xz) nor a zip archive "
                               "of a bundle folder")


def extract(file: IO[bytes], root: Path, *, max_files: int, max_bytes: int) -> Path:
    """Unpack the archive into the empty folder `root`; returns the bundle folder in it."""
    budget = _Budget(max_files, max_bytes)
    kind = sniff(file)
    (_unzip if kind == "zip" else _untar)(file, root, budget)
    return bundle_root(root)


def bundle_root(root: Path) -> Path:
    """`root` if it holds ``bundle.json``, else its single sub-folder that does."""
    if (root / "bundle.json").is_file():
        return root
    entries = list(root.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / "bundle.json").is_file():
        return entries[0]
    raise InputError("the archive holds no bundle.json (at the top or in one folder); "
                     "archive the folder that Bundle.save wrote")


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


__all__ = ["bundle_root", "extract", "remove_tree", "sniff"]
