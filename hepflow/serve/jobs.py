"""Jobs over HTTP: each submitted analysis runs as its owner's job, in a process of its own.

The server never runs a user's analysis file itself. `JobManager.submit`
gives the job a folder of its own (``jobs.folder/<id>/``) holding the file,
the checked dataset and, later, the outputs, and starts
``python -m hepflow.cluster.jobrun`` there with an argument list (no shell), in
a new session, so that cancelling it stops the job's process group (its
LocalCluster workers included); the Dask scheduler forgets the job's tasks
once its client is gone. The manager watches each process: its state and
progress files, the exit status, and the size of what it writes (a job over
``max_output_bytes`` is stopped and fails saying so).

Disk is shared by every user of the server, so each subject also has a
storage quota, ``max_user_output_bytes``: the folders of all its jobs, running
or ended, count until their owner removes them (``DELETE`` on an ended job,
`JobManager.remove`). A subject at or over it cannot submit (429, saying how
much is kept and how to free it), and a running job that takes its owner over
it is stopped and fails, as a job over the per-job limit does. Only a job's
own folder counts: other users' jobs never use up your quota.

A job belongs to the token subject that submitted it. Looking up another
subject's job answers exactly as a job that does not exist (404), so job ids
say nothing about other users' jobs. Quotas: ``max_jobs_per_user`` queued or
running jobs per subject (more is a 429), ``max_user_output_bytes`` kept per
subject (above), ``max_running`` jobs at once on the server (the rest wait, queued).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dask.utils import format_bytes

from hepflow.serve.config import JobsConfig
from hepflow.serve.errors import NotFound, RateLimited
from hepflow.serve.jobspec import JobRequest
from hepflow.util.environ import forwarded_environ

log = logging.getLogger("hepflow.serve.jobs")

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "queued", "running", "succeeded", "failed", "cancelled")
ACTIVE = frozenset({QUEUED, RUNNING})
_POLL_S = 0.2
_BASIC_ENVIRON = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH",
                  "VIRTUAL_ENV", "XDG_CACHE_HOME", "XDG_STATE_HOME", "OMP_NUM_THREADS",
                  "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")


def folder_size(root: Path, skip: Path | None = None) -> int:
    """Bytes of the regular files below `root` (links not followed), those below `skip`
    left out (a folder already measured: the watcher measures ``out/`` once a second for
    the per-job limit and the rest of the job's folder for its owner's quota)."""
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if skip is None or Path(entry.path) != skip:
                        stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(slots=True, eq=False)
class Job:
    """One submitted job: who owns it, where its files are, and where it stands."""

    id: str
    owner: str
    name: str
    folder: Path
    created: float = field(default_factory=time.time)
    state: str = QUEUED
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    process: subprocess.Popen[bytes] | None = None
    task: asyncio.Task[None] | None = None
    #: bytes the job keeps on the server (its whole folder: outputs, log, inputs), as last
    #: measured; what counts against its owner's `max_user_output_bytes`
    kept_bytes: int = 0

    @property
    def outdir(self) -> Path:
        return self.folder / "out"

    @property
    def log_file(self) -> Path:
        return self.folder / "job.log"

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"

    def progress(self) -> dict[str, int]:
        data = _read_json(self.folder / "progress.json")
        return {"chunks_done": int(data.get("chunks_done", 0)),
                "chunks_total": int(data.get("chunks_total", 0))}

    def describe(self) -> dict[str, Any]:
        """The job as `GET /v1/jobs/{id}` shows it (no server paths)."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "state": self.state,
                               "created": self.created, "started": self.started,
                               "finished": self.finished, "progress": self.progress(),
                               "kept_bytes": self.kept_bytes}
        if self.error:
            out["error"] = self.error
        written = _read_json(self.state_file)
        out["run_info"] = written.get("run_info") or {}
        if self.state == SUCCEEDED:
            out["results"] = _read_json(self.outdir / "results.json").get("results", {})
        return out


