"""The reduction tree over chunk indices, and the batches of chunks that cover it.

A run's result is the root of one fixed tree: leaves are chunks in dataset
order, and the node `(level, index)` merges, left to right, its `split_every`
children `(level - 1, index * split_every + j)`. The tree depends only on the
number of chunks and the fan-in, never on batching or completion order, so
every way of running it gives bit-identical results.

A *batch* is one node of that tree computed by one task: its chunks, then its
own subtree of merges, on the worker. Batches of level 0 are today's one task
per chunk; a batch of level L takes `split_every ** L` chunks, so the scheduler
sees that many times fewer tasks. The rest of the tree (above the batches) is
merged by merge tasks. Keys are `hepflow-<kind>-<token>` with the token from
the plan's content (the kernel's branches, nodes and actions, the chunks and
their offsets).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dask.base

from hepflow.core.chunk import Chunk
from hepflow.observe.events import held_records
from hepflow.results.partials import ChunkResult, merge_all


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the reduction tree: chunks `[index * span, (index + 1) * span)`."""

    level: int
    index: int

    def span(self, split_every: int) -> int:
        return int(split_every ** self.level)

    def first(self, split_every: int) -> int:
        return self.index * self.span(split_every)

    def children(self, split_every: int, chunks: int) -> list[Node]:
        """The children that hold at least one of the `chunks` chunks."""
        out = []
        for j in range(split_every):
            child = Node(self.level - 1, self.index * split_every + j)
            if child.first(split_every) < chunks:
                out.append(child)
        return out


def root_level(chunks: int, split_every: int) -> int:
    """The level of the root: the smallest with `split_every ** level >= chunks`."""
    level = 0
    while split_every ** level < chunks:
        level += 1
    return level


