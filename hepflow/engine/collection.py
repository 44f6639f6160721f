"""`AsAwkward`: the selected events as a lazy dask_awkward.Array, one partition per chunk.

This is the hand-off to people who continue in dask-awkward or coffea. dask-awkward
is the optional `hepflow[dask-awkward]` extra (it caps dask below 2025.4), so it is
imported only when `AsAwkward` is called, with an error naming the extra when it
is missing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from hepflow.engine.partitions import partitions
from hepflow.engine.runner import Runner
from hepflow.errors import PlanError
from hepflow.plan.nodes import PlanNode

EXTRA_HINT = "pip install 'hepflow[dask-awkward]'"


def dask_awkward() -> Any:
    """The `dask_awkward` module, or a PlanError naming the extra that brings it."""
    try:
        return importlib.import_module("dask_awkward")
    except ImportError as exc:
        raise PlanError(f"AsAwkward needs dask-awkward, which hepflow installs only with "
                        f"its `dask-awkward` extra: {EXTRA_HINT}") from exc


def to_dask_awkward(runner: Runner, node: PlanNode, names: Sequence[str], *,
                    nanoaod: bool = False) -> Any:
    dak = dask_awkward()
    parts = partitions(runner, node, names, nanoaod=nanoaod)
    return dak.from_map(parts.function, list(parts.chunks), label="hepflow-asawkward",
                        meta=parts.meta())  # the meta carries the behaviours


__all__ = ["EXTRA_HINT", "dask_awkward", "to_dask_awkward"]
