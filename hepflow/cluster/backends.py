"""One class per cluster backend: how it starts, explains missing workers, reports jobs and logs.

Everything that differs between local, Slurm, HTCondor, Kubernetes, Dask
Gateway and an existing scheduler lives in that backend's class; `connect`,
`wait_for_workers`, detached submission and ``hepflow status`` look the class
up in `REGISTRY` by the config's backend name and call its methods. A new
backend is one new class and one registry entry, never another branch in
the callers.

Optional backend packages (dask-jobqueue, dask-kubernetes, dask-gateway) are
imported only when that backend starts, with an error naming the package.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import dask.config
import distributed

from hepflow.cluster.batch import (
    JobState,
    condor_driver_files,
    condor_states,
    condor_submit_arguments,
    parse_condor_submit,
    parse_sbatch,
    require_command,
    run_command,
    sbatch_arguments,
    slurm_driver_script,
    slurm_states,
)
from hepflow.cluster.config import (
    ClusterConfig,
    GatewayOptions,
    HTCondorOptions,
    KubernetesOptions,
    LocalOptions,
    SchedulerOptions,
    SlurmOptions,
    walltime_seconds,
)
from hepflow.engine.localcluster import SCHEDULER_CONFIG
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


class Backend:
    """A cluster backend. Subclasses set `name` and override what differs from these defaults.

    * `make` builds the cluster object (before any worker is asked for);
      `start` scales it to ``workers`` or makes it adaptive;
    * `explain` adds the backend's advice to a "no workers came" error;
    * `job_ids`, `job_states` and `log_file` know the batch jobs behind a
      cluster (none, outside batch systems);
    * `observed` says whether hepflow's metrics plugin is preloaded on the
      scheduler it starts (otherwise `connect` registers it).
    """

    name: ClassVar[str] = ""
    observed: ClassVar[bool] = False

    def client(self, cfg: ClusterConfig, set_as_default: bool) -> distributed.Client:
        """A client of the started cluster; closing it closes the cluster."""
        cluster = self.start(cfg)
        try:
            return ClusterClient(cluster, owned_cluster=cluster, set_as_default=set_as_default)
        except BaseException:
            cluster.close()
            raise

    def make(self, cfg: ClusterConfig) -> Any:
        raise ClusterError(f"backend {cfg.backend!r} has no cluster object to start; "
                           "use connect()")

    def start(self, cfg: ClusterConfig) -> Any:
        """`make`, then scaled to ``workers`` (one if unset) or made adaptive.

        A scheduler made here, in this process (local, Slurm, HTCondor), gets
        hepflow's scheduler settings (`SCHEDULER_CONFIG`); a remote one (Kubernetes,
        Gateway) keeps its own, and the README says what to set there.
        """
        with dask.config.set(SCHEDULER_CONFIG):
            cluster = self.make(cfg)
        try:
            if cfg.adapt is not None:
                cluster.adapt(minimum=cfg.adapt.minimum, maximum=cfg.adapt.maximum)
            else:
                self.scale(cluster, cfg)
        except BaseException:
            cluster.close()
            raise
        return cluster

    def scale(self, cluster: Any, cfg: ClusterConfig) -> None:
        cluster.scale(1 if cfg.workers is None else cfg.workers)

    def wanted(self, cfg: ClusterConfig) -> int:
        """How many workers `connect` waits for: ``wait_for`` capped by what will start."""
        if cfg.adapt is not None:
            return min(cfg.wait_for, cfg.adapt.minimum)
        if cfg.workers is not None:
            return min(cfg.wait_for, cfg.workers)
        return cfg.wait_for

    def explain(self, cfg: ClusterConfig, cluster: Any, jobs: Mapping[str, JobState],
                ) -> list[str]:
        """Lines of advice after "no workers joined"."""
        return []

    def job_ids(self, cluster: Any) -> list[str]:
        return []

    def job_states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        return {}

    def log_file(self, cfg: ClusterConfig, job_id: str) -> Path | None:
        return None

    def cancel(self, job_id: str) -> None:
        raise ClusterError(f"the {self.name} backend has no batch jobs to cancel")


class LocalBackend(Backend):
    """hepflow's tuned `LocalCluster` on this machine."""

    name = "local"
    observed = True

    def make(self, cfg: ClusterConfig) -> Any:
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

    def scale(self, cluster: Any, cfg: ClusterConfig) -> None:
        """Started at its size already (`make`)."""

    def explain(self, cfg: ClusterConfig, cluster: Any, jobs: Mapping[str, JobState],
                ) -> list[str]:
        return ["Local workers did not start: look for errors above (memory limit, ports, a "
                "broken environment)."]


