"""Cutting chunks of (x, y, w) into shuffled batches through a bounded buffer.

The same code serves the client-side `DataLoader` and each worker's training
loop in `train_torch`, so the two see batches made the same way. Memory is
bounded by the buffer (`batches_in_memory` batches, ROOT's `RDataLoader`
name) plus the chunk being added, never by the dataset. Shuffling is a
permutation of the buffer drawn from a generator seeded per epoch: the same
seed gives the same batches, a different epoch a different order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from hepflow.ml.errors import PlanError, check_count

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """How chunks become batches: ROOT `RDataLoader`'s names where it has them."""

    batch_size: int = 64
    batches_in_memory: int = 10
    shuffle: bool = True
    drop_remainder: bool = False
    set_seed: int = 0

    def __post_init__(self) -> None:
        check_count(self.batch_size, "batch_size")
        check_count(self.batches_in_memory, "batches_in_memory")
        check_count(self.set_seed, "set_seed", minimum=0)
        for name in ("shuffle", "drop_remainder"):
            if not isinstance(getattr(self, name), bool):
                raise PlanError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def rng(self, epoch: int, stream: int = 0) -> np.random.Generator:
        """The generator of one epoch (and one worker's stream): reproducible from set_seed."""
        return np.random.default_rng([self.set_seed, epoch, stream])


def _concat(parts: list[Arrays]) -> Arrays:
    if len(parts) == 1:
        return parts[0]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def batches(chunks: Iterable[Arrays], options: BatchOptions,
            rng: np.random.Generator) -> Iterator[Arrays]:
    """Batches of `options.batch_size` rows from a stream of chunks, each row exactly once.

    Rows wait in a buffer of `batches_in_memory` batches; when it is full, rows
    are drawn from it in a random order (if shuffling) until half of it is
    left, so rows of neighbouring chunks mix. The rest goes out at the end of
    the stream, the last short batch unless `drop_remainder`. Unshuffled
    batches are views of the chunks; shuffled ones are gathered rows, and the
    buffer is never copied whole in a new order.
    """
    size = options.batch_size
    capacity = size * options.batches_in_memory
    held: list[Arrays] = []
    rows = 0
    for chunk in chunks:
        if len(chunk[1]) == 0:
            continue
        held.append(chunk)
        rows += len(chunk[1])
        if rows < capacity:
            continue
        buffer = _concat(held)
        held = []
        order = rng.permutation(rows) if options.shuffle else None
        out = (rows - capacity // 2) // size * size or rows // size * size
        for start in range(0, out, size):
            yield _rows(buffer, order, start, start + size)
        if out < rows:
            held.append(_rows(buffer, order, out, rows))
        del buffer
        rows -= out
    if not rows:
        return
    buffer = _concat(held)
    order = rng.permutation(rows) if options.shuffle else None
    for start in range(0, rows, size):
        if options.drop_remainder and start + size > rows:
            return
        yield _rows(buffer, order, start, min(start + size, rows))


def _rows(arrays: Arrays, order: np.ndarray | None, start: int, stop: int) -> Arrays:
    """Rows start:stop of the buffer, in `order` if given (then a copy), else a view."""
    if order is None:
        return arrays[0][start:stop], arrays[1][start:stop], arrays[2][start:stop]
    pick = order[start:stop]
    # np.take along the rows gathers several times faster than fancy indexing
    return (np.take(arrays[0], pick, axis=0), np.take(arrays[1], pick),
            np.take(arrays[2], pick))


def count_batches(rows: int, options: BatchOptions) -> int:
    """How many batches `rows` rows make in one epoch."""
    full, rest = divmod(rows, options.batch_size)
    return full + (1 if rest and not options.drop_remainder else 0)


__all__ = ["Arrays", "BatchOptions", "batches", "count_batches"]
