"""The part of the environment that changes what a hepflow process does.

A process hepflow starts somewhere else (a detached batch driver, which
HTCondor starts with an empty environment; a job of `hepflow serve --jobs`,
which must not see the server's secrets) inherits exactly these, explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Prefixes and names of the variables forwarded: hepflow's, Dask's and XRootD's
#: settings, the Slurm config and the grid credentials' places.
FORWARDED_PREFIXES = ("HEPFLOW_", "DASK_", "XRD_")
FORWARDED_NAMES = ("SLURM_CONF", "X509_USER_PROXY", "X509_CERT_DIR")


def forwarded_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of `environ` (default: this process's) a started process inherits."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in sorted(environ.items())
            if k.startswith(FORWARDED_PREFIXES) or k in FORWARDED_NAMES}


__all__ = ["FORWARDED_NAMES", "FORWARDED_PREFIXES", "forwarded_environ"]
