"""The embedded default cluster: a LocalCluster with process workers, tuned for columnar HEP.

Process workers with one thread each, because uproot's decompression and
awkward hold the GIL. distributed also starts every worker with
`MALLOC_TRIM_THRESHOLD_=65536`, which makes glibc map and unmap every array
over 128 kB from scratch; chunk kernels allocate many such arrays, and
measured on the dimuon benchmark that costs about 1.6x in kernel time, so
hepflow's cluster leaves glibc's default in place.
"""

from __future__ import annotations

import os
from typing import Any

import dask.config


def worker_environ() -> dict[str, Any]:
    """distributed's pre-spawn environment without the malloc trim threshold."""
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


def local_cluster(n_workers: int | None = None, **kwargs: Any) -> Any:
    """A `distributed.LocalCluster` with process workers, one thread each, free ports."""
    import distributed

    from hepflow.cluster.errors import ClusterConfigError

    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int)
                                  or n_workers < 1):
        raise ClusterConfigError(f"local_cluster: the number of workers must be an integer "
                                 f">= 1 (or None for one per core), got {n_workers!r}")
    workers = n_workers or max(1, min(os.cpu_count() or 1, 8))
    options: dict[str, Any] = {"n_workers": workers, "threads_per_worker": 1,
                               "processes": True, "dashboard_address": ":0"}
    options.update(kwargs)
    # hepflow's dashboard pages and metrics plugin (see hepflow.observe.preload)
    scheduler_kwargs = dict(options.get("scheduler_kwargs") or {})
    scheduler_kwargs["preload"] = [*scheduler_kwargs.get("preload", ()),
                                   "hepflow.observe.preload"]
    options["scheduler_kwargs"] = scheduler_kwargs
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}):
        return distributed.LocalCluster(**options)


__all__ = ["local_cluster", "worker_environ"]
