"""One cluster config: where an analysis runs, as a frozen, typed, validated record.

The same analysis file runs on a laptop, a Slurm or HTCondor farm, Kubernetes,
a Dask Gateway or an already running scheduler; only this record changes.  It
is one immutable object (not a forest of keyword arguments) so that it can be
written next to a detached job, read back identically, compared and shown.

A config file is YAML (or TOML) with a ``cluster`` section, or several named
ones under ``clusters`` chosen with ``FILE#NAME``::

    cluster:
      backend: slurm          # local | slurm | htcondor | kubernetes | gateway | scheduler
      workers: 4              # jobs (or pods, ...) started up front
      wait_for: 1             # block until this many workers joined ...
      timeout: 300            # ... for at most this many seconds, then say what is missing
      adapt: {minimum: 1, maximum: 20}
      slurm:                  # one section, named after the backend
        cores: 1
        memory: 4GiB
        walltime: "02:00:00"
        partition: short
        account: cms
        job_extra_directives: ["--qos=normal"]
        setup: ["source /cvmfs/sft.cern.ch/lcg/views/LCG_106/x86_64-el9-gcc13-opt/setup.sh"]

Reading never starts anything: mistakes (an unknown key, a walltime that is
not one, a section for another backend) fail here, with a suggestion, before
a job waits in a queue.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from hepflow.config_loader import Loader
from hepflow.errors import ClusterConfigError

BACKENDS: tuple[str, ...] = ("local", "slurm", "htcondor", "kubernetes", "gateway", "scheduler")

#: A value in a free-form option table (Dask Gateway cluster options).
Scalar = str | int | float | bool

_WALLTIME = re.compile(r"^(?:(\d+)-)?(\d+):([0-5]?\d)(?::([0-5]?\d))?$|^(\d+)$")


def walltime_seconds(walltime: str) -> int:
    """Seconds in a Slurm-style walltime (``MM``, ``HH:MM:SS``, ``D-HH:MM[:SS]``).

    One parser for both batch systems: Slurm takes the text as is, HTCondor
    needs seconds (``+MaxRuntime``), and both must reject the same typos.
    """
    match = _WALLTIME.match(walltime.strip())
    if match is None:
        raise ClusterConfigError(f"walltime {walltime!r} is not HH:MM:SS, D-HH:MM:SS or minutes")
    days, hours, minutes, seconds, only_minutes = match.groups()
    if only_minutes is not None:
        return int(only_minutes) * 60
    return ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds or 0)


def _check_bytes(value: str, what: str) -> None:
    from dask.utils import parse_bytes

    try:
        parse_bytes(value)
    except (ValueError, TypeError) as err:
        raise ClusterConfigError(f"{what} {value!r} is not a size like '4GiB' or '2000MB'"
                                 ) from err


def _check_line(value: str, what: str) -> None:
    """Job directives and set-up commands are one line each: a newline would inject more."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise ClusterConfigError(f"{what} must be a single line, got {value!r}")


