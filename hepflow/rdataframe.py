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
from typing import Any, ClassVar, TypeVar

import awkward as ak
import dask.base
import numpy as np

from hepflow.dataset.chunks import Chunk
from hepflow.dataset.files import expand_files
from hepflow.dataset.prepare import PreparedDataset, preprocess
from hepflow.dataset.sampleinfo import SampleInfo
from hepflow.dataset.spec import Dataset
from hepflow.engine import client as clients
from hepflow.engine.runner import Runner, run_graphs
from hepflow.errors import ExpressionError, PlanError, did_you_mean
from hepflow.io.snapshot import SnapshotFormat, SnapshotTarget, check_target
from hepflow.options import Options
from hepflow.plan import actions as act
from hepflow.plan.expr import compile_expression
from hepflow.plan.graph import AnalysisGraph
from hepflow.plan.handles import RResultMap, RResultPtr
from hepflow.plan.nodes import (
    Alias,
    Computation,
    DefaultValueFor,
    Define,
    EmptySource,
    Filter,
    FilterAvailable,
    PerSampleValue,
    PlanNode,
    PyFunction,
    Range,
    Source,
)
from hepflow.plan.nodes import Vary as VaryNode
from hepflow.plan.types import UNKNOWN, ColumnType, dtype_kind
from hepflow.plan.variations import PickVariation, split_braces
from hepflow.results.cutflow import CutflowReport
from hepflow.results.graphs import GraphAsymmErrorsResult, GraphResult
from hepflow.results.statistic import Statistic

T = TypeVar("T")

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
        return ColumnType("scalar", dtype_kind(out.dtype))
    if isinstance(out, ak.Array):
        leaf = ak.to_numpy(ak.flatten(out, axis=None)).dtype
        return ColumnType("jagged" if out.ndim > 1 else "scalar", dtype_kind(leaf))
    return UNKNOWN


