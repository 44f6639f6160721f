"""The scheduler plugin that turns chunk events into live run statistics.

Workers send one `hepflow-chunk` event per chunk (`Worker.log_event`); the
scheduler's event broker hands every event to each plugin's `log_event` hook,
so the plugin sees them all, in the scheduler's own process, wherever the
client runs. Nothing travels with the results, and the broker's own bounded
event log (1,000 events per topic by default) does not limit what is counted.

Installing it:

* on a running cluster: `hepflow.observe.install(client_or_cluster)`
  (`Client.register_plugin`, idempotent);
* when the scheduler starts: `dask scheduler --preload hepflow.observe.preload`,
  or `scheduler_options={"preload": ["hepflow.observe.preload"]}` with
  dask-jobqueue, which also lists hepflow's pages in the dashboard's plot menu.

What the plugin feeds is pluggable: it starts and closes the `Extension`s it
is given, such as the dashboard pages (`dashboard.DashboardPages`) and the
Prometheus series (`prometheus.MetricsExport`); `hepflow.observe.install` and
the preload give it those two (`hepflow.observe.default_extensions`). Imports
therefore point one way: `dashboard` and `prometheus` import this module,
never the reverse. The extensions travel inside the pickled plugin, so
unpickling it on the scheduler imports their modules there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from distributed.diagnostics.plugin import SchedulerPlugin

from hepflow.observe.aggregate import Aggregator, merge_runs
from hepflow.observe.events import BATCH_TOPIC, TOPIC, chunk_records
from hepflow.observe.load import SchedulerLoad
from hepflow.results.records import ChunkRecord

#: The plugin's name on the scheduler (`scheduler.plugins[PLUGIN_NAME]`).
PLUGIN_NAME = "hepflow-observe"
#: Topic on which the scaling runner publishes its results for the scaling page.
SCALING_TOPIC = "hepflow-scaling"

logger = logging.getLogger(__name__)


class Extension(Protocol):
    """Something fed by the plugin on the scheduler: dashboard pages, a metrics endpoint.

    It must pickle (it travels inside the plugin to the scheduler) and must
    not stop the scheduler: `start` errors are logged, not raised.
    """

    def start(self, plugin: HepflowPlugin, scheduler: Any) -> None:
        """Attach to a started scheduler; read the numbers from `plugin.aggregator`."""

    def close(self, plugin: HepflowPlugin) -> None:
        """Detach when the plugin closes."""


class HepflowPlugin(SchedulerPlugin):
    """Aggregates `hepflow-chunk` events; serves them to pages, /metrics and clients."""

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self, max_runs: int = 200, window: int = 900,
                 extensions: Sequence[Extension] = ()) -> None:
        self.max_runs = max_runs
        self.window = window
        self.extensions: list[Extension] = list(extensions)
        self._aggregator: Aggregator | None = None
        self._load: SchedulerLoad | None = None
        self.scheduler: Any = None

    @property
    def aggregator(self) -> Aggregator:
        # Created lazily so the plugin pickles small and lock-free for register_plugin.
        if self._aggregator is None:
            self._aggregator = Aggregator(max_runs=self.max_runs, window=self.window)
        return self._aggregator

    @property
    def load(self) -> SchedulerLoad:
        """Tasks per second and CPU of this scheduler (the scaling page shows them)."""
        if self._load is None:
            self._load = SchedulerLoad()
        return self._load

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any,
                   ) -> None:
        """Count every task that completes, for the scheduler's tasks per second."""
        if finish == "memory":
            self.load.task_done()

    def __getstate__(self) -> dict[str, Any]:
        return {"max_runs": self.max_runs, "window": self.window,
                "extensions": self.extensions}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    async def start(self, scheduler: Any) -> None:
        """Attach to the scheduler and start the extensions (pages, /metrics)."""
        self.scheduler = scheduler
        _ = self.aggregator
        _ = self.load
        for extension in self.extensions:
            try:
                extension.start(self, scheduler)
            except Exception:  # a missing page or series must never stop the scheduler
                logger.warning("hepflow: could not start %s", type(extension).__name__,
                               exc_info=True)

    async def close(self) -> None:
        for extension in self.extensions:
            extension.close(self)

    def log_event(self, topic: str, msg: Any) -> None:
        """Called by the scheduler's event broker for every event of every topic."""
        if topic in (TOPIC, BATCH_TOPIC):
            now = time.time()
            for item in chunk_records(msg):
                self.aggregator.add(ChunkRecord.from_dict(item), now)
        elif topic == SCALING_TOPIC and isinstance(msg, Mapping):
            self.aggregator.set_scaling(msg)


