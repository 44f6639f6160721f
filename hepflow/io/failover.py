"""Retries with backoff and failover across replicas, for every reader (TTree, RNTuple).

Each replica is tried `retries + 1` times
with exponential backoff before the next one; a replica that answers with the
wrong file (`Refused`) is not retried; a failure forgets the open handle so a
retry reopens it; when every replica failed the error names them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hepflow.core.measure import Measurement
from hepflow.errors import ReadError
from hepflow.io.handles import ReadStats, forget
from hepflow.io.policy import ReadOptions
from hepflow.logs import get_logger

#: One attempt on one replica URL with a timeout: the arrays and what the attempt cost
#: (its seconds, replica, attempt count and unpacked bytes are filled in by the loop).
log = get_logger(__name__)

Attempt = Callable[[str, float], tuple[dict[str, Any], ReadStats]]


class Refused(ReadError):
    """A replica that answers but holds the wrong file, or damaged bytes: retrying it cannot
    help (another replica may)."""


def read_with_failover(chunk: Any, options: ReadOptions | None,
                       attempt: Attempt) -> tuple[dict[str, Any], ReadStats]:
    """Run `attempt` over the chunk's replicas until one succeeds; (arrays, ReadStats)."""
    options = options or ReadOptions()
    errors: list[ReadError] = []
    attempts = 0
    start = time.perf_counter()
    where = f"{chunk.url} entries [{chunk.entry_start}, {chunk.entry_stop})"
    for n, url in enumerate(chunk.urls):
        if n:
            log.warning("failing over to replica %s for %s", url, where)
        for tried in range(options.retries + 1):
            attempts += 1
            try:
                arrays, stats = attempt(url, options.timeout)
            except Refused as exc:
                errors.append(exc)
                forget(url, chunk.tree)
                log.warning("refused replica %s for %s: %s", url, where, exc.cause)
                break
            except ReadError as exc:
                errors.append(exc)
                forget(url, chunk.tree)
                if tried < options.retries:
                    log.warning("retrying %s (attempt %d of %d) after: %s", where, tried + 2,
                                options.retries + 1, exc.cause)
                    time.sleep(options.backoff * (2 ** tried))
                continue
            unpacked = sum(int(getattr(a, "nbytes", 0)) for a in arrays.values())
            waited = time.perf_counter() - start - sum(stats.measured.seconds.values())
            # the rest of the read, retries included, was waiting for bytes
            done = Measurement(bytes_uncompressed=unpacked, seconds={"network": max(0.0, waited)})
            return arrays, ReadStats(stats.measured.merge(done), url, attempts)
    if len(chunk.urls) > 1:
        last = {e.replica: e for e in errors}  # the last failure of each replica
        causes = "; ".join(f"{e.replica}: {e.cause}" for e in last.values())
        raise ReadError(chunk.url, chunk.entry_start, chunk.entry_stop,
                        f"all {len(chunk.urls)} replicas failed ({causes})",
                        replica=errors[-1].replica)
    raise errors[-1]


__all__ = ["Attempt", "Refused", "read_with_failover"]