class RDataFrame:
    """A lazy analysis of ROOT files on Dask, with ROOT's RDataFrame names and semantics.

    Every transformation returns a new `RDataFrame` around a new plan node and
    every action returns a lazy `RResultPtr`; nothing reads data until a result
    is asked for, and then every result booked on the graph is computed in one
    pass over the files.

    Parameters
    ----------
    treename : str, Dataset, PreparedDataset, mapping or int
        The tree name (with `files`), or a whole dataset: a `Dataset`, a dict in
        one of the dataset layouts, or the path of a dataset spec file. An
        integer N gives ROOT's empty source: N entries, no file, only
        `rdfentry_` to Define from (chunked by `chunk_entries`).
    files : str, path or list, optional
        A path, a glob, a list of them, or `root://`/`https://` URLs.
    client : distributed.Client or "sync", optional
        Where it runs: the given client, else the one running in the session,
        else a new LocalCluster with process workers; "sync" runs in this process.
    options : Options, optional
        Chunking, reduction fan-in, read policy and retries (defaults from dask.config).

    Examples
    --------
    >>> df = RDataFrame("Events", "data/*.root")                     # doctest: +SKIP
    >>> n = df.Filter("nMuon == 2", "two muons").Count()              # doctest: +SKIP
    >>> n.GetValue()                                                  # doctest: +SKIP
    """

    def __init__(self, treename: int | str | Dataset | PreparedDataset | Mapping[str, Any],
                 files: Any = None, *, client: Any = None, options: Options | None = None,
                 chunk_entries: int | None = None, chunk_bytes: int | None = None,
                 read_policy: str | None = None) -> None:
        opts = (options or Options()).updated(chunk_entries=chunk_entries,
                                              chunk_bytes=chunk_bytes,
                                              read_policy=read_policy).resolved()
        scheduler = None if client == "sync" else clients.resolve(client)
        if isinstance(treename, int) and not isinstance(treename, bool):
            self._empty_source(treename, opts, client if client == "sync" else scheduler)
            return
        prepared = treename if isinstance(treename, PreparedDataset) else preprocess(
            _dataset(treename, files), scheduler, chunk_entries=opts.chunk_entries,
            chunk_bytes=opts.chunk_bytes, use_cache=opts.use_cache)
        infos = prepared.files
        tree = infos[0].tree if infos else str(treename)
        source = Source(tree, infos, prepared.branches)
        samples = {s.name: SampleInfo(s.name, i, dict(s.metadata))
                   for i, s in enumerate(prepared.dataset)}
        self._graph = AnalysisGraph(source, samples)
        self._runner = Runner(self._graph, prepared.chunks, opts,
                              client if client == "sync" else scheduler, prepared)
        self._node: PlanNode = source

    @classmethod
    def _at(cls, parent: RDataFrame, node: PlanNode) -> RDataFrame:
        """A dataframe at `node` sharing `parent`'s graph and runner."""
        df = cls.__new__(cls)
        df._graph, df._runner, df._node = parent._graph, parent._runner, node
        return df

    # -- building -----------------------------------------------------------------------

    def _derive(self, node: PlanNode) -> RDataFrame:
        return RDataFrame._at(self, node)

    def _compile(self, expression: str) -> Any:
        metadata = {s: i.metadata for s, i in self._graph.samples.items()} or None
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

    def Define(self, name: str, expression: str | Callable[..., Any],
               columns: Sequence[str] | None = None) -> RDataFrame:
        """A new column, computed per event.

        Parameters
        ----------
        name : str
            The new column's name (must not exist yet; see `Redefine`).
        expression : str or callable
            An expression string with RDataFrame's per-event semantics, or a
            Python callable on awkward arrays (the escape hatch).
        columns : sequence of str, optional
            With a callable only: the columns passed to it, in order.

        Returns
        -------
        RDataFrame
            The dataframe with the column added.

        Examples
        --------
        >>> df.Define("pt0", "nMuon > 0 ? Muon_pt[0] : -1.f")            # doctest: +SKIP
        >>> df.Define("ht", lambda pt: ak.sum(pt, axis=1), ["Jet_pt"])   # doctest: +SKIP
        """
        self._new_name(name, "Define")
        return self._derive(Define(self._node, name, self._computation(expression, columns)))

    def Redefine(self, name: str, expression: str | Callable[..., Any],
                 columns: Sequence[str] | None = None) -> RDataFrame:
        """Replace an existing column (a branch or a Define) from here on.

        Parameters and returns are those of `Define`; the column must exist.

        Examples
        --------
        >>> df.Redefine("Muon_pt", "Muon_pt * 1.01")                      # doctest: +SKIP
        """
        self._check_column(name)
        return self._derive(Define(self._node, name, self._computation(expression, columns),
                                   redefine=True))

    def DefinePerSample(self, name: str, expression: str | Callable[[SampleInfo], Any],
                        ) -> RDataFrame:
        """A column whose value is fixed per sample, e.g. `xsec * lumi / sumw`.

        Parameters
        ----------
        name : str
            The new column's name.
        expression : str or callable
            A string over the metadata keys every sample has (and `rdfsampleinfo_`),
            or a callable receiving a `SampleInfo` (name, index, metadata). Values
            are computed once per sample, here, on the client.

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df.DefinePerSample("norm", "xsec * lumi / sumw")              # doctest: +SKIP
        """
        self._new_name(name, "DefinePerSample")
        samples = self._graph.samples or {"": SampleInfo("", 0, {})}
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

        Parameters
        ----------
        name : str
            The score column's name.
        bundle : model bundle or str
            A bundle from `hepflow.ml` (loaded once per worker), or the URL of a
            model served by `hepflow serve` (token from `$HEPFLOW_SERVE_TOKEN`).
        output : int, optional
            Which output of a multi-output model.

        Returns
        -------
        RDataFrame
        """
        if isinstance(bundle, str) and bundle.startswith(("http://", "https://")):
            from hepflow.serve.client import RemoteModel

            remote = RemoteModel(bundle)
            return self.Define(name, remote, list(remote.columns))
        from hepflow.ml.predict import Predict

        result: RDataFrame = Predict(self, bundle, name, output=output)
        return result

    def Alias(self, alias: str, column: str) -> RDataFrame:
        """A second name for an existing column.

        Examples
        --------
        >>> df.Alias("pt", "Muon_pt")                                     # doctest: +SKIP
        """
        self._new_name(alias, "Alias")
        self._check_column(column)
        return self._derive(Alias(self._node, alias, column))

    def Filter(self, expression: str | Callable[..., Any], name: str = "",
               columns: Sequence[str] | None = None) -> RDataFrame:
        """Keep the events passing a condition.

        Parameters
        ----------
        expression : str or callable
            One boolean (or number, non-zero is true) per event.
        name : str, optional
            A named filter appears in `Report()`.
        columns : sequence of str, optional
            With a callable: its input columns (may also be passed as `name`).

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df.Filter("nMuon == 2", "two muons")                          # doctest: +SKIP
        """
        if callable(expression) and isinstance(name, (list, tuple)):
            name, columns = "", name
        comp = self._computation(expression, columns)
        if comp.type.kind in ("jagged", "combos"):
            text = expression if isinstance(expression, str) else comp.text
            raise ExpressionError(
                f"a filter needs one value per event, but this gives {comp.type}; "
                "reduce the collection first, e.g. Any(...), All(...) or Sum(...) > 0",
                text, 0, len(text))
        node = Filter(self._node, comp, str(name))
        if name:
            self._graph.register_filter(node)
        return self._derive(node)

    def Range(self, begin: int, end: int | None = None, stride: int = 1) -> RDataFrame:
        """Range(end) or Range(begin, end, stride) of the entries reaching this node.

        Exact in distributed mode, also after filters (a counting pass finds
        each chunk's first entry number). `end=0` means no end, as in ROOT.

        Examples
        --------
        >>> df.Filter("nMuon > 0").Range(100).Count()                     # doctest: +SKIP
        """
        if end is None:
            begin, end = 0, begin
        if begin < 0 or end < 0 or stride < 1 or (end and end < begin):
            raise PlanError(f"Range({begin}, {end}, {stride}): need 0 <= begin <= end "
                            "(end 0 = no end) and stride >= 1")
        return self._derive(Range(self._node, int(begin), int(end), int(stride)))

    def Vary(self, colName: str | Sequence[str],
             expression: str | Sequence[str] | Callable[..., Any],
             variationTags: Sequence[str] | int, variationName: str = "", *,
             columns: Sequence[str] | None = None) -> RDataFrame:
        """Systematic variations of one or more columns, as ROOT's `Vary`.

        The nominal values pass unchanged; `VariationsFor(result)` then gives the
        result under each tag, all computed in the same pass, re-evaluating only
        what a variation changes.

        Parameters
        ----------
        colName : str or sequence of str
            The column(s) varied together.
        expression : str, sequence of str or callable
            ROOT's form, one item per tag: `"ROOT::RVecD{x * 0.9, x * 1.1}"`, and
            for several columns one brace list per column:
            `"RVec<RVecF>{{pt * 0.9, pt * 1.1}, {eta, eta}}"`. Or a Python list of
            expression strings (per tag; per column then per tag for several
            columns), or a callable (with `columns=`) returning the values per tag
            (per column then per tag for several columns).
        variationTags : sequence of str or int
            Tag names (`["down", "up"]`), or a number n for tags "0" ... "n-1".
        variationName : str
            The variation's name in result keys (`"jes:up"`); defaults to the
            column's name for a single column, and is required for several.
        columns : sequence of str, optional
            With a callable: its input columns.

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df = df.Vary("Jet_pt", "ROOT::RVecF{Jet_pt * 0.98f, Jet_pt * 1.02f}",
        ...              ["down", "up"], "jes")                           # doctest: +SKIP
        >>> h = df.Histo1D(("ht", "", 50, 0, 1000), "HT")                 # doctest: +SKIP
        >>> VariationsFor(h)["jes:up"]                                    # doctest: +SKIP
        """
        cols = (colName,) if isinstance(colName, str) else tuple(colName)
        if not cols:
            raise PlanError("Vary needs at least one column")
        types = [self._check_column(c) for c in cols]
        if isinstance(variationTags, int) and not isinstance(variationTags, bool):
            if variationTags < 1:
                raise PlanError("Vary needs at least one variation")
            tags = tuple(str(i) for i in range(variationTags))
        elif isinstance(variationTags, Sequence):
            tags = tuple(str(t) for t in variationTags)
        else:
            raise PlanError("Vary: variationTags is a list of tag names or a number")
        if not tags or len(set(tags)) != len(tags):
            raise PlanError(f"Vary: variation tags must be distinct and not empty, got {tags}")
        name = variationName or (cols[0] if len(cols) == 1 else "")
        if not name:
            raise PlanError("Vary of several columns needs a variationName")
        for node in self._node.lineage():
            if isinstance(node, VaryNode) and node.name == name:
                raise PlanError(f"Vary: a variation named {name!r} already exists")
        values = tuple(tuple(self._varied(expression, cols, c, t, len(tags), columns,
                                          types[c])
                             for t in range(len(tags))) for c in range(len(cols)))
        for col, ctype, comps in zip(cols, types, values, strict=True):
            for tag, comp in zip(tags, comps, strict=True):
                if comp.type.kind not in (ctype.kind, "unknown"):
                    raise PlanError(f"Vary {name!r}: tag {tag!r} gives {comp.type} for "
                                    f"`{col}`, which is {ctype}")
        return self._derive(VaryNode(self._node, cols, values, tags, name))

    def _varied(self, expression: str | Sequence[str] | Callable[..., Any],
                cols: tuple[str, ...], c: int, t: int, ntags: int,
                columns: Sequence[str] | None, nominal: ColumnType) -> Computation:
        """The computation of column `cols[c]` under tag number `t`."""
        if callable(expression):
            if columns is None:
                raise PlanError("Vary with a callable needs columns=[...] (its inputs)")
            inputs = tuple(columns)
            for col in inputs:
                self._check_column(col)
            return PyFunction(PickVariation(expression, c, t, len(cols) > 1), inputs, nominal)
        if isinstance(expression, str):
            items: list[Any] = split_braces(expression)
            if len(cols) > 1:
                items = [split_braces(item) for item in items]
        elif isinstance(expression, Sequence):
            items = list(expression)
        else:
            raise PlanError("Vary takes an expression string, a list of them, or a callable")
        per_column = items[c] if len(cols) > 1 else items
        if len(cols) > 1 and len(items) != len(cols):
            raise PlanError(f"Vary of {len(cols)} columns needs one list of values per "
                            f"column, got {len(items)}")
        if isinstance(per_column, str) or not isinstance(per_column, Sequence):
            raise PlanError(f"Vary: the values of `{cols[c]}` must be one item per tag")
        if t >= len(per_column) or (t == 0 and len(per_column) != ntags):
            raise PlanError(f"Vary: `{cols[c]}` has {len(per_column)} varied values for "
                            f"{ntags} tags")
        item = per_column[t]
        if not isinstance(item, str):
            raise PlanError(f"Vary: each varied value is an expression string, got {item!r}")
        compiled: Computation = self._compile(item)
        return compiled

    def GetColumnNames(self) -> list[str]:
        """Every column visible here (branches and Defines), without `rdf..._` columns."""
        return [n for n in self._node.schema() if not n.endswith("_") or
                not n.startswith("rdf")]

    def GetColumnType(self, name: str) -> str:
        """The C++-style type name of a column, e.g. `RVec<float>`."""
        return str(self._check_column(name))

    def GetDefinedColumnNames(self) -> list[str]:
        """Columns added by Define (not Redefine) up to here."""
        return [n.name for n in self._node.lineage() if isinstance(n, Define) and not n.redefine]

    def GetFilterNames(self) -> list[str]:
        """Names of the named filters up to here."""
        return [n.name for n in self._node.lineage() if isinstance(n, Filter) and n.name]

    # -- actions ------------------------------------------------------------------------

    def _book(self, action: act.Action[Any, Any]) -> RResultPtr[Any]:
        for name in action.columns():
            self._check_column(name)
        return self._graph.book(action)

    def _numeric(self, name: str, what: str) -> None:
        ctype = self._check_column(name)
        if ctype.kind == "combos" or ctype.category in ("other", "vector"):
            raise PlanError(f"{what}: column `{name}` ({ctype}) holds no numbers")

    def Count(self) -> RResultPtr[int]:
        """The number of events reaching this node (lazy).

        Examples
        --------
        >>> df.Filter("nMuon == 2").Count().GetValue()                    # doctest: +SKIP
        """
        return self._book(act.Count(self._node))

    def _stat(self, what: act.StatKind, column: str) -> RResultPtr[Any]:
        self._numeric(column, what)
        return self._book(act.Stat(self._node, what, column))

    def Sum(self, column: str) -> RResultPtr[Any]:
        """The sum of a column's values (all elements of a collection); integers stay exact.

        Examples
        --------
        >>> df.Sum("nMuon").GetValue()                                    # doctest: +SKIP
        """
        return self._stat("Sum", column)

    def Mean(self, column: str) -> RResultPtr[float]:
        """The mean of a column's values (all elements of a collection); 0 without entries."""
        return self._stat("Mean", column)

    def StdDev(self, column: str) -> RResultPtr[float]:
        """The sample standard deviation (N-1), as ROOT's StdDev; 0 below two entries."""
        return self._stat("StdDev", column)

    def Min(self, column: str) -> RResultPtr[Any]:
        """The smallest value (+inf without entries, as ROOT)."""
        return self._stat("Min", column)

    def Max(self, column: str) -> RResultPtr[Any]:
        """The largest value (-inf without entries, as ROOT)."""
        return self._stat("Max", column)

    def Stats(self, column: str, weight: str | None = None) -> RResultPtr[Statistic]:
        """ROOT's `TStatistic` of a column: mean, RMS, entries, sum of weights.

        Parameters
        ----------
        column : str
            Values (all elements of a collection).
        weight : str, optional
            A per-event (broadcast to elements) or per-element weight column.

        Returns
        -------
        RResultPtr[Statistic]
            With ROOT's accessors `GetMean()`, `GetMeanErr()`, `GetRMS()`, `GetN()`,
            `GetW()`, `GetW2()`.

        Examples
        --------
        >>> df.Stats("Muon_pt", "genWeight").GetValue().GetMean()         # doctest: +SKIP
        """
        self._numeric(column, "Stats")
        if weight:
            self._numeric(weight, "Stats weight")
        return self._book(act.Stats(self._node, column, weight))

    def Histo1D(self, model: Any, column: str | None = None,
                weight: str | None = None) -> RResultPtr[Any]:
        """A 1D histogram (`hist.Hist`) of a column, optionally weighted.

        Parameters
        ----------
        model : tuple, HistModel or str
            `(name, title, nbins, lo, hi)` or `(name, title, nbins, edges)`; or a
            column name alone (then `column` is the optional weight): ROOT's
            automatic binning, 128 bins from the data's range, as ROOT computes it.
        column : str
            The values (every element of a collection).
        weight : str, optional
            A weight column.

        Returns
        -------
        RResultPtr[hist.Hist]
            Flow bins kept as in ROOT; float64 filling.

        Examples
        --------
        >>> df.Histo1D(("pt", "p_{T};GeV", 50, 0, 100), "Muon_pt")        # doctest: +SKIP
        """
        if isinstance(model, str):
            if weight is not None:
                raise PlanError("Histo1D(column, weight) takes at most two column names")
            return self._auto_histo1d(model, column)
        if column is None:
            raise PlanError("Histo1D(model, column): a model tuple needs the column to fill")
        parsed = act.parse_model(model, 1)
        self._numeric(column, "Histo1D")
        if weight:
            self._numeric(weight, "Histo1D weight")
        return self._book(act.Histo(self._node, parsed, (column,), weight))

    def Histo2D(self, model: Any, x: str, y: str, weight: str | None = None) -> RResultPtr[Any]:
        """A 2D histogram; the model appends the y axis to Histo1D's.

        Examples
        --------
        >>> df.Histo2D(("h", "", 10, 0, 100, 10, -3, 3), "Muon_pt", "Muon_eta")  # doctest: +SKIP
        """
        parsed = act.parse_model(model, 2)
        for c in (x, y) + ((weight,) if weight else ()):
            self._numeric(c, "Histo2D")
        return self._book(act.Histo(self._node, parsed, (x, y), weight))

    def Profile1D(self, model: Any, x: str, y: str, weight: str | None = None,
                  ) -> RResultPtr[Any]:
        """A profile (mean of y in bins of x) as a `hist.Hist` with Mean storage.

        Examples
        --------
        >>> df.Profile1D(("p", "", 20, 0, 100), "Muon_pt", "Muon_eta")    # doctest: +SKIP
        """
        parsed = act.parse_model(model, 1)
        for c in (x, y) + ((weight,) if weight else ()):
            self._numeric(c, "Profile1D")
        return self._book(act.Histo(self._node, parsed, (x, y), weight, kind="profile"))

    # -- more histograms, graphs, user actions, missing branches (see plan/actions) -------

    _NO_IDENTITY: ClassVar[object] = object()  # Aggregate called without aggIdentity

    def Histo3D(self, model: Any, x: str, y: str, z: str, weight: str | None = None,
                ) -> RResultPtr[Any]:
        """A 3D histogram (`hist.Hist`) of three columns, optionally weighted.

        Parameters
        ----------
        model : tuple or HistModel
            Histo1D's model with the y and z axes appended, as ROOT's TH3DModel:
            `(name, title, nx, xlo, xhi, ny, ylo, yhi, nz, zlo, zhi)`, each axis
            also as `(n, edges)`.
        x, y, z : str
            The values of each axis (per event, or collections of equal sizes).
        weight : str, optional
            A weight column (per event, broadcast to collection elements).

        Returns
        -------
        RResultPtr[hist.Hist]
            Double storage, or Weight storage when weighted; flow bins kept.

        Examples
        --------
        >>> df.Histo3D(("h", "", 10, 0, 100, 10, -3, 3, 8, -4, 4),
        ...            "Muon_pt", "Muon_eta", "Muon_phi")                 # doctest: +SKIP
        """
        parsed = act.parse_model(model, 3)
        for c in (x, y, z) + ((weight,) if weight else ()):
            self._numeric(c, "Histo3D")
        return self._book(act.Histo(self._node, parsed, (x, y, z), weight))

    def HistoND(self, model: Any, columns: Sequence[str], weight: str | None = None,
                ) -> RResultPtr[Any]:
        """An N-dimensional histogram (`hist.Hist`), with ROOT's THnDModel model.

        Parameters
        ----------
        model : tuple or HistModel
            `(name, title, ndim, nbins_list, lo_list, hi_list)` or
            `(name, title, ndim, nbins_list, edges_list)`.
        columns : sequence of str
            One column per axis; as in ROOT, one more column is the weight.
        weight : str, optional
            The weight column, if not given as the last of `columns`.

        Returns
        -------
        RResultPtr[hist.Hist]

        Examples
        --------
        >>> df.HistoND(("h", "", 4, [10] * 4, [0, -3, -4, 0], [100, 3, 4, 10]),
        ...            ["Muon_pt", "Muon_eta", "Muon_phi", "nMuon"])      # doctest: +SKIP
        """
        parsed = act.parse_nd_model(model)
        names = tuple(columns)
        ndim = len(parsed.axes)
        if len(names) == ndim + 1 and weight is None:
            names, weight = names[:-1], names[-1]
        if len(names) != ndim:
            raise PlanError(f"HistoND: a {ndim}-dimensional model needs {ndim} columns "
                            f"(or {ndim + 1} with the weight last), got {len(names)}")
        for c in names + ((weight,) if weight else ()):
            self._numeric(c, "HistoND")
        return self._book(act.Histo(self._node, parsed, names, weight))

    def Profile2D(self, model: Any, x: str, y: str, z: str, weight: str | None = None,
                  ) -> RResultPtr[Any]:
        """A 2D profile: the mean of z in bins of (x, y), as a `hist.Hist` with Mean storage.

        Parameters
        ----------
        model : tuple or HistModel
            `(name, title, nx, xlo, xhi, ny, ylo, yhi)` (each axis also as
            `(n, edges)`); ROOT's optional z range and option are not accepted.
        x, y : str
            The binning columns.
        z : str
            The profiled values.
        weight : str, optional
            A weight column: WeightedMean storage.

        Returns
        -------
        RResultPtr[hist.Hist]
            `.values()` are the means, `.counts()` the entries per bin.

        Examples
        --------
        >>> df.Profile2D(("p", "", 10, 0, 100, 10, -3, 3), "Muon_pt", "Muon_eta",
        ...              "Muon_dxy")                                      # doctest: +SKIP
        """
        parsed = act.parse_model(model, 2)
        for c in (x, y, z) + ((weight,) if weight else ()):
            self._numeric(c, "Profile2D")
        return self._book(act.Histo(self._node, parsed, (x, y, z), weight, kind="profile"))

    def _auto_histo1d(self, column: str, weight: str | None = None) -> RResultPtr[Any]:
        """Histo1D(column[, weight]) without a model: ROOT's automatic 128-bin axis.

        The axis is the one ROOT's multi-threaded run gives: 128 bins from the
        smallest value on [min, 2·max - min) (see `plan.actions.autohisto`). Every
        value travels to the client, as ROOT buffers them all: pass a model
        for large inputs.
        """
        self._numeric(column, "Histo1D")
        if weight:
            self._numeric(weight, "Histo1D weight")
        return self._book(act.AutoHisto(self._node, column, weight))

    def Graph(self, x: str, y: str) -> RResultPtr[GraphResult]:
        """The points (x, y) of every event reaching this node, as ROOT's TGraph.

        Parameters
        ----------
        x, y : str
            Per-event values, or collections of equal sizes (one point per element).

        Returns
        -------
        RResultPtr[GraphResult]
            `GetX()`, `GetY()` (float64 numpy arrays in entry order), `GetN()`.

        Examples
        --------
        >>> g = df.Graph("MET_pt", "MET_phi").GetValue()                  # doctest: +SKIP
        >>> g.GetN(), g.GetX()[:3]                                        # doctest: +SKIP
        """
        for c in (x, y):
            self._numeric(c, "Graph")
        return self._book(act.Graph(self._node, (x, y)))

    def GraphAsymmErrors(self, x: str, y: str, exl: str, exh: str, eyl: str, eyh: str,
                         ) -> RResultPtr[GraphAsymmErrorsResult]:
        """Points with asymmetric errors, as ROOT's TGraphAsymmErrors.

        Parameters
        ----------
        x, y : str
            The points' coordinates.
        exl, exh, eyl, eyh : str
            Low and high errors in x and in y (all six per event, or all
            collections of equal sizes).

        Returns
        -------
        RResultPtr[GraphAsymmErrorsResult]
            `GetX()`, `GetY()`, `GetEXlow()`, `GetEXhigh()`, `GetEYlow()`,
            `GetEYhigh()`, `GetN()`; points in entry order.

        Examples
        --------
        >>> df.GraphAsymmErrors("x", "y", "exl", "exh", "eyl", "eyh")     # doctest: +SKIP
        """
        names = (x, y, exl, exh, eyl, eyh)
        for c in names:
            self._numeric(c, "GraphAsymmErrors")
        return self._book(act.Graph(self._node, names))

    def Aggregate(self, aggregator: Callable[[Any, Any], Any], merger: Callable[[Any, Any], Any],
                  column: str, aggIdentity: Any = _NO_IDENTITY, *,
                  vectorized: bool = False) -> RResultPtr[Any]:
        """Fold a column with your own Python functions, as ROOT's `Aggregate`.

        Each chunk (ROOT: each thread) starts from a copy of `aggIdentity` and
        calls `acc = aggregator(acc, value)` once per entry, in entry order; the
        chunks' accumulators are then combined with `acc = merger(a, b)` in
        chunk order, however the reduction is shaped. Both functions run on the
        workers and must be picklable (a lambda or a module-level function).
        Either may update its first argument in place and return None (ROOT's
        `void(U&, T)` form). `aggIdentity` is counted once per chunk, so it
        must be neutral for `merger` (0 for a sum, [] for a concatenation).

        Parameters
        ----------
        aggregator : callable
            `(acc, value) -> acc`. A value is a Python number for a per-event
            column and a numpy array (the event's elements) for a collection.
        merger : callable
            `(acc, acc) -> acc`; should be associative (ROOT merges threads in
            no fixed order; here the order is fixed, so it need not commute).
        column : str
            The column aggregated.
        aggIdentity : object
            The starting accumulator (ROOT default-constructs it from its C++
            type; Python has no such type, so it is required).
        vectorized : bool
            Call `aggregator(acc, values)` once per chunk with the chunk's whole
            column (numpy, or awkward for collections) instead of once per entry.

        Returns
        -------
        RResultPtr
            The merged accumulator: one chunk's fold merged with the next, in
            order (a chunk no event reaches contributes `aggIdentity`).

        Examples
        --------
        >>> df.Aggregate(lambda acc, x: acc + x, lambda a, b: a + b, "nMuon", 0)
        ...                                                               # doctest: +SKIP
        >>> df.Aggregate(lambda acc, v: acc + [v.max(initial=0)], lambda a, b: a + b,
        ...              "Muon_pt", [])                                   # doctest: +SKIP
        >>> df.Aggregate(lambda acc, x: acc + np.sum(x), lambda a, b: a + b, "MET_pt",
        ...              0.0, vectorized=True)                            # doctest: +SKIP
        """
        if aggIdentity is self._NO_IDENTITY:
            raise PlanError("Aggregate needs aggIdentity, the accumulator each chunk starts "
                            "from (e.g. 0 for a sum, [] for a list): ROOT default-constructs "
                            "it from the C++ type, which Python does not know")
        if not callable(aggregator) or not callable(merger):
            raise PlanError("Aggregate takes two callables: aggregator(acc, value) and "
                            "merger(acc, acc)")
        return self._book(act.Aggregate(self._node, aggregator, merger, column, aggIdentity,
                                        vectorized))

    def Reduce(self, f: Callable[[Any, Any], Any], column: str, redIdentity: Any = 0,
               ) -> RResultPtr[Any]:
        """Reduce a column with one binary function, as ROOT's `Reduce`.

        `acc = f(acc, value)` per entry from `redIdentity` in each chunk, then
        `f(a, b)` merges the chunks' results in chunk order: `f` must be
        associative and `redIdentity` neutral for it (it is used once per chunk).

        Parameters
        ----------
        f : callable
            `(T, T) -> T`, e.g. `max` or `lambda a, b: a + b`; runs on the workers.
        column : str
            A per-event column (values are Python numbers).
        redIdentity : object
            The starting value; 0 by default, as ROOT's default-constructed number.

        Returns
        -------
        RResultPtr

        Examples
        --------
        >>> df.Reduce(max, "nJet", 0).GetValue()                          # doctest: +SKIP
        """
        if not callable(f):
            raise PlanError("Reduce takes a callable f(a, b)")
        return self._book(act.Aggregate(self._node, f, f, column, redIdentity, what="Reduce"))

    def Foreach(self, f: Callable[..., Any], columns: Sequence[str] = ()) -> None:
        """Call `f(*values)` for every entry reaching this node, on the workers; runs now.

        As ROOT's Foreach this is an instant action: it runs the event loop
        (with every other booked result) and returns None. `f` runs in the
        worker processes, chunk by chunk in entry order within a chunk: what it
        prints goes to the workers' logs and what it changes are the workers'
        copies of Python objects, never the client's. Use it for side effects
        where the workers are (e.g. one output file per chunk); results for
        the client come from the other actions (Aggregate, Take, ...). A chunk
        retried after a lost worker calls `f` again for its entries, so side
        effects should be idempotent per chunk.

        Parameters
        ----------
        f : callable
            Called with one value per column (Python numbers, numpy arrays for
            collections); its return value is ignored. Must be picklable.
        columns : sequence of str
            The columns passed to `f`, in order.

        Returns
        -------
        None

        Examples
        --------
        >>> df.Foreach(lambda pt, eta: None, ["MET_pt", "MET_phi"])       # doctest: +SKIP
        """
        self._book(act.Foreach(self._node, f, tuple(columns))).GetValue()

    def ForeachSlot(self, f: Callable[..., Any], columns: Sequence[str] = ()) -> None:
        """Foreach, with the slot number first: `f(slot, *values)`, on the workers; runs now.

        `slot` is a small integer unique to the worker thread running the
        chunk (0 … threads-1 within one worker process), so per-thread state
        kept by `f` in its process is never touched by two chunks at once.
        Slots of different worker processes overlap.

        Parameters
        ----------
        f : callable
            `(slot, *values)`; its return value is ignored.
        columns : sequence of str
            The columns passed after the slot.

        Returns
        -------
        None

        Examples
        --------
        >>> df.ForeachSlot(lambda slot, x: None, ["MET_pt"])              # doctest: +SKIP
        """
        self._book(act.Foreach(self._node, f, tuple(columns), slot=True)).GetValue()

    def _missing_ranges(self, column: str, verb: str) -> tuple[tuple[int, int], ...]:
        """The `rdfentry_` ranges of the files lacking branch `column`."""
        ctype = self._check_column(column)
        found = self._node.lookup(column)
        if found is None or not isinstance(found[1], Source) or \
                found[1].branch_of(column) is None:
            raise PlanError(f"{verb}: `{column}` ({ctype}) is not a branch of the dataset; "
                            "only branches can be missing from some files")
        ranges, offset = [], 0
        for info in self._graph.source.data:
            entries = int(info.num_entries)
            if column not in info.branches:
                ranges.append((offset, offset + entries))
            offset += entries
        return tuple(ranges)

    def FilterAvailable(self, column: str) -> RDataFrame:
        """Keep the entries of the files that have branch `column`.

        For datasets whose files have different branch sets. The decision is
        per file, from the branch lists read at preprocessing; the branch is
        not read.

        Parameters
        ----------
        column : str
            A branch of the dataset.

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df.FilterAvailable("Jet_btag").Histo1D(model, "Jet_btag")    # doctest: +SKIP
        """
        missing = self._missing_ranges(column, "FilterAvailable")
        return self._derive(FilterAvailable(self._node, column, self._check_column(column),
                                            missing))

    def FilterMissing(self, column: str) -> RDataFrame:
        """Keep the entries of the files that lack branch `column` (FilterAvailable's complement).

        Examples
        --------
        >>> df.FilterMissing("Jet_btag").Count()                          # doctest: +SKIP
        """
        missing = self._missing_ranges(column, "FilterMissing")
        return self._derive(FilterAvailable(self._node, column, self._check_column(column),
                                            missing, keep_missing=True))

    def DefaultValueFor(self, column: str, default: Any) -> RDataFrame:
        """Branch `column`, or `default` for every entry of the files that lack it.

        Parameters
        ----------
        column : str
            A branch of the dataset.
        default : number, bool or sequence
            A number (or bool) for a per-event branch, a list for a collection
            branch (each event then gets that list).

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df.DefaultValueFor("Jet_btag", []).DefaultValueFor("genWeight", 1.0)  # doctest: +SKIP
        """
        missing = self._missing_ranges(column, "DefaultValueFor")
        ctype = self._check_column(column)
        if ctype.is_collection:
            if isinstance(default, (str, bytes)) or not isinstance(default, Sequence):
                raise PlanError(f"DefaultValueFor: `{column}` is a collection ({ctype}); "
                                f"the default must be a list, e.g. [], got {default!r}")
            probe = np.asarray(default)
        else:
            probe = np.asarray(default)
            if probe.ndim != 0:
                raise PlanError(f"DefaultValueFor: `{column}` has one value per event "
                                f"({ctype}); the default must be one number, got {default!r}")
        if probe.size and dtype_kind(probe.dtype) == "other":
            raise PlanError(f"DefaultValueFor: the default of `{column}` must be numeric, "
                            f"got {default!r}")
        return self._derive(DefaultValueFor(self._node, column, default, ctype, missing))

    def _per_sample_value(self, name: str, expression: str | Callable[[SampleInfo], Any],
                          verb: str) -> PerSampleValue:
        """The values of a DefinePerSample/RedefinePerSample expression, one per sample."""
        samples = self._graph.samples or {"": SampleInfo("", 0, {})}
        if isinstance(expression, str):
            values, ctype = _per_sample_values(expression, samples)
            text = expression
        elif callable(expression):
            values = {s: expression(info) for s, info in samples.items()}
            probe = np.asarray(list(values.values()))
            ctype = ColumnType("scalar", dtype_kind(probe.dtype))
            text = getattr(expression, "__qualname__", "callable") + "(sample)"
        else:
            raise PlanError(f"{verb} takes an expression string or a callable")
        if ctype.dtype == "other":
            raise PlanError(f"{verb} `{name}`: values must be numbers or booleans")
        return PerSampleValue(values, ctype, text)

    def RedefinePerSample(self, name: str, expression: str | Callable[[SampleInfo], Any],
                          ) -> RDataFrame:
        """Replace an existing column with a value fixed per sample (see `DefinePerSample`).

        Parameters
        ----------
        name : str
            An existing column (a branch or a Define).
        expression : str or callable
            As for `DefinePerSample`: over the samples' metadata, or a callable
            receiving a `SampleInfo`; computed once per sample, on the client.

        Returns
        -------
        RDataFrame

        Examples
        --------
        >>> df.RedefinePerSample("weight", "xsec * lumi / sumw")         # doctest: +SKIP
        """
        self._check_column(name)
        value = self._per_sample_value(name, expression, "RedefinePerSample")
        return self._derive(Define(self._node, name, value, redefine=True))

    def _empty_source(self, entries: int, options: Options, client: Any) -> None:
        """`RDataFrame(N)`: N entries in chunks of `options.chunk_entries`, no file opened."""
        if entries < 0:
            raise PlanError(f"RDataFrame(N) needs N >= 0 entries, got {entries}")
        size = max(1, int(options.chunk_entries))
        # N = 0 is one chunk of no entries: a run over no chunk has no task to merge into
        chunks = [Chunk(i, 0, "", "", start, min(start + size, entries), start)
                  for i, start in enumerate(range(0, max(entries, 1), size))]
        self._graph = AnalysisGraph(EmptySource("", (), {}, None, entries), {})
        self._runner = Runner(self._graph, chunks, options, client, None)
        self._node = self._graph.source

    def Take(self, column: str) -> RResultPtr[Any]:
        """All values of a column in entry order (numpy, or awkward for collections).

        Examples
        --------
        >>> df.Take("MET_pt").GetValue()                                  # doctest: +SKIP
        """
        return self._book(act.Take(self._node, column))

    def AsNumpy(self, columns: Sequence[str] | None = None, exclude: Sequence[str] = (),
                lazy: bool = False) -> Any:
        """Columns as numpy arrays (collections as object arrays of arrays), in entry order.

        As in RDataFrame this runs at once unless `lazy=True`.

        Examples
        --------
        >>> df.AsNumpy(["MET_pt", "nJet"])["MET_pt"]                      # doctest: +SKIP
        """
        names = tuple(c for c in (columns if columns is not None else self.GetColumnNames())
                      if c not in exclude)
        handle = self._book(act.AsNumpy(self._node, names))
        return handle if lazy else handle.GetValue()

    def AsAwkward(self, columns: Sequence[str]) -> Any:
        """A lazy `dask_awkward.Array` of the chosen columns after this node's selections.

        Examples
        --------
        >>> df.Filter("nMuon == 2").AsAwkward(["Muon_pt"]).compute()      # doctest: +SKIP
        """
        from hepflow.engine.collection import to_dask_awkward

        names = tuple(columns)
        for c in names:
            self._check_column(c)
        return to_dask_awkward(self._runner, self._node, names)

    def Display(self, columns: Sequence[str] | str = (), nRows: int = 5) -> RResultPtr[Any]:
        """The first `nRows` rows of some columns, printed as ROOT prints them.

        Examples
        --------
        >>> df.Display(["nMuon", "Muon_pt"]).GetValue().Print()           # doctest: +SKIP
        """
        names = (columns,) if isinstance(columns, str) else tuple(columns)
        if not names:
            names = tuple(self.GetColumnNames())
        return self._book(act.Display(self._node, names, nRows))

    def Report(self) -> RResultPtr[CutflowReport]:
        """The cutflow of named filters (all of the graph's when called on the source).

        Examples
        --------
        >>> df.Report().GetValue().Print()                                # doctest: +SKIP
        """
        if isinstance(self._node, Source):
            filters = self._graph.named_filters
        else:
            filters = tuple(n for n in self._node.lineage() if isinstance(n, Filter) and n.name)
        return self._book(act.Report(self._node, filters))

    def Snapshot(self, treename: str, filename: str | os.PathLike[str],
                 columns: Sequence[str] | str | None = None, *, lazy: bool = False,
                 compression: str = "ZSTD", format: SnapshotFormat = "root",
                 create_dirs: bool = False) -> Any:
        """Write columns to a ROOT file; returns an RDataFrame over it (eager, as in ROOT).

        Parameters
        ----------
        treename : str
            The tree to write.
        filename : str or path
            The target; written under a temporary name and renamed when complete.
        columns : sequence of str or str, optional
            The columns, or a regular expression matching them (default: all).
        lazy : bool
            Return the lazy handle instead of running now.
        compression : str
            "ZSTD", "LZ4" or "ZLIB".
        format : {"root", "rntuple"}
            A TTree (default) or an RNTuple.
        create_dirs : bool
            Create a missing parent folder (otherwise it is an error).

        The target is checked before any data is read: an existing folder, a
        read-only file or folder, or a missing parent is a `SnapshotError`.

        Examples
        --------
        >>> df.Snapshot("Events", "out.root", ["Muon_pt"])                # doctest: +SKIP
        """
        if isinstance(columns, str):
            pattern = re.compile(columns)
            names = tuple(c for c in self.GetColumnNames() if pattern.fullmatch(c))
        else:
            names = tuple(columns) if columns is not None else tuple(self.GetColumnNames())
        if not names:
            raise PlanError("Snapshot: no columns selected")
        target = SnapshotTarget(treename, os.fspath(filename), names, compression, format)
        check_target(target, create_dirs=create_dirs)
        client = self._runner.client
        options = self._runner.options

        def reopen(path: str) -> RDataFrame:
            return RDataFrame(treename, path, client=client, options=options)

        handle = self._book(act.Snapshot(self._node, target, reopen))
        return handle if lazy else handle.GetValue()

    # -- inspection ---------------------------------------------------------------------

    def explain(self) -> str:
        """The plan as text: source, chunks, each transformation, booked actions, branches.

        Examples
        --------
        >>> print(df.Filter("nMuon == 2").explain())                      # doctest: +SKIP
        """
        from hepflow.engine.columns import needed_branches

        src = self._graph.source
        chunks = self._runner.chunks
        entries = sum(c.num_entries for c in chunks)
        samples = [s for s in self._graph.samples if s]
        lines = [f"{src.describe()}, {entries} entries, {len(chunks)} chunk(s)"
                 + (f", samples: {', '.join(samples)}" if samples else "")]
        for node in self._node.lineage()[1:]:
            lines.append("  " + node.describe())
        pending = [b.action for b in self._graph.pending]
        if pending:
            lines.append("Booked actions (run together):")
            lines.extend(f"  {a.label}" for a in pending)
        view = pending or [act.AsNumpy(self._node, tuple(self.GetDefinedColumnNames()))]
        branches = needed_branches(view)
        lines.append(f"Branches read ({len(branches)} of {len(src.branches)}): "
                     + ", ".join(branches))
        return "\n".join(lines)

    def dask_graph(self) -> dict[Any, Any]:
        """The task graph that would compute every booked result (filtered Ranges uncounted)."""
        return self._runner.lower([b.action for b in self._graph.pending])[1]

    def Describe(self) -> str:
        """Same as `explain()`."""
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
        return dask.base.tokenize(self._node)


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


def RunGraphs(handles: Sequence[RResultPtr[Any]]) -> int:
    """Compute results of several dataframes together, in one computation.

    Parameters
    ----------
    handles : sequence of RResultPtr
        Results booked on one or more dataframes.

    Returns
    -------
    int
        How many dataframe graphs ran.

    Examples
    --------
    >>> RunGraphs([df1.Count(), df2.Histo1D(model, "MET_pt")])        # doctest: +SKIP
    """
    runners: list[Runner] = []
    for handle in handles:
        runner = handle._source
        if not isinstance(runner, Runner):
            raise PlanError("RunGraphs takes result handles booked on RDataFrames")
        if all(runner is not r for r in runners) and runner.graph.pending:
            runners.append(runner)
    run_graphs(runners)
    return len(runners)


def VariationsFor(result: RResultPtr[T]) -> RResultMap[T]:
    """The result under "nominal" and under every variation it depends on (ROOT's name).

    Call it before the result is computed, so all variations fill in the same
    pass (afterwards they run in the next pass, with the nominal value kept).

    Parameters
    ----------
    result : RResultPtr
        A nominal result: a histogram, Count, Sum, Mean, StdDev, Min, Max,
        Stats, profile, Report, Take...

    Returns
    -------
    RResultMap
        Keys "nominal" and `name:tag` for each variation upstream that changes
        the result; `.hist()` stacks histogram variations on a category axis.

    Examples
    --------
    >>> hx = VariationsFor(h)                                            # doctest: +SKIP
    >>> hx["nominal"], hx["jes:up"], hx.hist()                           # doctest: +SKIP
    """
    source = result._source
    if not isinstance(source, Runner):
        raise PlanError("VariationsFor takes a result booked on an RDataFrame")
    varied: RResultMap[T] = source.graph.variations_for(result)
    return varied


def FromSpec(spec: str | os.PathLike[str], **kwargs: Any) -> RDataFrame:
    """RDataFrame over a dataset spec file (hepflow YAML/JSON, coffea fileset, RDatasetSpec)."""
    return RDataFrame(Dataset.load(spec), **kwargs)


__all__ = ["FromSpec", "RDataFrame", "RunGraphs", "VariationsFor"]
