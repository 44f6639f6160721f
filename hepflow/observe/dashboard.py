"""hepflow's live pages on the Dask dashboard (Bokeh documents served by the scheduler).

They are registered the way distributed registers its own pages: as entries
of `distributed.dashboard.scheduler.applications`, named
`/individual-hepflow-*`, so the dashboard's "More..." menu, its
`individual-plots.json` and dask-labextension in JupyterLab list them. That
table is read when a scheduler's dashboard starts, so `register_pages()` (or
the preload `hepflow.observe.preload`) must run before; for a scheduler that
is already running, `attach_pages()` serves the same pages from a second Bokeh
application next to the first (they then work, but are not in the menu).

Every page reads the `HepflowPlugin` of its scheduler once a second;
`DashboardPages` is the plugin extension that attaches them when its
scheduler starts. Data
sources carry names (`hepflow-*`) so tests and scripts can find them in a
document pulled with `bokeh.client.pull_session`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, NumeralTickFormatter, Range1d
from bokeh.models.widgets.markups import Div
from bokeh.models.widgets.tables import (
    DataTable,
    NumberFormatter,
    StringFormatter,
    TableColumn,
)
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from hepflow.observe.aggregate import BREAKDOWN_ORDER, IDLE, OTHER
from hepflow.observe.plugin import HepflowPlugin, plugin_of
from hepflow.results.records import PHASES

logger = logging.getLogger(__name__)

#: Seconds of history the live throughput page shows.
HISTORY = 300
#: Milliseconds between page updates.
INTERVAL = 1000
#: The phases shown in the time breakdown, with their colours.
BREAKDOWN = BREAKDOWN_ORDER
PHASE_COLORS = dict(zip(BREAKDOWN, ("#8c564b", "#1f77b4", "#17becf", "#9467bd", "#2ca02c",
                                    "#bcbd22", "#7f7f7f", "#d9d9d9"), strict=True))
_NO_PLUGIN = ("<b>hepflow:</b> the hepflow plugin is not installed on this scheduler "
              "(<code>hepflow.observe.install(client)</code> or "
              "<code>--preload hepflow.observe.preload</code>).")
_WAITING = "<b>hepflow:</b> no hepflow run has been seen on this cluster yet."


def short(worker: str) -> str:
    """`tcp://10.0.0.1:40315` -> `10.0.0.1:40315`: shorter labels, still unique."""
    return worker.split("://", 1)[-1]


def _color(i: int) -> str:
    return str(Category10_10[i % len(Category10_10)])


def _fmt_rate(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e3:
        return f"{value / 1e3:.1f} k"
    return f"{value:.0f} "


def _table(source: Any, height: int, columns: Sequence[tuple[str, str, str]],
           name: str | None = None) -> Any:
    """A full-width table of `(field, title, number format or "")` columns."""
    return DataTable(source=source, height=height, index_position=None,
                     sizing_mode="stretch_width", name=name, columns=[
                         TableColumn(field=field, title=title,
                                     formatter=NumberFormatter(format=fmt) if fmt
                                     else StringFormatter())
                         for field, title, fmt in columns])


class _Page:
    """A dashboard component: `root` (the Bokeh layout) and `update()` (from the plugin)."""

    title = "hepflow"

    def __init__(self, scheduler: Any, **kwargs: Any) -> None:
        self.scheduler = scheduler
        self.note = Div(text="", name="hepflow-note", sizing_mode="stretch_width")
        self.root: Any = None

    def update(self) -> None:
        plugin = plugin_of(self.scheduler)
        if plugin is None:
            self.note.text = _NO_PLUGIN
            return
        self.refresh(plugin.aggregator.snapshot(self.since()))

    def since(self) -> float | None:
        return 0.0  # no timeline needed by default: keep the snapshot small

    def refresh(self, snap: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def latest(self, snap: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The latest run's figures, or None (and a note saying so) before the first run."""
        latest: Mapping[str, Any] | None = snap["latest"]
        if latest is None:
            self.note.text = _WAITING
        return latest


