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

import importlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import distributed

from hepflow.cluster.batch import JobState, condor_states, slurm_states
from hepflow.cluster.config import (
    ClusterConfig,
    GatewayOptions,
    HTCondorOptions,
    KubernetesOptions,
    LocalOptions,
    SchedulerOptions,
    SlurmOptions,
    load_cluster_config,
    walltime_seconds,
)
from hepflow.errors import ClusterError

_PACKAGES = {
    "dask_jobqueue": ("dask-jobqueue", "cluster"),
    "dask_kubernetes.operator": ("dask-kubernetes", "kubernetes"),
    "dask_gateway": ("dask-gateway", "gateway"),
}


def require(module: str, backend: str) -> Any:
    """Import an optional backend package, or say exactly what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package, extra = _PACKAGES[module]
        raise ClusterError(f"the {backend} backend needs the `{package}` package, which is not "
                           f"installed: pip install 'hepflow[{extra}]' (or pip install "
                           f"{package})") from err


class ClusterClient(distributed.Client):
    """A `distributed.Client` that also closes the cluster it was made for.

    `connect` returns a plain client so that everything Dask offers works,
    but the batch jobs, pods or gateway cluster behind it must go away with
    it: ``with connect(cfg) as client: ...`` cancels the worker jobs on exit.
    """

    def __init__(self, *args: Any, owned_cluster: Any = None, **kwargs: Any) -> None:
        self._owned_cluster = owned_cluster
        super().__init__(*args, **kwargs)

    def close(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().close(*args, **kwargs)
        finally:
            cluster, self._owned_cluster = self._owned_cluster, None
            if cluster is not None:
                cluster.close()


def connect(config: ClusterConfig | str | os.PathLike[str] | Mapping[str, Any] | None = None,
            *, set_as_default: bool = True) -> distributed.Client:
    """Start (or reach) the configured cluster and return a client once workers have joined.

    ``config`` is anything `load_cluster_config` reads (``None``: local).
    With ``set_as_default`` the client becomes the session's default, which
    is what analysis files and ``RDataFrame(...)`` without ``client=`` use.
    Closing the client closes the cluster it started.
    """
    cfg = load_cluster_config(config if config is not None else "local")
    if cfg.backend == "scheduler":
        client = _scheduler_client(cfg, set_as_default)
    else:
        cluster = start_cluster(cfg)
        try:
            client = ClusterClient(cluster, owned_cluster=cluster, set_as_default=set_as_default)
        except BaseException:
            cluster.close()
            raise
    try:
        wait_for_workers(client, cfg)
    except BaseException:
        client.close()
        raise
    if cfg.backend not in ("local", "slurm", "htcondor"):
        from hepflow.observe import install

        install(client)  # a scheduler we did not start: register the metrics plugin on it
    return client


# --------------------------------------------------------------------------
# one start function per backend


def make_cluster(cfg: ClusterConfig) -> Any:
    """The cluster object for ``cfg`` (not for ``scheduler``), before any worker is asked for.

    Separate from `start_cluster` so that a batch job script can be shown or
    checked (``make_cluster(cfg).job_script()``) without submitting a job.
    """
    starters = {"local": _local, "slurm": _slurm, "htcondor": _htcondor,
                "kubernetes": _kubernetes, "gateway": _gateway}
    try:
        starter = starters[cfg.backend]
    except KeyError:
        raise ClusterError(f"backend {cfg.backend!r} has no cluster object to start; "
                           "use connect()") from None
    return starter(cfg)


def start_cluster(cfg: ClusterConfig) -> Any:
    """`make_cluster`, then scaled to ``workers`` or made adaptive."""
    cluster = make_cluster(cfg)
    try:
        if cfg.adapt is not None:
            cluster.adapt(minimum=cfg.adapt.minimum, maximum=cfg.adapt.maximum)
        elif cfg.backend != "local":
            cluster.scale(1 if cfg.workers is None else cfg.workers)
    except BaseException:
        cluster.close()
        raise
    return cluster


def _local(cfg: ClusterConfig) -> Any:
    from hepflow.engine.localcluster import local_cluster

    options = cfg.options
    assert isinstance(options, LocalOptions)  # guaranteed by ClusterConfig.__post_init__
    kwargs: dict[str, Any] = {"threads_per_worker": options.threads_per_worker,
                              "dashboard_address": options.dashboard_address}
    if options.memory_limit is not None:
        kwargs["memory_limit"] = options.memory_limit
    workers = cfg.workers or None  # 0, like None, means one worker per core here
    if cfg.adapt is not None:
        workers = max(cfg.adapt.minimum, 1)
    return local_cluster(workers, **kwargs)


def _jobqueue_common(options: SlurmOptions | HTCondorOptions) -> dict[str, Any]:
    scheduler_options: dict[str, Any] = {"dashboard_address": ":0",
                                         "preload": ["hepflow.observe.preload"]}
    if options.scheduler_host:
        scheduler_options["host"] = options.scheduler_host
    kwargs: dict[str, Any] = {
        "cores": options.cores,
        "processes": options.worker_processes,
        "memory": options.memory,
        "job_script_prologue": list(options.setup),
        "job_name": options.job_name,
        "death_timeout": options.death_timeout,
        "scheduler_options": scheduler_options,
    }
    for key in ("python", "log_directory", "local_directory", "interface"):
        value = getattr(options, key)
        if value is not None:
            kwargs[key] = os.path.expanduser(value) if key.endswith("directory") else value
    return kwargs


def _slurm(cfg: ClusterConfig) -> Any:
    jobqueue = require("dask_jobqueue", "slurm")
    options = cfg.options
    assert isinstance(options, SlurmOptions)
    kwargs = _jobqueue_common(options)
    kwargs.update(walltime=options.walltime, queue=options.partition, account=options.account,
                  job_extra_directives=list(options.job_extra_directives))
    try:
        return jobqueue.SLURMCluster(**kwargs)
    except (OSError, ValueError, RuntimeError) as err:
        raise ClusterError(f"could not start the Slurm cluster's scheduler: {err}") from err


def _htcondor(cfg: ClusterConfig) -> Any:
    jobqueue = require("dask_jobqueue", "htcondor")
    options = cfg.options
    assert isinstance(options, HTCondorOptions)
    kwargs = _jobqueue_common(options)
    directives = dict(options.job_extra_directives)
    directives.setdefault("+MaxRuntime", str(walltime_seconds(options.walltime)))
    if options.accounting_group:
        directives.setdefault("accounting_group", options.accounting_group)
    kwargs.update(disk=options.disk, job_extra_directives=directives)
    if options.schedd:
        kwargs.update(submit_command_extra=["-name", options.schedd],
                      cancel_command_extra=["-name", options.schedd])
    try:
        return jobqueue.HTCondorCluster(**kwargs)
    except (OSError, ValueError, RuntimeError) as err:
        raise ClusterError(f"could not start the HTCondor cluster's scheduler: {err}") from err


def _kubernetes(cfg: ClusterConfig) -> Any:
    operator = require("dask_kubernetes.operator", "kubernetes")
    options = cfg.options
    assert isinstance(options, KubernetesOptions)
    common: dict[str, Any] = {"shutdown_on_close": options.shutdown_on_close}
    if options.namespace:
        common["namespace"] = options.namespace
    if options.manifest:
        import yaml

        spec = yaml.safe_load(Path(options.manifest).expanduser().read_text())
        return operator.KubeCluster(custom_cluster_spec=spec, **common)
    resources = {"requests": {"cpu": options.cpu, "memory": options.memory},
                 "limits": {"cpu": options.cpu, "memory": options.memory}}
    return operator.KubeCluster(name=options.name or "hepflow", image=options.image,
                                n_workers=0, resources=resources, env=dict(options.env),
                                **common)


def gateway_auth(options: GatewayOptions) -> Any:
    """The dask-gateway auth object, reading secrets from the named environment variables."""
    gateway = require("dask_gateway", "gateway")
    auth = options.auth
    if auth is None:
        return None
    if auth.type == "basic":
        password = os.environ.get(auth.password_env) if auth.password_env else None
        if auth.password_env and password is None:
            raise ClusterError(f"gateway basic auth: environment variable {auth.password_env} "
                               "(the password) is not set")
        return gateway.BasicAuth(username=auth.username, password=password)
    if auth.type == "jupyterhub":
        token = os.environ.get(auth.token_env)
        if token is None:
            raise ClusterError(f"gateway jupyterhub auth: environment variable {auth.token_env} "
                               "(the API token) is not set; JupyterHub sets it in its sessions")
        return gateway.JupyterHubAuth(api_token=token)
    return gateway.KerberosAuth()


_GATEWAY_LOOP: list[Any] = []


def _gateway_loop() -> Any:
    """One event loop thread shared by every dask-gateway client of this process."""
    if not _GATEWAY_LOOP:
        from distributed.utils import LoopRunner

        runner = LoopRunner(asynchronous=False)
        runner.start()
        _GATEWAY_LOOP.append(runner)
    return _GATEWAY_LOOP[0].loop


def _gateway(cfg: ClusterConfig) -> Any:
    gateway_mod = require("dask_gateway", "gateway")
    options = cfg.options
    assert isinstance(options, GatewayOptions)
    # dask-gateway's clients close themselves again in __del__, which raises once their
    # event loop has stopped; they sit in reference cycles, so that happens at some random
    # later garbage collection.  Running them on one loop that lives as long as the process
    # makes the second close harmless.
    common: dict[str, Any] = {"address": options.address,
                              "proxy_address": options.proxy_address,
                              "public_address": options.public_address,
                              "auth": gateway_auth(options), "loop": _gateway_loop()}
    where = options.address or "the gateway from the Dask config (gateway.address)"
    try:
        if options.cluster_name:
            return gateway_mod.GatewayCluster.from_name(
                options.cluster_name, shutdown_on_close=options.shutdown_on_close, **common)
        return gateway_mod.GatewayCluster(shutdown_on_close=options.shutdown_on_close,
                                          **common, **dict(options.cluster_options))
    except (OSError, ValueError) as err:
        raise ClusterError(f"Dask Gateway at {where} refused or did not answer: {err}") from err
    except Exception as err:  # dask-gateway raises its own HTTP error types
        raise ClusterError(f"Dask Gateway at {where}: {type(err).__name__}: {err}") from err


def _scheduler_client(cfg: ClusterConfig, set_as_default: bool) -> distributed.Client:
    options = cfg.options
    assert isinstance(options, SchedulerOptions)
    security = None
    if options.tls is not None:
        from distributed.security import Security

        tls = options.tls
        for what, path in (("ca_file", tls.ca_file), ("cert", tls.cert), ("key", tls.key)):
            if path is not None and not Path(path).expanduser().is_file():
                raise ClusterError(f"tls.{what} {path} does not exist")
        security = Security(tls_ca_file=tls.ca_file, tls_client_cert=tls.cert,
                            tls_client_key=tls.key, require_encryption=tls.require_encryption)
    try:
        return distributed.Client(options.address, security=security,
                                  timeout=min(cfg.timeout, 60.0), set_as_default=set_as_default)
    except (OSError, TimeoutError) as err:
        raise ClusterError(f"cannot reach the Dask scheduler at {options.address}: {err}. "
                           "Is it running (`dask scheduler`), is the port open from here"
                           + (", and do the TLS files match its certificate?" if security
                              else "?")) from err


# --------------------------------------------------------------------------
# waiting for workers, and explaining why none came


def wanted_workers(cfg: ClusterConfig) -> int:
    """How many workers `connect` waits for: ``wait_for`` capped by what will start."""
    wanted = cfg.wait_for
    if cfg.adapt is not None:
        wanted = min(wanted, cfg.adapt.minimum)
    elif cfg.workers is not None and cfg.backend != "scheduler":
        wanted = min(wanted, cfg.workers)
    return wanted


def wait_for_workers(client: distributed.Client, cfg: ClusterConfig, poll: float = 1.0) -> None:
    """Block until enough workers joined; fail early when all batch jobs ended, else on timeout."""
    wanted = wanted_workers(cfg)
    if wanted == 0:
        return
    cluster = getattr(client, "_owned_cluster", None)
    deadline = time.monotonic() + cfg.timeout
    while True:
        have = len(client.nthreads())
        if have >= wanted:
            return
        jobs = _job_states(cfg, cluster)
        if jobs and all(state.final for state in jobs.values()):
            raise ClusterError(_explain(cfg, cluster, have, wanted, jobs,
                                        "every worker job ended before its worker connected"))
        if time.monotonic() > deadline:
            raise ClusterError(_explain(cfg, cluster, have, wanted, jobs,
                                        f"no {'' if have == 0 else 'more '}workers joined "
                                        f"within {cfg.timeout:g} s"))
        time.sleep(poll)


def _job_ids(cluster: Any) -> list[str]:
    """Batch job ids of a dask-jobqueue cluster's submitted workers (public `workers` map)."""
    workers = getattr(cluster, "workers", None) or {}
    return [str(job.job_id) for job in workers.values() if getattr(job, "job_id", None)]


