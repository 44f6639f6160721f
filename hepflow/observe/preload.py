"""Scheduler preload: hepflow's dashboard pages and plugin on every scheduler that loads it.

    dask scheduler --preload hepflow.observe.preload

or, with dask-jobqueue, ``SLURMCluster(..., scheduler_options={"preload":
["hepflow.observe.preload"]})``. Importing this module (which the scheduler
does before its dashboard starts) adds the pages to distributed's page table,
so they are also listed in the dashboard's plot menu and
`individual-plots.json`; `dask_setup` then adds the plugin that feeds them.
"""

from __future__ import annotations

from typing import Any

from hepflow.observe import default_extensions, register_pages
from hepflow.observe.plugin import PLUGIN_NAME, HepflowPlugin

register_pages()


def dask_setup(scheduler: Any) -> None:
    """Called by distributed when the scheduler starts (its plugins are started after)."""
    if PLUGIN_NAME not in scheduler.plugins:
        scheduler.add_plugin(HepflowPlugin(extensions=default_extensions()), name=PLUGIN_NAME)


__all__ = ["dask_setup"]
