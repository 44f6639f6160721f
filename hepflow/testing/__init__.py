"""Real services for hepflow's tests, benchmarks and deployments.

Nothing here is imported by the analysis code itself, but it is part of the
installed package on purpose, because users run it: `deployments/slurm/
single-node.sh` is `python -m hepflow.testing.slurm` (a one-node Slurm to try
`hepflow submit` on), `deployments/xrootd/README.md` tells sites to check a
server with `xrootd_stat` and to set XrdCl's timeouts with `client_settings`,
and `benchmarks/remote.py` reads through `XRootDServer`. These are harnesses that
start the same daemons a physicist meets at a site (Debian's ``xrootd``, a
single-node Slurm), so that reading, retries, failover and batch submission
are tested against the real protocols instead of a mock that agrees with our
own assumptions.  The Slurm harness is `hepflow.testing.slurm` (not imported
here, so that ``python -m hepflow.testing.slurm`` runs it cleanly).
"""

from __future__ import annotations

from hepflow.testing.xrootd import (
    Sites,
    XRootDServer,
    XRootDServerError,
    deployment_config,
    xrootd_available,
    xrootd_binary,
)
from hepflow.testing.xrootd_client import (
    FAST_FAIL_CLIENT_SETTINGS,
    apply_client_settings,
    client_settings,
)
from hepflow.testing.xrootd_probe import xrootd_stat
from hepflow.util.net import free_port

__all__ = [
    "FAST_FAIL_CLIENT_SETTINGS",
    "Sites",
    "XRootDServer",
    "XRootDServerError",
    "apply_client_settings",
    "client_settings",
    "deployment_config",
    "free_port",
    "xrootd_available",
    "xrootd_binary",
    "xrootd_stat",
]
