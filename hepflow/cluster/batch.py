"""Talking to Slurm and HTCondor: job scripts, submit descriptions, submission and job states.

Every command runs from an argument list (never a shell string), and every
value that ends up inside a generated script is quoted with `shlex.quote`
or checked to be one plain line first.  Users control file names, dataset
paths and set-up lines; a quote or a newline in any of them must not become
a command on a batch node (the mistake of job servers that build
``docker run`` strings from user input).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hepflow.cluster.config import HTCondorOptions, SlurmOptions, walltime_seconds
from hepflow.errors import SubmitError

#: Slurm states after which a job will not run (again) by itself.
SLURM_FINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY",
                         "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED"})
#: HTCondor's numeric JobStatus.
CONDOR_STATES = {1: "IDLE", 2: "RUNNING", 3: "REMOVED", 4: "COMPLETED", 5: "HELD",
                 6: "TRANSFERRING_OUTPUT", 7: "SUSPENDED"}
CONDOR_FINAL = frozenset({"REMOVED", "COMPLETED"})


@dataclass(frozen=True, slots=True)
class JobState:
    """What the batch system says about one job (``state`` is ``UNKNOWN`` once it forgot it)."""

    job_id: str
    state: str
    exit_code: int | None = None
    reason: str = ""

    @property
    def final(self) -> bool:
        return self.state in SLURM_FINAL or self.state in CONDOR_FINAL


#: Where each batch system's client commands come from.
INSTALL_HINTS = {"slurm": "Debian: apt-get install slurm-client; or run on a submit node",
                 "htcondor": "run on an HTCondor submit node (condor_submit)"}


def require_command(name: str, backend: str) -> str:
    """Absolute path of a batch command, or a `SubmitError` saying what to install."""
    found = shutil.which(name)
    if found is None:
        hint = INSTALL_HINTS.get(backend, "run on the batch system's submit node")
        raise SubmitError(f"`{name}` not found on PATH: the {backend} backend needs the "
                          f"{backend} client commands ({hint})")
    return found


def run_command(argv: Sequence[str], *, timeout: float = 60.0, check: bool = True,
                ) -> subprocess.CompletedProcess[str]:
    """Run one batch command (an argument list) and return its output.

    A failure raises `SubmitError` with the command and its stderr, which is
    where Slurm and HTCondor explain a refused job (bad partition, account).
    """
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as err:
        raise SubmitError(f"`{shlex.join(argv)}` did not answer within {timeout:g} s") from err
    except OSError as err:
        raise SubmitError(f"cannot run `{shlex.join(argv)}`: {err}") from err
    if check and done.returncode != 0:
        raise SubmitError(f"`{shlex.join(argv)}` failed (exit {done.returncode}): "
                          f"{(done.stderr or done.stdout).strip()}")
    return done


# --------------------------------------------------------------------------
# the driver job: the script that runs `python -m hepflow.cluster.driver ...`


def driver_command(python: str, arguments: Sequence[str]) -> str:
    """The driver's command line for a script: every word quoted."""
    return shlex.join([python, "-m", "hepflow.cluster.driver", *arguments])


def _directive_value(value: str, what: str) -> str:
    """A value for a ``#SBATCH`` line: sbatch parses these itself, so no shell quoting helps;
    only values without whitespace, quotes or newlines are allowed there."""
    if not value or re.search(r"[\s'\"\\]", value):
        raise SubmitError(f"{what} {value!r} cannot be written as an #SBATCH directive "
                          "(no spaces, quotes or backslashes)")
    return value