class Throughput(_Page):
    """Events/s and MB/s over time, total and per worker, and the recent runs' numbers."""

    title = "hepflow: throughput"

    def __init__(self, scheduler: Any, **kwargs: Any) -> None:
        super().__init__(scheduler)
        self.total = ColumnDataSource({"time": [], "events_per_s": [], "mb_per_s": []},
                                      name="hepflow-throughput-total")
        self.workers = ColumnDataSource({"xs": [], "events": [], "mb": [], "worker": [],
                                         "color": []}, name="hepflow-throughput-workers")
        self.runs = ColumnDataSource({k: [] for k in (
            "run", "entries", "chunks", "mb_read", "wall_s", "events_per_s", "mb_per_s",
            "workers", "errors")}, name="hepflow-runs")
        tools = "pan,xwheel_zoom,box_zoom,reset,save"
        self.events_fig = figure(title="Events per second (total and per worker)",
                                 x_axis_type="datetime", height=260, tools=tools,
                                 sizing_mode="stretch_width", name="hepflow-events-per-second")
        self.mb_fig = figure(title="MB read per second (compressed; total and per worker)",
                             x_axis_type="datetime", height=220, tools=tools,
                             sizing_mode="stretch_width", x_range=self.events_fig.x_range,
                             name="hepflow-mb-per-second")
        for fig, total_col, worker_col, unit in (
                (self.events_fig, "events_per_s", "events", "events/s"),
                (self.mb_fig, "mb_per_s", "mb", "MB/s")):
            fig.multi_line(xs="xs", ys=worker_col, color="color", source=self.workers,
                           line_width=1.5, alpha=0.8, legend_field="worker")
            fig.line(x="time", y=total_col, source=self.total, color="black", line_width=2.5,
                     legend_label="total")
            fig.yaxis.axis_label = unit
            fig.yaxis.formatter = NumeralTickFormatter(format="0.[0]a")
            fig.legend.location = "top_left"
            fig.legend.background_fill_alpha = 0.6
            fig.legend.label_text_font_size = "8pt"
            fig.add_tools(HoverTool(tooltips=[("time", "@time{%T}"), (unit, f"@{total_col}")],
                                    formatters={"@time": "datetime"}, mode="vline"))
        self.table = _table(self.runs, 150, [
            ("run", "run", ""), ("entries", "entries", "0,0"), ("chunks", "chunks", ""),
            ("workers", "workers", ""), ("wall_s", "wall [s]", "0.00"),
            ("events_per_s", "events/s", "0,0"), ("mb_read", "MB read", "0.0"),
            ("mb_per_s", "MB/s", "0.0"), ("errors", "unread chunks", "")],
            name="hepflow-runs-table")
        self.root = column(self.note, self.events_fig, self.mb_fig, self.table,
                           sizing_mode="stretch_both")

    def since(self) -> float | None:
        import time

        return time.time() - HISTORY

    def refresh(self, snap: Mapping[str, Any]) -> None:
        timeline = snap["timeline"]
        times = [t * 1000.0 for t in timeline["time"]]
        self.total.data = {"time": times, "events_per_s": list(timeline["events"]),
                           "mb_per_s": [b / 1e6 for b in timeline["bytes"]]}
        names = sorted(timeline["workers"])
        self.workers.data = {
            "xs": [times for _ in names],
            "events": [list(timeline["workers"][w]["events"]) for w in names],
            "mb": [[b / 1e6 for b in timeline["workers"][w]["bytes"]] for w in names],
            "worker": [short(w) for w in names],
            "color": [_color(i) for i in range(len(names))]}
        runs = [r for r in snap.get("recent", []) if r["entries"] or r["errors"]][::-1]
        self.runs.data = {
            "run": [r["run"][:8] for r in runs], "entries": [r["entries"] for r in runs],
            "chunks": [r["chunks"] for r in runs],
            "mb_read": [r["bytes_compressed"] / 1e6 for r in runs],
            "wall_s": [r["wall_seconds"] for r in runs],
            "events_per_s": [r["events_per_second"] for r in runs],
            "mb_per_s": [r["mb_per_second"] for r in runs],
            "workers": [len(r["workers"]) for r in runs],
            "errors": [r["errors"] for r in runs]}
        latest = self.latest(snap)
        if latest is None:
            return
        recent = timeline["events"][-6:-1] or timeline["events"][-1:]
        now_rate = sum(recent) / max(1, len(recent))
        self.note.text = (
            f"<b>hepflow</b> latest run <code>{latest['run'][:12]}</code>: "
            f"{latest['entries']:,} entries in {latest['chunks']} chunks on "
            f"{len(latest['workers'])} workers, {_fmt_rate(latest['events_per_second'])}"
            f"events/s, {latest['mb_per_second']:.1f} MB/s over {latest['wall_seconds']:.1f} s"
            f" &nbsp;|&nbsp; now {_fmt_rate(now_rate)}events/s &nbsp;|&nbsp; since start "
            f"{snap['totals']['entries']:,} entries, "
            f"{snap['totals']['bytes_compressed'] / 1e6:,.0f} MB in {snap['seq']} runs")


