"""What `rdfsampleinfo_` exposes about the sample an event comes from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SampleInfo:
    """A sample's name, its index in the dataset, and its metadata (cross-section, ...)."""

    name: str
    index: int
    metadata: Mapping[str, Any] = field(default_factory=dict)


__all__ = ["SampleInfo"]
