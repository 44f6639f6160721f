"""Scaling metrics on a real 2-worker LocalCluster: plugin totals, dashboard pages, /metrics.

The cluster here is this module's own (hepflow's pages registered before it
starts, the plugin installed on it), so its numbers are exactly this module's
runs.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import uproot

if TYPE_CHECKING:
    from hepflow.results.records import ChunkRecord

pytestmark = pytest.mark.cluster


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode("utf-8", "replace")


def _pull(base: str, path: str) -> Any:
    """The server-side Bokeh document of a dashboard page, fetched over its websocket."""
    from bokeh.client import pull_session

    with pull_session(url=f"{base}{path}") as session:
        return session.document


@pytest.fixture(scope="module")
def observed() -> Iterator[dict[str, Any]]:
    import distributed

    from hepflow.cluster import local_cluster
    from hepflow.observe import install, register_pages

    register_pages()
    with local_cluster(2) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        install(client)
        port = cluster.scheduler.http_server.port
        yield {"cluster": cluster, "client": client, "base": f"http://127.0.0.1:{port}"}


@pytest.fixture(scope="module")
def dimuon_run(observed: dict[str, Any], sample_files: list[str]) -> dict[str, Any]:
    import hepflow
    from hepflow.demo import dimuon
    from hepflow.observe import plugin

    client = observed["client"]
    marker = plugin.mark(client)
    df = hepflow.RDataFrame("Events", sample_files, client=client, chunk_entries=8_000)
    _hist, count, report = dimuon(df)
    n = count.GetValue()
    info = count.run_info()
    merged = plugin.wait_for_chunks(client, marker, info.chunks)
    entries = 0
    for path in sample_files:
        with uproot.open(path) as f:
            entries += f["Events"].num_entries
    return {"count": n, "info": info, "report": report.GetValue(), "merged": merged,
            "entries": entries, "runs": plugin.runs_since(client, marker)}


def test_entry_totals_equal_the_datasets_entries(dimuon_run):
    merged, info = dimuon_run["merged"], dimuon_run["info"]
    assert dimuon_run["entries"] == 40_000
    assert merged["entries"] == dimuon_run["entries"] == info.entries_processed
    assert merged["chunks"] == info.chunks > 2
    assert merged["errors"] == 0
    assert sum(w["entries"] for w in merged["workers"].values()) == dimuon_run["entries"]
    assert merged["samples"] == {"": dimuon_run["entries"]}
    assert merged["read_paths"] == {"baskets": info.chunks} == dict(info.metrics.read_paths)
    assert merged["bytes_compressed"] == info.metrics.bytes_compressed > 0
    assert merged["bytes_uncompressed"] > merged["bytes_compressed"]


def test_live_cutflow_equals_the_report(dimuon_run):
    filters = dimuon_run["merged"]["filters"]
    report = dimuon_run["report"]
    assert list(filters) == [c.name for c in report]
    for cut in report:
        assert filters[cut.name] == [cut.all, cut.passed]
    assert filters["opposite charge"][1] == dimuon_run["count"]


def test_breakdown_accounts_for_the_worker_time(dimuon_run):
    merged = dimuon_run["merged"]
    breakdown = merged["breakdown"]
    assert set(breakdown) == {"open", "network", "decompress", "interpret", "kernel", "fill",
                              "other", "idle"}
    assert all(v >= 0 for v in breakdown.values())
    busy = sum(v for k, v in breakdown.items() if k != "idle")
    assert busy == pytest.approx(merged["seconds"]["total"], rel=1e-9)
    capacity = merged["wall_seconds"] * len(merged["workers"])
    assert busy + breakdown["idle"] == pytest.approx(max(capacity, busy), rel=1e-6)
    assert breakdown["kernel"] > 0 and merged["events_per_second"] > 0


def test_individual_plots_json_lists_the_hepflow_pages(observed):
    from hepflow.observe.dashboard import PAGES

    status, body = _get(f"{observed['base']}/individual-plots.json")
    assert status == 200
    listed = set(json.loads(body).values())
    assert set(PAGES) <= listed
    assert {"/individual-hepflow-throughput", "/individual-hepflow-cutflow"} <= listed


@pytest.mark.parametrize("page", ["throughput", "breakdown", "cutflow", "workers", "scaling"])
def test_pages_answer_over_http(observed, dimuon_run, page):
    status, body = _get(f"{observed['base']}/individual-hepflow-{page}")
    assert status == 200 and "bokeh" in body.lower()


def test_throughput_page_holds_the_runs_numbers(observed, dimuon_run):
    doc = _pull(observed["base"], "/individual-hepflow-throughput")
    runs = doc.select_one({"name": "hepflow-runs"}).data
    latest = dimuon_run["runs"][-1]
    row = runs["run"].index(latest["run"][:8])
    assert runs["entries"][row] == dimuon_run["entries"]
    assert runs["chunks"][row] == dimuon_run["info"].chunks
    assert runs["errors"][row] == 0
    total = doc.select_one({"name": "hepflow-throughput-total"}).data
    # every entry read is spread over the seconds its chunk ran: the bins add up exactly
    assert sum(total["events_per_s"]) == pytest.approx(dimuon_run["entries"], rel=1e-9)
    workers = doc.select_one({"name": "hepflow-throughput-workers"}).data
    assert 1 <= len(workers["worker"]) <= 2
    assert sum(sum(ys) for ys in workers["events"]) == pytest.approx(dimuon_run["entries"])


def test_cutflow_and_worker_pages_hold_the_runs_numbers(observed, dimuon_run):
    cutflow = _pull(observed["base"], "/individual-hepflow-cutflow")
    data = cutflow.select_one({"name": "hepflow-cutflow"}).data
    report = dimuon_run["report"]
    assert data["filter"] == [c.name for c in report]
    assert data["all"] == [c.all for c in report]
    assert data["passed"] == [c.passed for c in report]
    workers = _pull(observed["base"], "/individual-hepflow-workers")
    load = workers.select_one({"name": "hepflow-workers"}).data
    assert sum(load["entries"]) == dimuon_run["entries"]
    assert sum(load["chunks"]) == dimuon_run["info"].chunks
    breakdown = _pull(observed["base"], "/individual-hepflow-breakdown")
    rows = breakdown.select_one({"name": "hepflow-breakdown"}).data
    assert "all" in rows["row"] and sum(rows["kernel"]) > 0


def test_metrics_endpoint_has_hepflow_series(observed, dimuon_run):
    from prometheus_client.parser import text_string_to_metric_families

    from hepflow.observe.plugin import snapshot

    status, body = _get(f"{observed['base']}/metrics")
    assert status == 200
    address = observed["cluster"].scheduler.address
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.labels.get("scheduler") == address:
                values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    names = {name for name, _ in values}
    assert {"hepflow_entries_total", "hepflow_chunks_total", "hepflow_bytes_read_total",
            "hepflow_chunk_seconds_total", "hepflow_filter_entries_total",
            "hepflow_worker_entries_total", "hepflow_throughput_events_per_second"} <= names
    totals = snapshot(observed["client"])["totals"]
    entries = values[("hepflow_entries_total", (("scheduler", address),))]
    assert entries == totals["entries"] >= dimuon_run["entries"]
    worker_sum = sum(v for (name, _), v in values.items()
                     if name == "hepflow_worker_entries_total")
    assert worker_sum == entries
    assert "dask_scheduler_workers" in body  # Dask's own series are still there


def test_performance_report_writes_standalone_html(observed, sample_files, tmp_path):
    import hepflow
    from hepflow.observe.report import performance_report

    path = tmp_path / "report.html"
    with performance_report(path, client=observed["client"]) as report:
        df = hepflow.RDataFrame("Events", sample_files, client=observed["client"])
        df.Filter("nMuon >= 1", "a muon").Count().GetValue()
    text = path.read_text()
    assert "hepflow run report" in text and "40,000" in text
    assert "cdn.bokeh.org" not in text  # Bokeh is inlined: it opens without a network
    data = json.loads(path.with_suffix(".json").read_text())
    assert data["summary"]["entries"] == report["summary"]["entries"] == 40_000
    assert data["summary"]["filters"]["a muon"][0] == 40_000
    chunks = data["summary"]["chunks"]
    assert data["summary"]["read_paths"] == {"baskets": chunks}
    assert "chunks read through" in text and f"baskets: {chunks}" in text


def test_sync_runs_are_measured_in_process(sample_files, tmp_path):
    import hepflow
    from hepflow.observe.report import performance_report

    with performance_report(tmp_path / "sync.html", client="sync") as report:
        df = hepflow.RDataFrame("Events", sample_files[:1], client="sync")
        n = df.Count().GetValue()
    assert report["summary"]["entries"] == n
    assert set(report["summary"]["workers"]) == {"local"}


def test_preload_and_late_install_serve_the_pages():
    """`--preload hepflow.observe.preload` adds the plugin; a late install adds the pages."""
    import distributed
    from distributed.dashboard.scheduler import applications

    from hepflow.observe import install
    from hepflow.observe.dashboard import PAGES
    from hepflow.observe.plugin import PLUGIN_NAME

    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0",
                                  scheduler_kwargs={"preload": ["hepflow.observe.preload"]},
                                  ) as cluster:
        assert PLUGIN_NAME in cluster.scheduler.plugins
    saved = {path: applications.pop(path) for path in PAGES if path in applications}
    try:
        with distributed.LocalCluster(n_workers=0, processes=False,
                                      dashboard_address=":0") as cluster:
            base = f"http://127.0.0.1:{cluster.scheduler.http_server.port}"
            install(cluster)
            install(cluster)  # idempotent
            status, body = _get(f"{base}/individual-hepflow-throughput")
            assert status == 200 and "bokeh" in body.lower()
            doc = _pull(base, "/individual-hepflow-throughput")
            assert doc.select_one({"name": "hepflow-throughput-total"}) is not None
    finally:
        applications.update(saved)


def test_dask_scheduler_preload_command_line():
    """`dask scheduler --preload hepflow.observe.preload`: pages listed, plugin, /metrics."""
    import re
    import subprocess
    import sys

    import distributed

    from hepflow.observe import plugin

    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--preload",
         "hepflow.observe.preload", "--host", "127.0.0.1", "--port", "0",
         "--dashboard-address", "127.0.0.1:0", "--no-show"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        address = port = None
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Scheduler at:" in line:
                address = line.split("Scheduler at:")[1].strip()
            found = re.search(r"dashboard at:\s+\S*?:(\d+)", line)
            if found:
                port = found.group(1)
            if address and port:
                break
        assert address and port, "the scheduler did not start"
        base = f"http://127.0.0.1:{port}"
        _, body = _get(f"{base}/individual-plots.json")
        assert "/individual-hepflow-throughput" in json.loads(body).values()
        with distributed.Client(address, set_as_default=False) as client:
            assert plugin.mark(client) == 0  # raises if the plugin is missing
        _, metrics = _get(f"{base}/metrics")
        assert f'hepflow_runs_total{{scheduler="{address}"}} 0.0' in metrics
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


# -- the aggregation itself ----------------------------------------------------------------


def _record(run: str, worker: str, start: float, stop: float, entries: int,
            filters: dict[str, tuple[int, int]] | None = None, chunk: int = -1) -> ChunkRecord:
    from hepflow.core.measure import PHASES, Measurement
    from hepflow.results.records import ChunkRecord

    chunk = chunk if chunk >= 0 else int(start * 1000) % 1_000_000  # distinct per start
    seconds = dict(zip(PHASES, (0.1, 0.2, 0.1, 0.1, 0.3, 0.1), strict=True))
    measured = Measurement(chunks=1, entries=entries, bytes_compressed=10 * entries,
                           bytes_uncompressed=30 * entries,
                           seconds={**seconds, "total": stop - start})
    return ChunkRecord(run=run, chunk=chunk, file="f.root", sample="s", entry_start=0,
                       entry_stop=entries, worker=worker, measured=measured,
                       filters=filters or {}, start=start, stop=stop)


def test_aggregator_sums_runs_workers_and_timeline():
    from hepflow.observe.aggregate import Aggregator, merge_runs

    agg = Aggregator()
    t0 = time.time()
    agg.add(_record("a", "w1", t0, t0 + 2.5, 1000, {"cut": (1000, 400)}))
    agg.add(_record("a", "w2", t0 + 0.5, t0 + 1.5, 500, {"cut": (500, 100)}))
    marker = agg.mark()
    agg.add(_record("b", "w1", t0 + 3, t0 + 4, 200))
    runs = agg.since(0)
    assert [r["run"] for r in runs] == ["a", "b"]
    a = runs[0]
    assert a["entries"] == 1500 and a["filters"] == {"cut": [1500, 500]}
    assert a["wall_seconds"] == pytest.approx(2.5)
    assert a["breakdown"]["idle"] == pytest.approx(2 * 2.5 - 3.5)
    assert a["breakdown"]["other"] == pytest.approx(2.5 - 0.9 + 1.0 - 0.9)
    assert [r["run"] for r in agg.since(marker)] == ["b"]
    series = agg.timeline.series()
    assert sum(series["events"]) == pytest.approx(1700)
    assert sum(series["workers"]["w2"]["events"]) == pytest.approx(500)
    merged = merge_runs(runs)
    assert merged["entries"] == 1700 and merged["workers"]["w1"]["chunks"] == 2
    # a chunk run twice (a speculative copy, a re-run after a lost worker) counts once
    agg.add(_record("b", "w2", t0 + 5, t0 + 6, 200, chunk=7))
    agg.add(_record("b", "w1", t0 + 5, t0 + 7, 200, chunk=7))
    assert agg.run("b")["entries"] == 400 and agg.duplicates == 1


def test_cutflow_rows_give_efficiencies():
    from hepflow.observe.dashboard import cutflow_rows

    rows = cutflow_rows({"a": [100, 50], "b": [50, 10]})
    assert rows == [("a", 100, 50, 0.5, 0.5), ("b", 50, 10, 0.2, 0.1)]


def test_phases_reach_dasks_fine_performance_metrics(observed, dimuon_run):
    import time

    client = observed["client"]
    deadline = time.time() + 10
    labels: set[str] = set()
    while time.time() < deadline:
        metrics = client.run_on_scheduler(
            lambda dask_scheduler: [str(k) for k in dask_scheduler.cumulative_worker_metrics])
        labels = {k for k in metrics if "hepflow-chunk" in k}
        if any("hepflow-decompress" in k for k in labels):
            break
        time.sleep(0.2)
    assert any("hepflow-decompress" in k for k in labels), labels
    assert any("'hepflow-read', 'bytes'" in k for k in labels), labels


def test_chunk_record_travels_as_plain_data_and_back():
    """What the kernel sends over Dask's event log reads back into the same record."""
    import msgpack

    from hepflow.results.records import ChunkRecord

    record = _record("r", "tcp://w:1", 10.0, 12.0, 300, {"cut": (300, 120)})
    wire = msgpack.unpackb(msgpack.packb(record.to_dict()), strict_map_key=False)
    assert ChunkRecord.from_dict(wire) == record
    assert wire["filters"] == {"cut": [300, 120]} and wire["measured"]["seconds"]["kernel"] == 0.3
    assert record.measured.other == pytest.approx(2.0 - 0.9)
    assert ChunkRecord.from_dict({"run": "x", "error": "gone"}).measured.entries == 0