def _job_states(cfg: ClusterConfig, cluster: Any) -> dict[str, JobState]:
    if cluster is None or not cfg.is_batch:
        return {}
    ids = _job_ids(cluster)
    if cfg.backend == "slurm":
        return slurm_states([i.split(";")[0] for i in ids])
    return condor_states([i.split(".")[0] for i in ids])


def _explain(cfg: ClusterConfig, cluster: Any, have: int, wanted: int,
             jobs: Mapping[str, JobState], what: str) -> str:
    lines = [f"{cfg.describe()}: {what} (have {have}, waiting for {wanted})."]
    options = cfg.options
    if cfg.is_batch:
        assert isinstance(options, (SlurmOptions, HTCondorOptions))
        if not jobs:
            lines.append("No worker job was submitted; check the submit command above "
                         "in the log.")
        for state in jobs.values():
            detail = f" ({state.reason})" if state.reason else ""
            exit_code = f", exit code {state.exit_code}" if state.exit_code is not None else ""
            lines.append(f"  job {state.job_id}: {state.state}{detail}{exit_code}"
                         + _log_hint(cfg, options, state.job_id))
        if any(s.state in ("PENDING", "IDLE") for s in jobs.values()):
            lines.append("Pending jobs wait for resources: check the partition/queue, account, "
                         "walltime and memory, or raise `timeout`.")
        if any(s.final for s in jobs.values()):
            lines.append("Ended jobs usually mean the worker could not start or reach the "
                         "scheduler: see their logs; set `scheduler_host`/`interface` to an "
                         "address the batch nodes can reach, and `python`/`setup` so that "
                         "hepflow imports there.")
    elif cfg.backend == "scheduler":
        assert isinstance(options, SchedulerOptions)
        lines.append(f"The scheduler at {options.address} is up but has no workers: start "
                     f"some with `dask worker {options.address}`.")
    elif cfg.backend == "local":
        lines.append("Local workers did not start: look for errors above (memory limit, "
                     "ports, a broken environment).")
    elif cfg.backend == "kubernetes":
        lines.append("Check the worker pods: `kubectl get pods -l "
                     f"dask.org/cluster-name={getattr(cluster, 'name', '<name>')}` and "
                     "`kubectl describe pod ...` (image pull errors, quota).")
    elif cfg.backend == "gateway":
        lines.append(f"Gateway cluster {getattr(cluster, 'name', '?')}: check its limits "
                     "(cluster_max_workers) and the gateway server's log.")
    return "\n".join(lines)


def _log_hint(cfg: ClusterConfig, options: SlurmOptions | HTCondorOptions, job_id: str) -> str:
    if options.log_directory is None:
        return " (set `log_directory` to keep worker logs)"
    directory = Path(os.path.expanduser(options.log_directory))
    if cfg.backend == "slurm":
        log = directory / f"{options.job_name}-{job_id}.err"
    else:
        matches = sorted(directory.glob(f"*{job_id}*.err"))
        log = matches[0] if matches else directory
    tail = ""
    if log.is_file():
        text = log.read_text(errors="replace").strip().splitlines()[-3:]
        if text:
            tail = "\n      " + "\n      ".join(text)
    return f"; log {log}{tail}"


__all__ = ["ClusterClient", "connect", "make_cluster", "require", "start_cluster",
           "wait_for_workers", "wanted_workers"]
