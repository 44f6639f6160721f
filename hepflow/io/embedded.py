"""The bytes of baskets embedded in the TTree key, kept from preprocessing.

ROOT writes the last basket of every branch inside the TTree key when the
tree is written with its baskets still in memory (CMSSW's NanoAOD, and any
``TTree::Write`` without a final ``FlushBaskets``). The TTree key is a single
compression block of a few MB for a wide file, so a chunk reaching one
branch's last basket would have to decompress the whole key: about 50 ms per
1,500-branch file per worker, more than the rest of the chunk's reading.

Preprocessing decompresses that key anyway, so it keeps each embedded
basket's bytes here (as they are: LZ4 packs NanoAOD-like values only 1.5x at
30 ms per file, more than shipping the difference costs). A run then ships
only the baskets of the branches it reads (`hepflow.io.baskets.BranchLayout`
``embedded``), a few kB each. The store lives in memory while fresh and, once
the preprocessing cache has written it to disk, is read back from that file
one basket at a time, so a client holding the layouts of a thousand files
does not hold all their embedded baskets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np


class EmbeddedBaskets:
    """The embedded baskets of a file's branches, one slot per branch (or none).

    Slot i of `offsets`/`lengths` says where branch i's basket lies in
    the blob; -1 means the branch has none. The blob is either held (`data`)
    or in a file (`path`), checked to have the size the index promises.
    """

    __slots__ = ("_data", "lengths", "offsets", "path", "size")

    def __init__(self, offsets: Any = None, lengths: Any = None, data: bytes | None = b"",
                 path: str | None = None) -> None:
        self.offsets = np.asarray([] if offsets is None else offsets, dtype=np.int64)
        self.lengths = np.asarray([] if lengths is None else lengths, dtype=np.int64)
        self._data = data
        self.path = path
        self.size = int(self.lengths[self.lengths > 0].sum()) if len(self.lengths) else 0

    @classmethod
    def of(cls, baskets: Sequence[bytes | None]) -> EmbeddedBaskets:
        """A store of the baskets of each branch in order (None: no basket)."""
        lengths = np.asarray([-1 if p is None else len(p) for p in baskets], dtype=np.int64)
        return cls.joined(lengths, b"".join(p for p in baskets if p is not None))

    @classmethod
    def joined(cls, lengths: np.ndarray, blob: bytes) -> EmbeddedBaskets:
        """A store of `blob`, the baskets of length `lengths` (-1: none) one after another."""
        offsets = np.full(len(lengths), -1, dtype=np.int64)
        held = lengths >= 0
        offsets[held] = np.cumsum(lengths[held]) - lengths[held]
        return cls(offsets, lengths, blob)

    def __len__(self) -> int:
        return len(self.offsets)

    def __bool__(self) -> bool:
        return bool((self.offsets >= 0).any())

    def basket(self, slot: int) -> bytes:
        """The basket of branch `slot`; b"" if it has none."""
        if slot >= len(self.offsets) or self.offsets[slot] < 0:
            return b""
        at, length = int(self.offsets[slot]), int(self.lengths[slot])
        if self._data is not None:
            return self._data[at:at + length]
        if self.path is None:
            raise FileNotFoundError("embedded baskets with neither bytes nor a file")
        fd = os.open(self.path, os.O_RDONLY)
        try:
            found = os.pread(fd, length, at)
        finally:
            os.close(fd)
        if len(found) != length:
            raise OSError(f"{self.path} is shorter than its embedded baskets' index says")
        return found

    def data(self) -> bytes:
        """Every basket, as the blob the index points into."""
        if self._data is not None:
            return self._data
        if self.path is None:
            return b""
        with open(self.path, "rb") as f:
            return f.read()

    def in_file(self, path: str) -> EmbeddedBaskets:
        """The same store read from `path`, where `data()` was written.

        OSError if the file is not there, ValueError if it has another size
        than the index promises (both: a preprocessing cache entry to redo).
        """
        found = os.stat(path).st_size
        if found != self.size:
            raise ValueError(f"{path} holds {found} bytes of embedded baskets, not {self.size}")
        return EmbeddedBaskets(self.offsets, self.lengths, None, path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (EmbeddedBaskets, (self.offsets, self.lengths, self._data, self.path))


__all__ = ["EmbeddedBaskets"]
