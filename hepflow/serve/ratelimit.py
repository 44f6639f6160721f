"""Per-client token buckets: a client may send `rate` requests per second, `burst` at once.

The client is the token's subject when the request carries a valid token (so
users behind one NAT or proxy do not share a budget) and the peer address
otherwise. Buckets live in a bounded LRU, so a flood of distinct clients costs
bounded memory; an evicted client simply starts again with a full bucket.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict


class RateLimiter:
    """Token buckets by client key; `check` answers 0 (go) or seconds to wait."""

    def __init__(self, rate: float, burst: int = 0, max_clients: int = 10_000) -> None:
        self.rate = float(rate)
        self.burst = float(burst or max(1.0, 2 * self.rate))
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, key: str, now: float | None = None) -> float:
        """Take one token for `key`: 0.0 if allowed, else the seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = [self.burst, now]
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self.rate

    @staticmethod
    def retry_after(seconds: float) -> str:
        """The ``Retry-After`` header value: whole seconds, at least 1."""
        return str(max(1, math.ceil(seconds)))


__all__ = ["RateLimiter"]
