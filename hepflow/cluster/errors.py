"""Errors of the cluster layer: a config that cannot work, a cluster that never came up.

They live here rather than in `hepflow.errors` because only `hepflow.cluster`
and the command line raise them; both still derive from `HepflowError`, so a
caller catching hepflow's errors catches these too.
"""

from __future__ import annotations

from hepflow.errors import HepflowError


class ClusterConfigError(HepflowError, ValueError):
    """A cluster config is malformed: unknown key, wrong type, bad value.

    Raised while the config is read, before any job is submitted, so that a
    typo costs seconds instead of a place in a batch queue.
    """


class ClusterError(HepflowError, RuntimeError):
    """A cluster could not be started or reached, or no worker joined in time.

    The message names what is missing (the package, the scheduler address,
    the pending jobs and where their logs are) and what to try next.
    """


class SubmitError(HepflowError, RuntimeError):
    """A batch job could not be submitted, found or followed."""


__all__ = ["ClusterConfigError", "ClusterError", "SubmitError"]
