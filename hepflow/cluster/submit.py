"""Running an analysis file on a named cluster, here or as a detached batch job.

``submit`` is ``hepflow run`` with a cluster config: connect, run the file
through `hepflow.analysis.run` (the same code path as a laptop run), write
the outputs and a run report that also says where it ran.

``submit_detached`` submits the *driver* itself as a batch job, so that the
terminal (or the login node session) can go away: the job runs
``python -m hepflow.cluster.driver``, which calls ``submit`` on the batch
node.  Everything about one detached job lives in one folder, the job's
folder ``OUTDIR/jobs/<stamp>/``::

    driver.sh        the sbatch script / HTCondor executable (quoted, rerunnable)
    driver.sub       HTCondor only: the submit description
    cluster.yaml     the cluster config the driver uses (a frozen copy)
    driver-<id>.log  the driver's stdout and stderr (Slurm; HTCondor: driver.<id>.log/.err)
    state.json       written by the driver: running / finished / failed, error, times
    workers/         the worker jobs' logs
    job.json         the record `hepflow status` and `hepflow logs` read

and a copy of ``job.json`` goes to the jobs index (``$HEPFLOW_JOBS_DIR``,
default ``~/.local/state/hepflow/jobs``) so that ``hepflow status 1234``
finds it from anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hepflow.cluster.backends import batch_backend
from hepflow.cluster.batch import JobState, driver_command, python_executable
from hepflow.cluster.config import (
    HTCondorOptions,
    SlurmOptions,
    load_cluster_config,
    write_cluster_config,
)
from hepflow.errors import SubmitError
from hepflow.util.environ import forwarded_environ


def submit(analysis: str | os.PathLike[str], cluster: Any, *,
           dataset: str | os.PathLike[str] | None = None,
           outdir: str | os.PathLike[str] = "hepflow-output",
           report: str | os.PathLike[str] | None = None, echo: bool = False,
           ) -> dict[str, Any]:
    """Run an analysis file on the configured cluster and write its outputs.

    Returns the run summary of `hepflow.analysis.run`, plus where it ran
    (``cluster``: backend, config, dashboard link, workers), which is also
    what the run report (``report``) contains.  ``echo`` prints the
    dashboard link as soon as the cluster is up (the CLI and detached
    drivers, whose logs are read while the run goes on).
    """
    from hepflow.analysis import check_output_folder, check_report_file, run, write_report
    from hepflow.cluster.connect import connect

    cfg = load_cluster_config(cluster)
    if not Path(analysis).is_file():
        raise SubmitError(f"analysis file {analysis} does not exist")
    report_file = check_report_file(report) if report is not None else None
    check_output_folder(outdir)
    with connect(cfg) as client:
        where = {"backend": cfg.backend, "config": cfg.to_mapping(),
                 "dashboard": client.dashboard_link, "workers": len(client.nthreads())}
        if echo:
            print(f"connected to {cfg.describe()}: {where['workers']} workers, "
                  f"Dask dashboard {where['dashboard']}", flush=True)
        summary = run(analysis, dataset=os.fspath(dataset) if dataset is not None else None,
                      outdir=outdir)
    summary["cluster"] = where
    write_report(report_file, summary)
    return summary


# --------------------------------------------------------------------------
# detached jobs


@dataclass(frozen=True, slots=True)
class JobRecord:
    """Everything `hepflow status` / `hepflow logs` need to find a detached job again."""

    backend: str
    job_id: str
    analysis: str
    outdir: str
    jobdir: str
    log: str
    report: str
    submitted: float
    error_log: str | None = None

    @property
    def state_file(self) -> Path:
        return Path(self.jobdir) / "state.json"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str, where: str = "the job record") -> JobRecord:
        """A record from `to_json`'s text; a damaged one is a `SubmitError` naming `where`."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as err:
            raise SubmitError(f"{where} is not valid JSON ({err}); it was not written by "
                              "`hepflow submit --detach` or is damaged") from err
        if not isinstance(data, dict):
            raise SubmitError(f"{where} must hold a JSON object")
        fields = dataclasses.fields(cls)
        missing = [f.name for f in fields if f.name not in data
                   and f.default is dataclasses.MISSING]
        wrong = [f.name for f in fields if f.name in data and data[f.name] is not None
                 and not isinstance(data[f.name], float if f.type == "float" else str)
                 and not (f.type == "float" and isinstance(data[f.name], int))]
        if missing or wrong:
            raise SubmitError(f"{where} is damaged: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else [])
                + ([f"wrong type for {', '.join(wrong)}"] if wrong else [])))
        return cls(**{f.name: data[f.name] for f in fields if f.name in data})

    @classmethod
    def read(cls, path: Path) -> JobRecord:
        try:
            text = path.read_text()
        except OSError as err:
            raise SubmitError(f"cannot read the job record {path}: {err.strerror or err}"
                              ) from err
        return cls.from_json(text, f"the job record {path}")


