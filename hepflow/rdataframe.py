"""The user-facing dataframe: RDataFrame's names and semantics over lazy Dask graphs.

Every method returns a new `RDataFrame` around a new plan node (or a lazy
result handle); nothing touches data until a result is asked for. Column
names and expressions are checked here, at build time, against the branch
types preprocessing learned from the files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import awkward as ak
import dask.base
import numpy as np

from hepflow.dataset.files import expand_files
from hepflow.dataset.prepare import PreparedDataset, preprocess
from hepflow.dataset.spec import Dataset
from hepflow.engine import client as clients
from hepflow.engine.fill import empty
from hepflow.engine.kernel import SampleInfo
from hepflow.engine.run import Booking, LoopManager, run_graphs
from hepflow.errors import ExpressionError, PlanError, did_you_mean
from hepflow.options import Options
from hepflow.plan import actions as act
from hepflow.plan.expr import compile_expression
from hepflow.plan.handles import RResultPtr
from hepflow.plan.nodes import (
    Alias,
    Computation,
    Define,
    Filter,
    PerSampleValue,
    PlanNode,
    PyFunction,
    Range,
    Source,
)
from hepflow.plan.types import UNKNOWN, ColumnType, dtype_kind
from hepflow.results.cutflow import Cut, CutflowReport
from hepflow.results.display import DisplayResult, to_lists
from hepflow.results.moments import Moments
from hepflow.results.partials import combine_samples
from hepflow.results.pieces import Pieces, concatenate, head

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
        dtype = {"bool": np.bool_, "int": np.int64, "float": np.float64}.get(t.dtype, np.float64)
        flat: np.ndarray = np.zeros(0, dtype=dtype)
        args.append(ak.unflatten(flat, np.zeros(0, np.int64)) if t.kind == "jagged"
                    else ak.Array(flat))
    try:
        out = func(*args)
    except Exception:  # noqa: BLE001 - any failure just means "type unknown until run"
        return UNKNOWN
    if isinstance(out, np.ndarray):
        return ColumnType("scalar", dtype_kind(out.dtype))
    if isinstance(out, ak.Array):
        leaf = ak.to_numpy(ak.flatten(out, axis=None)).dtype
        return ColumnType("jagged" if out.ndim > 1 else "scalar", dtype_kind(leaf))
    return UNKNOWN


class RDataFrame:
    """RDataFrame(treename, files, *, client=None, ...): lazy analysis of ROOT files on Dask.

    `files` is a path, a glob, a list of them, or `root://`/`https://` URLs.
    `client` is a `distributed.Client` (default: the running one, else a new
    LocalCluster with process workers) or "sync" to run in this process.
    """

    def __init__(self, treename: str | Dataset | PreparedDataset | Mapping[str, Any],
                 files: Any = None, *, client: Any = None, options: Options | None = None,
                 chunk_entries: int | None = None, chunk_bytes: int | None = None,
                 read_policy: str | None = None, _manager: LoopManager | None = None,
                 _node: PlanNode | None = None) -> None:
        if _manager is not None and _node is not None:
            self._lm = _manager
            self._node = _node
            return
        opts = (options or Options()).updated(chunk_entries=chunk_entries,
                                              chunk_bytes=chunk_bytes,
                                              read_policy=read_policy).resolved()
        runner = None if client == "sync" else clients.resolve(client)
        prepared = treename if isinstance(treename, PreparedDataset) else preprocess(
            _dataset(treename, files), runner, chunk_entries=opts.chunk_entries,
            chunk_bytes=opts.chunk_bytes, use_cache=opts.use_cache)
        infos = prepared.files
        tree = infos[0].tree if infos else str(treename)
        source = Source(tree, infos, prepared.branches)
        samples = {s.name: SampleInfo(s.name, i, dict(s.metadata))
                   for i, s in enumerate(prepared.dataset)}
        self._lm = LoopManager(source, list(prepared.chunks), opts,
                               client if client == "sync" else runner, prepared, samples)
        self._node = source

    # -- building -----------------------------------------------------------------------

    def _derive(self, node: PlanNode) -> RDataFrame:
        return RDataFrame("", _manager=self._lm, _node=node)

    def _compile(self, expression: str) -> Any:
        metadata = {s: i.metadata for s, i in self._lm.samples.items()} or None
        return compile_expression(expression, self._node.schema(), metadata)

    def _computation(self, what: str | Callable[..., Any], columns: Sequence[str] | None,
                     ) -> Computation:
        if isinstance(what, str):
            if columns:
                raise PlanError("columns are only given with a Python callable, "
                                "not with an expression string")
            return self._compile(what)
        if callable(what):
            if columns is None:
                raise PlanError("a Python callable needs the list of columns it takes, "
                                "e.g. Define('x', func, ['Muon_pt'])")
            cols = tuple(columns)
            for c in cols:
                self._check_column(c)
            types = [self._node.lookup(c)[0] for c in cols]  # type: ignore[index]
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

    def Define(self, name: str, expression: str | Callable[..., Any],
               columns: Sequence[str] | None = None) -> RDataFrame:
        """A new column from an expression string or a callable on awkward arrays."""
        self._new_name(name, "Define")
        if self._node.lookup(name) is not None:
            raise PlanError(f"Define: column `{name}` already exists; use Redefine to replace it")
        return self._derive(Define(self._node, name, self._computation(expression, columns)))

    def Redefine(self, name: str, expression: str | Callable[..., Any],
                 columns: Sequence[str] | None = None) -> RDataFrame:
        """Replace an existing column (a branch or a Define) from here on."""
        self._check_column(name)
        return self._derive(Define(self._node, name, self._computation(expression, columns),
                                   redefine=True))

    def DefinePerSample(self, name: str, expression: str | Callable[[SampleInfo], Any],
                        ) -> RDataFrame:
        """A column whose value is fixed per sample, e.g. `xsec * lumi / sum_genWeight`.

        A string may use the metadata keys that every sample has, and
        `rdfsampleinfo_`; a callable receives a `SampleInfo` (name, index,
        metadata). Values are computed once per sample, here, on the client.
        """
        self._new_name(name, "DefinePerSample")
        if self._node.lookup(name) is not None:
            raise PlanError(f"DefinePerSample: column `{name}` already exists")
        samples = self._lm.samples or {"": SampleInfo("", 0, {})}
        if isinstance(expression, str):
            values, ctype = _per_sample_values(expression, samples)
            text = expression
        elif callable(expression):
            values = {s: expression(info) for s, info in samples.items()}
            probe = np.asarray(list(values.values()))
            ctype = ColumnType("scalar", dtype_kind(probe.dtype))
            text = getattr(expression, "__qualname__", "callable") + "(sample)"
        else:
            raise PlanError("DefinePerSample takes an expression string or a callable")
        if ctype.dtype == "other":
            raise PlanError(f"DefinePerSample `{name}`: values must be numbers or booleans")
        return self._derive(Define(self._node, name, PerSampleValue(values, ctype, text)))

    def Predict(self, name: str, bundle: Any, output: int | None = None) -> RDataFrame:
        """A model's score as a lazy column.

        `bundle` is a model bundle (loaded once per worker, see `hepflow.ml.Predict`)
        or the URL of a model served by `hepflow serve`, called in batches per
        chunk (the token comes from `$HEPFLOW_SERVE_TOKEN` on the workers).
        """
        if isinstance(bundle, str) and bundle.startswith(("http://", "https://")):
            from hepflow.serve.client import RemoteModel

            remote = RemoteModel(bundle)
            return self.Define(name, remote, list(remote.columns))
        from hepflow.ml.predict import Predict

        result: RDataFrame = Predict(self, bundle, name, output=output)
        return result

    def Alias(self, alias: str, column: str) -> RDataFrame:
        self._new_name(alias, "Alias")
        if self._node.lookup(alias) is not None:
            raise PlanError(f"Alias: column `{alias}` already exists")
        self._check_column(column)
        return self._derive(Alias(self._node, alias, column))

    def Filter(self, expression: str | Callable[..., Any], name: str = "",
               columns: Sequence[str] | None = None) -> RDataFrame:
        """Keep events passing a condition; named filters appear in Report()."""
        if callable(expression) and isinstance(name, (list, tuple)):
            name, columns = "", name
        comp = self._computation(expression, columns)
        ctype = comp.type
        if ctype.kind in ("jagged", "combos"):
            text = expression if isinstance(expression, str) else comp.text
            raise ExpressionError(
                f"a filter needs one value per event, but this gives {ctype}; "
                "reduce the collection first, e.g. Any(...), All(...) or Sum(...) > 0",
                text if isinstance(text, str) else "", 0, len(text) if isinstance(text, str)
                else None)
        node = Filter(self._node, comp, str(name))
        if name:
            self._lm.filters.append(node)
        return self._derive(node)

    def Range(self, begin: int, end: int | None = None, stride: int = 1) -> RDataFrame:
        """Range(end) or Range(begin, end, stride): exact in distributed mode too."""
        if end is None:
            begin, end = 0, begin
        if begin < 0 or end < 0 or stride < 1 or (end and end < begin):
            raise PlanError(f"Range({begin}, {end}, {stride}): need 0 <= begin <= end "
                            "(end 0 = no end) and stride >= 1")
        return self._derive(Range(self._node, int(begin), int(end), int(stride)))

    def GetColumnNames(self) -> list[str]:
        return [n for n in self._node.schema() if not n.endswith("_") or
                not n.startswith("rdf")]

    def GetColumnType(self, name: str) -> str:
        return str(self._check_column(name))

    def GetDefinedColumnNames(self) -> list[str]:
        return [n.name for n in self._node.lineage() if isinstance(n, Define) and not n.redefine]

    def GetFilterNames(self) -> list[str]:
        return [n.name for n in self._node.lineage() if isinstance(n, Filter) and n.name]

    # -- actions ------------------------------------------------------------------------

    def _book(self, action: act.Action, finish: Callable[[Any, Any, Any], Any],
              ) -> RResultPtr[Any]:
        for name in action.columns():
            self._check_column(name)
        handle: RResultPtr[Any] = RResultPtr(self._lm, action.label)
        order = list(self._lm.samples) or [""]

        def deliver(per_sample: Mapping[str, Any], merged: Any, filters: Any,
                    info: Any) -> None:
            total = combine_samples(per_sample, order)
            handle._set(finish(empty(action) if total is None else total, merged, filters),
                        info)
            handle._set_per_sample(lambda: {
                s: finish(per_sample[s] if s in per_sample else empty(action), merged, filters)
                for s in order})

        self._lm.book(Booking(action, deliver, handle._fail))
        return handle

    def _numeric(self, name: str, what: str) -> None:
        ctype = self._check_column(name)
        if ctype.kind == "combos" or ctype.dtype == "other":
            raise PlanError(f"{what}: column `{name}` ({ctype}) holds no numbers")

    def Count(self) -> RResultPtr[int]:
        return self._book(act.Count(self._node), lambda p, m, f: int(p))

    def _stat(self, what: str, column: str) -> RResultPtr[Any]:
        self._numeric(column, what)
        return self._book(act.Stat(self._node, what, column),
                          lambda p, m, f: Moments.value(p, what))

    def Sum(self, column: str) -> RResultPtr[Any]:
        return self._stat("Sum", column)

    def Mean(self, column: str) -> RResultPtr[float]:
        return self._stat("Mean", column)

    def StdDev(self, column: str) -> RResultPtr[float]:
        return self._stat("StdDev", column)

    def Min(self, column: str) -> RResultPtr[Any]:
        return self._stat("Min", column)

    def Max(self, column: str) -> RResultPtr[Any]:
        return self._stat("Max", column)

    def Histo1D(self, model: Any, column: str | None = None,
                weight: str | None = None) -> RResultPtr[Any]:
        """Histo1D((name, title, nbins, lo, hi), column[, weight]) → hist.Hist."""
        if column is None:
            raise PlanError("Histo1D needs a model tuple (name, title, nbins, lo, hi) and a "
                            "column; automatic binning is not supported")
        parsed = act.parse_model(model, 1)
        self._numeric(column, "Histo1D")
        if weight:
            self._numeric(weight, "Histo1D weight")
        return self._book(act.Histo(self._node, parsed, (column,), weight),
                          lambda p, m, f: p)

    def Histo2D(self, model: Any, x: str, y: str, weight: str | None = None) -> RResultPtr[Any]:
        parsed = act.parse_model(model, 2)
        for c in (x, y) + ((weight,) if weight else ()):
            self._numeric(c, "Histo2D")
        return self._book(act.Histo(self._node, parsed, (x, y), weight), lambda p, m, f: p)

    def Profile1D(self, model: Any, x: str, y: str, weight: str | None = None,
                  ) -> RResultPtr[Any]:
        """A profile (mean of y in bins of x) as a hist.Hist with Mean storage."""
        parsed = act.parse_model(model, 1)
        for c in (x, y) + ((weight,) if weight else ()):
            self._numeric(c, "Profile1D")
        return self._book(act.Histo(self._node, parsed, (x, y), weight, kind="profile"),
                          lambda p, m, f: p)

    def Take(self, column: str) -> RResultPtr[Any]:
        """All values of a column in entry order (numpy, or awkward for collections)."""
        return self._book(act.Take(self._node, column),
                          lambda p, m, f: concatenate(Pieces.values(p)))

    def AsNumpy(self, columns: Sequence[str] | None = None, exclude: Sequence[str] = (),
                lazy: bool = False) -> Any:
        """Columns as numpy arrays (collections as object arrays of arrays), in entry order.

        As in RDataFrame this runs at once unless `lazy=True`.
        """
        names = tuple(c for c in (columns if columns is not None else self.GetColumnNames())
                      if c not in exclude)
        handle = self._book(act.AsNumpy(self._node, names),
                            lambda p, m, f: _as_numpy(names, p))
        return handle if lazy else handle.GetValue()

    def AsAwkward(self, columns: Sequence[str]) -> Any:
        """A lazy dask_awkward.Array of the chosen columns after this node's selections."""
        from hepflow.engine.collection import to_dask_awkward

        names = tuple(columns)
        for c in names:
            self._check_column(c)
        return to_dask_awkward(self._lm, self._node, names)

    def Display(self, columns: Sequence[str] | str = (), nRows: int = 5) -> RResultPtr[Any]:
        names = (columns,) if isinstance(columns, str) else tuple(columns)
        if not names:
            names = tuple(self.GetColumnNames())
        return self._book(act.Display(self._node, names, nRows),
                          lambda p, m, f: DisplayResult(_display(names, p, nRows)))

    def Report(self) -> RResultPtr[CutflowReport]:
        """The cutflow of named filters (all of the graph's when called on the source)."""
        if isinstance(self._node, Source):
            filters = tuple(self._lm.filters)
        else:
            filters = tuple(n for n in self._node.lineage() if isinstance(n, Filter) and n.name)
        return self._book(act.Report(self._node, filters),
                          lambda p, m, f: _cutflow(filters, m, f))

    def Snapshot(self, treename: str, filename: str | os.PathLike[str],
                 columns: Sequence[str] | str | None = None, *, lazy: bool = False,
                 compression: str = "ZSTD") -> Any:
        """Write columns to a ROOT file; returns an RDataFrame over it (eager, as in ROOT)."""
        from hepflow.io.snapshot import finalize

        if isinstance(columns, str):
            pattern = re.compile(columns)
            names = tuple(c for c in self.GetColumnNames() if pattern.fullmatch(c))
        else:
            names = tuple(columns) if columns is not None else tuple(self.GetColumnNames())
        if not names:
            raise PlanError("Snapshot: no columns selected")
        action = act.Snapshot(self._node, treename, os.fspath(os.path.abspath(filename)), names,
                              compression)
        client = self._lm.client

        def finish(p: Any, m: Any, f: Any) -> Any:
            path = finalize(action, Pieces.values(p))
            return RDataFrame(treename, path, client=client, options=self._lm.options)

        handle = self._book(action, finish)
        return handle if lazy else handle.GetValue()

    # -- inspection ---------------------------------------------------------------------

    def explain(self) -> str:
        """The plan as text: source, chunks, each transformation, booked actions, branches."""
        from hepflow.engine.columns import needed_branches

        src = self._lm.source
        entries = sum(c.num_entries for c in self._lm.chunks)
        samples = [s for s in self._lm.samples if s]
        lines = [f"Source: tree {src.tree!r}, {len(src.data)} file(s), {entries} entries, "
                 f"{len(self._lm.chunks)} chunk(s)"
                 + (f", samples: {', '.join(samples)}" if samples else "")]
        for node in self._node.lineage()[1:]:
            lines.append("  " + _describe(node))
        pending = [b.action for b in self._lm.pending]
        if pending:
            lines.append("Booked actions (run together):")
            lines.extend(f"  {a.label}" for a in pending)
        view = pending or [act.AsNumpy(self._node, tuple(self.GetDefinedColumnNames()))]
        reported = [f for a in pending if isinstance(a, act.Report) for f in a.filters]
        branches = needed_branches(view, reported)
        lines.append(f"Branches read ({len(branches)} of {len(src.branches)}): "
                     + ", ".join(branches))
        return "\n".join(lines)

    def dask_graph(self) -> dict[Any, Any]:
        """The task graph that would compute every booked result (for inspection)."""
        from hepflow.engine.run import lower_pending

        return lower_pending(self._lm)[0]

    def Describe(self) -> str:
        return self.explain()

    def _repr_html_(self) -> str:
        try:
            import html

            return "<pre>" + html.escape(self.explain()) + "</pre>"
        except Exception as exc:  # noqa: BLE001 - a repr must never raise
            return f"<pre>RDataFrame (cannot describe: {exc})</pre>"

    def __repr__(self) -> str:
        try:
            return "RDataFrame\n" + self.explain()
        except Exception as exc:  # noqa: BLE001 - a repr must never raise
            return f"<RDataFrame (cannot describe: {exc})>"

    def __dask_tokenize__(self) -> Any:
        return dask.base.tokenize(id(self._lm), id(self._node))