class Breakdown(_Page):
    """Where the worker-seconds of the latest run went, in total and per worker."""

    title = "hepflow: time breakdown"

    def __init__(self, scheduler: Any, **kwargs: Any) -> None:
        super().__init__(scheduler)
        self.source = ColumnDataSource({"row": [], **{p: [] for p in BREAKDOWN}},
                                       name="hepflow-breakdown")
        self.rows = FactorRange(factors=["all"])
        self.fig = figure(title="Worker time per phase, latest run (seconds)",
                          y_range=self.rows, height=320,
                          sizing_mode="stretch_both", tools="save,reset",
                          name="hepflow-breakdown-figure")
        renderers = self.fig.hbar_stack(list(BREAKDOWN), y="row", height=0.7,
                                        color=[PHASE_COLORS[p] for p in BREAKDOWN],
                                        source=self.source,
                                        legend_label=list(BREAKDOWN))
        for r in renderers:
            phase = r.name
            self.fig.add_tools(HoverTool(renderers=[r], tooltips=[
                ("", "@row"), (str(phase), f"@{phase}{{0.00}} s")]))
        self.fig.legend.orientation = "horizontal"
        self.fig.legend.location = "top_center"
        self.fig.legend.label_text_font_size = "8pt"
        self.fig.add_layout(self.fig.legend[0], "above")
        self.fig.xaxis.axis_label = "seconds"
        self.root = column(self.note, self.fig, sizing_mode="stretch_both")

    def refresh(self, snap: Mapping[str, Any]) -> None:
        latest = self.latest(snap)
        if latest is None:
            return
        rows: dict[str, dict[str, float]] = {"all": dict(latest["breakdown"])}
        wall = latest["wall_seconds"]
        for name in sorted(latest["workers"]):
            w = latest["workers"][name]
            phases = {p: w["seconds"].get(p, 0.0) for p in (*PHASES, OTHER)}
            phases[IDLE] = max(0.0, wall - w["busy_seconds"])
            rows[short(name)] = phases
        labels = list(rows)[::-1]
        self.rows.factors = labels
        self.source.data = {"row": labels,
                            **{p: [rows[r].get(p, 0.0) for r in labels] for p in BREAKDOWN}}
        total = sum(rows["all"].values()) or 1.0
        share = ", ".join(f"{p} {100 * rows['all'][p] / total:.0f}%" for p in BREAKDOWN
                          if rows["all"].get(p, 0.0) > 0.005 * total)
        self.note.text = (f"<b>hepflow</b> run <code>{latest['run'][:12]}</code>, "
                          f"{len(latest['workers'])} workers x {wall:.2f} s: {share}. "
                          "<i>idle</i> = worker time with no chunk running (scheduling, "
                          "reduction, waiting for stragglers).")


class Cutflow(_Page):
    """Entries reaching and passing each named filter of the latest run, as they arrive."""

    title = "hepflow: cutflow"

    def __init__(self, scheduler: Any, **kwargs: Any) -> None:
        super().__init__(scheduler)
        self.source = ColumnDataSource({k: [] for k in (
            "filter", "all", "passed", "efficiency", "cumulative", "label")},
            name="hepflow-cutflow")
        self.rows = FactorRange(factors=[])
        self.fig = figure(title="Live cutflow, latest run (entries)", height=300,
                          y_range=self.rows, sizing_mode="stretch_both",
                          tools="save,reset", name="hepflow-cutflow-figure")
        self.fig.hbar(y="filter", right="all", height=0.8, source=self.source,
                      color="#c6dbef", legend_label="reaching the filter")
        self.fig.hbar(y="filter", right="passed", height=0.5, source=self.source,
                      color="#2171b5", legend_label="passing")
        self.fig.text(x="passed", y="filter", text="label", source=self.source,
                      text_font_size="9pt", x_offset=4, text_baseline="middle")
        self.fig.add_tools(HoverTool(tooltips=[("filter", "@filter"), ("all", "@all{0,0}"),
                                               ("passed", "@passed{0,0}"),
                                               ("efficiency", "@efficiency{0.0%}"),
                                               ("cumulative", "@cumulative{0.0%}")]))
        self.fig.legend.location = "bottom_right"
        self.table = _table(self.source, 160, [
            ("filter", "filter", ""), ("all", "all", "0,0"), ("passed", "passed", "0,0"),
            ("efficiency", "efficiency", "0.00%"), ("cumulative", "cumulative", "0.00%")])
        self.root = column(self.note, self.fig, self.table, sizing_mode="stretch_both")

    def refresh(self, snap: Mapping[str, Any]) -> None:
        latest = self.latest(snap)
        if latest is None:
            return
        rows = cutflow_rows(latest["filters"])
        names = [r[0] for r in rows]
        self.rows.factors = names[::-1]
        self.source.data = {
            "filter": names, "all": [r[1] for r in rows], "passed": [r[2] for r in rows],
            "efficiency": [r[3] for r in rows], "cumulative": [r[4] for r in rows],
            "label": [f"{100 * r[3]:.1f}%" for r in rows]}
        self.note.text = (f"<b>hepflow</b> run <code>{latest['run'][:12]}</code>: "
                          f"{latest['entries']:,} entries read so far in "
                          f"{latest['chunks']} chunks" +
                          ("" if rows else "; it has no named filters"))


