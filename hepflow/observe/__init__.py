"""How fast, and where does the time go: per-chunk instrumentation and its consumers.

* `events`: what each chunk task measures and sends (`hepflow-chunk` events);
* `plugin`: the scheduler plugin aggregating them (`install(client_or_cluster)`);
* `dashboard`: live Bokeh pages `individual-hepflow-*` on the Dask dashboard;
* `prometheus`: `hepflow_*` series on the scheduler's `/metrics`;
* `report`: standalone HTML run reports.

Scaling runs (`hepflow bench scaling`) are a harness, not an observation: they
live in `hepflow.bench` and use this package, never the reverse. Within it,
imports point one way: `dashboard` and `prometheus` are extensions of the
`plugin`, composed here (`default_extensions`), so the plugin imports neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hepflow.observe.events import TOPIC, emit_chunk

if TYPE_CHECKING:
    from hepflow.observe.plugin import Extension

__all__ = ["TOPIC", "default_extensions", "emit_chunk", "install", "register_pages"]


def default_extensions() -> list[Extension]:
    """What hepflow's plugin feeds on a scheduler: the dashboard pages and /metrics."""
    from hepflow.observe.dashboard import DashboardPages
    from hepflow.observe.prometheus import MetricsExport

    return [DashboardPages(), MetricsExport()]


def install(target: object = None) -> None:
    """Register hepflow's scheduler plugin, with its pages and /metrics, on a running cluster.

    `target`: a `distributed.Client`, a cluster object or a scheduler address
    (None: the default client); see `plugin.install`.
    """
    from hepflow.observe.plugin import install as _install

    _install(target, default_extensions())


def register_pages() -> bool:
    """Add hepflow's pages to dashboards started from now on (see `dashboard.register_pages`)."""
    from hepflow.observe.dashboard import register_pages as _register

    return _register()
