"""`hepflow bench simulate`: hundreds of workers on one machine, to measure the scheduler.

The run has the real graph shape and goes through the real Dask scheduler (its
own process, as on a facility) and hepflow's real dispatch: only the chunk
task is simulated. It sleeps for the measured chunk time instead of reading,
returns a partial result of realistic size (and, with `records`, sends the
per-chunk record a real chunk sends). Workers are threads (a few processes of many threads each),
so 500 of them cost a 2-core machine almost nothing while they sleep, and the
scheduler is what is measured: tasks per second, its CPU, and what its limit
does to the speed-up and the efficiency at each worker count.

Each worker count runs two ways: `per-chunk` (one task per chunk and the
static tree: hepflow before batching) and `batched` (`engine.dispatch`, with
batches sized by `engine.sizing`). The measured scheduler seconds per task
calibrate the scaling model (`bench.model`), whose prediction for the same
run is printed next to the measurement.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dask.config
import numpy as np

from hepflow.core.chunk import Chunk
from hepflow.core.measure import Measurement
from hepflow.engine.localcluster import SCHEDULER_CONFIG
from hepflow.observe.load import process_cpu_seconds
from hepflow.results.partials import ChunkResult

#: Per worker thread: how late its last simulated chunk woke up (see `SimKernel`).
_LATENESS = threading.local()


@dataclass(frozen=True, slots=True)
class _Sum:
    """The simulated action: adds its partials (arrays of the partial result's size)."""

    def merge(self, a: Any, b: Any) -> Any:
        return a + b


@dataclass(frozen=True, slots=True, eq=False)
class SimKernel:
    """A chunk task that sleeps `chunk_seconds` and returns `partial_floats` float64s."""

    chunk_seconds: float
    partial_floats: int
    run_id: str = "simulate"
    records: bool = False
    actions: tuple[Any, ...] = (_Sum(),)

    def __call__(self, chunk: Chunk, offsets: Sequence[int] = ()) -> ChunkResult:
        from hepflow.observe.events import emit_chunk
        from hepflow.results.records import ChunkRecord

        began = time.time()
        start = time.perf_counter()
        # Sleep to a deadline, carrying the thread's lateness from its last chunk: on a
        # small machine a woken thread waits for its process' GIL (up to the 5 ms switch
        # interval), which is this host's artifact, not the simulated worker's cost.
        # Only within a batch: its chunks run back to back, so their deadlines are known.
        follows = getattr(_LATENESS, "chunk", -2) == chunk.index - 1
        owed = getattr(_LATENESS, "seconds", 0.0) if follows else 0.0
        time.sleep(max(0.0, self.chunk_seconds - owed))
        _LATENESS.seconds = max(0.0, owed + time.perf_counter() - start - self.chunk_seconds)
        _LATENESS.chunk = chunk.index
        partial = np.full(self.partial_floats, float(chunk.index % 7))
        if self.records:
            emit_chunk(ChunkRecord(
                run=self.run_id, chunk=chunk.index, file="", sample="",
                entry_start=chunk.entry_start, entry_stop=chunk.entry_stop, replica="",
                measured=Measurement(chunks=1, entries=chunk.num_entries,
                                     seconds={"kernel": self.chunk_seconds,
                                              "total": self.chunk_seconds}),
                filters={}, start=began, stop=time.time(), error=""))
        elapsed = time.perf_counter() - start
        return ChunkResult(({"": partial},), {"": (chunk.num_entries, chunk.num_entries)},
                           metrics=Measurement(chunks=1, entries=chunk.num_entries,
                                               seconds={"kernel": elapsed, "total": elapsed}))

    def __dask_tokenize__(self) -> object:
        return ("SimKernel", self.chunk_seconds, self.partial_floats, self.run_id)


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What `hepflow bench simulate` runs."""

    workers: tuple[int, ...] = (100, 250, 500)
    #: Worker processes; 0: one per `THREADS_PER_PROCESS` simulated workers.
    processes: int = 0
    chunk_seconds: float = 0.076
    chunk_entries: int = 125_000
    task_seconds: float = 1.67e-3
    #: Batched runs: enough chunks for this many tasks per worker slot at the chosen batch.
    tasks_per_worker: int = 4
    #: Per-chunk runs: this many chunks per worker slot (their scheduler limit shows
    #: at any size; more only makes them longer).
    baseline_chunks_per_worker: int = 8
    #: Batched runs last at least this long ideally (short runs only measure start-up).
    min_ideal_seconds: float = 10.0
    partial_bytes: int = 32_000
    #: Send each chunk's record as a real chunk does. Off by default: on a small
    #: machine hundreds of simulated workers share a few cores, and the records'
    #: CPU (not the scheduler) would then set the pace.
    records: bool = False
    split_every: int = 8
    modes: tuple[str, ...] = ("per-chunk", "batched")
    outdir: str = "simulate-output"
    env: Mapping[str, str] = field(default_factory=dict)


#: Simulated workers (threads) per worker process when `processes` is 0: more threads
#: per process make its one event loop and its GIL, not the scheduler, the limit.
THREADS_PER_PROCESS = 25


#: Off for simulated workers only: distributed's sampling profiler walks every thread's
#: stack each 10 ms, and with 25 simulated workers per process on a small machine that
#: (not the scheduler) set the pace -- a real worker profiles its own thread on its own core.
SIMULATED_WORKER_CONFIG: dict[str, Any] = {"distributed.worker.profile.enabled": False}


class SimCluster:
    """A scheduler process and `processes` worker processes of many threads each."""

    def __init__(self, workers: int, processes: int) -> None:
        self.workers = workers
        processes = processes or math.ceil(workers / THREADS_PER_PROCESS)
        self.processes = max(1, min(processes, workers))
        self.folder = tempfile.mkdtemp(prefix="hepflow-sim-")
        self.file = os.path.join(self.folder, "scheduler.json")
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> SimCluster:
        py = sys.executable
        log = open(os.path.join(self.folder, "log"), "wb")
        self.log = log
        # The children read this process's dask config, plus these settings, as
        # distributed's own spawned workers do.
        with dask.config.set({**SCHEDULER_CONFIG, **SIMULATED_WORKER_CONFIG}):
            inherited = dask.config.serialize(dask.config.global_config)
        env = {**os.environ, "DASK_INTERNAL_INHERIT_CONFIG": inherited}
        self.procs.append(subprocess.Popen(
            [py, "-m", "distributed.cli.dask_scheduler", "--scheduler-file", self.file,
             "--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
             "--no-show"], stdout=log, stderr=log, env=env))
        deadline = time.monotonic() + 60
        while not os.path.exists(self.file):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the simulated scheduler did not start; see {self.folder}")
            time.sleep(0.1)
        per = [self.workers // self.processes + (1 if i < self.workers % self.processes else 0)
               for i in range(self.processes)]
        for threads in per:
            self.procs.append(subprocess.Popen(
                [py, "-m", "distributed.cli.dask_worker", "--scheduler-file", self.file,
                 "--nthreads", str(threads), "--no-nanny", "--no-dashboard",
                 "--memory-limit", "0", "--host", "127.0.0.1", "--death-timeout", "30"],
                stdout=log, stderr=log, env=env))
        return self

    @property
    def scheduler_pid(self) -> int:
        return self.procs[0].pid

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.log.close()


def _chunks(n: int, entries: int) -> list[Chunk]:
    return [Chunk(i, 0, "", "", i * entries, (i + 1) * entries, i * entries) for i in range(n)]


def run_mode(client: Any, mode: str, workers: int, config: SimConfig,
             scheduler_pid: int) -> dict[str, Any]:
    """One simulated run on `workers` slots: wall, efficiency, scheduler load."""
    from hepflow.engine.dispatch import Dispatcher, Job, Speculation
    from hepflow.engine.graph import build_graph
    from hepflow.engine.sizing import Scheduling, batch_level

    kernel = SimKernel(config.chunk_seconds, max(1, config.partial_bytes // 8),
                       run_id=f"simulate-{mode}-{workers}-{time.time_ns()}",
                       records=config.records)
    s = config.split_every
    conf = Scheduling(task_seconds=config.task_seconds)
    if mode == "batched":
        needed = max(workers * config.task_seconds / (conf.load_fraction * config.chunk_seconds),
                     conf.min_task_seconds / config.chunk_seconds)
        level = 0
        while s ** level < needed:
            level += 1
        n = int(s ** level * max(config.tasks_per_worker, conf.chunks_per_worker) * workers)
        n = max(n, math.ceil(config.min_ideal_seconds * workers / config.chunk_seconds))
        level, tail, why = batch_level(n, workers, config.chunk_seconds, s, conf)
    else:
        n = config.baseline_chunks_per_worker * workers
        level, tail, why = 0, 0, "one task per chunk"
    chunks = _chunks(n, config.chunk_entries)
    offsets = [()] * n
    token = f"sim{time.time_ns()}"
    cpu0 = process_cpu_seconds(scheduler_pid)
    start = time.perf_counter()
    if mode == "batched":
        dispatcher = Dispatcher(client, [Job(kernel, chunks, offsets, s, token, level, tail)],
                                Speculation(factor=4.0))
        result = dispatcher.run()[0]
        tasks = dispatcher.stats.tasks + 1
        copies = dispatcher.stats.copies
    else:
        dsk, key = build_graph(kernel, chunks, offsets, s, token)
        result = client.get(dsk, key)
        tasks = len(dsk)
        copies = 0
    wall = time.perf_counter() - start
    cpu = process_cpu_seconds(scheduler_pid) - cpu0
    if result.chunks != n or result.processed != n * config.chunk_entries:
        raise RuntimeError(f"simulated run lost chunks: {result.chunks} of {n}")
    ideal = n * config.chunk_seconds / workers
    busy = result.metrics.compute_seconds
    return {"busy_s": busy, "occupancy": busy / (workers * wall),
            "chunk_overshoot": busy / (n * config.chunk_seconds) - 1.0,
            "mode": mode, "workers": workers, "chunks": n, "batch_chunks": s ** level,
            "tail_chunks": tail, "tasks": tasks, "copies": copies, "wall_s": wall,
            "ideal_s": ideal, "speedup": n * config.chunk_seconds / wall,
            "efficiency": ideal / wall, "tasks_per_s": tasks / wall,
            "scheduler_cpu_s": cpu, "scheduler_load": cpu / wall,
            "scheduler_s_per_task": cpu / tasks, "why": why}


def run_simulation(config: SimConfig) -> dict[str, Any]:
    """Every worker count, every mode; the result also written to `outdir/simulate.json`."""
    import distributed

    points = []
    for workers in config.workers:
        with SimCluster(workers, config.processes) as cluster, \
                distributed.Client(scheduler_file=cluster.file,
                                   set_as_default=False) as client:
            client.wait_for_workers(cluster.processes, timeout=600)
            while sum(client.nthreads().values()) < workers:
                time.sleep(0.1)
            warm = SimKernel(0.001, 1)
            client.gather(client.map(warm, _chunks(workers, 1)))
            for mode in config.modes:
                point = run_mode(client, mode, workers, config, cluster.scheduler_pid)
                print(format_row(point), flush=True)
                points.append(point)
    result = {"config": {k: v for k, v in asdict(config).items() if k != "env"},
              "points": points, "calibration": calibrate(points, config)}
    out = Path(config.outdir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "simulate.json").write_text(json.dumps(result, indent=2))
    return result


def calibrate(points: Sequence[Mapping[str, Any]], config: SimConfig) -> dict[str, Any]:
    """The scheduler's seconds per task.

    A per-chunk run whose scheduler is near one core busy is limited by it: its
    tasks per second is the scheduler's capacity. A per-chunk run whose scheduler
    is not (on a small machine the simulated workers' own CPU runs out first)
    still gives the scheduler's CPU per task, and tasks dominate it there; a
    batched run's few tasks would be charged its idle heartbeats and are used
    only without any per-chunk run.
    """
    per_chunk = [p for p in points if p["mode"] == "per-chunk"]
    saturated = [p for p in per_chunk if p["scheduler_load"] >= SATURATED_LOAD]
    if saturated:
        best = max(saturated, key=lambda p: p["tasks_per_s"])
        seconds = 1.0 / best["tasks_per_s"]
        how = (f"capacity of the saturated per-chunk run at {best['workers']} workers "
               f"({best['tasks_per_s']:.0f} tasks/s, scheduler "
               f"{100 * best['scheduler_load']:.0f}% busy)")
    elif per_chunk:
        seconds = max(p["scheduler_s_per_task"] for p in per_chunk)
        how = ("the scheduler's CPU per task, highest of the per-chunk runs (none "
               "saturated it)")
    else:
        seconds = float(np.median([p["scheduler_s_per_task"] for p in points])) \
            if points else config.task_seconds
        how = "median scheduler CPU per task"
    return {"task_overhead_s": seconds, "how": how}


#: A scheduler this busy (CPU seconds per second) is taken as saturated.
SATURATED_LOAD = 0.8


def model_check(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The model's prediction of each simulated run, with its calibrated task cost."""
    from hepflow.bench.model import Costs, Facility, wall_seconds

    conf = result["config"]
    overhead = result["calibration"]["task_overhead_s"]
    rows = []
    for p in result["points"]:
        costs = Costs(conf["chunk_seconds"], conf["chunk_entries"], 0.0, overhead, 0.0,
                      conf["split_every"], batch_chunks=p["batch_chunks"])
        facility = Facility(events=p["chunks"] * conf["chunk_entries"])
        wall, limit = wall_seconds(costs, facility, p["workers"])
        rows.append({"mode": p["mode"], "workers": p["workers"], "measured_s": p["wall_s"],
                     "predicted_s": wall, "limited_by": limit,
                     "predicted_efficiency": p["ideal_s"] / wall,
                     "measured_efficiency": p["efficiency"]})
    return rows


def format_row(p: Mapping[str, Any]) -> str:
    return (f"{p['mode']:>9} {p['workers']:>6} {p['chunks']:>8} {p['batch_chunks']:>6} "
            f"{p['tasks']:>7} {p['wall_s']:>8.2f} {p['ideal_s']:>8.2f} "
            f"{p['speedup']:>8.1f} {100 * p['efficiency']:>6.0f}% {p['tasks_per_s']:>8.0f} "
            f"{100 * p['scheduler_load']:>6.0f}% {1e3 * p['scheduler_s_per_task']:>7.2f} "
            f"{100 * p['occupancy']:>6.0f}% {100 * p['chunk_overshoot']:>+6.0f}%")


HEADER = (f"{'mode':>9} {'workers':>6} {'chunks':>8} {'batch':>6} {'tasks':>7} {'wall s':>8} "
          f"{'ideal s':>8} {'speedup':>8} {'effic.':>7} {'tasks/s':>8} {'sched':>7} "
          f"{'ms/task':>7} {'busy':>7} {'slower':>7}")


def format_result(result: Mapping[str, Any]) -> str:
    lines = [HEADER] + [format_row(p) for p in result["points"]]
    cal = result["calibration"]
    lines.append(f"scheduler: {1e3 * cal['task_overhead_s']:.2f} ms per task ({cal['how']})")
    lines.append(f"{'mode':>9} {'workers':>6} {'measured s':>10} {'model s':>8} "
                 f"{'measured':>9} {'model':>6}  model limited by")
    for row in model_check(result):
        lines.append(f"{row['mode']:>9} {row['workers']:>6} {row['measured_s']:>10.2f} "
                     f"{row['predicted_s']:>8.2f} {100 * row['measured_efficiency']:>8.0f}% "
                     f"{100 * row['predicted_efficiency']:>5.0f}%  {row['limited_by']}")
    return "\n".join(lines)


def calibrated_scaling(result: Mapping[str, Any]) -> dict[str, Any]:
    """A `scaling.json`-shaped result for `hepflow bench model`, from the simulation."""
    conf = result["config"]
    overhead = result["calibration"]["task_overhead_s"]
    return {"points": [{"workers": 1, "chunk_cost": {
        "mean_s": conf["chunk_seconds"], "entries": conf["chunk_entries"],
        "bytes": 0.0}, "outside_chunks_median_s": 0.0}],
        "task_overhead_s": overhead, "split_every": conf["split_every"], "batching": True}


__all__ = ["SimCluster", "SimConfig", "SimKernel", "calibrate", "calibrated_scaling",
           "format_result", "model_check", "run_simulation"]