def cutflow_rows(filters: Mapping[str, Sequence[int]]) -> list[tuple[str, int, int, float,
                                                                      float]]:
    """(name, all, passed, efficiency, cumulative efficiency) per filter, in order."""
    rows = []
    first = None
    for name, (seen, passed) in filters.items():
        first = seen if first is None else first
        rows.append((name, int(seen), int(passed), passed / seen if seen else 0.0,
                     passed / first if first else 0.0))
    return rows


class WorkerLoad(_Page):
    """Per-worker chunks, entries, busy time and finishing time of the latest run."""

    title = "hepflow: worker load"

    def __init__(self, scheduler: Any, **kwargs: Any) -> None:
        super().__init__(scheduler)
        self.source = ColumnDataSource({k: [] for k in (
            "worker", "chunks", "entries", "busy_s", "events_per_busy_s", "lag_s", "color")},
            name="hepflow-workers")
        self.rows = FactorRange(factors=[])
        self.fig = figure(title="Busy seconds per worker, latest run (stragglers finish late)",
                          height=300, y_range=self.rows,
                          sizing_mode="stretch_both", tools="save,reset",
                          name="hepflow-workers-figure")
        self.fig.hbar(y="worker", right="busy_s", height=0.7, color="color",
                      source=self.source)
        self.fig.add_tools(HoverTool(tooltips=[
            ("worker", "@worker"), ("chunks", "@chunks"), ("entries", "@entries{0,0}"),
            ("busy", "@busy_s{0.00} s"), ("events/busy s", "@events_per_busy_s{0,0}"),
            ("finished before the run's end", "@lag_s{0.00} s")]))
        self.fig.xaxis.axis_label = "seconds in chunk tasks"
        self.table = _table(self.source, 180, [
            ("worker", "worker", ""), ("chunks", "chunks", ""), ("entries", "entries", "0,0"),
            ("busy_s", "busy [s]", "0.00"), ("events_per_busy_s", "events per busy s", "0,0"),
            ("lag_s", "idle at the end [s]", "0.00")])
        self.root = column(self.note, self.fig, self.table, sizing_mode="stretch_both")

    def refresh(self, snap: Mapping[str, Any]) -> None:
        latest = self.latest(snap)
        if latest is None:
            return
        names = sorted(latest["workers"])
        ws = [latest["workers"][n] for n in names]
        stop = latest["stop"] or 0.0
        lags = [max(0.0, stop - (w["last_stop"] or stop)) for w in ws]
        busiest = max((w["busy_seconds"] for w in ws), default=0.0)
        colors = ["#d62728" if busiest and w["busy_seconds"] == busiest and len(ws) > 1
                  else "#1f77b4" for w in ws]
        self.rows.factors = [short(n) for n in names][::-1]
        self.source.data = {
            "worker": [short(n) for n in names], "chunks": [w["chunks"] for w in ws],
            "entries": [w["entries"] for w in ws], "busy_s": [w["busy_seconds"] for w in ws],
            "events_per_busy_s": [w["entries"] / w["busy_seconds"] if w["busy_seconds"] else 0.0
                                  for w in ws],
            "lag_s": lags, "color": colors}
        busy = [w["busy_seconds"] for w in ws]
        mean = sum(busy) / len(busy) if busy else 0.0
        imbalance = (max(busy) / mean - 1.0) if mean else 0.0
        self.note.text = (f"<b>hepflow</b> run <code>{latest['run'][:12]}</code> on "
                          f"{len(ws)} workers: load imbalance (max/mean - 1) "
                          f"{100 * imbalance:.0f}%; red = busiest worker")