def _check_positive(value: int | float | None, what: str, *, zero: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise ClusterConfigError(f"{what} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not zero):
        raise ClusterConfigError(f"{what} must be {'>= 0' if zero else '> 0'}, got {value}")


@dataclass(frozen=True, slots=True)
class Adapt:
    """Adaptive scaling bounds: Dask adds workers under load and retires idle ones."""

    minimum: int = 0
    maximum: int = 1

    def __post_init__(self) -> None:
        _check_positive(self.minimum, "adapt.minimum", zero=True)
        if self.maximum < max(self.minimum, 1):
            raise ClusterConfigError(f"adapt.maximum ({self.maximum}) must be >= 1 and >= "
                                     f"adapt.minimum ({self.minimum})")


@dataclass(frozen=True, slots=True)
class LocalOptions:
    """A `LocalCluster` on this machine (hepflow's tuned one: process workers, 1 thread)."""

    threads_per_worker: int = 1
    memory_limit: str | None = None
    dashboard_address: str = ":0"

    def __post_init__(self) -> None:
        _check_positive(self.threads_per_worker, "local.threads_per_worker")
        if self.memory_limit not in (None, "auto"):
            _check_bytes(self.memory_limit, "local.memory_limit")


@dataclass(frozen=True, slots=True)
class DriverOptions:
    """Resources of the batch job that runs the driver itself (``hepflow submit --detach``).

    The driver only builds the graph, hosts the Dask scheduler and writes the
    outputs; it needs little CPU but must live as long as the whole run.
    ``walltime=None`` takes the workers' walltime.
    """

    cores: int = 1
    memory: str = "2GiB"
    walltime: str | None = None

    def __post_init__(self) -> None:
        _check_positive(self.cores, "driver.cores")
        _check_bytes(self.memory, "driver.memory")
        if self.walltime is not None:
            walltime_seconds(self.walltime)


@dataclass(frozen=True, slots=True)
class _BatchOptions:
    """What Slurm and HTCondor workers share: one worker job = ``cores`` cores, ``memory``.

    ``processes`` defaults to ``cores``: one single-threaded worker process
    per core, because uproot's decompression and awkward hold the GIL
    (dask-jobqueue's own default, about sqrt(cores) processes, would leave
    most threads waiting).  ``setup`` lines run in the job before the worker
    starts (``source .../setup.sh``, ``module load ...``).  ``scheduler_host``
    is the address workers use to reach the scheduler on the submit node.
    """

    cores: int = 1
    processes: int | None = None
    memory: str = "2GiB"
    walltime: str = "01:00:00"
    setup: tuple[str, ...] = ()
    python: str | None = None
    log_directory: str | None = None
    local_directory: str | None = None
    interface: str | None = None
    scheduler_host: str | None = None
    job_name: str = "hepflow-worker"
    death_timeout: float = 60.0
    driver: DriverOptions = field(default_factory=DriverOptions)

    #: a driver can be submitted to this backend as a batch job (``--detach``)
    batch: ClassVar[bool] = True

    def _check_common(self, backend: str) -> None:
        _check_positive(self.cores, f"{backend}.cores")
        _check_positive(self.processes, f"{backend}.processes")
        if self.processes is not None and self.processes > self.cores:
            raise ClusterConfigError(f"{backend}.processes ({self.processes}) exceeds "
                                     f"{backend}.cores ({self.cores})")
        _check_bytes(self.memory, f"{backend}.memory")
        walltime_seconds(self.walltime)
        _check_positive(self.death_timeout, f"{backend}.death_timeout")
        for line in self.setup:
            _check_line(line, f"{backend}.setup line")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.job_name):
            raise ClusterConfigError(f"{backend}.job_name {self.job_name!r} may only contain "
                                     "letters, digits, '_', '.' and '-'")

    @property
    def worker_processes(self) -> int:
        return self.processes or self.cores


@dataclass(frozen=True, slots=True)
class SlurmOptions(_BatchOptions):
    """dask-jobqueue `SLURMCluster` workers: each worker is one ``sbatch`` job.

    ``job_extra_directives`` are extra ``#SBATCH`` options, one per entry
    (``--qos=normal``, ``--constraint=el9``).
    """

    partition: str | None = None
    account: str | None = None
    job_extra_directives: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._check_common("slurm")
        for line in self.job_extra_directives:
            _check_line(line, "slurm.job_extra_directives entry")
            if not line.startswith("-"):
                raise ClusterConfigError(f"slurm.job_extra_directives entry {line!r} is not an "
                                         "sbatch option (write '--qos=normal', not 'qos=normal')")


@dataclass(frozen=True, slots=True)
class HTCondorOptions(_BatchOptions):
    """dask-jobqueue `HTCondorCluster` workers: each worker is one HTCondor job.

    ``job_extra_directives`` are extra submit-description commands
    (``{"+JobFlavour": '"longlunch"', "requirements": "OpSysAndVer == \\"AlmaLinux9\\""}``);
    ``accounting_group`` becomes ``accounting_group``; ``walltime`` becomes
    ``+MaxRuntime`` in seconds (the CERN convention; other pools may ignore it);
    ``schedd`` is passed as ``condor_submit -name``.
    """

    disk: str = "1GiB"
    accounting_group: str | None = None
    schedd: str | None = None
    job_extra_directives: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        self._check_common("htcondor")
        _check_bytes(self.disk, "htcondor.disk")
        for key, value in self.job_extra_directives:
            _check_line(f"{key} = {value}", "htcondor.job_extra_directives entry")
            if not re.fullmatch(r"\+?[A-Za-z_][A-Za-z0-9_.]*", key):
                raise ClusterConfigError(f"htcondor.job_extra_directives key {key!r} is not a "
                                         "submit command name")


@dataclass(frozen=True, slots=True)
class KubernetesOptions:
    """A dask-kubernetes operator `KubeCluster` (a ``DaskCluster`` resource).

    ``image`` must have hepflow installed (deployments/kubernetes/Dockerfile).
    ``manifest`` is a ``DaskCluster`` YAML used instead of the generated spec,
    for node selectors, volumes and the like.
    """

    image: str | None = None
    namespace: str | None = None
    name: str | None = None
    cpu: str = "1"
    memory: str = "4Gi"
    env: tuple[tuple[str, str], ...] = ()
    manifest: str | None = None
    shutdown_on_close: bool = True

    def __post_init__(self) -> None:
        if self.image is None and self.manifest is None:
            raise ClusterConfigError("kubernetes needs `image` (a worker image with hepflow "
                                     "installed, see deployments/kubernetes/Dockerfile) or a "
                                     "DaskCluster `manifest`")


@dataclass(frozen=True, slots=True)
class GatewayAuth:
    """How to authenticate to a Dask Gateway.  Secrets are named, never written in the file.

    ``basic``: ``username`` plus the password in environment variable
    ``password_env``; ``jupyterhub``: the API token in ``token_env``
    (JupyterHub sets ``JUPYTERHUB_API_TOKEN`` in every session);
    ``kerberos``: the ticket from ``kinit``.
    """

    type: str = "basic"
    username: str | None = None
    password_env: str | None = "DASK_GATEWAY_PASSWORD"
    token_env: str = "JUPYTERHUB_API_TOKEN"

    TYPES: ClassVar[tuple[str, ...]] = ("basic", "jupyterhub", "kerberos")

    def __post_init__(self) -> None:
        if self.type not in self.TYPES:
            raise ClusterConfigError(f"gateway.auth.type {self.type!r} is not one of "
                                     f"{', '.join(self.TYPES)}")


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """A Dask Gateway: a new cluster from the gateway, or an existing one by name."""

    address: str | None = None
    proxy_address: str | None = None
    public_address: str | None = None
    auth: GatewayAuth | None = None
    cluster_options: tuple[tuple[str, Scalar], ...] = ()
    cluster_name: str | None = None
    shutdown_on_close: bool = True


@dataclass(frozen=True, slots=True)
class TLSOptions:
    """TLS for a ``tls://`` scheduler: the CA that signed it and this client's key pair."""

    ca_file: str | None = None
    cert: str | None = None
    key: str | None = None
    require_encryption: bool = True

    def __post_init__(self) -> None:
        if self.key is not None and self.cert is None:
            raise ClusterConfigError("tls.key needs tls.cert (a key alone proves nothing)")


@dataclass(frozen=True, slots=True)
class SchedulerOptions:
    """An already running Dask scheduler (started by an operator, a notebook, ...)."""

    address: str = ""
    tls: TLSOptions | None = None

    #: its operator sizes it: no `workers` or `adapt` from a config
    scalable: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not self.address:
            raise ClusterConfigError("scheduler needs `address`, e.g. tcp://host:8786 or "
                                     "tls://host:8786")
        if self.address.startswith("tls://") and self.tls is None:
            raise ClusterConfigError(f"{self.address} is a TLS address: give `tls` with "
                                     "ca_file, cert and key")


BackendOptions = (LocalOptions | SlurmOptions | HTCondorOptions | KubernetesOptions
                  | GatewayOptions | SchedulerOptions)

_OPTION_TYPES: dict[str, type[Any]] = {
    "local": LocalOptions, "slurm": SlurmOptions, "htcondor": HTCondorOptions,
    "kubernetes": KubernetesOptions, "gateway": GatewayOptions, "scheduler": SchedulerOptions,
}


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Where to run: a backend, its options, how many workers and how long to wait for them.

    ``workers`` are started up front (``None``: the backend's default, the
    number of cores for ``local``, one job otherwise); with ``adapt`` the
    cluster scales between its bounds instead.  ``connect()`` blocks until
    ``wait_for`` workers joined (capped by ``adapt.minimum``, since an
    adaptive cluster with no work starts none), at most ``timeout`` seconds.
    """

    backend: str = "local"
    options: BackendOptions = field(default_factory=LocalOptions)
    workers: int | None = None
    wait_for: int = 1
    timeout: float = 120.0
    adapt: Adapt | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ClusterConfigError(f"unknown cluster backend {self.backend!r}"
                                     + _suggest(self.backend, BACKENDS))
        expected = _OPTION_TYPES[self.backend]
        if type(self.options) is not expected:
            raise ClusterConfigError(f"backend {self.backend!r} takes {expected.__name__}, "
                                     f"got {type(self.options).__name__}")
        _check_positive(self.workers, "workers", zero=True)
        _check_positive(self.wait_for, "wait_for", zero=True)
        _check_positive(self.timeout, "timeout")
        if not getattr(self.options, "scalable", True) and (self.adapt is not None
                                                            or self.workers):
            raise ClusterConfigError("an existing scheduler cannot be scaled from here: drop "
                                     "`workers` and `adapt` (its operator sizes it)")

    # -- construction ------------------------------------------------------

    @classmethod
    def local(cls, workers: int | None = None, **options: Any) -> ClusterConfig:
        """A local cluster config: ``ClusterConfig.local(2)``."""
        return cls("local", LocalOptions(**options), workers=workers)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "cluster") -> ClusterConfig:
        """Build from a parsed ``cluster`` section (YAML/TOML/dict), validating every key."""
        if not isinstance(data, Mapping):
            raise ClusterConfigError(f"{where} must be a mapping, got {type(data).__name__}")
        backend = str(data.get("backend", "local"))
        if backend not in BACKENDS:
            raise ClusterConfigError(f"{where}.backend: unknown backend {backend!r}"
                                     + _suggest(backend, BACKENDS))
        top = {"backend", "workers", "wait_for", "timeout", "adapt"}
        for key in data:
            if key in top or key == backend:
                continue
            if key in BACKENDS:
                raise ClusterConfigError(f"{where}.{key}: a `{key}` section in a config for "
                                         f"backend {backend!r}; set backend: {key} or remove it")
            raise ClusterConfigError(f"{where}: unknown key {key!r}"
                                     + _suggest(str(key), sorted(top | {backend})))
        section = data.get(backend) or {}
        options = _build(_OPTION_TYPES[backend], section, f"{where}.{backend}")
        kwargs: dict[str, Any] = {"backend": backend, "options": options}
        hints = typing.get_type_hints(cls)
        for key in ("workers", "wait_for", "timeout", "adapt"):
            if key in data:
                kwargs[key] = _convert(data[key], hints[key], f"{where}.{key}")
        try:
            return cls(**kwargs)
        except ClusterConfigError as err:
            raise ClusterConfigError(f"{where}: {err}") from None

    def to_mapping(self) -> dict[str, Any]:
        """The ``cluster`` section that `from_mapping` reads back to an equal config."""
        out: dict[str, Any] = {"backend": self.backend}
        if self.workers is not None:
            out["workers"] = self.workers
        out["wait_for"] = self.wait_for
        out["timeout"] = self.timeout
        if self.adapt is not None:
            out["adapt"] = _plain(self.adapt)
        out[self.backend] = _plain(self.options)
        return out

    def replace(self, **changes: Any) -> ClusterConfig:
        """A copy with some fields changed (unknown fields are rejected)."""
        return dataclasses.replace(self, **changes)

    @property
    def is_batch(self) -> bool:
        """True for Slurm and HTCondor, the backends a driver can be submitted to."""
        return bool(getattr(self.options, "batch", False))

    def describe(self) -> str:
        """One line for logs and error messages."""
        if isinstance(self.options, SchedulerOptions):
            return f"scheduler {self.options.address} (waiting up to {self.timeout:g} s)"
        size = (f"adaptive {self.adapt.minimum}..{self.adapt.maximum}" if self.adapt
                else f"{self.workers if self.workers is not None else 'default'} workers")
        return f"{self.backend} cluster ({size}, waiting up to {self.timeout:g} s)"


# --------------------------------------------------------------------------
# loading


def load_cluster_config(spec: str | os.PathLike[str] | Mapping[str, Any] | ClusterConfig,
                        ) -> ClusterConfig:
    """A `ClusterConfig` from what a user typed after ``--cluster``.

    Accepted: a config object; a mapping; a backend name with default
    options (``local``, ``slurm``, ``htcondor``); a scheduler address
    (``tcp://host:8786``); a YAML/TOML file with a ``cluster`` section (or
    whose top level is that section); ``FILE#NAME`` for one of several named
    configs under ``clusters``.
    """
    if isinstance(spec, ClusterConfig):
        return spec
    if not isinstance(spec, (str, os.PathLike, Mapping)):
        raise ClusterConfigError(f"a cluster is a ClusterConfig, a mapping, a backend name, a "
                                 f"scheduler address or a config file, not "
                                 f"{type(spec).__name__}")
    if isinstance(spec, Mapping):
        section = spec["cluster"] if isinstance(spec.get("cluster"), Mapping) else spec
        return ClusterConfig.from_mapping(section)
    text = os.fspath(spec)
    path_text, _, name = text.partition("#")
    path = Path(path_text).expanduser()
    if not path.is_file():
        if text in BACKENDS:
            return ClusterConfig.from_mapping({"backend": text})
        if re.match(r"^(tcp|tls|ucx|inproc)://", text):
            return ClusterConfig("scheduler", SchedulerOptions(address=text))
        raise ClusterConfigError(f"--cluster {text!r} is neither a config file nor a backend "
                                 f"({', '.join(BACKENDS)}) nor a scheduler address"
                                 + _suggest(text, BACKENDS))
    data = _read_file(path)
    where = str(path)
    if "clusters" in data:
        clusters = data["clusters"]
        if not isinstance(clusters, Mapping) or not clusters:
            raise ClusterConfigError(f"{path}: `clusters` must map names to cluster sections")
        if not name:
            if len(clusters) != 1:
                raise ClusterConfigError(f"{path} defines clusters {', '.join(map(str, clusters))}"
                                         f": choose one with {path}#NAME")
            name = str(next(iter(clusters)))
        if name not in clusters:
            raise ClusterConfigError(f"{path} has no cluster {name!r}"
                                     + _suggest(name, [str(k) for k in clusters]))
        return ClusterConfig.from_mapping(clusters[name], f"{where}#{name}")
    if name:
        raise ClusterConfigError(f"{path} has no `clusters` section to pick {name!r} from")
    section = data.get("cluster", data)
    return ClusterConfig.from_mapping(section, f"{where}: cluster")


def _read_file(path: Path) -> Mapping[str, Any]:
    data = LOADER.read_file(path, "cluster config")
    if not isinstance(data, Mapping):
        raise ClusterConfigError(f"{path} must contain a mapping (a `cluster:` section)")
    return data


def write_cluster_config(config: ClusterConfig, path: str | os.PathLike[str]) -> Path:
    """Write ``config`` as a YAML ``cluster`` section (e.g. next to a detached job)."""
    import yaml

    out = Path(path)
    out.write_text(yaml.safe_dump({"cluster": config.to_mapping()}, sort_keys=False))
    return out


# --------------------------------------------------------------------------
# typed conversion of parsed YAML/TOML into the dataclasses


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


LOADER = Loader(ClusterConfigError, numbers_as_text=True, prefix_checks=True)


def _build(cls: type[Any], data: Any, where: str) -> Any:
    return LOADER.build(cls, data, where)


def _convert(value: Any, hint: Any, where: str) -> Any:
    return LOADER.convert(hint, value, where)


def _plain(obj: Any) -> Any:
    """Dataclass → plain YAML-able dict, leaving out values equal to the defaults."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        default = (f.default if f.default is not dataclasses.MISSING
                   else f.default_factory() if f.default_factory is not dataclasses.MISSING
                   else dataclasses.MISSING)
        if value == default:
            continue
        if dataclasses.is_dataclass(value):
            out[f.name] = _plain(value)
        elif isinstance(value, tuple) and value and isinstance(value[0], tuple):
            out[f.name] = {k: v for k, v in value}
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


__all__ = [
    "BACKENDS",
    "Adapt",
    "ClusterConfig",
    "DriverOptions",
    "GatewayAuth",
    "GatewayOptions",
    "HTCondorOptions",
    "KubernetesOptions",
    "LocalOptions",
    "SchedulerOptions",
    "SlurmOptions",
    "TLSOptions",
    "load_cluster_config",
    "walltime_seconds",
    "write_cluster_config",
]
