"""Clusters of a given size for scaling runs: one client per worker count.

Restricting a run's tasks to a subset of a bigger cluster's workers looks
simpler but measures the wrong thing: Dask neither steals restricted tasks
nor spreads them past the worker holding their dependency, so hepflow's
chunk tasks (which all depend on the one kernel object) would pile up on one
worker. A point with n workers therefore runs on a cluster that has exactly
n workers:

* `LocalPool`: one hepflow LocalCluster per worker count, all started up
  front, so the timed repetitions can be interleaved across points;
* `ScalePool`: a cluster object the user gave (LocalCluster, dask-jobqueue,
  Dask Gateway, ...) resized with `cluster.scale(n)` between points (the
  points then run one after the other, each after its own warm-up);
* `FixedPool`: a bare scheduler address: only its current size can be
  measured (run once per size and compare the scaling.json files).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from hepflow.errors import PlanError


def _count(dask_scheduler: Any) -> int:
    return len(dask_scheduler.workers)


def n_workers(client: Any) -> int:
    """Workers the scheduler knows now (asked on the scheduler: no truncated listing)."""
    return int(client.run_on_scheduler(_count))


def _wait_exactly(client: Any, n: int, timeout: float = 300.0) -> None:
    """Wait until the scheduler knows exactly `n` running workers."""
    deadline = time.monotonic() + timeout
    while True:
        count = n_workers(client)
        if count == n:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the cluster has {count} workers, not {n}, after {timeout} s")
        time.sleep(0.2)


class Pool:
    """Gives a client whose cluster has exactly n workers."""

    #: Whether every size is available at once (so repetitions can be interleaved).
    interleave = True
    kind = "pool"

    def client_for(self, n: int) -> Any:
        raise NotImplementedError

    def clients(self) -> list[Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Close what the pool started itself."""


class LocalPool(Pool):
    """One hepflow LocalCluster (with the plugin) per worker count."""

    kind = "LocalCluster"

    def __init__(self, sizes: Sequence[int], log: Callable[[str], None] = print) -> None:
        import distributed

        from hepflow.cluster import local_cluster
        from hepflow.observe import install, register_pages

        register_pages()
        self._pairs: dict[int, tuple[Any, Any]] = {}
        try:
            for n in sorted(set(sizes)):
                cluster = local_cluster(n)
                client = distributed.Client(  # type: ignore[no-untyped-call]
                    cluster, set_as_default=False)
                self._pairs[n] = (cluster, client)
                install(client)
                client.wait_for_workers(n, timeout=300)
                log(f"scaling: cluster with {n} workers, dashboard {client.dashboard_link}")
        except BaseException:
            self.close()
            raise

    def client_for(self, n: int) -> Any:
        return self._pairs[n][1]

    def clients(self) -> list[Any]:
        return [client for _, client in self._pairs.values()]

    def close(self) -> None:
        for cluster, client in self._pairs.values():
            client.close()
            cluster.close()
        self._pairs.clear()


class ScalePool(Pool):
    """A user's cluster object, resized between points."""

    interleave = False
    kind = "scaled cluster"

    def __init__(self, client: Any) -> None:
        from hepflow.observe import install

        self.client = client
        self.cluster = client.cluster
        install(client)

    def client_for(self, n: int) -> Any:
        import dask

        from hepflow.engine.localcluster import worker_environ

        if n_workers(self.client) != n:
            # new local workers get hepflow's environment, as in hepflow.cluster.local_cluster
            with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}):
                self.cluster.scale(n)
                _wait_exactly(self.client, n)
        return self.client

    def clients(self) -> list[Any]:
        return [self.client]


class FixedPool(Pool):
    """A cluster that cannot be resized from here: only its own size is available."""

    kind = "connected"

    def __init__(self, client: Any, own: bool = False) -> None:
        from hepflow.observe import install

        self.client = client
        self.own = own
        install(client)

    def client_for(self, n: int) -> Any:
        have = n_workers(self.client)
        if have != n:
            raise PlanError(
                f"this cluster has {have} workers and cannot be resized from here, so a point "
                f"with {n} workers cannot be measured on it: pass a cluster object "
                "(`run_scaling(config, client)` with a LocalCluster or dask-jobqueue cluster), "
                "or run once per cluster size with --workers N")
        return self.client

    def clients(self) -> list[Any]:
        return [self.client]

    def close(self) -> None:
        if self.own:
            self.client.close()


def make_pool(sizes: Sequence[int], client: Any = None, scheduler: str | None = None,
              log: Callable[[str], None] = print) -> Pool:
    """The right pool: the given client's cluster, a scheduler address, or LocalClusters."""
    if client is not None:
        cluster = getattr(client, "cluster", None)
        if cluster is not None and hasattr(cluster, "scale"):
            return ScalePool(client)
        return FixedPool(client)
    if scheduler:
        import distributed

        client = distributed.Client(  # type: ignore[no-untyped-call]
            scheduler, set_as_default=False)
        return FixedPool(client, own=True)
    return LocalPool(sizes, log)


__all__ = ["FixedPool", "LocalPool", "Pool", "ScalePool", "make_pool", "n_workers"]
