"""RDataFrame's actions: each books one lazy result on the dataframe's graph."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from hepflow.engine.collection import to_dask_awkward
from hepflow.engine.partitions import Partitions, partitions
from hepflow.errors import PlanError
from hepflow.frame.base import FrameBase
from hepflow.io.snapshot import SnapshotFormat, SnapshotTarget, check_target
from hepflow.plan import actions as act
from hepflow.plan.handles import RResultPtr
from hepflow.plan.nodes import (
    Filter,
    Source,
)
from hepflow.results.cutflow import CutflowReport
from hepflow.results.graphs import GraphAsymmErrorsResult, GraphResult
from hepflow.results.statistic import Statistic


class Actions(FrameBase):
    """Count, histograms, statistics, Snapshot and the other actions (see `hepflow.RDataFrame`)."""

    _NO_IDENTITY: ClassVar[object] = object()  # Aggregate called without aggIdentity

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

    def Sum(self, column: str) -> RResultPtr[float]:
        """The sum of a column's values (all elements of a collection), a double as ROOT's.

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

    def Min(self, column: str) -> RResultPtr[float]:
        """The smallest value, a double as ROOT's (`numeric_limits<double>::max()` if none)."""
        return self._stat("Min", column)

    def Max(self, column: str) -> RResultPtr[float]:
        """The largest value, a double as ROOT's (`numeric_limits<double>::lowest()` if none)."""
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

        The model may end with ROOT's `ylow, yup`: y values outside [ylow, yup]
        are not filled, as in TProfile.

        Examples
        --------
        >>> df.Profile1D(("p", "", 20, 0, 100), "Muon_pt", "Muon_eta")    # doctest: +SKIP
        """
        parsed = act.parse_model(model, 1, profile=True)
        for c in (x, y) + ((weight,) if weight else ()):
            self._numeric(c, "Profile1D")
        return self._book(act.Histo(self._node, parsed, (x, y), weight, kind="profile"))

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
            `(n, edges)`), optionally followed by ROOT's `zlow, zup`: z values
            outside [zlow, zup] are not filled.
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
        parsed = act.parse_model(model, 2, profile=True)
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

    def AsAwkward(self, columns: Sequence[str], *, nanoaod: bool = False) -> Any:
        """A lazy `dask_awkward.Array` of the chosen columns after this node's selections.

        With `nanoaod=True` each partition is coffea NanoEvents built from the
        columns (NanoAOD branches: `nMuon`, `Muon_pt`, ...), carrying coffea's
        behaviours, so a coffea processor can continue from the selection.

        Examples
        --------
        >>> df.Filter("nMuon == 2").AsAwkward(["Muon_pt"]).compute()      # doctest: +SKIP
        """
        return to_dask_awkward(self._runner, self._node, self._checked(columns),
                               nanoaod=nanoaod)

    def _partitions(self, columns: Sequence[str]) -> Partitions:
        """The chosen columns as one awkward array per chunk (plain Dask; ML preparation)."""
        return partitions(self._runner, self._node, self._checked(columns))

    def _checked(self, columns: Sequence[str]) -> tuple[str, ...]:
        names = tuple(columns)
        for c in names:
            self._check_column(c)
        return names

    def Display(self, columns: Sequence[str] | str = (), nRows: int = 5,
                nMaxCollectionElements: int = 10) -> RResultPtr[Any]:
        """The first `nRows` rows of some columns; `Print()`/`AsString()` give ROOT's text.

        `columns` is a list of names, or as in ROOT one regular expression
        (the whole name must match; "" is every column) whose columns are
        shown in alphabetical order, as ROOT lists them.
        `nMaxCollectionElements` only widens a column holding a longer
        collection (room for ROOT's `...`): ROOT 6.40 prints every element.

        Examples
        --------
        >>> df.Display(["nMuon", "Muon_pt"]).Print()                      # doctest: +SKIP
        >>> df.Display("Muon_.*", 3).Print()                              # doctest: +SKIP
        """
        if isinstance(columns, str) or not columns:
            pattern = re.compile((columns or ".*") if isinstance(columns, str) else ".*")
            names = tuple(sorted(c for c in self.GetColumnNames() if pattern.fullmatch(c)))
            if not names:
                raise PlanError(f"Display: the regular expression {columns!r} matches no "
                                "column")
        else:
            names = tuple(columns)
        return self._book(act.Display(self._node, names, nRows, nMaxCollectionElements))

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
        schema = self._node.schema()
        text = [n for n in names if n in schema and schema[n].category == "string"]
        if text:
            # uproot writes no std::string branch; refused here rather than on every chunk.
            raise PlanError(f"Snapshot: column(s) {', '.join(text)} hold text (std::string), "
                            "which hepflow cannot write to a ROOT file yet; leave them out")
        counter_types = tuple((n, t.numpy.str) for n, t in self._graph.source.branches.items()
                              if n.startswith("n") and t.kind == "scalar"
                              and t.category == "int")
        target = SnapshotTarget(treename, os.fspath(filename), names, compression, format,
                                tuple(n for n, _ in counter_types), counter_types)
        check_target(target, create_dirs=create_dirs)
        client = self._runner.client
        options = self._runner.options

        # the concrete dataframe class (RDataFrame), without naming the layer above
        frame: Callable[..., Actions] = type(self)

        def reopen(path: str) -> Actions:
            return frame(treename, path, client=client, options=options)

        handle = self._book(act.Snapshot(self._node, target, reopen))
        return handle if lazy else handle.GetValue()


__all__ = ["Actions"]
