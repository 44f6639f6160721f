"""A chunk as a plain record: the entries one task reads, and the friend entries with them.

It lives in `io` because reading needs nothing else to know what to read;
`hepflow.dataset` cuts these records from the files it has learned about.
"""

from __future__ import annotations

from dataclasses import dataclass

TTREE = "ttree"
RNTUPLE = "rntuple"



@dataclass(frozen=True, slots=True)
class FriendPiece:
    """Entries [entry_start, entry_stop) of one file of a friend chain named `alias`.

    A chunk's friend entries are the ones with the same position in the friend
    chain as the chunk's entries in the main chain (ROOT's friend rule), so one
    chunk may need pieces of two friend files; they are concatenated in order.
    """

    alias: str
    url: str
    tree: str
    entry_start: int
    entry_stop: int
    uuid: str = ""
    replicas: tuple[str, ...] = ()
    format: str = TTREE

    @property
    def num_entries(self) -> int:
        return self.entry_stop - self.entry_start


@dataclass(frozen=True, slots=True)
class Chunk:
    """Entries [entry_start, entry_stop) of one file; `index` orders chunks in the dataset."""

    index: int
    file_index: int
    url: str
    tree: str
    entry_start: int
    entry_stop: int
    global_start: int
    uuid: str = ""
    replicas: tuple[str, ...] = ()
    sample: str = ""
    format: str = TTREE
    friends: tuple[FriendPiece, ...] = ()

    @property
    def num_entries(self) -> int:
        return self.entry_stop - self.entry_start

    @property
    def urls(self) -> tuple[str, ...]:
        return self.replicas or (self.url,)

    def describe(self) -> str:
        return f"entries {self.entry_start}-{self.entry_stop} of {self.url}"



__all__ = ["RNTUPLE", "TTREE", "Chunk", "FriendPiece"]