class BatchBackend(Backend):
    """dask-jobqueue workers as batch jobs, and a driver that can itself be a batch job."""

    observed = True
    #: dask-jobqueue's job id is ``ID;cluster`` (Slurm) or ``ID.proc`` (HTCondor)
    id_separator: ClassVar[str] = ";"

    def common(self, options: SlurmOptions | HTCondorOptions) -> dict[str, Any]:
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

    def job_ids(self, cluster: Any) -> list[str]:
        """Batch job ids of a dask-jobqueue cluster's submitted workers (public `workers`)."""
        workers = getattr(cluster, "workers", None) or {}
        return [str(job.job_id).split(self.id_separator)[0] for job in workers.values()
                if getattr(job, "job_id", None)]

    def explain(self, cfg: ClusterConfig, cluster: Any, jobs: Mapping[str, JobState],
                ) -> list[str]:
        lines = []
        if not jobs:
            lines.append("No worker job was submitted; check the submit command above "
                         "in the log.")
        for state in jobs.values():
            detail = f" ({state.reason})" if state.reason else ""
            exit_code = f", exit code {state.exit_code}" if state.exit_code is not None else ""
            lines.append(f"  job {state.job_id}: {state.state}{detail}{exit_code}"
                         + self._log_hint(cfg, state.job_id))
        if any(s.state in ("PENDING", "IDLE") for s in jobs.values()):
            lines.append("Pending jobs wait for resources: check the partition/queue, account, "
                         "walltime and memory, or raise `timeout`.")
        if any(s.final for s in jobs.values()):
            lines.append("Ended jobs usually mean the worker could not start or reach the "
                         "scheduler: see their logs; set `scheduler_host`/`interface` to an "
                         "address the batch nodes can reach, and `python`/`setup` so that "
                         "hepflow imports there.")
        return lines

    def _log_hint(self, cfg: ClusterConfig, job_id: str) -> str:
        log = self.log_file(cfg, job_id)
        if log is None:
            return " (set `log_directory` to keep worker logs)"
        tail = ""
        if log.is_file():
            text = log.read_text(errors="replace").strip().splitlines()[-3:]
            if text:
                tail = "\n      " + "\n      ".join(text)
        return f"; log {log}{tail}"

    @staticmethod
    def _log_directory(cfg: ClusterConfig) -> Path | None:
        options = cfg.options
        assert isinstance(options, (SlurmOptions, HTCondorOptions))
        if options.log_directory is None:
            return None
        return Path(os.path.expanduser(options.log_directory))

    def submit_driver(self, cfg: ClusterConfig, *, job_name: str, command: str, workdir: Path,
                      jobdir: Path, environ: Mapping[str, str]) -> tuple[str, str, str | None]:
        """Submit the driver (``command``) as a batch job: (job id, log file, stderr file)."""
        raise NotImplementedError