def slurm_driver_script(options: SlurmOptions, *, job_name: str, command: str,
                        workdir: str | os.PathLike[str],
                        environ: Mapping[str, str] | None = None) -> str:
    """An ``sbatch`` script running the driver with ``options.driver``'s resources.

    Paths with spaces are fine in the body (quoted); the log path and working
    directory go on the ``sbatch`` command line, not in directives.
    """
    driver = options.driver
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name={_directive_value(job_name, 'job name')}",
             "#SBATCH --ntasks=1",
             f"#SBATCH --cpus-per-task={driver.cores}",
             f"#SBATCH --mem={_slurm_megabytes(driver.memory)}M",
             f"#SBATCH --time={_directive_value(driver.walltime or options.walltime, 'walltime')}"]
    if options.partition:
        lines.append(f"#SBATCH --partition={_directive_value(options.partition, 'partition')}")
    if options.account:
        lines.append(f"#SBATCH --account={_directive_value(options.account, 'account')}")
    for directive in options.job_extra_directives:
        lines.append(f"#SBATCH {directive}")
    lines += _script_body(options.setup, command, workdir, environ)
    return "\n".join(lines) + "\n"


def _script_body(setup: Iterable[str], command: str, workdir: str | os.PathLike[str],
                 environ: Mapping[str, str] | None) -> list[str]:
    lines = ["", "# generated by `hepflow submit --detach`; the driver hosts the Dask "
             "scheduler,", "# submits the workers and writes the outputs.", "set -e"]
    for line in setup:
        lines.append(line)  # the operator's own set-up commands (config, one line each)
    for name, value in (environ or {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise SubmitError(f"environment variable name {name!r} is not valid")
        lines.append(f"export {name}={shlex.quote(value)}")
    lines += [f"cd {shlex.quote(os.fspath(workdir))}", f"exec {command}"]
    return lines


def _slurm_megabytes(memory: str) -> int:
    from dask.utils import parse_bytes

    return max(1, parse_bytes(memory) // 2**20)


def sbatch_arguments(script: Path, log: Path, workdir: Path) -> list[str]:
    """``sbatch`` with the script and the paths a directive could not hold safely."""
    return [require_command("sbatch", "slurm"), "--parsable", f"--output={log}",
            f"--chdir={workdir}", str(script)]


def parse_sbatch(stdout: str) -> str:
    """The job id from ``sbatch --parsable`` (``123`` or ``123;cluster``)."""
    first = stdout.strip().splitlines()[0] if stdout.strip() else ""
    job_id = first.split(";")[0].strip()
    if not job_id.isdigit():
        raise SubmitError(f"sbatch did not print a job id: {stdout.strip()!r}")
    return job_id


def condor_driver_files(options: HTCondorOptions, *, job_name: str, command: str,
                        workdir: str | os.PathLike[str], jobdir: Path,
                        environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(job script, submit description) for the driver as an HTCondor job.

    The description names only files in ``jobdir``; everything the job runs
    is in the script, quoted.  ``getenv = True`` is deliberately not used:
    the submit environment is not the job's, and explicit is debuggable.
    """
    script_lines = ["#!/bin/bash", *_script_body(options.setup, command, workdir, environ)]
    script = "\n".join(script_lines) + "\n"
    driver = options.driver
    from dask.utils import parse_bytes

    description = {
        "universe": "vanilla",
        "executable": str(jobdir / "driver.sh"),
        "batch_name": job_name,
        "initialdir": str(jobdir),
        "output": str(jobdir / "driver.$(ClusterId).log"),
        "error": str(jobdir / "driver.$(ClusterId).err"),
        "log": str(jobdir / "condor.log"),
        "request_cpus": str(driver.cores),
        "request_memory": str(max(1, parse_bytes(driver.memory) // 2**20)),
        "request_disk": str(max(1, parse_bytes(options.disk) // 1024)),
        "+MaxRuntime": str(walltime_seconds(driver.walltime or options.walltime)),
        "should_transfer_files": "NO",
    }
    if options.accounting_group:
        description["accounting_group"] = options.accounting_group
    description.update(dict(options.job_extra_directives))
    lines = [f"# generated by `hepflow submit --detach` ({job_name})"]
    for key, value in description.items():
        text = f"{key} = {value}"
        if "\n" in text or "\r" in text:
            raise SubmitError(f"submit description entry {key!r} must be one line")
        lines.append(text)
    lines.append("queue 1")
    return script, "\n".join(lines) + "\n"


def condor_submit_arguments(description: Path, schedd: str | None) -> list[str]:
    argv = [require_command("condor_submit", "htcondor"), "-terse"]
    if schedd:
        argv += ["-name", schedd]
    return [*argv, str(description)]


def parse_condor_submit(stdout: str) -> str:
    """The cluster id from ``condor_submit -terse`` (``123.0 - 123.0``)."""
    match = re.match(r"\s*(\d+)\.\d+", stdout)
    if match is None:
        raise SubmitError(f"condor_submit did not print a job id: {stdout.strip()!r}")
    return match.group(1)


# --------------------------------------------------------------------------
# job states


def slurm_states(job_ids: Sequence[str]) -> dict[str, JobState]:
    """States of Slurm jobs: ``squeue`` (pending/running/recently ended), then ``scontrol``,
    then ``sacct`` for jobs the controller already forgot.  Missing jobs are ``UNKNOWN``."""
    if not job_ids:
        return {}
    ids = ",".join(job_ids)
    states: dict[str, JobState] = {}
    squeue = shutil.which("squeue")
    if squeue:
        done = run_command([squeue, "-h", "-t", "all", "-j", ids, "-o", "%i|%T|%r"],
                           check=False)
        for line in done.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 3 and parts[0] in job_ids:
                states[parts[0]] = JobState(parts[0], parts[1], None,
                                            "" if parts[2] == "None" else parts[2])
    scontrol = shutil.which("scontrol")
    for job_id in job_ids:
        known = states.get(job_id)
        if known is not None and not known.final:
            continue
        if scontrol:
            done = run_command([scontrol, "show", "job", "-o", job_id], check=False)
            fields = dict(re.findall(r"(\w+)=(\S*)", done.stdout))
            if "JobState" in fields:
                code = fields.get("ExitCode", "")
                states[job_id] = JobState(job_id, fields["JobState"],
                                          int(code.split(":")[0]) if code[:1].isdigit() else None,
                                          "" if fields.get("Reason") == "None"
                                          else fields.get("Reason", ""))
                continue
        sacct = shutil.which("sacct")
        if sacct and job_id not in states:
            done = run_command([sacct, "-n", "-X", "-P", "-j", job_id, "-o",
                                "JobID,State,ExitCode"], check=False)
            for line in done.stdout.splitlines():
                parts = line.split("|")
                if len(parts) == 3 and parts[0] == job_id:
                    states[job_id] = JobState(job_id, parts[1].split()[0],
                                              int(parts[2].split(":")[0]))
        states.setdefault(job_id, JobState(job_id, "UNKNOWN"))
    return states


def condor_states(job_ids: Sequence[str]) -> dict[str, JobState]:
    """States of HTCondor clusters: ``condor_q``, then ``condor_history``."""
    states: dict[str, JobState] = {}
    for tool in ("condor_q", "condor_history"):
        path = shutil.which(tool)
        missing = [j for j in job_ids if j not in states]
        if path is None or not missing:
            continue
        done = run_command([path, *missing, "-af", "ClusterId", "JobStatus", "ExitCode",
                            "HoldReason"], check=False)
        for line in done.stdout.splitlines():
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[0] in missing and parts[1].isdigit():
                code = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
                reason = parts[3] if len(parts) > 3 and parts[3] != "undefined" else ""
                states[parts[0]] = JobState(parts[0], CONDOR_STATES.get(int(parts[1]), parts[1]),
                                            code, reason)
    for job_id in job_ids:
        states.setdefault(job_id, JobState(job_id, "UNKNOWN"))
    return states


def python_executable() -> str:
    """The interpreter batch jobs run: this one, so that the job sees the same hepflow."""
    return sys.executable


__all__ = [
    "CONDOR_FINAL",
    "SLURM_FINAL",
    "INSTALL_HINTS",
    "JobState",
    "condor_driver_files",
    "condor_states",
    "condor_submit_arguments",
    "driver_command",
    "parse_condor_submit",
    "parse_sbatch",
    "python_executable",
    "require_command",
    "run_command",
    "sbatch_arguments",
    "slurm_driver_script",
    "slurm_states",
]
