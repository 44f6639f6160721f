"""The front door for reading a chunk: TTrees, RNTuples, and chunks with friend trees.

`read_chunk` dispatches by format (TTree: `hepflow.io.reader`, RNTuple:
`hepflow.io.rntuple`) and reads friends alongside. A friend column is
named `alias.branch`, as ROOT names it; its values for a chunk are the entries
at the same positions of the friend chain (`Chunk.friends`, computed at
preprocessing), read from the friend's own files with the same retries and
failover, and concatenated when the chunk spans two friend files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import awkward as ak
import numpy as np

from hepflow.core.chunk import RNTUPLE, Chunk, FriendPiece
from hepflow.errors import ReadError
from hepflow.io import rntuple
from hepflow.io.handles import ReadStats
from hepflow.io.policy import ReadOptions
from hepflow.io.reader import read_chunk as read_ttree


def split_friend_columns(branches: Sequence[str], aliases: Sequence[str]
                         ) -> tuple[list[str], dict[str, list[str]]]:
    """(main-tree branches, {alias: friend branch names}) of a list of column names."""
    main: list[str] = []
    friends: dict[str, list[str]] = {alias: [] for alias in aliases}
    for name in branches:
        alias, dot, rest = name.partition(".")
        if dot and alias in friends:
            friends[alias].append(rest)
        else:
            main.append(name)
    return main, friends


def read_chunk(chunk: Chunk, branches: Sequence[str], options: ReadOptions | None = None,
               layout: Any = None) -> tuple[dict[str, Any], ReadStats]:
    """The chunk's columns, its friends' included, and what reading them cost."""
    if not chunk.friends:
        if chunk.format == RNTUPLE:
            return rntuple.read_chunk(chunk, branches, options)
        return read_ttree(chunk, branches, options, layout)
    aliases = list(dict.fromkeys(p.alias for p in chunk.friends))
    main, wanted = split_friend_columns(branches, aliases)
    arrays, stats = read_chunk(replace(chunk, friends=()), main, options, layout)
    measured, attempts = stats.measured, stats.attempts
    for alias, names in wanted.items():
        if not names:
            continue
        parts: list[dict[str, Any]] = []
        for piece in _trimmed([p for p in chunk.friends if p.alias == alias],
                              chunk.num_entries):
            got, piece_stats = read_chunk(_piece_chunk(chunk, piece), names, options)
            parts.append(got)
            # a friend adds its bytes and seconds; the chunk's read path is the main tree's
            measured = measured.merge(replace(piece_stats.measured, read_paths={},
                                              file_paths={}, fallbacks=()))
            attempts += piece_stats.attempts
        for name in names:
            joined = _concatenate([part[name] for part in parts])
            if len(joined) != chunk.num_entries:
                raise ReadError(chunk.url, chunk.entry_start, chunk.entry_stop,
                                f"friend {alias!r} gave {len(joined)} entries of {name} for "
                                f"{chunk.num_entries} entries of the main tree")
            arrays[f"{alias}.{name}"] = joined
    return arrays, ReadStats(measured, stats.replica, attempts)


def _trimmed(pieces: list[FriendPiece], n: int) -> list[FriendPiece]:
    """The pieces holding the first `n` friend entries: a chunk shortened after preprocessing
    (an empty one, for a collection's metadata) keeps its friend entries in step."""
    out: list[FriendPiece] = []
    for piece in pieces:
        if n <= 0:
            break
        take = min(n, piece.num_entries)
        out.append(replace(piece, entry_stop=piece.entry_start + take))
        n -= take
    if not out and pieces:  # no entries, but the columns (with their types) still come back
        out = [replace(pieces[0], entry_stop=pieces[0].entry_start)]
    return out


def _piece_chunk(chunk: Chunk, piece: FriendPiece) -> Chunk:
    return Chunk(chunk.index, chunk.file_index, piece.url, piece.tree, piece.entry_start,
                 piece.entry_stop, chunk.global_start, piece.uuid, piece.replicas,
                 chunk.sample, piece.format)


def _concatenate(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts)
    return ak.concatenate([ak.Array(p) if isinstance(p, np.ndarray) else p for p in parts])


__all__ = ["read_chunk", "split_friend_columns"]