class SlurmBackend(BatchBackend):
    """dask-jobqueue `SLURMCluster`: each worker is one ``sbatch`` job."""

    name = "slurm"

    def make(self, cfg: ClusterConfig) -> Any:
        jobqueue = require("dask_jobqueue", "slurm")
        options = cfg.options
        assert isinstance(options, SlurmOptions)
        kwargs = self.common(options)
        kwargs.update(walltime=options.walltime, queue=options.partition,
                      account=options.account,
                      job_extra_directives=list(options.job_extra_directives))
        try:
            return jobqueue.SLURMCluster(**kwargs)
        except (OSError, ValueError, RuntimeError) as err:
            raise ClusterError(f"could not start the Slurm cluster's scheduler: {err}") from err

    def job_states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        return slurm_states(job_ids)

    def log_file(self, cfg: ClusterConfig, job_id: str) -> Path | None:
        directory = self._log_directory(cfg)
        if directory is None:
            return None
        options = cfg.options
        assert isinstance(options, SlurmOptions)
        return directory / f"{options.job_name}-{job_id}.err"

    def cancel(self, job_id: str) -> None:
        run_command([require_command("scancel", "slurm"), job_id])

    def submit_driver(self, cfg: ClusterConfig, *, job_name: str, command: str, workdir: Path,
                      jobdir: Path, environ: Mapping[str, str]) -> tuple[str, str, str | None]:
        options = cfg.options
        assert isinstance(options, SlurmOptions)
        script_path = jobdir / "driver.sh"
        script_path.write_text(slurm_driver_script(options, job_name=job_name, command=command,
                                                   workdir=workdir, environ=environ))
        script_path.chmod(0o755)
        done = run_command(sbatch_arguments(script_path, jobdir / "driver-%j.log", workdir))
        job_id = parse_sbatch(done.stdout)
        return job_id, str(jobdir / f"driver-{job_id}.log"), None


class HTCondorBackend(BatchBackend):
    """dask-jobqueue `HTCondorCluster`: each worker is one HTCondor job."""

    name = "htcondor"
    id_separator = "."

    def make(self, cfg: ClusterConfig) -> Any:
        jobqueue = require("dask_jobqueue", "htcondor")
        options = cfg.options
        assert isinstance(options, HTCondorOptions)
        kwargs = self.common(options)
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
            raise ClusterError(f"could not start the HTCondor cluster's scheduler: {err}"
                               ) from err

    def job_states(self, job_ids: Sequence[str]) -> dict[str, JobState]:
        return condor_states(job_ids)

    def log_file(self, cfg: ClusterConfig, job_id: str) -> Path | None:
        directory = self._log_directory(cfg)
        if directory is None:
            return None
        matches = sorted(directory.glob(f"*{job_id}*.err"))
        return matches[0] if matches else directory

    def cancel(self, job_id: str) -> None:
        run_command([require_command("condor_rm", "htcondor"), job_id])

    def submit_driver(self, cfg: ClusterConfig, *, job_name: str, command: str, workdir: Path,
                      jobdir: Path, environ: Mapping[str, str]) -> tuple[str, str, str | None]:
        options = cfg.options
        assert isinstance(options, HTCondorOptions)
        script, description = condor_driver_files(options, job_name=job_name, command=command,
                                                  workdir=workdir, jobdir=jobdir,
                                                  environ=environ)
        script_path = jobdir / "driver.sh"
        script_path.write_text(script)
        script_path.chmod(0o755)
        (jobdir / "driver.sub").write_text(description)
        done = run_command(condor_submit_arguments(jobdir / "driver.sub", options.schedd))
        job_id = parse_condor_submit(done.stdout)
        return job_id, str(jobdir / f"driver.{job_id}.log"), str(jobdir / f"driver.{job_id}.err")


class KubernetesBackend(Backend):
    """A dask-kubernetes operator `KubeCluster` (a ``DaskCluster`` resource)."""

    name = "kubernetes"

    def make(self, cfg: ClusterConfig) -> Any:
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

    def explain(self, cfg: ClusterConfig, cluster: Any, jobs: Mapping[str, JobState],
                ) -> list[str]:
        return ["Check the worker pods: `kubectl get pods -l "
                f"dask.org/cluster-name={getattr(cluster, 'name', '<name>')}` and "
                "`kubectl describe pod ...` (image pull errors, quota)."]


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
            raise ClusterError(f"gateway jupyterhub auth: environment variable "
                               f"{auth.token_env} (the API token) is not set; JupyterHub "
                               "sets it in its sessions")
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


