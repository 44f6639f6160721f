"""The scheduler's own load: tasks finished per second and its process' CPU.

With one task per chunk, the scheduler is what stops a run from scaling past
a few dozen workers: it spends about a millisecond on every task. The
scaling page shows this load next to the speed-up, so an operator sees the
scheduler saturate (CPU near 100 % of a core, tasks/s flat) before the
workers do. The plugin counts tasks as they reach memory (`task_done`) and
the page samples it about once a second (`sample`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any


def process_cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds (user + system) of process `pid`, default this one (the scheduler's,
    on the scheduler)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


class SchedulerLoad:
    """Tasks per second and CPU percent of the scheduler, over the last `window` samples."""

    def __init__(self, window: int = 300) -> None:
        self._lock = threading.Lock()
        self.tasks = 0
        self.samples: deque[tuple[float, float, float]] = deque(maxlen=window)
        self._last = (time.monotonic(), 0, process_cpu_seconds())

    def task_done(self) -> None:
        self.tasks += 1  # called from the scheduler's event loop only

    def sample(self, min_interval: float = 0.5) -> None:
        """Add a sample: rates since the previous one (skipped if that was too recent)."""
        now, cpu = time.monotonic(), process_cpu_seconds()
        with self._lock:
            last_t, last_tasks, last_cpu = self._last
            if now - last_t < min_interval:
                return
            span = now - last_t
            self.samples.append((time.time(), (self.tasks - last_tasks) / span,
                                 100.0 * (cpu - last_cpu) / span))
            self._last = (now, self.tasks, cpu)

    def series(self) -> dict[str, Any]:
        """The samples as columns (`time`, `tasks_per_s`, `cpu_percent`) and the totals."""
        with self._lock:
            rows = list(self.samples)
        return {"time": [r[0] * 1000.0 for r in rows], "tasks_per_s": [r[1] for r in rows],
                "cpu_percent": [r[2] for r in rows], "tasks": self.tasks}


__all__ = ["SchedulerLoad", "process_cpu_seconds"]
