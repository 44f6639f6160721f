"""Where a run happens: one cluster config → a connected Dask client, and batch submission.

``local_cluster`` is the embedded default (a tuned LocalCluster).  ``ClusterConfig``
names any other place (Slurm, HTCondor, Kubernetes, Dask Gateway, a running
scheduler); ``connect`` turns it into a client with workers; ``submit`` runs an
analysis file there, and ``submit_detached`` submits the driver as a batch job.
"""

from hepflow.cluster.config import (
    BACKENDS,
    Adapt,
    ClusterConfig,
    DriverOptions,
    GatewayAuth,
    GatewayOptions,
    HTCondorOptions,
    KubernetesOptions,
    LocalOptions,
    SchedulerOptions,
    SlurmOptions,
    TLSOptions,
    load_cluster_config,
    write_cluster_config,
)
from hepflow.cluster.connect import connect
from hepflow.cluster.submit import (
    JobRecord,
    find_job,
    job_status,
    submit,
    submit_detached,
    wait_for_job,
)
from hepflow.engine.localcluster import local_cluster
from hepflow.errors import ClusterConfigError, ClusterError, SubmitError

__all__ = [
    "BACKENDS",
    "Adapt",
    "ClusterConfig",
    "ClusterConfigError",
    "ClusterError",
    "DriverOptions",
    "GatewayAuth",
    "GatewayOptions",
    "HTCondorOptions",
    "JobRecord",
    "KubernetesOptions",
    "LocalOptions",
    "SchedulerOptions",
    "SlurmOptions",
    "SubmitError",
    "TLSOptions",
    "connect",
    "find_job",
    "job_status",
    "load_cluster_config",
    "local_cluster",
    "submit",
    "submit_detached",
    "wait_for_job",
    "write_cluster_config",
]
