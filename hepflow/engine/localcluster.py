"""The embedded default cluster: a LocalCluster with process workers, tuned for columnar HEP.

Process workers with one thread each, because uproot's decompression and
awkward hold the GIL. distributed also starts every worker with
`MALLOC_TRIM_THRESHOLD_=65536`, which makes glibc map and unmap every array
over 128 kB from scratch; chunk kernels allocate many such arrays, and
measured on the dimuon benchmark that costs about 1.6x in kernel time, so
hepflow's cluster leaves glibc's default in place.

Worker processes are spawned, and a spawned child normally re-runs the
parent's ``__main__`` script (as ``__mp_main__``) before it starts. For a
script without ``if __name__ == "__main__":`` that re-run would build the
analysis again and start a cluster inside every worker. Dask never needs the
script in its workers (functions from ``__main__`` travel by value with
cloudpickle, as from a notebook), so hepflow starts its workers as if from a
notebook: the script is hidden from ``multiprocessing`` while they spawn.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from typing import Any

import dask.config

from hepflow.errors import ClusterConfigError, HepflowError

#: Loggers that report a worker's departure as lost work; quiet while hepflow
#: closes a cluster it started itself (nothing is lost that anyone still wants).
_SHUTDOWN_LOGGERS = ("distributed.scheduler", "distributed.nanny", "distributed.worker",
                     "distributed.core", "distributed.batched")


#: Scheduler settings of every cluster hepflow starts. A worker slot takes a task only
#: when it is free (distributed's default, 1.1, also queues a task on a busy worker):
#: hepflow's tasks are batches lasting seconds, and one queued behind a running batch
#: waits that long while other slots are idle -- at the end of a run, the whole run waits.
SCHEDULER_CONFIG: dict[str, Any] = {"distributed.scheduler.worker-saturation": 1.0}


def worker_environ() -> dict[str, Any]:
    """distributed's pre-spawn environment without the malloc trim threshold."""
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return environ


def local_cluster(n_workers: int | None = None, **kwargs: Any) -> Any:
    """A `distributed.LocalCluster` with process workers, one thread each, free ports."""
    import distributed

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
    refuse_in_spawned_child()
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ(),
                          **SCHEDULER_CONFIG}), workers_skip_main():
        return distributed.LocalCluster(**options)


@contextlib.contextmanager
def workers_skip_main() -> Iterator[None]:
    """Hide the ``__main__`` script from ``multiprocessing`` while workers spawn.

    ``multiprocessing.spawn`` re-runs ``__main__`` in a child when the module
    has a ``__file__`` (``python train.py``) or a ``__spec__`` (``python -m``);
    without both, the child starts clean, as from a notebook. Restored at once:
    the user's own ``multiprocessing`` use afterwards is untouched.
    """
    main = sys.modules.get("__main__")
    saved = {name: main.__dict__[name] for name in ("__file__", "__spec__")
             if main is not None and main.__dict__.get(name) is not None}
    if main is None or not saved:
        yield
        return
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.update(saved)


def refuse_in_spawned_child() -> None:
    """One clear line instead of a cluster started inside a worker that re-ran the script.

    Happens only when a worker is respawned later (a restart) from a script
    that starts its work at import; the initial workers never re-run it.
    """
    if multiprocessing.parent_process() is not None and "__mp_main__" in sys.modules:
        raise HepflowError(
            "a worker process re-ran this script and reached a line that starts a "
            "cluster; put the script's work under `if __name__ == \"__main__\":`")


def close_quietly(client: Any, cluster: Any) -> None:
    """Close hepflow's own client and cluster without "lose already computed task" noise.

    The client goes first, so the scheduler forgets every result before the
    workers leave; the departure messages that remain are silenced.
    """
    loggers = [logging.getLogger(name) for name in _SHUTDOWN_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with contextlib.suppress(Exception):
            client.close()
        with contextlib.suppress(Exception):
            cluster.close()
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


__all__ = ["close_quietly", "local_cluster", "refuse_in_spawned_child", "worker_environ",
           "workers_skip_main"]