# -- the package's layers --------------------------------------------------------------------

_OBSERVE = Path(__file__).resolve().parents[1] / "hepflow" / "observe"


def _observe_imports() -> dict[str, set[str]]:
    """Each observe module -> the hepflow modules it imports (top level or in functions)."""
    import ast

    modules = {p.stem: p for p in _OBSERVE.glob("*.py")}
    names = {("hepflow.observe" if stem == "__init__" else f"hepflow.observe.{stem}")
             for stem in modules}
    graph: dict[str, set[str]] = {}
    for stem, path in modules.items():
        me = "hepflow.observe" if stem == "__init__" else f"hepflow.observe.{stem}"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                # `from hepflow.observe import plugin` imports the submodule plugin
                found.update(f"{node.module}.{a.name}" for a in node.names
                             if f"{node.module}.{a.name}" in names)
        graph[me] = {m for m in found if m.startswith("hepflow")}
    return graph


def test_observe_imports_form_no_cycle():
    graph = _observe_imports()
    assert {"hepflow.observe.plugin", "hepflow.observe.dashboard",
            "hepflow.observe.prometheus"} <= set(graph)
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if target not in graph:
                continue
            assert state.get(target) != "open", f"import cycle: {' -> '.join([*path, target])}"
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    plugin = graph["hepflow.observe.plugin"]
    assert not plugin & {"hepflow.observe.dashboard", "hepflow.observe.prometheus"}


