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
from typing import Any, TypeVar

import awkward as ak
import dask.base
import numpy as np

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
    Define,
    Filter,
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
    """A lazy analysis of ROOT files on Dask, with ROOT's RDataFrame names and semantics.

    Every transformation returns a new `RDataFrame` around a new plan node and
    every action returns a lazy `RResultPtr`; nothing reads data until a result
    is asked for, and then every result booked on the graph is computed in one
    pass over the files.

    Parameters
    ----------
    treename : str, Dataset, PreparedDataset or mapping
        The tree name (with `files`), or a whole dataset: a `Dataset`, a dict in
        one of the dataset layouts, or the path of a dataset spec file.
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

    def __init__(self, treename: str | Dataset | PreparedDataset | Mapping[str, Any],
                 files: Any = None, *, client: Any = None, options: Options | None = None,
                 chunk_entries: int | None = None, chunk_bytes: int | None = None,
                 read_policy: str | None = None) -> None:
        opts = (options or Options()).updated(chunk_entries=chunk_entries,
                                              chunk_bytes=chunk_bytes,
                                              read_policy=read_policy).resolved()
        scheduler = None if client == "sync" else clients.resolve(client)
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
        if ctype.kind == "combos" or ctype.dtype == "other":
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
        model : tuple or HistModel
            `(name, title, nbins, lo, hi)` or `(name, title, nbins, edges)`.
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
        if column is None:
            raise PlanError("Histo1D needs a model tuple (name, title, nbins, lo, hi) and a "
                            "column; automatic binning is not supported")
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
