"""Which Dask scheduler runs a plan: the given client, the running one, or a new LocalCluster.

The default cluster has process workers with one thread each: uproot's
decompression and awkward hold the GIL, so threads would not scale.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from hepflow.engine.localcluster import close_quietly, local_cluster

_lock = threading.Lock()
_default: dict[str, Any] = {}


def default_client() -> Any:
    """The running `distributed.Client`, else one on a new local process cluster."""
    import distributed

    try:
        return distributed.default_client()
    except ValueError:
        pass
    with _lock:
        client = _default.get("client")
        if client is not None and client.status == "running":
            return client
        cluster = local_cluster()
        client = distributed.Client(cluster, set_as_default=True)
        _default["client"] = client
        _default["cluster"] = cluster
        atexit.register(close_quietly, client, cluster)
        workers = len(cluster.workers)
        print(f"hepflow: started a local Dask cluster ({workers} worker processes); "
              f"dashboard: {client.dashboard_link}", flush=True)
        return client


def resolve(spec: Any) -> Any:
    """`None` → default client; "sync" → None (synchronous scheduler in this process)."""
    if spec == "sync":
        return None
    if spec is None:
        return default_client()
    if isinstance(spec, str):
        import distributed

        return distributed.Client(spec)
    return spec


__all__ = ["default_client", "resolve"]