def test_observe_imports_no_harness():
    """Observation sits below the harnesses: no demo, analysis runner, clusters or bench."""
    forbidden = ("hepflow.demo", "hepflow.analysis", "hepflow.cluster", "hepflow.bench")
    bad = {module: sorted(t for t in targets if t.startswith(forbidden))
           for module, targets in _observe_imports().items()}
    assert not {m: t for m, t in bad.items() if t}, bad


def test_each_observe_module_imports_alone():
    """Each module imports with no hepflow module loaded before it (circles would break it).

    One fresh interpreter forgets every hepflow module before each import, so
    no module can rely on another having been imported first; third-party
    packages stay loaded, which keeps this to seconds.
    """
    import subprocess
    import sys

    script = (
        "import importlib, sys\n"
        f"for name in {sorted(_observe_imports())!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'hepflow']:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        print(f'{name}: {type(exc).__name__}: {exc}')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "", done.stdout


def test_plugin_starts_its_extensions_and_survives_a_failing_one():
    import asyncio
    import pickle

    from hepflow.observe import default_extensions, prometheus
    from hepflow.observe.dashboard import DashboardPages
    from hepflow.observe.plugin import HepflowPlugin

    class Broken:
        def start(self, plugin: HepflowPlugin, scheduler: Any) -> None:
            raise RuntimeError("no dashboard here")

        def close(self, plugin: HepflowPlugin) -> None:
            pass

    plugin = HepflowPlugin(extensions=[Broken(), *default_extensions()])
    asyncio.run(plugin.start(object()))  # a scheduler without a dashboard
    assert plugin in prometheus._live
    asyncio.run(plugin.close())
    assert plugin not in prometheus._live
    back = pickle.loads(pickle.dumps(HepflowPlugin(extensions=default_extensions())))
    assert [type(e) for e in back.extensions] == [DashboardPages, prometheus.MetricsExport]


def test_scaling_page_shows_the_schedulers_load(observed, dimuon_run):
    from bokeh.client import pull_session

    from hepflow.observe import plugin

    load = plugin.scheduler_load(observed["client"])
    assert load["tasks"] >= dimuon_run["info"].chunks  # every chunk task reached memory
    assert load["cpu_percent"] and all(c >= 0 for c in load["cpu_percent"])
    with pull_session(url=f"{observed['base']}/individual-hepflow-scaling") as session:
        doc = session.document
        assert doc.select_one({"name": "hepflow-scheduler-load"}) is not None
        assert doc.select_one({"name": "hepflow-scheduler-cpu-figure"}) is not None


def test_hepflows_cluster_hands_a_task_only_to_a_free_slot(observed: dict[str, Any]) -> None:
    """worker-saturation 1.0 on clusters hepflow starts: a batch queued behind a running
    one would wait seconds while other slots idle (README, "Feeding many workers")."""
    from hepflow.engine.localcluster import SCHEDULER_CONFIG

    scheduler = observed["cluster"].scheduler
    assert scheduler.WORKER_SATURATION == 1.0
    assert SCHEDULER_CONFIG == {"distributed.scheduler.worker-saturation": 1.0}