class JobManager:
    """The jobs of one server: submission, quotas, the job processes, cancelling."""

    def __init__(self, config: JobsConfig) -> None:
        self.config = config
        self.folder = Path(config.folder).expanduser().resolve()
        self.jobs: dict[str, Job] = {}
        self._slots: asyncio.Semaphore | None = None
        self._lock: asyncio.Lock | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._slots = asyncio.Semaphore(self.config.max_running)
        self._lock = asyncio.Lock()

    # -- lookups -------------------------------------------------------------------------

    def get(self, owner: str, job_id: str) -> Job:
        """The job `job_id` of `owner`: 404 for a job that does not exist *or is not theirs*."""
        job = self.jobs.get(job_id)
        if job is None or job.owner != owner:
            raise NotFound(f"no job {job_id!r}")
        return job

    def of(self, owner: str) -> list[Job]:
        return [j for j in self.jobs.values() if j.owner == owner]

    def kept_bytes(self, owner: str) -> int:
        """What `owner`'s jobs keep on the server now (running ones as last measured)."""
        return sum(j.kept_bytes for j in self.of(owner))

    # -- submitting ----------------------------------------------------------------------

    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its (new, private) folder."""
        job_id = secrets.token_hex(12)
        folder = self.folder / job_id
        folder.mkdir(mode=0o700)
        return job_id, folder

    def check_quota(self, owner: str) -> None:
        """Refuse (429) a submission over `owner`'s job count or storage quota."""
        active = sum(1 for j in self.of(owner) if j.state in ACTIVE)
        limit = self.config.max_jobs_per_user
        if active >= limit:
            raise RateLimited(f"{owner!r} has {active} jobs queued or running; the limit is "
                              f"{limit} per user: wait for one to end, or cancel one",
                              headers={"Retry-After": "10"})
        kept, quota = self.kept_bytes(owner), self.config.max_user_output_bytes
        if kept >= quota:  # waiting frees nothing: no Retry-After
            raise RateLimited(f"the jobs of {owner!r} keep {_size(kept)} on the server; "
                              f"the storage quota is {_size(quota)} per user: download what you "
                              "need, then remove ended jobs and their outputs with DELETE "
                              "/v1/jobs/{id} (GET /v1/jobs lists each job's kept_bytes)")

    def submit(self, owner: str, job_id: str, folder: Path, request: JobRequest) -> Job:
        """Queue a checked request (in its `new_folder`); it starts when a slot frees."""
        self.check_quota(owner)
        if request.analysis is not None:
            (folder / "analysis.py").write_text(request.analysis)
        if request.training is not None:
            (folder / "training.json").write_text(json.dumps(request.training.to_dict()))
        (folder / "dataset.json").write_text(json.dumps(request.dataset.to_dict()))
        (folder / "out").mkdir()
        job = Job(job_id, owner, request.name, folder, kept_bytes=folder_size(folder))
        self.jobs[job_id] = job
        job.task = asyncio.get_running_loop().create_task(self._run(job))
        log.info("%s submitted job %s", owner, job_id)
        return job

    def _command(self, job: Job) -> list[str]:
        what = ["--training", str(job.folder / "training.json")] \
            if (job.folder / "training.json").is_file() else [str(job.folder / "analysis.py")]
        return [sys.executable, "-m", "hepflow.cluster.jobrun",
                "--cluster", self.config.cluster,
                "--dataset", str(job.folder / "dataset.json"),
                "--outdir", str(job.outdir), "--state", str(job.state_file), *what]

    async def _run(self, job: Job) -> None:
        assert self._slots is not None
        try:
            async with self._slots:
                if job.state != QUEUED:
                    return
                with job.log_file.open("wb") as out:
                    job.process = subprocess.Popen(
                        self._command(job), cwd=job.folder, stdin=subprocess.DEVNULL,
                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                        env=self._environ())
                job.state, job.started = RUNNING, time.time()
                await self._watch(job)
        except Exception as err:
            log.exception("job %s failed in the server", job.id)
            job.state, job.error = FAILED, f"the server could not run the job: {err}"
        finally:
            job.finished = job.finished or time.time()
            job.kept_bytes = folder_size(job.folder)

    def _environ(self) -> dict[str, str]:
        """What a job sees of the server's environment: the basics, hepflow's, Dask's and
        XRootD's settings, and the names the config lists; never the rest (tokens, keys)."""
        names = (*_BASIC_ENVIRON, *self.config.environment)
        env = {k: os.environ[k] for k in names if k in os.environ}
        env.update(forwarded_environ())
        env["PYTHONUNBUFFERED"] = "1"
        return env

    async def _watch(self, job: Job) -> None:
        process = job.process
        assert process is not None
        checked = 0.0
        deadline = time.monotonic() + self.config.max_seconds
        while process.poll() is None:
            await asyncio.sleep(_POLL_S)
            if time.monotonic() > deadline and job.state == RUNNING:
                await self._fail(job, f"the job ran longer than the server's limit of "
                                      f"{self.config.max_seconds:g} s; it was stopped")
            elif time.monotonic() - checked > 1.0:
                checked = time.monotonic()
                over = self._over_quota(job)
                if over and job.state == RUNNING:
                    await self._fail(job, over + "; it was stopped")
        if job.state != RUNNING:  # cancelled or failed while it ran
            job.finished = time.time()
            return
        written = _read_json(job.state_file)
        over = self._over_quota(job)
        if over:
            job.state, job.error = FAILED, over
        elif process.returncode == 0 and written.get("state") == SUCCEEDED:
            job.state = SUCCEEDED
        else:
            job.state = FAILED
            job.error = str(written.get("error") or
                            f"the job process ended with exit status {process.returncode}")
        job.finished = time.time()
        log.info("job %s of %s: %s", job.id, job.owner, job.state)

    def _over_quota(self, job: Job) -> str:
        """Measure the job's folder; why it is over a quota (per job, or its owner's), or ''."""
        out = folder_size(job.outdir)
        job.kept_bytes = out + folder_size(job.folder, skip=job.outdir)
        limit = self.config.max_output_bytes
        if out > limit:
            return (f"the job's results are {out} bytes, over the output quota of {limit} "
                    "bytes per job")
        kept, quota = self.kept_bytes(job.owner), self.config.max_user_output_bytes
        if kept > quota:
            return (f"with this job's {_size(job.kept_bytes)}, the jobs of {job.owner!r} "
                    f"keep {_size(kept)} on the server, over the storage quota of "
                    f"{_size(quota)} per user (remove ended jobs you no longer need with "
                    "DELETE /v1/jobs/{id})")
        return ""

    async def _fail(self, job: Job, error: str) -> None:
        """Stop the job, then call it failed: whoever sees `failed` finds its process gone."""
        await self._stop(job)
        if job.state == RUNNING:  # not cancelled meanwhile
            job.state, job.error = FAILED, error

    # -- cancelling ----------------------------------------------------------------------

    async def cancel(self, job: Job) -> None:
        """Stop the job (its whole process group), or drop it from the queue."""
        if job.state not in ACTIVE:
            return
        job.state, job.error = CANCELLED, "cancelled by its owner"
        if job.process is not None:
            await self._stop(job)
        job.finished = time.time()
        log.info("job %s of %s cancelled", job.id, job.owner)

    async def remove(self, job: Job) -> int:
        """Forget an ended job and delete its folder (outputs, log, inputs); the bytes freed.

        Only for a job that is no longer queued or running (`cancel` first). A job
        being cancelled may still be stopping: its process is waited for, so
        nothing writes into the folder while it goes.
        """
        if job.state in ACTIVE:
            raise ValueError(f"job {job.id} is {job.state}: cancel it before removing it")
        while job.process is not None and job.process.poll() is None:
            await asyncio.sleep(0.05)
        self.jobs.pop(job.id, None)
        freed = await asyncio.to_thread(folder_size, job.folder)  # off the event loop
        await asyncio.to_thread(shutil.rmtree, job.folder, ignore_errors=True)
        job.kept_bytes = 0
        log.info("job %s of %s removed (%d bytes)", job.id, job.owner, freed)
        return freed

    async def _stop(self, job: Job) -> None:
        """SIGTERM to the job's process group, SIGKILL after the grace period."""
        process = job.process
        if process is None:
            return
        _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.config.cancel_grace_s
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        _signal_group(process.pid, signal.SIGKILL)  # the workers it started, too
        while process.poll() is None:
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Stop every job still running (the server is going away)."""
        for job in list(self.jobs.values()):
            if job.state in ACTIVE:
                job.state, job.error = CANCELLED, "the server stopped"
                await self._stop(job)
            if job.task is not None:
                job.task.cancel()


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the job runs in its own session: its group id is its pid
    except (ProcessLookupError, PermissionError):
        pass


def _size(size: int) -> str:
    """Bytes as a person reads them, with the exact count: "4.00 GiB (4294967296 bytes)"."""
    return f"{format_bytes(size)} ({size} bytes)"


__all__ = ["CANCELLED", "FAILED", "QUEUED", "RUNNING", "SUCCEEDED", "Job", "JobManager",
           "folder_size"]
