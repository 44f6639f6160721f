"""The serve config: one frozen, typed record read from a YAML or JSON file.

A config file looks like this (every key is optional except the auth issuer,
audience and key source; ``--models`` on the command line sets ``models``)::

    host: 127.0.0.1
    port: 8000
    auth:
      issuer: https://iam.example.org/
      audience: hepflow
      jwks_url: https://iam.example.org/jwk     # or public_key_file: issuer.pem,
                                                # or neither: OIDC discovery from the issuer
      algorithms: [RS256, ES256]
      leeway_s: 30                              # clock skew allowed on exp/nbf/iat
      predict: {scopes: [hepflow:predict], groups: [/cms]}     # who may predict
      admin: {scopes: [hepflow:admin], groups: [/cms/hepflow-admins]}
      submit: {scopes: [hepflow:submit]}       # who may run jobs (hepflow serve --jobs)
    limits:
      max_body_bytes: 64MiB
      max_rows: 1000000
      request_timeout_s: 30
      rate_limit_per_s: 200                     # per client (token subject, else address)
      rate_limit_burst: 400
      max_upload_bytes: 512MiB
    batching:
      max_batch_rows: 65536
      max_delay_ms: 0
    jobs:                                       # analysis jobs over HTTP (also: --jobs)
      enabled: true
      folder: /var/lib/hepflow/jobs             # one workdir per job
      cluster: tcp://dask-scheduler:8786        # or local, or a cluster config file
      allowed_roots: [/data/store]              # local dataset files must lie below these
                                                # (relative: from this file's folder)
      max_jobs_per_user: 2                      # queued + running; more is a 429
      max_output_bytes: 1GiB                    # per job; a job writing more fails
      max_user_output_bytes: 4GiB               # all of a user's kept job folders; over it,
                                                # submitting is a 429 and a running job fails
                                                # (DELETE /v1/jobs/{id} on ended jobs frees it)
      max_seconds: 86400                        # a job running longer is stopped, failed
      environment: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]   # passed on to jobs

Reading never starts anything: an unknown key, a wrong type or an unsafe value
fails here, with a suggestion, before the server binds a port. Auth cannot be
switched off from a file: only the explicit ``--insecure-no-auth`` flag (or
``insecure_no_auth=True`` in Python) does that, so a config copied between
machines can never silently open a server.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hepflow.config_loader import Loader
from hepflow.ml.bundle import MODEL_KINDS
from hepflow.serve.errors import ConfigError

_SYMMETRIC = ("HS256", "HS384", "HS512")
_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
               "ES512", "EdDSA")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKMGT]i?)?[bB]?\s*$")
_UNITS = {None: 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
          "ki": 2**10, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def parse_size(value: int | float | str) -> int:
    """Bytes from ``1048576``, ``"64MiB"``, ``"1.5GB"`` or ``"500kB"``."""
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise ConfigError(f"a size must be a number of bytes or e.g. '64MiB', got {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    if not isinstance(value, str):
        raise ConfigError(f"a size must be a number of bytes or e.g. '64MiB', got "
                          f"{type(value).__name__}")
    match = _SIZE.match(str(value))
    if not match:
        raise ConfigError(f"cannot read size {value!r}: use bytes or e.g. '64MiB', '1GB'")
    size = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(size):
        raise ConfigError(f"size {value!r} is too large")
    return int(size)


def check_key_url(url: str) -> None:
    """Refuse key URLs over plain HTTP except on the loopback (tests, sidecars)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    host = parts.hostname or ""
    loopback = host == "localhost"
    try:
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if parts.scheme != "http" or not loopback:
        raise ConfigError(f"key URL {url!r}: keys must be fetched over https (plain http "
                          "only from a loopback address)")