class GatewayBackend(Backend):
    """A Dask Gateway: a new cluster from the gateway, or an existing one by name."""

    name = "gateway"

    def make(self, cfg: ClusterConfig) -> Any:
        gateway_mod = require("dask_gateway", "gateway")
        options = cfg.options
        assert isinstance(options, GatewayOptions)
        # dask-gateway's clients close themselves again in __del__, which raises once their
        # event loop has stopped; they sit in reference cycles, so that happens at some random
        # later garbage collection.  Running them on one loop that lives as long as the
        # process makes the second close harmless.
        common: dict[str, Any] = {"address": options.address,
                                  "proxy_address": options.proxy_address,
                                  "public_address": options.public_address,
                                  "auth": gateway_auth(options), "loop": _gateway_loop()}
        where = options.address or "the gateway from the Dask config (gateway.address)"
        try:
            if options.cluster_name:
                return gateway_mod.GatewayCluster.from_name(
                    options.cluster_name, shutdown_on_close=options.shutdown_on_close,
                    **common)
            return gateway_mod.GatewayCluster(shutdown_on_close=options.shutdown_on_close,
                                              **common, **dict(options.cluster_options))
        except (OSError, ValueError) as err:
            raise ClusterError(f"Dask Gateway at {where} refused or did not answer: {err}"
                               ) from err
        except Exception as err:  # dask-gateway raises its own HTTP error types
            raise ClusterError(f"Dask Gateway at {where}: {type(err).__name__}: {err}"
                               ) from err

    def explain(self, cfg: ClusterConfig, cluster: Any, jobs: Mapping[str, JobState],
                ) -> list[str]:
        return [f"Gateway cluster {getattr(cluster, 'name', '?')}: check its limits "
                "(cluster_max_workers) and the gateway server's log."]


class SchedulerBackend(Backend):
    """An already running Dask scheduler: nothing to start or scale, only to reach."""

    name = "scheduler"

    def client(self, cfg: ClusterConfig, set_as_default: bool) -> distributed.Client:
        """A client of the running scheduler (with TLS files checked first)."""
        options = cfg.options
        assert isinstance(options, SchedulerOptions)
        timeout = cfg.timeout
        security = None
        if options.tls is not None:
            from distributed.security import Security

            tls = options.tls
            for what, path in (("ca_file", tls.ca_file), ("cert", tls.cert), ("key", tls.key)):
                if path is not None and not Path(path).expanduser().is_file():
                    raise ClusterError(f"tls.{what} {path} does not exist")
            security = Security(tls_ca_file=tls.ca_file, tls_client_cert=tls.cert,
                                tls_client_key=tls.key,
                                require_encryption=tls.require_encryption)
        try:
            return distributed.Client(options.address, security=security,
                                      timeout=min(timeout, 60.0), set_as_default=set_as_default)
        except (OSError, TimeoutError) as err:
            raise ClusterError(f"cannot reach the Dask scheduler at {options.address}: "
                               f"{err}. Is it running (`dask scheduler`), is the port open "
                               "from here"
                               + (", and do the TLS files match its certificate?" if security
                                  else "?")) from err

    def wanted(self, cfg: ClusterConfig) -> int:
        return cfg.wait_for if cfg.adapt is None else min(cfg.wait_for, cfg.adapt.minimum)

    def explain(self, cfg: ClusterConfig, cluster: Any, jobs: Mapping[str, JobState],
                ) -> list[str]:
        options = cfg.options
        assert isinstance(options, SchedulerOptions)
        address = options.address
        return [f"The scheduler at {address} is up but has no workers: start some with "
                f"`dask worker {address}`."]


#: Every backend by its config name.
REGISTRY: dict[str, Backend] = {b.name: b for b in (
    LocalBackend(), SlurmBackend(), HTCondorBackend(), KubernetesBackend(), GatewayBackend(),
    SchedulerBackend())}


def backend_of(name: str) -> Backend:
    """The backend class instance for a config's ``backend`` name."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ClusterError(f"no cluster backend {name!r}; known: {', '.join(REGISTRY)}"
                           ) from None


def batch_backend(name: str) -> BatchBackend:
    """A batch backend (Slurm, HTCondor) by name, for detached drivers and their jobs."""
    backend = backend_of(name)
    if not isinstance(backend, BatchBackend):
        raise ClusterError(f"backend {name!r} runs no batch jobs")
    return backend


__all__ = ["REGISTRY", "Backend", "BatchBackend", "ClusterClient", "GatewayBackend",
           "HTCondorBackend", "KubernetesBackend", "LocalBackend", "SchedulerBackend",
           "SlurmBackend",
           "backend_of", "batch_backend", "gateway_auth", "require"]
