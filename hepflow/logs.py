"""hepflow's logger hierarchy: `hepflow`, `hepflow.io.failover`, `hepflow.io.reader`, ...

Retries, failovers, fallbacks and refusals happen on the workers, where
`run_info` reaches no one watching a worker's log. They are logged at WARNING,
naming the file and entry range. On a Dask worker the `hepflow` logger also
hands its records to `distributed.worker`'s handlers, so they appear in the
worker's log output and in `client.get_worker_logs()` without any set-up; a
user's own handlers on `hepflow` or the root logger see them as usual.
"""

from __future__ import annotations

import logging

import distributed

ROOT_NAME = "hepflow"


class _ToWorkerLog(logging.Handler):
    """On a Dask worker, pass hepflow's records to `distributed.worker`'s handlers."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            distributed.get_worker()
        except ValueError:  # not on a worker: the client's own logging decides
            return
        # its handlers and its parents' (the worker's stderr), as if it logged the record
        logging.getLogger("distributed.worker").handle(record)


def get_logger(name: str) -> logging.Logger:
    """The logger for a hepflow module (`name` is its `__name__`)."""
    return logging.getLogger(name)


def _install() -> None:
    root = logging.getLogger(ROOT_NAME)
    if not any(isinstance(h, _ToWorkerLog) for h in root.handlers):
        root.addHandler(_ToWorkerLog())


_install()

__all__ = ["ROOT_NAME", "get_logger"]
