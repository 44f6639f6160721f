"""Standalone HTML run reports, in the spirit of `distributed.performance_report`.

A report is a plain dict (JSON-able: it can be saved, sent and re-rendered)
built from the scheduler plugin's statistics of the runs made inside a block,
plus, when given, the runs' own accounting (`RunInfo`). `render` turns it into
one HTML file with the Bokeh library inlined, so it opens without a cluster
and without a network::

    from hepflow.observe.report import performance_report

    with performance_report("dimuon-report.html"):
        h.GetValue()

On the synchronous scheduler (`client="sync"`) the same numbers come from the
records kept in this process (`hepflow.observe.events.LOCAL_RECORDS`).
"""

from __future__ import annotations

import datetime
import html
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hepflow.observe.aggregate import BREAKDOWN_ORDER, Aggregator, merge_runs
from hepflow.observe.environment import package_versions


def _versions() -> dict[str, str]:
    return package_versions(("hepflow", "dask", "distributed", "uproot", "awkward", "bokeh"),
                            python=False)


def build(runs: Sequence[Mapping[str, Any]], timeline: Mapping[str, Any] | None = None,
          run_infos: Iterable[Any] = (), title: str = "hepflow run report",
          wall_seconds: float | None = None) -> dict[str, Any]:
    """A report dict from run statistics (plugin dicts) and optional `RunInfo`s."""
    summary = merge_runs(runs)
    summary["run"] = ", ".join(r["run"][:12] for r in runs)
    accounting = []
    seen: set[int] = set()
    for info in run_infos:
        if info is None or id(info) in seen:
            continue
        seen.add(id(info))
        accounting.append(info.to_dict() if hasattr(info, "to_dict") else dict(info))
    series = dict(timeline or {"time": [], "events": [], "bytes": [], "workers": {}})
    if summary["start"] is not None and series.get("time"):
        keep = [i for i, t in enumerate(series["time"])
                if summary["start"] - 1 <= t <= summary["stop"] + 1]
        series = {"time": [series["time"][i] for i in keep],
                  "events": [series["events"][i] for i in keep],
                  "bytes": [series["bytes"][i] for i in keep],
                  "workers": {w: {"events": [v["events"][i] for i in keep],
                                  "bytes": [v["bytes"][i] for i in keep]}
                              for w, v in series.get("workers", {}).items()}}
    return {"title": title, "created": time.time(), "versions": _versions(),
            "client_wall_seconds": wall_seconds, "summary": summary,
            "runs": [dict(r) | {"chunk_costs": []} for r in runs], "timeline": series,
            "accounting": accounting}


def collect(client: Any, marker: int, run_infos: Iterable[Any] = (),
            title: str = "hepflow run report", wall_seconds: float | None = None,
            settle: float = 5.0) -> dict[str, Any]:
    """The report of the runs the cluster's plugin saw after `marker` (see `plugin.mark`)."""
    from hepflow.observe import plugin

    infos = [i for i in run_infos if i is not None]
    expected = sum(int(getattr(i, "chunks", 0)) for i in {id(i): i for i in infos}.values())
    if expected:
        plugin.wait_for_chunks(client, marker, expected, timeout=settle)
    else:  # unknown: wait until the count stops changing
        _settle(lambda: merge_runs(plugin.runs_since(client, marker))["chunks"], settle)
    runs = plugin.runs_since(client, marker)
    snap = plugin.snapshot(client, time.time() - 3600)
    return build(runs, snap["timeline"], infos, title, wall_seconds)


def collect_local(start_index: int, run_infos: Iterable[Any] = (),
                  title: str = "hepflow run report",
                  wall_seconds: float | None = None) -> dict[str, Any]:
    """The report of chunks run in this process (sync scheduler) since `start_index`."""
    from hepflow.observe.events import LOCAL_RECORDS

    agg = Aggregator(window=3600)
    agg.extend(list(LOCAL_RECORDS)[start_index:])
    return build(agg.since(0), agg.timeline.series(), run_infos, title, wall_seconds)


