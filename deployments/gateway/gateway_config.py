# Dask Gateway server configuration for hepflow (dask-gateway-server 2026.3).
#
# Start:  dask-gateway-server -f deployments/gateway/gateway_config.py
# The PyPI wheel carries its own proxy (dask-gateway-proxy), so no Docker is needed.
#
# Installation-specific values come from the environment, so the same file serves a laptop
# trial and a shared server:
#   HEPFLOW_GATEWAY_ADDRESS    public HTTP address clients use        (default 127.0.0.1:8000)
#   HEPFLOW_GATEWAY_TCP        scheduler (TCP) proxy address          (default 127.0.0.1:8786)
#   HEPFLOW_GATEWAY_API        private API address                    (default 127.0.0.1:8001)
#   HEPFLOW_GATEWAY_DIR        where cluster working directories go   (default ~/.hepflow-gateway)
#   HEPFLOW_GATEWAY_PASSWORD   shared password of the test authenticator (unset: any password)
#   HEPFLOW_GATEWAY_BACKEND    "unsafe-local" (default: clusters run as this server's user)
#                              or "local" (root only: clusters run as the authenticated user)
#
# This file is read by traitlets (`c` is the config object); it must stay plain assignments.
import os
import shutil
import sys

c = get_config()  # noqa: F821 - provided by traitlets when the file is loaded

c.DaskGateway.address = os.environ.get("HEPFLOW_GATEWAY_API", "127.0.0.1:8001")
c.Proxy.address = os.environ.get("HEPFLOW_GATEWAY_ADDRESS", "127.0.0.1:8000")
c.Proxy.tcp_address = os.environ.get("HEPFLOW_GATEWAY_TCP", "127.0.0.1:8786")

# Authentication: the simple authenticator is for trials and tests only. On a shared
# server use JupyterHub (c.DaskGateway.authenticator_class =
# "dask_gateway_server.auth.JupyterHubAuthenticator") or Kerberos
# ("dask_gateway_server.auth.KerberosAuthenticator"); hepflow's `gateway.auth.type`
# is then `jupyterhub` or `kerberos`.
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.SimpleAuthenticator.password = os.environ.get("HEPFLOW_GATEWAY_PASSWORD") or None

if os.environ.get("HEPFLOW_GATEWAY_BACKEND", "unsafe-local") == "local":
    c.DaskGateway.backend_class = "dask_gateway_server.backends.local.LocalBackend"
else:
    c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
c.LocalBackend.clusters_directory = os.path.expanduser(
    os.environ.get("HEPFLOW_GATEWAY_DIR", "~/.hepflow-gateway"))

# Newer distributed releases dropped the `dask-scheduler` / `dask-worker` command names
# that dask-gateway-server still defaults to: use `dask scheduler` / `dask worker`, from the
# same environment as this server (so hepflow and dask-gateway import on the workers).
_dask = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
c.ClusterConfig.scheduler_cmd = [_dask or "dask", "scheduler"]
c.ClusterConfig.worker_cmd = [_dask or "dask", "worker"]

# hepflow's workers: one single-threaded process each (uproot and awkward hold the GIL).
c.ClusterConfig.worker_cores = 1
c.ClusterConfig.worker_threads = 1
c.ClusterConfig.worker_memory = "2 G"
c.ClusterConfig.cluster_max_workers = 8
c.ClusterConfig.idle_timeout = 3600