class Scaling(_Page):
    """Speed-up and efficiency against workers from the last `hepflow bench scaling` run."""

    title = "hepflow: scaling"

    def __init__(self, scheduler: Any, **kwargs: Any) -> None:
        super().__init__(scheduler)
        self.points = ColumnDataSource({k: [] for k in (
            "workers", "speedup", "efficiency", "wall_s", "lo", "hi")}, name="hepflow-scaling")
        self.curves = ColumnDataSource({"workers": [], "ideal": [], "amdahl": [],
                                        "ideal_eff": [], "amdahl_eff": []},
                                       name="hepflow-scaling-fit")
        self.speedup = figure(title="Speed-up", height=300, width=420, tools="save,reset",
                              name="hepflow-speedup-figure")
        self.speedup.line("workers", "ideal", source=self.curves, color="gray",
                          line_dash="dashed", legend_label="ideal")
        self.speedup.line("workers", "amdahl", source=self.curves, color="#ff7f0e",
                          legend_label="Amdahl fit")
        self.speedup.scatter("workers", "speedup", source=self.points, size=9,
                             legend_label="measured (median)")
        self.efficiency = figure(title="Efficiency", height=300, width=420, tools="save,reset",
                                 y_range=Range1d(start=0, end=1.1),
                                 name="hepflow-efficiency-figure")
        self.efficiency.line("workers", "ideal_eff", source=self.curves, color="gray",
                             line_dash="dashed")
        self.efficiency.line("workers", "amdahl_eff", source=self.curves, color="#ff7f0e")
        self.efficiency.scatter("workers", "efficiency", source=self.points, size=9)
        for fig in (self.speedup, self.efficiency):
            fig.xaxis.axis_label = "workers"
        self.speedup.legend.location = "top_left"
        self.load = ColumnDataSource({"time": [], "tasks_per_s": [], "cpu_percent": []},
                                     name="hepflow-scheduler-load")
        self.rate = figure(title="Scheduler: tasks finished per second", height=220, width=420,
                           x_axis_type="datetime", tools="save,reset",
                           name="hepflow-scheduler-rate-figure")
        self.rate.line("time", "tasks_per_s", source=self.load)
        self.cpu = figure(title="Scheduler: CPU (% of one core)", height=220, width=420,
                          x_axis_type="datetime", tools="save,reset",
                          y_range=Range1d(start=0, end=110), name="hepflow-scheduler-cpu-figure")
        self.cpu.line("time", "cpu_percent", source=self.load, color="#d62728")
        self.load_note = Div(text="", name="hepflow-scheduler-note", sizing_mode="stretch_width")
        self.root = column(self.note, row(self.speedup, self.efficiency), self.load_note,
                           row(self.rate, self.cpu), sizing_mode="stretch_width")

    def update(self) -> None:
        plugin = plugin_of(self.scheduler)
        if plugin is not None:
            plugin.load.sample()
            series = plugin.load.series()
            self.load.data = {k: series[k] for k in ("time", "tasks_per_s", "cpu_percent")}
            if series["cpu_percent"]:
                self.load_note.text = (
                    f"<b>scheduler</b>: {series['tasks_per_s'][-1]:,.0f} tasks/s, "
                    f"{series['cpu_percent'][-1]:.0f}% CPU "
                    f"({series['tasks']:,} tasks since start); near 100% CPU it is "
                    f"the limit: larger batches (hepflow.scheduling) give it fewer tasks")
        super().update()

    def refresh(self, snap: Mapping[str, Any]) -> None:
        scaling = snap.get("scaling")
        if not scaling:
            self.note.text = ("<b>hepflow:</b> no scaling run on this cluster yet: "
                              "<code>hepflow bench scaling ANALYSIS --workers 1,2,4 "
                              "--scheduler ADDRESS</code> shows its curves here.")
            return
        pts = scaling.get("points", [])
        self.points.data = {
            "workers": [p["workers"] for p in pts], "speedup": [p["speedup"] for p in pts],
            "efficiency": [p["efficiency"] for p in pts],
            "wall_s": [p["median_s"] for p in pts], "lo": [p["min_s"] for p in pts],
            "hi": [p["max_s"] for p in pts]}
        fit = scaling.get("fit", {})
        self.curves.data = {k: list(fit.get(k, [])) for k in (
            "workers", "ideal", "amdahl", "ideal_eff", "amdahl_eff")}
        serial = fit.get("serial_fraction")
        self.note.text = (f"<b>hepflow</b> {scaling.get('mode', '')} scaling of "
                          f"<code>{scaling.get('analysis', '')}</code>: " +
                          ", ".join(f"{p['workers']} workers: x{p['speedup']:.2f} "
                                    f"({100 * p['efficiency']:.0f}%)" for p in pts) +
                          (f"; serial fraction {serial:.3f}" if serial is not None else ""))


