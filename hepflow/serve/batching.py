"""Micro-batching: concurrent small requests for one model become one model call.

Why: a model call has a fixed cost that dwarfs the per-row cost of a small
request (an xgboost ``inplace_predict`` of one row costs about as much as one
of a few hundred rows; a Keras call even more), so a server that calls the
model once per request tops out at a few thousand rows per second.

How, without adding latency when the server is idle:

* A request's checked columns are queued and a flush is scheduled with
  ``loop.call_soon``, so every request that arrived in the same turn of the
  event loop (uvicorn reads all ready sockets per turn) lands in one batch.
* At most `concurrency` model calls run at once on worker threads (xgboost and
  TensorFlow release the GIL while they compute). While they run, new requests
  queue up and go together in the next call as soon as one finishes: the
  busier the server, the bigger the batches, and an idle server answers at once.
  Work of more than `split_rows` rows is spread over the free threads rather
  than stacked into one call, so large requests still use every core.
* `max_delay_s` > 0 additionally waits that long after the first queued
  request (a bounded added latency, for slow models at high rates).
* Small xgboost batches (`inline_rows`) run directly on the event loop: a
  thread hand-off costs more than predicting a few rows.
* A batch never mixes in a request that timed out (its future is cancelled),
  and if a batch fails as a whole its requests are retried one by one, so a
  single bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from hepflow.serve.inputs import RawBatch, concat

#: Called after every model call with (rows, requests, seconds).
Observer = Callable[[int, int, float], None]


@dataclass(slots=True)
class _Item:
    batch: RawBatch
    future: asyncio.Future[np.ndarray]


class MicroBatcher:
    """Queues checked requests for one model and runs them in stacked model calls."""

    def __init__(self, run: Callable[[RawBatch], np.ndarray], *, executor: Executor,
                 max_rows: int = 65536, max_delay_s: float = 0.0, inline_rows: int = 0,
                 concurrency: int = 2, split_rows: int = 4096,
                 observe: Observer | None = None) -> None:
        self._run = run
        self._executor = executor
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self.inline_rows = inline_rows
        self.concurrency = concurrency
        self.split_rows = split_rows
        self._observe = observe
        self._pending: deque[_Item] = deque()
        self._pending_rows = 0
        self._running = 0
        self._handle: asyncio.Handle | None = None
        self._timer = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def predict(self, batch: RawBatch) -> np.ndarray:
        """Predictions for this request's rows (shape (n,) or (n, classes))."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._pending.append(_Item(batch, future))
        self._pending_rows += batch.rows
        self._wake(loop)
        return await future

    # -- scheduling ------------------------------------------------------------------------

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        full = self._pending_rows >= self.max_rows
        if self._handle is not None:
            if full and self._timer:
                self._handle.cancel()
                self._handle = loop.call_soon(self._flush)
                self._timer = False
            return
        if self.max_delay_s > 0 and not full:
            self._handle = loop.call_later(self.max_delay_s, self._flush)
            self._timer = True
        else:
            self._handle = loop.call_soon(self._flush)
            self._timer = False

    def _take(self, target: int) -> list[_Item]:
        items: list[_Item] = []
        rows = 0
        while self._pending:
            item = self._pending[0]
            if item.future.done():  # cancelled: the client gave up or timed out
                self._pending.popleft()
                self._pending_rows -= item.batch.rows
                continue
            if items and rows + item.batch.rows > target:
                break
            self._pending.popleft()
            self._pending_rows -= item.batch.rows
            items.append(item)
            rows += item.batch.rows
        return items

    def _flush(self) -> None:
        self._handle = None
        self._timer = False
        while self._pending and self._running < self.concurrency:
            # Spread large work over the free threads instead of stacking it into one
            # call: two 10k-row requests run side by side, a hundred 1-row ones together.
            free = self.concurrency - self._running
            target = min(self.max_rows, max(self.split_rows, -(-self._pending_rows // free)))
            items = self._take(target)
            if not items:
                break
            rows = sum(i.batch.rows for i in items)
            if rows <= self.inline_rows:
                self._deliver(items, self._call(items))
                continue
            self._running += 1
            future = asyncio.wrap_future(self._executor.submit(self._call, items))
            future.add_done_callback(functools.partial(self._finished, items))

    def _finished(self, items: list[_Item], future: asyncio.Future[list[Any]]) -> None:
        self._running -= 1
        try:
            results: list[Any] = future.result()
        except Exception as err:  # noqa: BLE001 - the thread itself failed: tell every waiter
            results = [err] * len(items)
        self._deliver(items, results)
        if self._pending and self._handle is None:
            self._flush()

    @staticmethod
    def _deliver(items: list[_Item], results: list[Any]) -> None:
        for item, result in zip(items, results, strict=True):
            if item.future.done():
                continue
            if isinstance(result, BaseException):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)

    # -- the model call (on a worker thread, or inline for small xgboost batches) ---------

    def _call(self, items: list[_Item]) -> list[Any]:
        start = time.perf_counter()
        rows = sum(i.batch.rows for i in items)
        try:
            out = self._run(concat([i.batch for i in items]))
            results: list[Any] = []
            offset = 0
            for item in items:
                results.append(out[offset:offset + item.batch.rows])
                offset += item.batch.rows
        except Exception as err:  # noqa: BLE001 - isolate the request that broke the batch
            if len(items) == 1:
                results = [err]
            else:
                results = [self._single(i.batch) for i in items]
        if self._observe is not None:
            self._observe(rows, len(items), time.perf_counter() - start)
        return results

    def _single(self, batch: RawBatch) -> Any:
        try:
            return self._run(batch)
        except Exception as err:  # noqa: BLE001 - handed to that request's waiter
            return err


__all__ = ["MicroBatcher", "Observer"]
