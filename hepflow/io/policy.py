"""How reads behave under failure: timeouts, retries with backoff, and the error policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """`raise` stops the run at the first unreadable chunk; `skip` reports it and goes on."""

    timeout: float = 30.0
    retries: int = 2
    backoff: float = 0.5
    policy: Literal["raise", "skip"] = "raise"


__all__ = ["ReadOptions"]
