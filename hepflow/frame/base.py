"""What every part of the RDataFrame facade shares: its graph, runner and node, and the
build-time checks of column names, expressions and callables."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

from hepflow.core.types import UNKNOWN, ColumnType, dtype_kind
from hepflow.dataset.files import expand_files
from hepflow.dataset.spec import Dataset
from hepflow.engine.runner import Runner
from hepflow.errors import PlanError, did_you_mean
from hepflow.io.snapshot import SIZEOF_PREFIX
from hepflow.plan import actions as act
from hepflow.plan.expr import compile_expression
from hepflow.plan.graph import AnalysisGraph
from hepflow.plan.handles import RResultPtr
from hepflow.plan.nodes import (
    Computation,
    PlanNode,
    PyFunction,
)

if TYPE_CHECKING:
    from typing_extensions import Self


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*$")


def _dataset(spec: Any, files: Any) -> Dataset:
    """What the user passed → a Dataset: (tree, files), a Dataset, a dict or a spec file."""
    if isinstance(spec, Dataset):
        return spec
    if isinstance(spec, Mapping):
        return Dataset.from_dict(spec)
    if isinstance(spec, (str, os.PathLike)) and files is None:
        path = os.fspath(spec)
        if path.endswith((".json", ".yaml", ".yml")) and os.path.exists(path):
            return Dataset.load(path)
        raise PlanError("RDataFrame(treename, files) needs input files (or pass a Dataset "
                        "or a dataset spec file)")
    if not isinstance(spec, str):
        raise PlanError("RDataFrame(treename, files): the first argument is the tree name")
    return Dataset.from_files(expand_files(files), spec)


def _infer_type(func: Callable[..., Any], types: Sequence[ColumnType]) -> ColumnType:
    """Learn a callable's output shape by calling it on empty arrays of the input types."""
    args = []
    for t in types:
        dtype = t.numpy if t.category in ("bool", "int", "float") else np.float64
        flat: np.ndarray = np.zeros(0, dtype=dtype)
        args.append(ak.unflatten(flat, np.zeros(0, np.int64)) if t.kind == "jagged"
                    else ak.Array(flat))
    try:
        out = func(*args)
    except Exception:  # noqa: BLE001 - any failure just means "type unknown until run"
        return UNKNOWN
    if isinstance(out, np.ndarray):
        if out.ndim > 1:  # (n, k): a fixed-size array per event
            return ColumnType("jagged", dtype_kind(out.dtype))
        return ColumnType("scalar", dtype_kind(out.dtype))
    if isinstance(out, ak.Array):
        leaf = ak.to_numpy(ak.flatten(out, axis=None)).dtype
        return ColumnType("jagged" if out.ndim > 1 else "scalar", dtype_kind(leaf))
    return UNKNOWN


class FrameBase:
    """The state of one dataframe: the shared plan graph and runner, and its own node."""

    _graph: AnalysisGraph
    _runner: Runner
    _node: PlanNode

    @classmethod
    def _at(cls, parent: FrameBase, node: PlanNode) -> Self:
        """A dataframe at `node` sharing `parent`'s graph and runner."""
        df = cls.__new__(cls)
        df._graph, df._runner, df._node = parent._graph, parent._runner, node
        return df

    def _derive(self, node: PlanNode) -> Self:
        return type(self)._at(self, node)

    def _compile(self, expression: str) -> Any:
        metadata = {s: i.metadata for s, i in self._graph.samples.items() if i.named}
        return compile_expression(expression, self._node.schema(), metadata)

    def _computation(self, what: str | Callable[..., Any], columns: Sequence[str] | None,
                     ) -> Computation:
        if isinstance(what, str):
            if columns:
                raise PlanError("columns are only given with a Python callable, "
                                "not with an expression string")
            compiled: Computation = self._compile(what)
            return compiled
        if callable(what):
            if columns is None:
                raise PlanError("a Python callable needs the list of columns it takes, "
                                "e.g. Define('x', func, ['Muon_pt'])")
            cols = tuple(columns)
            types = [self._check_column(c) for c in cols]
            return PyFunction(what, cols, _infer_type(what, types))
        raise PlanError(f"expected an expression string or a callable, got {type(what).__name__}")

    def _check_column(self, name: str) -> ColumnType:
        if not isinstance(name, str):
            raise PlanError(f"a column name must be a string, got {name!r}")
        found = self._node.lookup(name)
        if found is None:
            hint = did_you_mean(name, self._node.schema())
            raise PlanError(f"unknown column `{name}`" + (f"; {hint}" if hint else ""))
        return found[0]

    def _new_name(self, name: str, verb: str) -> None:
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise PlanError(f"{verb}: {name!r} is not a valid column name")
        if name.endswith("_") and name.startswith("rdf"):
            raise PlanError(f"{verb}: names like {name!r} are reserved")
        if self._node.lookup(name) is not None:
            hint = "; use Redefine to replace it" if verb == "Define" else ""
            raise PlanError(f"{verb}: column `{name}` already exists{hint}")

    def _book(self, action: act.Action[Any, Any]) -> RResultPtr[Any]:
        for name in action.columns():
            self._check_column(name)
        return self._graph.book(action)

    def _numeric(self, name: str, what: str) -> None:
        ctype = self._check_column(name)
        if ctype.kind == "combos" or ctype.category in ("other", "vector"):
            raise PlanError(f"{what}: column `{name}` ({ctype}) holds no numbers")

    def GetColumnNames(self) -> list[str]:
        """Every column visible here (branches and Defines), without `rdf..._` columns
        and without the counters hepflow's Snapshot gives lone collections."""
        return [n for n in self._node.schema() if (not n.endswith("_") or
                not n.startswith("rdf")) and not n.startswith(SIZEOF_PREFIX)]


__all__ = ["FrameBase"]
