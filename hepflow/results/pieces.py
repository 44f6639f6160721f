"""Ordered pieces (Take, AsNumpy, Display, Snapshot parts), merged back in chunk order.

Each piece is tagged with its chunk's index, so however the tree reduction
pairs chunks and however often a task is retried, the concatenation is the
same as reading the files front to back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np


@dataclass(frozen=True, slots=True)
class Pieces:
    items: tuple[tuple[int, Any], ...] = ()

    def merge(self, other: Pieces) -> Pieces:
        return Pieces(tuple(sorted(self.items + other.items, key=lambda item: item[0])))

    def values(self) -> list[Any]:
        return [value for _, value in self.items]


def concatenate(parts: list[Any]) -> Any:
    """Concatenate numpy or awkward pieces; an empty run gives an empty array."""
    if not parts:
        return np.array([])
    if any(isinstance(p, ak.Array) for p in parts):
        return ak.concatenate(parts)
    return np.concatenate(parts)


def head(pieces: Pieces, nrows: int) -> Pieces:
    """Keep only enough leading pieces to hold `nrows` rows (for Display)."""
    kept: list[tuple[int, Any]] = []
    total = 0
    for index, value in pieces.items:
        if total >= nrows:
            break
        kept.append((index, value))
        total += len(next(iter(value.values()))) if value else 0
    return Pieces(tuple(kept))


__all__ = ["Pieces", "concatenate", "head"]