def _doc(cls: type[_Page]) -> Callable[[Any, Mapping[str, Any], Any], None]:
    """A Bokeh document factory with distributed's `(scheduler, extra, doc)` signature."""
    def make(scheduler: Any, extra: Mapping[str, Any], doc: Any) -> None:
        from distributed.dashboard.components import add_periodic_callback

        page = cls(scheduler)
        page.update()
        add_periodic_callback(doc, page, INTERVAL)  # type: ignore[no-untyped-call]
        doc.add_root(page.root)
        doc.title = cls.title
    make.__name__ = f"hepflow_{cls.__name__.lower()}_doc"
    return make


#: The pages, by URL path (as in `distributed.dashboard.scheduler.applications`).
PAGES: dict[str, Callable[[Any, Mapping[str, Any], Any], None]] = {
    "/individual-hepflow-throughput": _doc(Throughput),
    "/individual-hepflow-breakdown": _doc(Breakdown),
    "/individual-hepflow-cutflow": _doc(Cutflow),
    "/individual-hepflow-workers": _doc(WorkerLoad),
    "/individual-hepflow-scaling": _doc(Scaling),
}


def register_pages() -> bool:
    """Add hepflow's pages to distributed's page table, for dashboards started from now on.

    Returns False when the dashboard cannot be imported (no bokeh).
    """
    try:
        from distributed.dashboard.scheduler import applications
    except ImportError:
        return False
    for path, make in PAGES.items():
        applications.setdefault(path, make)
    return True


def _served_paths(scheduler: Any) -> tuple[set[str], Any]:
    from bokeh.server.tornado import BokehTornado

    paths: set[str] = set()
    first = None
    for app in getattr(getattr(scheduler, "http_application", None), "applications", []):
        if isinstance(app, BokehTornado):
            first = first or app
            paths.update(app.app_paths)
    return paths, first


def attach_pages(scheduler: Any) -> list[str]:
    """Serve the pages on a running scheduler's dashboard if it does not serve them yet.

    Returns the paths added. The pages go into a second Bokeh application on
    the same HTTP server (distributed has no API to add pages to a running
    one), so `individual-plots.json` does not list them; `register_pages()`
    before the scheduler starts avoids that.
    """
    if getattr(scheduler, "http_application", None) is None:
        return []
    served, first = _served_paths(scheduler)
    if first is None:  # the scheduler runs without a dashboard
        return []
    missing = {path: make for path, make in PAGES.items() if path not in served}
    if not missing:
        return []
    from distributed.dashboard.core import BokehApplication
    from tornado.ioloop import IOLoop

    app = BokehApplication(  # type: ignore[no-untyped-call]
        missing, scheduler, prefix=first.prefix or "/", template_variables={})
    scheduler.http_application.add_application(app)
    app.initialize(IOLoop.current())
    app.start()
    logger.info("hepflow: serving %s on the running dashboard", ", ".join(sorted(missing)))
    return sorted(missing)


class DashboardPages:
    """The plugin extension that serves the pages on its scheduler's dashboard."""

    def start(self, plugin: HepflowPlugin, scheduler: Any) -> None:
        attach_pages(scheduler)

    def close(self, plugin: HepflowPlugin) -> None:
        """Nothing to undo: the pages find no plugin and say so."""



__all__ = ["HISTORY", "PAGES", "Breakdown", "Cutflow", "DashboardPages", "Scaling",
           "Throughput", "WorkerLoad", "attach_pages", "cutflow_rows", "register_pages", "short"]
