"""Where a run happens: cluster set-up (the embedded default is a tuned LocalCluster)."""

from hepflow.cluster.local import local_cluster

__all__ = ["local_cluster"]