def _per_sample_values(expression: str, samples: Mapping[str, SampleInfo],
                       ) -> tuple[dict[str, Any], ColumnType]:
    """Evaluate a metadata expression once per sample (no event data involved)."""
    from hepflow.engine.evaluate import evaluate

    common = set.intersection(*(set(i.metadata) for i in samples.values())) if samples else set()
    first = next(iter(samples.values()))
    schema = {k: ColumnType("scalar", dtype_kind(np.asarray(first.metadata[k]).dtype))
              for k in common}
    compiled = compile_expression(expression, schema, {s: i.metadata for s, i in
                                                       samples.items()})
    values = {}
    for name, info in samples.items():
        frame = _MetadataFrame(info)
        values[name] = np.asarray(evaluate(compiled.tree, frame))[0].item()
    return values, compiled.type


class _MetadataFrame:
    """One pseudo-event whose columns are a sample's metadata."""

    n = 1

    def __init__(self, info: SampleInfo) -> None:
        self.info = info

    def column(self, name: str) -> Any:
        return np.asarray([self.info.metadata[name]])

    def subset(self, index: np.ndarray) -> _MetadataFrame:
        return self

    def sample_info(self) -> SampleInfo:
        return self.info


def _describe(node: PlanNode) -> str:
    if isinstance(node, Define):
        verb = "Redefine" if node.redefine else "Define"
        return f"{verb} {node.name} = {node.computation.text}   [{node.computation.type}]"
    if isinstance(node, Filter):
        label = f" {node.name!r}" if node.name else ""
        return f"Filter{label}: {node.computation.text}"
    if isinstance(node, Alias):
        return f"Alias {node.alias} -> {node.target}"
    if isinstance(node, Range):
        return f"Range({node.begin}, {node.end}, {node.stride})"
    return type(node).__name__


