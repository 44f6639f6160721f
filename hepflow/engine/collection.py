"""`AsAwkward`: the selected events as a lazy dask_awkward.Array, one partition per chunk.

This is the hand-off to people who continue in dask-awkward or coffea. The
partitions are produced by the same fused kernel as every other result, so
the columns are read statically pruned and selections are applied once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import awkward as ak
import dask_awkward as dak

from hepflow.engine.columns import needed_branches
from hepflow.engine.kernel import Kernel
from hepflow.engine.runner import Runner
from hepflow.errors import PlanError
from hepflow.io.chunk import Chunk
from hepflow.plan.actions import AsNumpy
from hepflow.plan.nodes import PlanNode


@dataclass(frozen=True, eq=False)
class _Partition:
    """Callable for `dak.from_map`: one chunk in, one awkward record array out."""

    kernel: Kernel
    names: tuple[str, ...]

    def __call__(self, chunk: Chunk) -> ak.Array:
        result = self.kernel(chunk, ())
        pieces = next(iter(result.partials[0].values()))
        values = pieces.items[0][1] if pieces.items else {}
        return ak.zip({n: values[n] for n in self.names}, depth_limit=1)


def partition_reader(runner: Runner, node: PlanNode,
                     names: Sequence[str]) -> Callable[[Chunk], ak.Array]:
    """The picklable per-chunk callable: one chunk in, a record array of `names` out.

    Also what `hepflow.ml.DataLoader` submits per chunk, without dask-awkward.
    """
    action = AsNumpy(node, tuple(names))
    branches = tuple(needed_branches([action]))
    # with the baskets' places from preprocessing, as a run's kernel reads (not via uproot)
    kernel = Kernel(branches, (action,), (), runner.options.read, runner.graph.files,
                    layouts=runner.layouts(branches))
    return _Partition(kernel, tuple(names))


def to_dask_awkward(runner: Runner, node: PlanNode, names: Sequence[str]) -> Any:
    partition = partition_reader(runner, node, names)
    if not runner.chunks:
        raise PlanError("AsAwkward: the dataset has no entries")
    empty_chunk = replace(runner.chunks[0], entry_stop=runner.chunks[0].entry_start)
    sample = partition(empty_chunk)
    meta = ak.Array(sample.layout.to_typetracer(forget_length=True))
    return dak.from_map(partition, list(runner.chunks),  # type: ignore[attr-defined]
                        label="hepflow-asawkward", meta=meta)


__all__ = ["partition_reader", "to_dask_awkward"]
