"""XRootD client (XrdCl) settings for the processes that read `root://` files.

XrdCl's defaults are built for the WAN: a 120 s connection window, 5 retries,
and a host that failed once is refused for 1800 s. hepflow already retries
and fails over to other replicas itself, so a facility usually wants XrdCl to
give up quickly, and hepflow's `DEFAULT_SETTINGS` do that. Settings over them come
from `dask.config` (`hepflow.xrootd`, e.g.
`DASK_HEPFLOW__XROOTD__XRD_CONNECTIONWINDOW=10`) and are applied once per
worker process, before its first `root://` open. `XRD_*` variables already in
the worker's environment always win, as in XrdCl itself.

XRootD's client library, when installed, is loaded when this module is
imported (with hepflow's io layer, 14 ms): loaded after TensorFlow's or
PyTorch's shared libraries in a busy process (a worker that trained a model,
a notebook), importing it crashes the process (SIGSEGV, xrootd 6.2 with
TensorFlow 2.21 and torch 2.13).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import dask.config

with contextlib.suppress(ImportError):
    importlib.import_module("XRootD.client")

#: XRD_<NAME> environment variable → the XrdCl Env key `EnvPutInt` takes.
XRDCL_ENV_KEYS: dict[str, str] = {
    "XRD_CONNECTIONWINDOW": "ConnectionWindow",
    "XRD_CONNECTIONRETRY": "ConnectionRetry",
    "XRD_REQUESTTIMEOUT": "RequestTimeout",
    "XRD_STREAMTIMEOUT": "StreamTimeout",
    "XRD_TIMEOUTRESOLUTION": "TimeoutResolution",
    "XRD_STREAMERRORWINDOW": "StreamErrorWindow",
    "XRD_REDIRECTLIMIT": "RedirectLimit",
    "XRD_DATASERVERTTL": "DataServerTTL",
    "XRD_LOADBALANCERTTL": "LoadBalancerTTL",
    "XRD_SUBSTREAMSPERCHANNEL": "SubStreamsPerChannel",
}

#: hepflow's own defaults, under the `hepflow.xrootd` config and any `XRD_*` variable.
#: XrdCl's defaults are for the WAN: a stopped server took 134 s to fail (5 attempts
#: in a 120 s window) and its host:port was then refused for 1800 s. hepflow retries
#: and fails over itself, so one quick attempt per open is enough: a dead server is
#: a ReadError in seconds (at most 5 s per attempt when packets are dropped).
DEFAULT_SETTINGS: dict[str, int] = {
    "XRD_CONNECTIONWINDOW": 5,  # seconds one connection attempt may take (XrdCl: 120)
    "XRD_CONNECTIONRETRY": 1,  # attempts per connection: hepflow retries (XrdCl: 5)
    "XRD_REQUESTTIMEOUT": 60,  # seconds a whole request may take (XrdCl: 1800)
    "XRD_STREAMTIMEOUT": 60,  # seconds of silence on a busy stream (XrdCl: 60)
    "XRD_TIMEOUTRESOLUTION": 5,  # how often timeouts are checked (XrdCl: 15)
    "XRD_STREAMERRORWINDOW": 60,  # seconds a failed host:port is refused (XrdCl: 1800)
}

_lock = threading.Lock()
_applied: dict[str, int] = {}


def configured_settings() -> dict[str, int]:
    """hepflow's defaults, with the `hepflow.xrootd` settings from dask.config over them.

    Names are case-blind and take `-` for `_`, as Dask's environment variables
    (`DASK_HEPFLOW__XROOTD__XRD_REQUESTTIMEOUT=300`) spell them.
    """
    raw = dask.config.get("hepflow.xrootd", default={}) or {}
    out: dict[str, int] = dict(DEFAULT_SETTINGS)
    for name, value in dict(raw).items():
        key = str(name).upper().replace("-", "_")
        if key not in XRDCL_ENV_KEYS:
            raise ValueError(f"unknown XRootD client setting {name!r}; known: "
                             f"{', '.join(sorted(XRDCL_ENV_KEYS))}")
        out[key] = int(value)
    return out


def apply(settings: Mapping[str, int] | None = None) -> dict[str, int]:
    """Apply XrdCl settings in this process (environment variables take precedence)."""
    settings = configured_settings() if settings is None else dict(settings)
    with _lock:
        todo = {k: v for k, v in settings.items() if _applied.get(k) != v}
        if not todo:
            return dict(_applied)
        try:  # the optional `xrootd` extra, loaded only when a root:// file is opened
            xrdcl = importlib.import_module("XRootD.client")
        except ImportError:
            return dict(_applied)
        put_int: Callable[[str, int], Any] = getattr(xrdcl, "EnvPutInt")  # noqa: B009 - untyped
        for name, value in todo.items():
            if name in os.environ:
                continue
            put_int(XRDCL_ENV_KEYS[name], int(value))
            _applied[name] = int(value)
        return dict(_applied)


__all__ = ["DEFAULT_SETTINGS", "XRDCL_ENV_KEYS", "apply", "configured_settings"]
