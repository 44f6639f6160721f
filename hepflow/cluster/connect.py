"""The factory: a `ClusterConfig` in, a connected `distributed.Client` with workers out.

Two pitfalls of setting up dask-jobqueue by hand are handled here once:

* computing before any worker exists (ROOT's distributed RDataFrame issue
  #9429): `connect` blocks until ``wait_for`` workers joined;
* waiting forever for workers that will never come: after ``timeout``
  seconds, or as soon as every submitted batch job has ended, it raises a
  `ClusterError` that names the jobs, their states and their log files.

Optional backends (dask-jobqueue, dask-kubernetes, dask-gateway) are imported
only when chosen, with an error naming the package to install.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import distributed

from hepflow.cluster.backends import ClusterClient, backend_of, gateway_auth, require
from hepflow.cluster.batch import JobState
from hepflow.cluster.config import ClusterConfig, load_cluster_config
from hepflow.errors import ClusterError


def connect(config: ClusterConfig | str | os.PathLike[str] | Mapping[str, Any] | None = None,
            *, set_as_default: bool = True) -> distributed.Client:
    """Start (or reach) the configured cluster and return a client once workers have joined.

    ``config`` is anything `load_cluster_config` reads (``None``: local).
    With ``set_as_default`` the client becomes the session's default, which
    is what analysis files and ``RDataFrame(...)`` without ``client=`` use.
    Closing the client closes the cluster it started.
    """
    cfg = load_cluster_config(config if config is not None else "local")
    backend = backend_of(cfg.backend)
    client = backend.client(cfg, set_as_default)
    try:
        wait_for_workers(client, cfg)
    except BaseException:
        client.close()
        raise
    if not backend.observed:
        from hepflow.observe import install

        install(client)  # a scheduler we did not start: register the metrics plugin on it
    return client


# --------------------------------------------------------------------------
# starting: each backend's class (hepflow.cluster.backends) knows how


def make_cluster(cfg: ClusterConfig) -> Any:
    """The cluster object for ``cfg`` (not for ``scheduler``), before any worker is asked for.

    Separate from `start_cluster` so that a batch job script can be shown or
    checked (``make_cluster(cfg).job_script()``) without submitting a job.
    """
    return backend_of(cfg.backend).make(cfg)


def start_cluster(cfg: ClusterConfig) -> Any:
    """`make_cluster`, then scaled to ``workers`` or made adaptive."""
    return backend_of(cfg.backend).start(cfg)


# --------------------------------------------------------------------------
# waiting for workers, and explaining why none came


def wanted_workers(cfg: ClusterConfig) -> int:
    """How many workers `connect` waits for: ``wait_for`` capped by what will start."""
    return backend_of(cfg.backend).wanted(cfg)


def wait_for_workers(client: distributed.Client, cfg: ClusterConfig, poll: float = 1.0) -> None:
    """Block until enough workers joined; fail early when all batch jobs ended, else on timeout."""
    wanted = wanted_workers(cfg)
    if wanted == 0:
        return
    backend = backend_of(cfg.backend)
    cluster = getattr(client, "_owned_cluster", None)
    deadline = time.monotonic() + cfg.timeout
    while True:
        have = len(client.nthreads())
        if have >= wanted:
            return
        jobs = backend.job_states(backend.job_ids(cluster)) if cluster is not None else {}
        if jobs and all(state.final for state in jobs.values()):
            raise ClusterError(_explain(cfg, cluster, have, wanted, jobs,
                                        "every worker job ended before its worker connected"))
        if time.monotonic() > deadline:
            raise ClusterError(_explain(cfg, cluster, have, wanted, jobs,
                                        f"no {'' if have == 0 else 'more '}workers joined "
                                        f"within {cfg.timeout:g} s"))
        time.sleep(poll)


def _explain(cfg: ClusterConfig, cluster: Any, have: int, wanted: int,
             jobs: Mapping[str, JobState], what: str) -> str:
    lines = [f"{cfg.describe()}: {what} (have {have}, waiting for {wanted})."]
    lines.extend(backend_of(cfg.backend).explain(cfg, cluster, jobs))
    return "\n".join(lines)


__all__ = ["ClusterClient", "connect", "gateway_auth", "make_cluster", "require",
           "start_cluster",
           "wait_for_workers", "wanted_workers"]