def jobs_dir() -> Path:
    """The jobs index: ``$HEPFLOW_JOBS_DIR``, else ``$XDG_STATE_HOME/hepflow/jobs``."""
    explicit = os.environ.get("HEPFLOW_JOBS_DIR")
    if explicit:
        return Path(explicit).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or os.path.join("~", ".local", "state")
    return Path(state).expanduser() / "hepflow" / "jobs"


def submit_detached(analysis: str | os.PathLike[str], cluster: Any, *,
                    dataset: str | os.PathLike[str] | None = None,
                    outdir: str | os.PathLike[str] = "hepflow-output",
                    report: str | os.PathLike[str] | None = None,
                    job_name: str | None = None) -> JobRecord:
    """Submit the driver as a Slurm or HTCondor job and return its record (with the job id).

    Inputs are checked here, before anything waits in a queue: the analysis
    and dataset files must exist, the config must be a batch backend.  The
    run report defaults to ``OUTDIR/run.json``.
    """
    cfg = load_cluster_config(cluster)
    if not cfg.is_batch:
        raise SubmitError(f"--detach submits the driver as a batch job, so it needs a slurm or "
                          f"htcondor cluster config, not {cfg.backend!r}; without --detach "
                          f"the analysis runs from here")
    analysis_path = Path(analysis).resolve()
    if not analysis_path.is_file():
        raise SubmitError(f"analysis file {analysis} does not exist")
    dataset_path = Path(dataset).resolve() if dataset is not None else None
    if dataset_path is not None and not dataset_path.is_file():
        raise SubmitError(f"dataset file {dataset} does not exist")
    from hepflow.analysis import check_output_folder, check_report_file

    out = check_output_folder(Path(outdir).resolve())
    report_path = check_report_file(Path(report).resolve()) if report is not None \
        else out / "run.json"
    stamp = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)
    jobdir = out / "jobs" / stamp
    (jobdir / "workers").mkdir(parents=True, exist_ok=True)
    options = cfg.options
    assert isinstance(options, (SlurmOptions, HTCondorOptions))
    if options.log_directory is None:
        cfg = cfg.replace(options=dataclasses.replace(
            options, log_directory=str(jobdir / "workers")))
        options = cfg.options
        assert isinstance(options, (SlurmOptions, HTCondorOptions))
    config_file = write_cluster_config(cfg, jobdir / "cluster.yaml")
    arguments = ["--cluster", str(config_file), "--outdir", str(out), "--report",
                 str(report_path), "--state", str(jobdir / "state.json")]
    if dataset_path is not None:
        arguments += ["--dataset", str(dataset_path)]
    arguments.append(str(analysis_path))
    command = driver_command(options.python or python_executable(), arguments)
    name = job_name or "hepflow-" + _job_name_part(analysis_path.stem)
    job_id, log_path, err_path = batch_backend(cfg.backend).submit_driver(
        cfg, job_name=name, command=command, workdir=Path.cwd(), jobdir=jobdir,
        environ=forwarded_environ())
    record = JobRecord(backend=cfg.backend, job_id=job_id, analysis=str(analysis_path),
                       outdir=str(out), jobdir=str(jobdir), log=log_path,
                       report=str(report_path), submitted=time.time(), error_log=err_path)
    (jobdir / "job.json").write_text(record.to_json())
    index = jobs_dir()
    index.mkdir(parents=True, exist_ok=True)
    (index / f"{cfg.backend}-{job_id}.json").write_text(record.to_json())
    return record


def _job_name_part(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:40] or "analysis"


def find_job(job: str | os.PathLike[str] | None = None) -> JobRecord:
    """A job record by id (``1234``, ``slurm-1234``), job folder or ``job.json``; or the latest."""
    if job is not None:
        path = Path(job)
        if path.is_dir() and (path / "job.json").is_file():
            return JobRecord.read(path / "job.json")
        if path.is_file() and path.name.endswith(".json"):
            return JobRecord.read(path)
    index = jobs_dir()
    records = sorted(index.glob("*.json"), key=lambda p: p.stat().st_mtime) \
        if index.is_dir() else []
    if job is None:
        if not records:
            raise SubmitError(f"no detached jobs recorded in {index}; submit one with "
                              "`hepflow submit ANALYSIS --cluster CONFIG --detach`")
        return JobRecord.read(records[-1])
    text = os.fspath(job)
    for candidate in reversed(records):
        job_id = candidate.stem.partition("-")[2]
        if text in (job_id, candidate.stem):
            return JobRecord.read(candidate)
    raise SubmitError(f"no detached job {text!r} in {index} (give the job id, "
                      "`slurm-ID`, or the job folder OUTDIR/jobs/...)")