def plugin_of(scheduler: Any) -> HepflowPlugin | None:
    """The hepflow plugin of a scheduler, if it has one."""
    found = getattr(scheduler, "plugins", {}).get(PLUGIN_NAME)
    return found if isinstance(found, HepflowPlugin) else None


def _client_of(target: Any) -> tuple[Any, bool]:
    """A client for `target` (a Client, a Cluster, or a scheduler address), and if we own it."""
    import distributed

    if isinstance(target, distributed.Client):
        return target, False
    if target is None:
        return distributed.default_client(), False  # type: ignore[no-untyped-call]
    return distributed.Client(target, set_as_default=False), True  # type: ignore[no-untyped-call]


def install(target: Any = None, extensions: Sequence[Extension] = ()) -> None:
    """Register the hepflow plugin on a running scheduler (idempotent).

    `target` is a `distributed.Client`, a cluster object (e.g. `LocalCluster`,
    a dask-jobqueue cluster) or a scheduler address; None means the default
    client. Pages appear in the dashboard at once; to have them also listed in
    `individual-plots.json` (the dashboard's plot menu and dask-labextension),
    call `hepflow.observe.register_pages()` before the scheduler starts, or
    start it with the preload `hepflow.observe.preload`. The plugin starts
    `extensions` on the scheduler: `hepflow.observe.install` passes the pages
    and the Prometheus series.
    """
    client, own = _client_of(target)
    try:
        client.register_plugin(HepflowPlugin(extensions=extensions),
                               name=PLUGIN_NAME)  # idempotent: class attr
    finally:
        if own:
            client.close()


# -- asking the plugin from a client (functions run with Client.run_on_scheduler) -------


def _on_scheduler(dask_scheduler: Any, what: str, arg: Any = None) -> Any:
    plugin = plugin_of(dask_scheduler)
    if plugin is None:
        raise RuntimeError("the hepflow plugin is not installed on this scheduler; "
                           "call hepflow.observe.install(client) first")
    agg = plugin.aggregator
    if what == "mark":
        return agg.mark()
    if what == "since":
        return agg.since(int(arg))
    if what == "snapshot":
        return agg.snapshot(arg)
    if what == "load":
        plugin.load.sample(0.0)
        return plugin.load.series()
    if what == "n_workers":
        return len(dask_scheduler.workers)
    raise ValueError(f"unknown request {what!r}")


def mark(client: Any) -> int:
    """A marker: runs started after it are returned by `runs_since(client, marker)`."""
    return int(client.run_on_scheduler(_on_scheduler, what="mark"))


def runs_since(client: Any, marker: int) -> list[dict[str, Any]]:
    """Statistics of every run the scheduler saw after `marker`, oldest first."""
    return list(client.run_on_scheduler(_on_scheduler, what="since", arg=marker))


def snapshot(client: Any, since_time: float | None = None) -> dict[str, Any]:
    """Totals, latest run and timeline, as the dashboard shows them."""
    return dict(client.run_on_scheduler(_on_scheduler, what="snapshot", arg=since_time))


def wait_for_chunks(client: Any, marker: int, chunks: int, timeout: float = 10.0,
                    ) -> dict[str, Any]:
    """Merged statistics of the runs after `marker`, once `chunks` records have arrived.

    A run's result can reach the client a moment before the last chunk events
    reach the scheduler (they travel on different streams), so callers that
    compare totals wait for the count they expect.
    """
    deadline = time.monotonic() + timeout
    while True:
        merged = merge_runs(runs_since(client, marker))
        if merged["chunks"] >= chunks or time.monotonic() > deadline:
            return merged
        time.sleep(0.05)


def scheduler_load(client: Any) -> dict[str, Any]:
    """The scheduler's tasks per second and CPU percent, sampled now and before."""
    return dict(client.run_on_scheduler(_on_scheduler, what="load"))


def publish_scaling(client: Any, summary: Mapping[str, Any]) -> None:
    """Show a scaling result on the cluster's `individual-hepflow-scaling` page."""
    client.log_event(SCALING_TOPIC, dict(summary))


__all__ = ["PLUGIN_NAME", "SCALING_TOPIC", "Extension", "HepflowPlugin", "install", "mark",
           "plugin_of", "publish_scaling", "runs_since", "scheduler_load", "snapshot",
           "wait_for_chunks"]
