"""Running the batches of a run on a Dask cluster: dynamic, with speculative copies.

The client submits one task per batch (see `engine.graph`); the scheduler's
queue hands them to whichever worker slot is free (dynamic dispatch, so a
slow worker only ever holds the batch it is running), and the last batches
are smaller so the run's end is not held by a long one. The merges above the
batches are submitted as soon as their children are known, so the tree
reduction runs on the workers while batches still compute.

Stragglers: each batch task announces its start on the `hepflow-batch`
topic. A batch running longer than `factor` times the median chunk time times
its chunks gets a copy on another worker; the first result wins and is the
only one merged (a result is counted once), the other is cancelled. A killed
worker's batches are re-run by Dask itself (their futures stay the same).
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from hepflow.core.chunk import Chunk
from hepflow.engine.graph import (
    START_TOPIC,
    Batch,
    Node,
    merge_results,
    plan_batches,
    root_level,
    run_batch,
)
from hepflow.results.partials import ChunkResult


@dataclass(frozen=True, slots=True)
class Job:
    """One analysis' part of a run: its kernel, chunks, per-chunk offsets and batching."""

    kernel: Any
    chunks: Sequence[Chunk]
    offsets: Sequence[tuple[int, ...]]
    split_every: int
    token: str
    level: int = 0
    tail_chunks: int = 0


@dataclass(frozen=True, slots=True)
class Speculation:
    """When a running batch gets a copy elsewhere."""

    factor: float = 4.0
    min_seconds: float = 1.0
    min_samples: int = 3
    enabled: bool = True


@dataclass
class DispatchStats:
    """What the dispatcher did: tasks handed to the scheduler, copies made and won."""

    batches: int = 0
    merges: int = 0
    copies: int = 0
    copies_won: int = 0
    reruns: int = 0
    median_chunk_s: float = 0.0

    @property
    def tasks(self) -> int:
        return self.batches + self.merges + self.copies

    def to_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "merges": self.merges, "copies": self.copies,
                "copies_won": self.copies_won, "reruns": self.reruns, "tasks": self.tasks,
                "median_chunk_s": self.median_chunk_s}


@dataclass
class _Batch:
    job: int
    node: Node
    chunks: int
    kernel: Any
    spec: Batch
    label: str
    attempts: list[Any] = field(default_factory=list)
    started: dict[str, tuple[float, str]] = field(default_factory=dict)
    winner: Any = None