@dataclass(frozen=True, slots=True)
class RoleRule:
    """Which token scopes or groups grant a role (any one of them is enough)."""

    scopes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """How bearer tokens are checked, and how their scopes and groups map to roles."""

    issuer: str
    audience: tuple[str, ...]
    jwks_url: str | None = None
    public_key_file: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_s: float = 30.0
    jwks_cache_s: float = 600.0
    jwks_min_refetch_s: float = 10.0
    jwks_timeout_s: float = 5.0
    scope_claims: tuple[str, ...] = ("scope", "scp")
    group_claims: tuple[str, ...] = ("groups", "wlcg.groups")
    predict: RoleRule = field(default_factory=lambda: RoleRule(scopes=("hepflow:predict",)))
    admin: RoleRule = field(default_factory=lambda: RoleRule(scopes=("hepflow:admin",)))
    submit: RoleRule = field(default_factory=lambda: RoleRule(scopes=("hepflow:submit",)))
    realm: str = "hepflow"
    token_cache_size: int = 4096

    def __post_init__(self) -> None:
        if not self.issuer:
            raise ConfigError("auth.issuer is required (the `iss` every token must carry)")
        if not self.audience:
            raise ConfigError("auth.audience is required (the `aud` tokens must be meant for)")
        bad = [a for a in self.algorithms if a not in _ALGORITHMS]
        if bad:
            why = ("symmetric algorithms would make the verification key a signing key"
                   if set(bad) & set(_SYMMETRIC) else f"use some of {', '.join(_ALGORITHMS)}")
            raise ConfigError(f"auth.algorithms: {', '.join(bad)} not accepted: {why}")
        if self.jwks_url and self.public_key_file:
            raise ConfigError("auth: give jwks_url or public_key_file, not both")
        if self.leeway_s < 0 or self.leeway_s > 300:
            raise ConfigError("auth.leeway_s must be between 0 and 300 seconds")
        if not self.public_key_file:
            check_key_url(self.jwks_url or
                          self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        if '"' in self.realm or "\\" in self.realm:
            raise ConfigError("auth.realm may not contain quotes or backslashes")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one client, request or connection may ask of the server.

    The connection settings (`header_timeout_s`, `max_header_bytes`,
    `keep_alive_s`, `max_connections`) are enforced below the app, in the HTTP
    protocol (`hepflow.serve.connections`): without them a client needs no
    token to hold connections open until real requests are refused.
    """

    max_body_bytes: int = 64 * 2**20
    max_rows: int = 1_000_000
    request_timeout_s: float = 30.0
    rate_limit_per_s: float = 0.0
    rate_limit_burst: int = 0
    max_upload_bytes: int = 512 * 2**20
    upload_timeout_s: float = 300.0
    max_unpacked_bytes: int = 2 * 2**30
    max_archive_files: int = 64
    allow_nan: bool = False
    max_connections: int = 1000
    header_timeout_s: float = 10.0
    max_header_bytes: int = 64 * 2**10
    keep_alive_s: float = 15.0
    #: Model kinds an upload may bring. Not TorchScript by default: its archive is a
    #: program the server would load (ONNX is a graph of known operators; a Keras
    #: archive is checked for code before it loads). Bundles an operator puts in the
    #: models folder load whatever their kind.
    upload_kinds: tuple[str, ...] = ("xgboost", "keras", "onnx")

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_rows", "max_upload_bytes", "max_unpacked_bytes",
                     "max_archive_files", "max_connections", "max_header_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"limits.{name} must be at least 1")
        for name in ("request_timeout_s", "upload_timeout_s", "header_timeout_s",
                     "keep_alive_s"):
            if not 0 < getattr(self, name) < math.inf:
                raise ConfigError(f"limits.{name} must be a positive number of seconds")
        unknown = sorted(set(self.upload_kinds) - set(MODEL_KINDS))
        if unknown:
            raise ConfigError(f"limits.upload_kinds: unknown model kind(s) "
                              f"{', '.join(unknown)}; known: {', '.join(MODEL_KINDS)}")
        if self.rate_limit_per_s < 0 or self.rate_limit_burst < 0:
            raise ConfigError("limits.rate_limit_per_s and rate_limit_burst must be >= 0 "
                              "(0 switches rate limiting off)")


@dataclass(frozen=True, slots=True)
class Batching:
    """Micro-batching of concurrent requests into one model call.

    Requests that arrive together (in the same turn of the event loop, or
    while a model call is running) are stacked up to `max_batch_rows` rows.
    `max_delay_ms` > 0 additionally waits that long after the first request
    for more, which raises throughput for slow models at that much latency.
    xgboost batches of at most `inline_rows` rows are predicted directly on the
    event loop (a thread hand-off costs more than such a call); larger ones,
    and every Keras call, run on `threads` worker threads.
    """

    max_batch_rows: int = 65536
    max_delay_ms: float = 0.0
    inline_rows: int = 512
    threads: int = 2

    def __post_init__(self) -> None:
        if self.max_batch_rows < 1 or self.threads < 1:
            raise ConfigError("batching.max_batch_rows and batching.threads must be >= 1")
        if not 0 <= self.max_delay_ms <= 1000:
            raise ConfigError("batching.max_delay_ms must be between 0 and 1000")
        if self.inline_rows < 0:
            raise ConfigError("batching.inline_rows must be >= 0")


@dataclass(frozen=True, slots=True)
class JobsConfig:
    """Analysis jobs over HTTP (``hepflow serve --jobs``): where they run, what they may touch.

    Each job gets its own folder under `folder` and runs in its own process
    on `cluster` (anything ``hepflow submit --cluster`` takes: ``local``, a
    scheduler address, a cluster config file). Local dataset paths must lie
    below one of `allowed_roots`; remote files only through `remote_schemes`.
    """

    enabled: bool = False
    folder: str = "hepflow-jobs"
    cluster: str = "local"
    allowed_roots: tuple[str, ...] = ()
    remote_schemes: tuple[str, ...] = ("root", "s3", "https")
    max_jobs_per_user: int = 2
    max_running: int = 4
    max_output_bytes: int = 2**30
    #: what all of one user's jobs may keep on the server (folders of running and ended
    #: jobs, until removed): the disk is shared, so one user cannot fill it for everyone
    max_user_output_bytes: int = 4 * 2**30
    max_analysis_bytes: int = 2**20
    max_dataset_bytes: int = 4 * 2**20
    max_log_bytes: int = 2**20
    max_seconds: float = 86400.0
    cancel_grace_s: float = 3.0
    #: environment variables passed to jobs besides the basic ones and HEPFLOW_*, DASK_*,
    #: XRD_*, X509_* (a job runs the user's code: the server's secrets stay out of it)
    environment: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_jobs_per_user", "max_running", "max_output_bytes",
                     "max_user_output_bytes", "max_analysis_bytes", "max_dataset_bytes",
                     "max_log_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"jobs.{name} must be at least 1")
        if not 0 < self.max_seconds < math.inf:
            raise ConfigError("jobs.max_seconds must be a positive number of seconds")
        if not 0 < self.cancel_grace_s <= 60:
            raise ConfigError("jobs.cancel_grace_s must be between 0 and 60 seconds")
        if not self.cluster.strip():
            raise ConfigError("jobs.cluster is empty: give `local`, a scheduler address or "
                              "a cluster config file")
        relative = [root for root in self.allowed_roots if not Path(root).is_absolute()]
        if relative:
            raise ConfigError(f"jobs.allowed_roots must be absolute paths: {relative}")
        bad = [s for s in self.remote_schemes if s in ("file", "") or not s.isalnum()]
        if bad:
            raise ConfigError(f"jobs.remote_schemes: {bad} are not remote URL schemes")


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """Everything `hepflow serve` needs: the model folder, the address, auth and limits."""

    models: Path
    host: str = "127.0.0.1"
    port: int = 8000
    #: the port of the V2 (Open Inference Protocol) gRPC service; none without it
    grpc_port: int | None = None
    auth: AuthConfig | None = None
    limits: Limits = field(default_factory=Limits)
    batching: Batching = field(default_factory=Batching)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    insecure_no_auth: bool = False
    log_level: str = "info"
    access_log: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", Path(self.models))
        if self.auth is None and not self.insecure_no_auth:
            raise ConfigError("no auth section: configure token checking (auth.issuer, "
                              "auth.audience and jwks_url or public_key_file), or start "
                              "with --insecure-no-auth for a local test")
        if not 0 <= self.port < 65536:
            raise ConfigError(f"port {self.port} is not a TCP port")
        if self.grpc_port is not None and not 0 <= self.grpc_port < 65536:
            raise ConfigError(f"grpc_port {self.grpc_port} is not a TCP port")


# -- reading ------------------------------------------------------------------------------


def load_config(path: str | Path | None = None, *, models: str | Path | None = None,
                insecure_no_auth: bool = False, **overrides: Any) -> ServeConfig:
    """A `ServeConfig` from a YAML/JSON file (optional) plus command-line values.

    Command-line values win over the file; `models` must come from one of them.
    """
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        file = Path(path)
        data = LOADER.read_file(file, "serve config")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: the top level must be a mapping of settings")
        base = file.parent
    if "insecure_no_auth" in data:
        raise ConfigError("insecure_no_auth cannot be set in a config file; pass "
                          "--insecure-no-auth on the command line if you really mean it")
    for key, value in overrides.items():
        if value is not None:
            data[key] = value
    if models is not None:
        data["models"] = str(models)
    if "models" not in data:
        raise ConfigError("no model folder: pass --models DIR (or `models:` in the config)")
    auth = data.get("auth")
    if isinstance(auth, Mapping) and auth.get("public_key_file"):
        data["auth"] = {**auth, "public_key_file": str(base / str(auth["public_key_file"]))}
    if path is not None and not Path(str(data["models"])).is_absolute() and models is None:
        data["models"] = str(base / str(data["models"]))
    jobs = data.get("jobs")
    if isinstance(jobs, Mapping):  # relative folders: from the config file's folder
        data["jobs"] = _jobs_paths(jobs, base)
    config: ServeConfig = build(ServeConfig, {**data, "insecure_no_auth": insecure_no_auth}, "")
    return config


def _jobs_paths(jobs: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """The jobs section with `folder` and `allowed_roots` made absolute against `base`."""
    out = dict(jobs)
    out["folder"] = str(base / str(jobs.get("folder", "hepflow-jobs")))
    roots = jobs.get("allowed_roots")
    if isinstance(roots, (list, tuple)):
        out["allowed_roots"] = [str((base / str(r)).absolute()) for r in roots]
    return out


def _sizes(hint: Any, value: Any, name: str) -> Any:
    """The serve config's own conversion: ``*_bytes`` settings take sizes like ``"64MiB"``."""
    if hint is int and name.endswith("_bytes"):
        return parse_size(value)
    return NotImplemented


LOADER = Loader(ConfigError, hook=_sizes)


def build(cls: type[Any], data: Any, where: str) -> Any:
    """Instantiate a config dataclass from plain data, checking keys and types."""
    return LOADER.build(cls, data, where)


__all__ = ["AuthConfig", "Batching", "JobsConfig", "Limits", "RoleRule", "ServeConfig", "build",
           "check_key_url", "load_config", "parse_size"]
