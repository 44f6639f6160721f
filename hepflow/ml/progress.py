"""Progress of a training, shown where the user is: on the client, whichever process trains.

Training runs in Dask worker processes, whose output a notebook or a log on
the client never sees. The training code reports each epoch or boosting
round with `report`: on a worker that is an event on the topic `TOPIC`,
which `shown` prints on the client while the training runs; in the client's
own process (`strategy="local"`) it is printed at once.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from typing import Any

TOPIC = "hepflow-ml-progress"


def line(what: str, step: int, total: int, metrics: Mapping[str, float]) -> str:
    """`xgboost round 40/300: validation_auc 0.9123  validation_logloss 0.3012`."""
    values = "  ".join(f"{name} {value:.4f}" for name, value in metrics.items())
    return f"{what} {step}/{total}" + (f": {values}" if values else "")


def report(message: str) -> None:
    """Send one progress line to the client (from a worker), or print it (elsewhere)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        print(message, flush=True)
        return
    worker.log_event(TOPIC, message)


@contextlib.contextmanager
def shown(client: Any, enabled: bool = True) -> Iterator[None]:
    """Print the workers' progress lines on this client while the block runs."""
    if not enabled:
        yield
        return

    def show(event: tuple[float, Any]) -> None:
        print(event[1], file=sys.stdout, flush=True)

    client.subscribe_topic(TOPIC, show)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(TOPIC)


def bar(client: Any, futures: list[Any], what: str) -> None:
    """A tqdm bar over futures as they finish (wait for them all)."""
    import distributed
    from tqdm.auto import tqdm

    with tqdm(total=len(futures), desc=what, unit="chunk", disable=len(futures) < 2,
              leave=False) as progress, client.as_current():
        for _ in distributed.as_completed(futures):
            progress.update(1)


__all__ = ["TOPIC", "bar", "line", "report", "shown"]