def _as_numpy(names: Sequence[str], pieces: Pieces) -> dict[str, np.ndarray]:
    parts = Pieces.values(pieces)
    out: dict[str, np.ndarray] = {}
    for name in names:
        values = concatenate([p[name] for p in parts]) if parts else np.array([])
        if isinstance(values, ak.Array):
            arr = np.empty(len(values), dtype=object)
            for i, item in enumerate(ak.to_list(values)):
                arr[i] = np.asarray(item)
            out[name] = arr
        else:
            out[name] = np.asarray(values)
    return out


def _display(names: Sequence[str], pieces: Pieces, nrows: int) -> dict[str, list[Any]]:
    parts = Pieces.values(head(pieces, nrows))
    if not parts:
        return {n: [] for n in names}
    joined = {n: concatenate([p[n] for p in parts]) for n in names}
    return to_lists(joined, nrows)


def _cutflow(filters: Sequence[Filter], merged: Any, kernel_filters: Sequence[Filter],
             ) -> CutflowReport:
    counts = {id(f): c for f, c in zip(kernel_filters, merged.cutflow, strict=True)}
    return CutflowReport(tuple(Cut(f.name, counts[id(f)][0], counts[id(f)][1])
                               for f in filters))


def RunGraphs(handles: Sequence[RResultPtr[Any]]) -> int:
    """Compute results of several dataframes together; returns how many graphs ran."""
    managers: list[LoopManager] = []
    for handle in handles:
        lm = handle._manager
        if all(lm is not m for m in managers) and lm.pending:
            managers.append(lm)
    run_graphs(managers)
    return len(managers)


def FromSpec(spec: str | os.PathLike[str], **kwargs: Any) -> RDataFrame:
    """RDataFrame over a dataset spec file (hepflow YAML/JSON, coffea fileset, RDatasetSpec)."""
    return RDataFrame(Dataset.load(spec), **kwargs)


__all__ = ["FromSpec", "RDataFrame", "RunGraphs"]