def list_jobs() -> Iterator[JobRecord]:
    """Recorded jobs, newest first."""
    index = jobs_dir()
    if not index.is_dir():
        return
    for path in sorted(index.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        yield JobRecord.read(path)


def driver_state(record: JobRecord) -> dict[str, Any]:
    """What the driver wrote about itself (empty before it started)."""
    try:
        return dict(json.loads(record.state_file.read_text()))
    except (OSError, ValueError):
        return {}


def job_status(record: JobRecord) -> dict[str, Any]:
    """Batch system state + the driver's own state, merged into one verdict.

    The batch system knows whether the job runs; only the driver knows
    whether the analysis succeeded (a job can exit 0 from a wrapper, or be
    forgotten by the controller).  ``status`` is ``PENDING``, ``RUNNING``,
    ``FINISHED``, ``FAILED`` or the batch state when the driver never ran.
    """
    states = batch_backend(record.backend).job_states([record.job_id])
    batch: JobState = states[record.job_id]
    driver = driver_state(record)
    phase = driver.get("state")
    if phase == "finished":
        status = "FINISHED"
    elif phase == "failed" or (batch.final and batch.state != "COMPLETED"):
        status = "FAILED"
    elif phase == "running" and batch.final:
        status = "FAILED"  # killed (walltime, memory) before it could write its end
    elif phase == "running":
        status = "RUNNING"
    elif batch.state in ("PENDING", "IDLE", "CONFIGURING"):
        status = "PENDING"
    else:
        status = batch.state
    out: dict[str, Any] = {
        "job": f"{record.backend}-{record.job_id}", "status": status,
        "batch_state": batch.state, "batch_reason": batch.reason,
        "exit_code": driver.get("exit_code", batch.exit_code),
        "analysis": record.analysis, "outdir": record.outdir, "report": record.report,
        "log": record.log, "jobdir": record.jobdir,
    }
    if record.error_log:
        out["error_log"] = record.error_log
    if driver.get("error"):
        out["error"] = driver["error"]
    if status == "FINISHED":
        out["outputs"] = driver.get("outputs", [])
    return out


def format_status(status: Mapping[str, Any]) -> str:
    """Human-readable lines for `hepflow status`."""
    lines = [f"{status['job']}: {status['status']}"
             + (f" (batch state {status['batch_state']}"
                + (f", {status['batch_reason']}" if status.get("batch_reason") else "") + ")"
                if status["batch_state"] != status["status"] else "")]
    if status.get("error"):
        lines.append(f"  error:    {status['error']}")
    if status.get("exit_code") not in (None, 0) or status["status"] == "FAILED":
        lines.append(f"  exit:     {status.get('exit_code')}")
    lines.append(f"  analysis: {status['analysis']}")
    lines.append(f"  outputs:  {status['outdir']}")
    lines.append(f"  report:   {status['report']}")
    lines.append(f"  log:      {status['log']}"
                 + (f" (stderr: {status['error_log']})" if status.get("error_log") else ""))
    return "\n".join(lines)


def wait_for_job(record: JobRecord, timeout: float, poll: float = 1.0) -> dict[str, Any]:
    """Poll until the job is finished or failed (or ``timeout`` passes); return its status."""
    deadline = time.monotonic() + timeout
    while True:
        status = job_status(record)
        ended = status["status"] in ("FINISHED", "FAILED")
        # the driver writes its end a moment before the job exits: wait for both
        settled = status["batch_state"] in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT",
                                            "OUT_OF_MEMORY", "NODE_FAIL", "REMOVED", "UNKNOWN")
        if (ended and settled) or time.monotonic() > deadline:
            return status
        time.sleep(poll)


def read_log(record: JobRecord, tail: int | None = None) -> str:
    """The driver's log (and HTCondor's separate stderr), or a note that there is none yet."""
    parts = []
    for path_text in filter(None, (record.log, record.error_log)):
        path = Path(path_text)
        if not path.is_file():
            parts.append(f"({path} does not exist yet: the job has not started)")
            continue
        text = path.read_text(errors="replace")
        if tail is not None:
            text = "\n".join(text.splitlines()[-tail:]) + "\n"
        parts.append(text)
    return "".join(p if p.endswith("\n") else p + "\n" for p in parts)


def follow_log(record: JobRecord, poll: float = 1.0, timeout: float | None = None,
               ) -> Iterator[str]:
    """Yield the driver log as it grows, until the job ends (``hepflow logs --follow``)."""
    path = Path(record.log)
    position = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if path.is_file():
            with path.open(errors="replace") as f:
                f.seek(position)
                chunk = f.read()
                position = f.tell()
            if chunk:
                yield chunk
        status = job_status(record)["status"]
        if status in ("FINISHED", "FAILED") or (deadline and time.monotonic() > deadline):
            if path.is_file():
                with path.open(errors="replace") as f:
                    f.seek(position)
                    rest = f.read()
                if rest:
                    yield rest
            return
        time.sleep(poll)


__all__ = [
    "JobRecord",
    "driver_state",
    "find_job",
    "follow_log",
    "format_status",
    "job_status",
    "jobs_dir",
    "list_jobs",
    "read_log",
    "submit",
    "submit_detached",
    "wait_for_job",
]