def _settle(count: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = count()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = count()
        if now == last:
            return
        last = now


# -- rendering ------------------------------------------------------------------------------


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table class='hf'><tr>{head}</tr>{body}</table>"


def _summary_html(report: Mapping[str, Any]) -> str:
    s = report["summary"]
    created = datetime.datetime.fromtimestamp(report["created"]).isoformat(timespec="seconds")
    rows = [
        ("runs", s["run"] or "(none)"),
        ("entries read", f"{s['entries']:,}"),
        ("chunks (unread)", f"{s['chunks']} ({s['errors']})"),
        ("chunks read through", ", ".join(f"{path}: {n}" for path, n in
                                          sorted(s.get("read_paths", {}).items())) or "-"),
        ("workers", len(s["workers"])),
        ("wall time, first chunk start to last chunk end", f"{s['wall_seconds']:.3f} s"),
        ("throughput", f"{s['events_per_second']:,.0f} events/s, "
                       f"{s['mb_per_second']:.1f} MB/s compressed"),
        ("bytes read", f"{s['bytes_compressed'] / 1e6:,.1f} MB compressed, "
                       f"{s['bytes_uncompressed'] / 1e6:,.1f} MB uncompressed"),
    ]
    if report.get("client_wall_seconds") is not None:
        rows.insert(4, ("wall time seen by the client", f"{report['client_wall_seconds']:.3f} s"))
    total = sum(s["breakdown"].values()) or 1.0
    breakdown = [(phase, f"{s['breakdown'].get(phase, 0.0):.3f}",
                  f"{100 * s['breakdown'].get(phase, 0.0) / total:.1f}%")
                 for phase in BREAKDOWN_ORDER]
    parts = [f"<h1>{html.escape(report['title'])}</h1>",
             f"<p>made {created}; " + ", ".join(f"{k} {v}" for k, v in
                                                report["versions"].items()) + "</p>",
             "<h2>Totals</h2>", _table(rows, ("", "")),
             "<h2>Where the worker time went</h2>",
             _table(breakdown, ("phase", "worker-seconds", "share")),
             "<p><i>idle</i>: worker time with no chunk running between the run's first "
             "chunk start and last chunk end (scheduling, reduction, stragglers); "
             "<i>other</i>: time inside chunk tasks outside the measured phases.</p>"]
    for acc in report.get("accounting", []):
        per_sample = [(name or "(default)", f"{v['expected']:,}", f"{v['processed']:,}")
                      for name, v in acc.get("per_sample", {}).items()]
        parts += ["<h2>Accounting</h2>",
                  f"<p>{acc['entries_processed']:,} of {acc['entries_expected']:,} entries "
                  f"in {acc['chunks']} chunks</p>",
                  _table(per_sample, ("sample", "expected", "processed"))]
        if acc.get("read_fallbacks"):
            parts.append(_table([(why,) for why in acc["read_fallbacks"]],
                                ("read through uproot after the basket reader failed",)))
        if acc.get("failures"):
            parts.append(_table([(f["file"], f["entry_start"], f["entry_stop"], f["reason"])
                                 for f in acc["failures"]],
                                ("NOT PROCESSED: file", "from", "to", "reason")))
    return "\n".join(parts)


_STYLE = """<style>
body { font-family: sans-serif; margin: 1.5em; }
table.hf { border-collapse: collapse; margin: 0.5em 0 1em 0; }
table.hf td, table.hf th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }
</style>"""


def render(report: Mapping[str, Any]) -> str:
    """One self-contained HTML page (Bokeh inlined) showing the report."""
    from bokeh.embed import file_html
    from bokeh.layouts import column
    from bokeh.models.widgets.markups import Div
    from bokeh.resources import INLINE

    from hepflow.observe.dashboard import Breakdown, Cutflow, Throughput, WorkerLoad

    s = report["summary"]
    snap = {"latest": s if s["chunks"] else None, "recent": report.get("runs", []),
            "timeline": report["timeline"], "totals": s, "seq": len(report.get("runs", []))}
    pages = [Throughput(None), Breakdown(None), Cutflow(None), WorkerLoad(None)]
    for page in pages:
        page.refresh(snap)
        _fixed_size(page.root)
    chunk_fig = _chunk_costs(s.get("chunk_costs", []))
    layout = column(Div(text=_STYLE + _summary_html(report), width=900),
                    *[p.root for p in pages], *([chunk_fig] if chunk_fig is not None else []),
                    width=1000)
    return str(file_html(layout, INLINE, report["title"]))


def _fixed_size(root: Any) -> None:
    """Static pages have no window to stretch into: give each model a fixed size."""
    from bokeh.models import LayoutDOM, Plot
    from bokeh.models.widgets.tables import DataTable

    for model in root.select({"type": LayoutDOM}):
        model.sizing_mode = "fixed"
        if isinstance(model, Plot):
            model.width = 950
        elif isinstance(model, DataTable):
            model.width = 950
    root.sizing_mode = "fixed"


def _chunk_costs(costs: Sequence[Sequence[float]]) -> Any:
    """A histogram of seconds per chunk: a long tail means stragglers."""
    if not costs:
        return None
    import numpy as np
    from bokeh.plotting import figure

    seconds = np.asarray([c[2] for c in costs], dtype=float)
    counts, edges = np.histogram(seconds, bins=min(40, max(5, seconds.size // 3)))
    fig = figure(title=f"Seconds per chunk ({seconds.size} chunks; median "
                       f"{np.median(seconds):.3f} s, max {seconds.max():.3f} s)",
                 width=950, height=250, tools="save")
    fig.quad(top=counts, bottom=0, left=edges[:-1], right=edges[1:], color="#1f77b4")
    fig.xaxis.axis_label = "seconds"
    return fig


def save(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the HTML report (and the same data as JSON beside it, `*.json`)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render(report), encoding="utf-8")
    tmp.replace(out)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    return out


@contextmanager
def performance_report(filename: str | os.PathLike[str] = "hepflow-report.html",
                       client: Any = None, title: str = "hepflow run report",
                       ) -> Iterator[dict[str, Any]]:
    """Record the hepflow runs made inside the block and save them as an HTML report.

    Uses `client` (default: the running Dask client; installs the plugin if
    needed) or, with `client="sync"`, this process's local records. The yielded
    dict receives the report when the block ends.
    """
    from hepflow.observe.events import LOCAL_RECORDS

    holder: dict[str, Any] = {}
    start = time.perf_counter()
    if client == "sync":
        index = len(LOCAL_RECORDS)
        yield holder
        holder.update(collect_local(index, title=title,
                                    wall_seconds=time.perf_counter() - start))
    else:
        from hepflow.observe import install, plugin

        if client is None:
            import distributed

            client = distributed.default_client()  # type: ignore[no-untyped-call]
        install(client)
        marker = plugin.mark(client)
        yield holder
        holder.update(collect(client, marker, title=title,
                              wall_seconds=time.perf_counter() - start))
    save(holder, filename)


__all__ = ["build", "collect", "collect_local", "performance_report", "render", "save"]
