"""XRootD client (XrdCl) settings for tests: make dead or hung servers fail in seconds."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from hepflow.io.xrootd_env import XRDCL_ENV_KEYS

#: Client (XrdCl) settings that make a dead or hung server fail in seconds
#: and a restarted one usable again at once, for tests.
#:
#: XrdCl's defaults are built for WAN production: a connection window of
#: 120 s, 5 attempts, timeouts checked only every 15 s, and a host that
#: failed is refused *for the rest of the process* for 1800 s
#: (XRD_STREAMERRORWINDOW).  Under them a read from a stopped server takes
#: ~(5-1) x 120 s = 8 minutes to fail, and a server restarted on the same
#: port stays unusable for half an hour.  Measured with these values on
#: 127.0.0.1: a stopped server (connection refused) fails in ~0.002 s, a hung
#: one (SIGSTOP) after XRD_REQUESTTIMEOUT (or the fsspec ``timeout`` storage
#: option) rounded up to XRD_TIMEOUTRESOLUTION, and a restarted one answers on
#: the next request.  deployments/xrootd/README.md has production advice.
FAST_FAIL_CLIENT_SETTINGS: dict[str, int] = {
    "XRD_CONNECTIONWINDOW": 2,  # seconds one connection attempt may take
    "XRD_CONNECTIONRETRY": 1,  # attempts per connection (1 = no retry)
    "XRD_REQUESTTIMEOUT": 5,  # seconds a whole request may take
    "XRD_STREAMTIMEOUT": 5,  # seconds of silence on a busy stream
    "XRD_TIMEOUTRESOLUTION": 1,  # how often timeouts are checked
    "XRD_STREAMERRORWINDOW": 0,  # do not blacklist a host:port that failed
}


def apply_client_settings(
    settings: Mapping[str, int] = FAST_FAIL_CLIENT_SETTINGS, *, override: bool = False
) -> dict[str, int]:
    """Set XrdCl timeouts/retries for this process and for processes it starts.

    XrdCl reads ``XRD_*`` variables once, when its environment is first used,
    so setting ``os.environ`` later has no effect in-process; ``EnvPutInt``
    changes the live values.  Both are done: ``os.environ`` for subprocesses
    (e.g. Dask workers started afterwards), ``EnvPutInt`` for this one.

    Values already present in ``os.environ`` win unless ``override`` is true,
    matching XrdCl, which never lets ``EnvPutInt`` override a value that came
    from the shell.  Returns the values in effect.
    """
    effective: dict[str, int] = {}
    for name, value in settings.items():
        if not override and name in os.environ:
            try:
                effective[name] = int(os.environ[name])
            except ValueError:
                effective[name] = int(value)
            continue
        os.environ[name] = str(int(value))
        effective[name] = int(value)
    try:
        from XRootD.client import EnvPutInt
    except ImportError:  # bindings missing: subprocesses still get os.environ
        return effective
    for name, value in effective.items():
        key = XRDCL_ENV_KEYS.get(name)
        if key is not None:
            EnvPutInt(key, value)
    return effective


@contextlib.contextmanager
def client_settings(
    settings: Mapping[str, int] = FAST_FAIL_CLIENT_SETTINGS, *, override: bool = False
) -> Iterator[dict[str, int]]:
    """``apply_client_settings`` for a block, then put the old values back.

    For test fixtures: the XrdCl environment is process-wide, so settings made
    for one test module must not leak into the rest of the session.
    """
    saved_environ = {name: os.environ.get(name) for name in settings}
    saved_live: dict[str, int] = {}
    try:
        from XRootD.client import EnvGetInt
    except ImportError:
        pass
    else:
        for name in settings:
            key = XRDCL_ENV_KEYS.get(name)
            if key is not None:
                saved_live[key] = int(EnvGetInt(key))
    try:
        yield apply_client_settings(settings, override=override)
    finally:
        for name, value in saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if saved_live:
            from XRootD.client import EnvPutInt

            for key, old in saved_live.items():
                EnvPutInt(key, old)


# --------------------------------------------------------------------------
# permissions
