"""The machine and package versions a measurement ran on, recorded with every report."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
from collections.abc import Iterable
from typing import Any


def package_versions(names: Iterable[str], *, python: bool = True) -> dict[str, str]:
    """Installed versions of `names` (missing ones left out), optionally with Python's."""
    out = {"python": platform.python_version()} if python else {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def machine_info(**loads: Any) -> dict[str, Any]:
    """CPUs and platform, with the load averages the caller took (`loadavg_before=...`)."""
    return {"cpus": os.cpu_count(), "platform": platform.platform(), **loads}


__all__ = ["machine_info", "package_versions"]
