"""How fast, and where does the time go: per-chunk instrumentation and its consumers.

* `events`: what each chunk task measures and sends (`hepflow-chunk` events);
* `plugin`: the scheduler plugin aggregating them (`install(client_or_cluster)`);
* `dashboard`: live Bokeh pages `individual-hepflow-*` on the Dask dashboard;
* `prometheus`: `hepflow_*` series on the scheduler's `/metrics`;
* `report`: standalone HTML run reports;
* `scaling`: strong/weak scaling runs (`hepflow bench scaling`).
"""

from hepflow.observe.events import TOPIC, emit_chunk

__all__ = ["TOPIC", "emit_chunk", "install", "register_pages"]


def install(target: object = None) -> None:
    """Register hepflow's scheduler plugin on a running cluster (see `plugin.install`)."""
    from hepflow.observe.plugin import install as _install

    _install(target)


def register_pages() -> bool:
    """Add hepflow's pages to dashboards started from now on (see `dashboard.register_pages`)."""
    from hepflow.observe.dashboard import register_pages as _register

    return _register()
