"""Versions of the packages a measurement depends on, recorded with every report."""

from __future__ import annotations

import importlib.metadata as md
import platform
from collections.abc import Iterable


def package_versions(names: Iterable[str], *, python: bool = True) -> dict[str, str]:
    """Installed versions of `names` (missing ones left out), optionally with Python's."""
    out = {"python": platform.python_version()} if python else {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


__all__ = ["package_versions"]
