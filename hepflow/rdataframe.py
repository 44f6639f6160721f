"""The user-facing dataframe: RDataFrame's names and semantics over lazy Dask graphs.

Every method returns a new `RDataFrame` around a new plan node (or a lazy
result handle); nothing touches data until a result is asked for. Column
names and expressions are checked here, at build time, against the branch
types preprocessing learned from the files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import dask.base

from hepflow.core.chunk import Chunk
from hepflow.core.sampleinfo import SampleInfo
from hepflow.dataset.prepare import PreparedDataset, preprocess
from hepflow.dataset.spec import Dataset
from hepflow.engine import client as clients
from hepflow.engine.runner import Runner, run_graphs
from hepflow.errors import PlanError
from hepflow.frame.actions import Actions
from hepflow.frame.base import _dataset
from hepflow.frame.transformations import Transformations
from hepflow.options import Options
from hepflow.plan import actions as act
from hepflow.plan.graph import AnalysisGraph
from hepflow.plan.handles import RResultMap, RResultPtr
from hepflow.plan.nodes import (
    EmptySource,
    PlanNode,
    Source,
)

T = TypeVar("T")


class RDataFrame(Transformations, Actions):
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
                 chunk_entries: int | str | None = None, chunk_bytes: int | None = None,
                 read_policy: str | None = None) -> None:
        opts = (options or Options()).updated(chunk_entries=chunk_entries,
                                              chunk_bytes=chunk_bytes,
                                              read_policy=read_policy).resolved()
        scheduler = None if client == "sync" else clients.resolve(client)
        if isinstance(treename, int) and not isinstance(treename, bool):
            self._empty_source(treename, opts, client if client == "sync" else scheduler)
            return
        prepared = treename if isinstance(treename, PreparedDataset) else preprocess(
            _dataset(treename, files), scheduler, chunk_entries=opts.cut_entries,
            chunk_bytes=opts.chunk_bytes, use_cache=opts.use_cache)
        infos = prepared.files
        tree = infos[0].tree if infos else str(treename)
        source = Source(tree, infos, prepared.branches)
        named = any(s.name for s in prepared.dataset)
        samples = {s.name: SampleInfo(s.name, i, dict(s.metadata), named=named)
                   for i, s in enumerate(prepared.dataset)}
        files = {(f.sample, f.url): replace(samples[f.sample], file=f.url, tree=f.tree,
                                            entry_range=(0, int(f.num_entries)))
                 for f in infos if f.sample in samples}
        self._graph = AnalysisGraph(source, samples, files)
        # A dataset preprocessed by the user keeps its chunks, unless this dataframe asks
        # for "auto" itself (the default "auto" of hepflow.yaml does not re-cut it).
        asked_auto = chunk_entries == "auto" or (options is not None
                                                 and options.chunk_entries == "auto")
        self._runner = Runner(self._graph, prepared.chunks, opts,
                              client if client == "sync" else scheduler, prepared,
                              recut_chunks=not isinstance(treename, PreparedDataset)
                              or asked_auto)
        self._node: PlanNode = source

    def _empty_source(self, entries: int, options: Options, client: Any) -> None:
        """`RDataFrame(N)`: N entries in chunks of `options.chunk_entries`, no file opened."""
        if entries < 0:
            raise PlanError(f"RDataFrame(N) needs N >= 0 entries, got {entries}")
        size = max(1, options.cut_entries)
        # N = 0 is one chunk of no entries: a run over no chunk has no task to merge into
        chunks = [Chunk(i, 0, "", "", start, min(start + size, entries), start)
                  for i, start in enumerate(range(0, max(entries, 1), size))]
        # ROOT's RSampleInfo of an empty source (single-threaded: one task over all entries)
        info = SampleInfo("", 0, named=False, id=f"Empty source, range: {{0, {entries}}}",
                          entry_range=(0, entries))
        self._graph = AnalysisGraph(EmptySource("", (), {}, None, entries), {},
                                    {("", ""): info})
        self._runner = Runner(self._graph, chunks, options, client, None)
        self._node = self._graph.source

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