def plan_batches(chunks: int, split_every: int, level: int, tail_chunks: int = 0,
                 ) -> list[Node]:
    """Aligned batches of `split_every ** level` chunks covering `chunks` chunks.

    The last `tail_chunks` chunks (at least) go in batches one level smaller,
    so the run's end is not held by one long task (guided self-scheduling).
    """
    level = max(0, min(level, root_level(chunks, split_every)))
    out: list[Node] = []
    position = 0
    while position < chunks:
        use = level
        if use > 0 and chunks - position <= tail_chunks:
            use = level - 1
        span = split_every ** use
        out.append(Node(use, position // span))
        position += span
    return out


def compute_node(kernel: Any, chunks: Sequence[Chunk], offsets: Sequence[Sequence[int]],
                 split_every: int, node: Node, first: int,
                 run_chunk: Callable[[Chunk, Sequence[int]], ChunkResult] | None = None,
                 ) -> ChunkResult:
    """The subtree at `node`, computed here; `chunks[0]` is chunk number `first`."""
    run = run_chunk or kernel
    if node.level == 0:
        local = node.index - first
        return run(chunks[local], offsets[local])
    total = first + len(chunks)
    parts = [compute_node(kernel, chunks, offsets, split_every, child, first, run_chunk)
             for child in node.children(split_every, total)]
    return merge_all(parts, kernel.actions)


class Batch:
    """What one batch task computes: its chunks, their offsets and its place in the tree.

    A plain class, not a dataclass or a list: Dask walks the arguments of every
    task it is given (lists, tuples, dicts, dataclasses) looking for keys. Its
    chunks travel as one pickled blob, made once on the client: the scheduler
    unpickles every graph it is sent, and a run of 100,000 chunks would
    otherwise cost it seconds before the first task starts.
    """

    __slots__ = ("_chunks", "_payload", "index", "label", "level", "split_every")

    def __init__(self, chunks: Sequence[Chunk], offsets: Sequence[Sequence[int]],
                 split_every: int, level: int, index: int, label: str = "") -> None:
        self._chunks: tuple[list[Chunk], list[tuple[int, ...]]] | None = (
            list(chunks), [tuple(o) for o in offsets])
        self._payload: bytes | None = None
        self.split_every = split_every
        self.level = level
        self.index = index
        self.label = label

    def _decoded(self) -> tuple[list[Chunk], list[tuple[int, ...]]]:
        if self._chunks is None:
            assert self._payload is not None
            self._chunks = pickle.loads(self._payload)
        return self._chunks

    @property
    def chunks(self) -> list[Chunk]:
        return self._decoded()[0]

    @property
    def offsets(self) -> list[tuple[int, ...]]:
        return self._decoded()[1]

    def __getstate__(self) -> tuple[Any, ...]:
        if self._payload is None:
            self._payload = pickle.dumps(self._chunks, protocol=pickle.HIGHEST_PROTOCOL)
        return (self._payload, self.split_every, self.level, self.index, self.label)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self._payload, self.split_every, self.level, self.index, self.label = state
        self._chunks = None

    def relabelled(self, label: str) -> Batch:
        out = Batch.__new__(Batch)
        out._chunks, out._payload = self._chunks, self._payload
        out.split_every, out.level, out.index, out.label = (
            self.split_every, self.level, self.index, label)
        return out


def run_batch(kernel: Any, batch: Batch) -> ChunkResult:
    """One batch task: its chunks in order, merged as the tree's subtree at its node.

    When it runs on a Dask worker it first says so on the `hepflow-batch`
    topic (its label, the worker, the time): the client's dispatcher times it
    from there to spot a straggler.
    """
    if batch.label:
        _announce(batch.label)
    node = Node(batch.level, batch.index)
    first = node.first(batch.split_every)
    if len(batch.chunks) == 1:
        return compute_node(kernel, batch.chunks, batch.offsets, batch.split_every, node, first)
    with held_records():
        return compute_node(kernel, batch.chunks, batch.offsets, batch.split_every, node,
                            first)


#: Topic on which batch tasks announce their start (see `engine.dispatch`).
START_TOPIC = "hepflow-batch"


def _announce(label: str) -> None:
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return
    worker.log_event(START_TOPIC, {"label": label, "worker": worker.address,
                                   "time": time.time()})


def merge_results(kernel: Any, parts: list[ChunkResult]) -> ChunkResult:
    return merge_all(parts, kernel.actions)


def graph_token(kernel: Any, chunks: Sequence[Chunk], offsets: Sequence[Sequence[int]],
                split_every: int) -> str:
    """The content token of a run: equal for equal plans over equal chunks."""
    return str(dask.base.tokenize(kernel, tuple(chunks),
                                  tuple(tuple(o) for o in offsets), split_every))


def build_graph(kernel: Any, chunks: Sequence[Chunk], offsets: Sequence[Sequence[int]],
                split_every: int, token: str, level: int = 0,
                ) -> tuple[dict[Any, Any], Any]:
    """A static task dict (batches of `level`, then merges) and the key of the result.

    Used by the synchronous scheduler and by `hepflow bench simulate` for the
    one-task-per-chunk baseline; the distributed path is `engine.dispatch`.
    """
    n = len(chunks)
    if not n:
        return {}, None  # no chunks: nothing to compute
    dsk: dict[Any, Any] = {}
    kernel_key = f"hepflow-kernel-{token}"
    dsk[kernel_key] = kernel
    batches = {b: b for b in plan_batches(n, split_every, level)}

    def key_of(node: Node) -> Any:
        if node in batches:
            first = node.first(split_every)
            stop = min(n, first + node.span(split_every))
            key = (f"hepflow-chunk-{token}" if node.level == 0 else
                   f"hepflow-batch-{token}-{node.level}", node.index)
            dsk[key] = (run_batch, kernel_key, Batch(chunks[first:stop], offsets[first:stop],
                                                     split_every, node.level, node.index))
            return key
        key = (f"hepflow-merge-{token}-{node.level}", node.index)
        dsk[key] = (merge_results, kernel_key,
                    [key_of(c) for c in node.children(split_every, n)])
        return key

    return dsk, key_of(Node(root_level(n, split_every), 0))


__all__ = ["START_TOPIC", "Batch", "Node", "build_graph", "compute_node", "graph_token",
           "merge_results", "plan_batches", "root_level", "run_batch"]
