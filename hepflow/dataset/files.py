"""Turning what the user wrote (a path, a glob, a list, a URL) into an ordered file list."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence

from hepflow.errors import PlanError

REMOTE_SCHEMES = ("root://", "http://", "https://", "xroot://")


def is_remote(url: str) -> bool:
    return url.startswith(REMOTE_SCHEMES)


def expand_files(files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """Expand globs (sorted, so runs are reproducible) and check local files exist."""
    items = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not items:
        raise PlanError("no input files were given")
    out: list[str] = []
    for item in items:
        text = os.fspath(item)
        if is_remote(text):
            out.append(text)
            continue
        if text.startswith("file://"):
            text = text[len("file://"):]
        if glob.has_magic(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise PlanError(f"no files match {text!r}")
            out.extend(os.path.abspath(m) for m in matches)
            continue
        if not os.path.exists(text):
            raise PlanError(f"input file {text!r} does not exist")
        out.append(os.path.abspath(text))
    return out


__all__ = ["REMOTE_SCHEMES", "expand_files", "is_remote"]