class _Router:
    """One `hepflow-batch` subscription per client, routed to each dispatch by label."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queues: dict[str, queue.Queue[tuple[Any, ...]]] = {}
        self.clients: set[int] = set()

    def handle(self, event: tuple[float, Mapping[str, Any]]) -> None:
        msg = event[1]
        label = str(msg.get("label", ""))
        target = self.queues.get(label.split("/", 1)[0])
        if target is not None:
            target.put(("start", label, str(msg.get("worker", "")), time.monotonic()))

    def listen(self, client: Any, nonce: str, events: queue.Queue[tuple[Any, ...]]) -> None:
        with self.lock:
            self.queues[nonce] = events
            if id(client) not in self.clients:
                client.subscribe_topic(START_TOPIC, self.handle)
                self.clients.add(id(client))

    def forget(self, nonce: str) -> None:
        with self.lock:
            self.queues.pop(nonce, None)


_ROUTER = _Router()


class Dispatcher:
    """Submits the batches and merges of some jobs, copies stragglers, returns each root."""

    def __init__(self, client: Any, jobs: Sequence[Job],
                 speculation: Speculation | None = None, progress: bool = False) -> None:
        self.client = client
        self.progress = progress
        self.bar: Any = None
        self.jobs = list(jobs)
        self.speculation = speculation or Speculation()
        self.stats = DispatchStats()
        self.nonce = uuid.uuid4().hex[:10]
        self.events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.batches: dict[str, _Batch] = {}
        self.by_key: dict[Any, _Batch] = {}
        self.final: list[dict[Node, Any]] = [{} for _ in self.jobs]
        self.upper: list[dict[Node, list[Node]]] = [{} for _ in self.jobs]
        self.parent: list[dict[Node, Node]] = [{} for _ in self.jobs]
        self.roots: list[Node] = []
        self.chunk_seconds: list[float] = []
        self.workers: list[str] = []
        self.cancelled: set[Any] = set()
        self.merges: dict[Any, int] = {}
        self.kernels: list[Any] = []
        self.open: dict[str, _Batch] = {}
        self.slots = 0
        self.checked = 0.0
        self.idle_since: float | None = None
        self.slow: set[str] = set()
        self.rounds = 0  # rounds of merges submitted again (their keys must differ)
        self.merge_nodes: dict[Any, Node] = {}

    # -- setup --------------------------------------------------------------------------

    def _plan(self, j: int, job: Job, kernel: Any) -> None:
        n, s = len(job.chunks), job.split_every
        batches = plan_batches(n, s, job.level, job.tail_chunks)
        leaves = set(batches)
        root = Node(root_level(n, s), 0)
        self.roots.append(root)

        def walk(node: Node) -> None:
            if node in leaves:
                return
            kids = node.children(s, n)
            self.upper[j][node] = kids
            for kid in kids:
                self.parent[j][kid] = node
                walk(kid)

        walk(root)
        for node in batches:
            first = node.first(s)
            stop = min(n, first + node.span(s))
            label = f"{self.nonce}/{j}/{node.level}/{node.index}"
            spec = Batch(job.chunks[first:stop], job.offsets[first:stop], s, node.level,
                         node.index, label)
            self.batches[label] = _Batch(j, node, stop - first, kernel, spec, label)

    def _key(self, batch: _Batch, attempt: int) -> str:
        job = self.jobs[batch.job]
        kind = "chunk" if batch.node.level == 0 else "batch"
        copy = f"-copy{attempt}" if attempt else ""
        return (f"hepflow-{kind}-{job.token}-{self.nonce}-{batch.node.level}-"
                f"{batch.node.index}{copy}")

    def _submit_batch(self, batch: _Batch, workers: list[str] | None = None) -> None:
        attempt = len(batch.attempts)
        label = batch.label + (f"#{attempt}" if attempt else "")
        extra: dict[str, Any] = {"priority": 10}
        if workers:
            extra.update(workers=workers, allow_other_workers=False)
        future = self.client.submit(run_batch, batch.kernel, batch.spec.relabelled(label),
                                    key=self._key(batch, attempt), pure=False, **extra)
        batch.attempts.append(future)
        self.by_key[future.key] = batch
        future.add_done_callback(self._done)

    def _done(self, future: Any) -> None:
        self.events.put(("done", future))

    # -- running ------------------------------------------------------------------------

    def run(self, submitted: Callable[[str], None] | None = None) -> list[ChunkResult]:
        """The merged result of each job (jobs without chunks are not allowed).

        `submitted("submit")` is called once every batch is handed to the scheduler.
        """
        _ROUTER.listen(self.client, self.nonce, self.events)
        try:
            nthreads = self.client.nthreads()  # every worker (scheduler_info may list a few)
            self.workers = list(nthreads)
            self.slots = sum(int(n) for n in nthreads.values())
            # One graph for every kernel and batch: one message, one graph update on the
            # scheduler, however many batches; the merges above them and any copies are
            # submitted one by one.
            dsk: dict[Any, Any] = {}
            kernel_keys = []
            for j, job in enumerate(self.jobs):
                key = f"hepflow-kernel-{job.token}-{self.nonce}"
                dsk[key] = job.kernel
                kernel_keys.append(key)
                self._plan(j, job, key)
            batch_keys = []
            for batch in self.batches.values():
                key = self._key(batch, 0)
                dsk[key] = (run_batch, batch.kernel, batch.spec)
                batch_keys.append(key)
            futures = self.client.get(dsk, kernel_keys + batch_keys, sync=False)
            self.kernels = list(futures[:len(kernel_keys)])
            for batch, future in zip(self.batches.values(), futures[len(kernel_keys):],
                                     strict=True):
                batch.kernel = self.kernels[batch.job]
                batch.attempts.append(future)
                self.by_key[future.key] = batch
                future.add_done_callback(self._done)
            self.stats.batches = len(self.batches)
            self.open = dict(self.batches)
            # The whole tree of merges now, over each batch's first attempt, as a static
            # graph would be: the scheduler starts a merge the moment its inputs are in,
            # with no round trip through this client per level. A copy that wins later
            # has the merges above it submitted again over its result (`_replace`).
            for batch in self.batches.values():
                self._known(batch.job, batch.node, batch.attempts[0])
            if submitted is not None:
                submitted("submit")
            with tqdm(total=sum(b.chunks for b in self.batches.values()), desc="hepflow",
                      unit="chunk", disable=not self.progress) as self.bar:
                self._loop()
            roots = [self.final[j][root] for j, root in enumerate(self.roots)]
            out = list(self.client.gather(roots))
            return out
        except BaseException:
            everything = [f for b in self.batches.values() for f in b.attempts]
            everything += [f for per_job in self.final for f in per_job.values()]
            self.client.cancel(everything, force=True)
            raise
        finally:
            _ROUTER.forget(self.nonce)

    def _loop(self) -> None:
        open_roots = set(range(len(self.jobs)))
        while open_roots:
            # Every event that is waiting, before any straggler check: a check on a
            # backlog would take finished batches for stragglers and copy them.
            try:
                items = [self.events.get(timeout=0.1)]
            except queue.Empty:
                items = []
            while True:
                try:
                    items.append(self.events.get_nowait())
                except queue.Empty:
                    break
            for item in items:
                if item[0] == "start":
                    self._started(item[1], item[2], item[3])
                    continue
                done = self._finished(item[1])
                if done is not None:
                    open_roots.discard(done)
            if self.speculation.enabled and open_roots:
                self._speculate()

    def _started(self, label: str, worker: str, when: float) -> None:
        base = label.split("#", 1)[0]
        batch = self.batches.get(base)
        if batch is None:
            return
        if label in batch.started:
            self.stats.reruns += 1  # Dask re-ran it after its worker was lost
        batch.started[label] = (when, worker)

    def _finished(self, future: Any) -> int | None:
        """Handle one finished task; the job's index when its root is done."""
        if future.key in self.merges:
            j = self.merges[future.key]
            node = self.merge_nodes[future.key]
            current = self.final[j].get(node) is future
            if future.status == "error" and current and not self._copies_pending(j, node):
                future.result()  # raises the task's exception
            return j if current and node == self.roots[j] and future.status == "finished" \
                else None
        batch = self.by_key.get(future.key)
        if batch is None:
            return None
        if future.status == "finished":
            self._freed(batch, future)
            if batch.winner is not None:
                return None
            batch.winner = future
            self.open.pop(batch.label, None)
            attempt = batch.attempts.index(future)
            label = batch.label + (f"#{attempt}" if attempt else "")
            began = batch.started.get(label)
            if began is not None:
                self.chunk_seconds.append((time.monotonic() - began[0]) / batch.chunks)
            if attempt:
                self.stats.copies_won += 1
            self.bar.update(batch.chunks)
            if attempt:
                self._replace(batch.job, batch.node, future)
            done = batch.job if batch.node == self.roots[batch.job] else None
            losers = [f for f in batch.attempts if f is not future]
            self.cancelled.update(f.key for f in losers)
            if losers:
                self.client.cancel(losers, force=True)
            return done
        if future.key in self.cancelled or batch.winner is not None:
            return None
        if any(f.status == "pending" for f in batch.attempts):
            return None  # a copy is still running; it may yet succeed
        future.result()  # raises the task's exception (or CancelledError)
        return None

    def _freed(self, batch: _Batch, future: Any) -> None:
        """A worker that finished a batch attempt has a free thread: it is no longer where
        a straggler hangs. A first batch that was only slow (compiling kernels, say) must
        not bar its worker from the copies of a later straggler elsewhere."""
        attempt = batch.attempts.index(future)
        began = batch.started.get(batch.label + (f"#{attempt}" if attempt else ""))
        if began is not None:
            self.slow.discard(began[1])

    def _replace(self, j: int, node: Node, future: Any) -> None:
        """A copy won: `node`'s result is `future`, and every merge above it is
        submitted again over it (the ones over the losing attempt are cancelled)."""
        self.final[j][node] = future
        self.rounds += 1
        old = []
        while node != self.roots[j]:
            node = self.parent[j][node]
            old.append(self.final[j][node])
            self.final[j][node] = self._submit_merge(
                j, node, [self.final[j][k] for k in self.upper[j][node]], self.rounds)
        if old:
            self.cancelled.update(f.key for f in old)
            self.client.cancel(old, force=True)

    def _copies_pending(self, j: int, node: Node) -> bool:
        """Whether a batch under `node` failed or hangs but still has a running copy
        (a merge over its failed attempt fails too, and is replaced if the copy wins)."""
        s = self.jobs[j].split_every
        first, stop = node.first(s), node.first(s) + node.span(s)
        for batch in self.batches.values():
            b = batch.node.first(s)
            if batch.job == j and first <= b < stop and batch.winner is None and \
                    any(f.status == "pending" for f in batch.attempts):
                return True
        return False

    def _known(self, j: int, node: Node, future: Any) -> None:
        """`node`'s result will be `future`: submit its parent's merge once all are known."""
        self.final[j][node] = future
        if node == self.roots[j]:
            return
        parent = self.parent[j][node]
        kids = self.upper[j][parent]
        if all(k in self.final[j] for k in kids):
            self._known(j, parent, self._submit_merge(j, parent, [self.final[j][k] for k in kids]))

    def _submit_merge(self, j: int, node: Node, parts: list[Any], again: int = 0) -> Any:
        """The merge task of `node` over `parts`, not where a straggler hangs: its
        cancelled task may still hold that worker's thread, and a merge placed there by
        data locality would wait for it."""
        fast = [w for w in self.workers if w not in self.slow] if self.slow else []
        where: dict[str, Any] = {"workers": fast, "allow_other_workers": True} if fast else {}
        again_key = f"-again{again}" if again else ""
        merged = self.client.submit(
            merge_results, self.kernels[j], parts,
            key=f"hepflow-merge-{self.jobs[j].token}-{self.nonce}-{node.level}-{node.index}"
                f"{again_key}", pure=False, **where)
        self.stats.merges += 1
        self.merges[merged.key] = j
        self.merge_nodes[merged.key] = node
        merged.add_done_callback(self._done)
        return merged

    def _rehome_merges(self) -> None:
        """Merges not yet done, submitted before a straggler was seen, go again away from
        the slow workers (lowest first, each over its children's current futures)."""
        self.rounds += 1
        old = []
        for j in range(len(self.jobs)):
            pending = sorted((node for node, f in self.final[j].items()
                              if f.key in self.merges and f.status == "pending"),
                             key=lambda n: n.level)
            for node in pending:
                parts = [self.final[j][k] for k in self.upper[j][node]]
                old.append(self.final[j][node])
                self.final[j][node] = self._submit_merge(j, node, parts, self.rounds)
        if old:
            self.cancelled.update(f.key for f in old)
            self.client.cancel(old, force=True)

    def _speculate(self) -> None:
        """Copy stragglers: batches running too long, and, once a worker slot is idle,
        batches still waiting behind a straggler on its worker."""
        spec = self.speculation
        now = time.monotonic()
        if now - self.checked < 0.2 or len(self.chunk_seconds) < spec.min_samples or \
                len(self.workers) < 2:
            return
        self.checked = now
        median = statistics.median(self.chunk_seconds[-1000:])
        self.stats.median_chunk_s = median
        waiting = []
        running = 0
        refreshed = False
        for batch in list(self.open.values()):
            if not batch.started:
                if len(batch.attempts) == 1:
                    waiting.append(batch)
                continue
            running += 1
            if len(batch.attempts) > 1:
                continue
            began, worker = batch.started.get(batch.label, (now, ""))
            if now - began <= max(spec.min_seconds, spec.factor * median * batch.chunks):
                continue
            if not refreshed:  # one round trip per check, however many stragglers
                self.workers = list(self.client.nthreads()) or self.workers
                refreshed = True
            self.slow.add(worker)
            others = [w for w in self.workers if w not in self.slow]
            if others:
                self.stats.copies += 1
                self._submit_batch(batch, others)
                self._rehome_merges()
        idle = self.slots - running
        # Only in the end game: fewer batches wait than slots are idle, so they are not
        # queued for a slot but held behind a straggler on its worker.
        if not waiting or idle <= 0 or len(waiting) > idle:
            self.idle_since = None
            return
        if self.idle_since is None:
            self.idle_since = now
            return
        if now - self.idle_since > max(spec.min_seconds, spec.factor * median):
            # not where a straggler hangs: its cancelled task may still hold the thread
            fast = [w for w in self.workers if w not in self.slow]
            for batch in waiting[:idle]:
                self.stats.copies += 1
                self._submit_batch(batch, fast)
            self.idle_since = None


def dispatch(client: Any, jobs: Sequence[Job], speculation: Speculation | None = None,
             ) -> tuple[list[ChunkResult], DispatchStats]:
    """Run `jobs` (each with at least one chunk) on `client`; their merged results."""
    dispatcher = Dispatcher(client, jobs, speculation)
    results = dispatcher.run()
    return results, dispatcher.stats


__all__ = ["DispatchStats", "Dispatcher", "Job", "Speculation", "dispatch"]
