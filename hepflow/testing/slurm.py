"""A real single-node Slurm (Debian's slurm-wlm 22.05) for tests, CI and laptops.

Why a real one: the cluster layer promises that ``hepflow submit`` starts
dask-jobqueue workers as Slurm jobs, waits for them, and that a detached
driver job leaves its outputs and an honest status.  Those promises are
about ``sbatch``, ``squeue`` and ``scontrol`` as a site runs them, so they are
tested against the daemons themselves, started as root without systemd:

* ``munged`` runs as the ``munge`` user (it refuses root) with a private key
  and socket in the state directory, so a system munge is neither needed
  nor disturbed;
* ``slurmctld -D -i`` and ``slurmd -D`` run as root with a generated
  ``slurm.conf``: ``SlurmUser=root``, ``ProctrackType=proctrack/linuxproc``,
  ``TaskPlugin=task/none``, no accounting, no cgroups (which containers
  rarely allow), one node named after ``slurmd -C``'s host with its
  resources, one partition, and private ports;
* clients find it through ``SLURM_CONF`` (``environ()``), so an
  ``/etc/slurm/slurm.conf`` of a real site on the same machine is not touched.

State directory layout (``SingleNodeSlurm.state_dir``, mode 0755 because
munged checks every directory above its socket)::

    slurm.conf        the generated configuration
    munge/            munged's key (0400), socket, pid, log, seed (owned by munge)
    ctld/  d/         slurmctld state and slurmd spool
    log/              slurmctld.log, slurmd.log, munged.out
    pids.json         the daemons' process ids, so that `stop` works from another process

From a shell (what ``deployments/slurm/single-node.sh`` runs)::

    python -m hepflow.testing.slurm start   # prints export SLURM_CONF=.../slurm.conf
    python -m hepflow.testing.slurm status
    python -m hepflow.testing.slurm stop
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from hepflow.testing.service import Service
from hepflow.util.net import free_port

__all__ = [
    "SingleNodeSlurm",
    "SlurmStartError",
    "slurm_unavailable_reason",
]

REQUIRED = ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "scancel",
            "munged", "munge", "unmunge")
DEFAULT_STATE_DIR = "/tmp/hepflow-slurm"


class SlurmStartError(RuntimeError):
    """The single-node Slurm could not be started; the message ends with the daemons' logs."""


def _which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/usr/bin", "/sbin"):  # sbin is often off a CI PATH
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def slurm_unavailable_reason() -> str | None:
    """Why a single-node Slurm cannot start here (tests skip with it), or None if it can."""
    missing = [name for name in REQUIRED if _which(name) is None]
    if missing:
        return (f"Slurm is not installed ({', '.join(missing)} missing): apt-get install "
                "$(cat deployments/slurm/debian-packages.txt)")
    if os.geteuid() != 0:
        return "a single-node Slurm is started as root (SlurmUser=root, munged as munge)"
    try:
        pwd.getpwnam("munge")
    except KeyError:
        return "the `munge` user does not exist (Debian's munge package creates it)"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still "exists": ask /proc whether it is one
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except (OSError, IndexError):
        return True
    return status != "Z"


def _terminate_pid(pid: int, grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap our own children
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def node_resources() -> dict[str, str]:
    """This machine as ``slurmd -C`` prints it (NodeName, CPUs, ..., RealMemory)."""
    slurmd = _which("slurmd")
    if slurmd is None:
        raise SlurmStartError("slurmd is not installed")
    done = subprocess.run([slurmd, "-C"], capture_output=True, text=True, check=False,
                          timeout=30)
    first = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
    fields = dict(re.findall(r"(\w+)=(\S+)", first))
    if "NodeName" not in fields or "CPUs" not in fields:
        raise SlurmStartError(f"`slurmd -C` printed no node line: {done.stdout!r} "
                              f"{done.stderr!r}")
    return fields


class SingleNodeSlurm(Service):
    """A private one-node Slurm cluster: start, use through ``environ()``, stop.

    ``start()`` is idempotent (a running instance in the same state directory
    is reused, also one started by another process); ``stop()`` cancels every
    job, stops the daemons and is safe to call repeatedly; the context manager
    always stops, and a finalizer stops the daemons if the owner forgets.

    Args:
        state_dir: where config, state and logs live; None: a new temporary one
            (removed by ``close()``).
        partition: the one partition's name (the default partition).
        cpus: CPUs to declare (default: what ``slurmd -C`` found).  Declaring
            more than the machine has lets a 2-core CI machine run a driver
            job and several single-core worker jobs at once.
        real_memory_mb: RealMemory to declare (default: ``slurmd -C``'s).
        startup_timeout: seconds to wait for the node to become idle.
        min_job_age: seconds the controller remembers ended jobs (there is no
            accounting database, so this is how long ``scontrol`` knows them).
    """

    def __init__(self, state_dir: str | os.PathLike[str] | None = None, *,
                 partition: str = "debug", cpus: int | None = None,
                 real_memory_mb: int | None = None, startup_timeout: float = 60.0,
                 min_job_age: int = 600) -> None:
        self._temporary = state_dir is None
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.partition = partition
        self.cpus = cpus
        self.real_memory_mb = real_memory_mb
        self.startup_timeout = startup_timeout
        self.min_job_age = min_job_age
        self.node: str | None = None
        self._pids: dict[str, int] = {}
        self._procs: list[subprocess.Popen[bytes]] = []  # kept to reap them on stop
        self._finalizer: weakref.finalize[..., SingleNodeSlurm] | None = None

    # -- paths -------------------------------------------------------------

    def _dir(self) -> Path:
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="hepflow-slurm-", dir="/tmp"))
        return self.state_dir

    @property
    def conf(self) -> Path:
        return self._dir() / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self._dir() / "munge" / "munge.socket"

    def environ(self) -> dict[str, str]:
        """What a client process needs to talk to this cluster (``SLURM_CONF``)."""
        return {"SLURM_CONF": str(self.conf)}

    @contextlib.contextmanager
    def activated(self) -> Iterator[SingleNodeSlurm]:
        """Set ``environ()`` in ``os.environ`` for a block (sbatch, dask-jobqueue), then undo."""
        saved = {k: os.environ.get(k) for k in self.environ()}
        os.environ.update(self.environ())
        try:
            yield self
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    # -- start -------------------------------------------------------------

    def running(self) -> bool:
        """True when all three daemons of this state directory are alive."""
        pids = self._pids or self._read_pids()
        return bool(pids) and all(_alive(pid) for pid in pids.values())

    def start(self) -> SingleNodeSlurm:
        reason = slurm_unavailable_reason()
        if reason is not None:
            raise SlurmStartError(reason)
        directory = self._dir()
        if self.running():
            self._pids = self._read_pids()
            self.node = self._read_node()
            self._wait_idle()
            return self
        self._stop_pids(self._read_pids())  # half-dead leftovers of an earlier run
        for sub in ("ctld", "d", "log"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        try:
            self._start_munge()
            self._write_conf()
            self._spawn("slurmctld", [self._bin("slurmctld"), "-D", "-i", "-f", str(self.conf)])
            self._spawn("slurmd", [self._bin("slurmd"), "-D", "-f", str(self.conf)])
            self._write_pids()
            self._wait_idle()
        except BaseException:
            self.stop()
            raise
        self._finalizer = weakref.finalize(self, SingleNodeSlurm._stop_pids, dict(self._pids))
        return self

    def _bin(self, name: str) -> str:
        path = _which(name)
        if path is None:
            raise SlurmStartError(f"{name} is not installed")
        return path

    def _start_munge(self) -> None:
        munge_dir = self._dir() / "munge"
        munge_dir.mkdir(exist_ok=True)
        entry = pwd.getpwnam("munge")
        os.chown(munge_dir, entry.pw_uid, entry.pw_gid)
        munge_dir.chmod(0o755)  # munged wants its socket directory readable, not writable
        key = munge_dir / "munge.key"
        if not key.exists():
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(1024))
            os.chown(key, entry.pw_uid, entry.pw_gid)
        argv = [self._bin("munged"), "--foreground", f"--socket={self.munge_socket}",
                f"--key-file={key}", f"--log-file={munge_dir / 'munged.log'}",
                f"--pid-file={munge_dir / 'munged.pid'}",
                f"--seed-file={munge_dir / 'munged.seed'}"]
        self._spawn("munged", argv, user="munge")
        deadline = time.monotonic() + 15
        while True:
            problem = self._munge_roundtrip()
            if problem is None:
                return
            if not _alive(self._pids["munged"]) or time.monotonic() > deadline:
                raise SlurmStartError(f"munged did not start: {problem}\n{self.log_tail()}")
            time.sleep(0.1)

    def _munge_roundtrip(self) -> str | None:
        if not self.munge_socket.exists():
            return "no socket yet"
        sock = f"--socket={self.munge_socket}"
        cred = subprocess.run([self._bin("munge"), "-n", sock], capture_output=True,
                              check=False, timeout=10)
        if cred.returncode != 0:
            return cred.stderr.decode(errors="replace").strip()
        back = subprocess.run([self._bin("unmunge"), sock], input=cred.stdout,
                              capture_output=True, check=False, timeout=10)
        return None if back.returncode == 0 else back.stderr.decode(errors="replace").strip()

    def _write_conf(self) -> None:
        node = node_resources()
        self.node = node["NodeName"]
        cpus = self.cpus or int(node["CPUs"])
        memory = self.real_memory_mb or int(node.get("RealMemory", "1000"))
        directory = self._dir()
        if self.cpus is not None and self.cpus != int(node["CPUs"]):
            topology = f"CPUs={cpus}"  # declared, not detected: no socket/core layout
        else:
            topology = " ".join(f"{k}={node[k]}" for k in (
                "CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
                if k in node)
        lines = [
            "# generated by hepflow.testing.slurm: one node, root, no cgroups, no accounting",
            "ClusterName=hepflow",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={directory / 'ctld'}",
            f"SlurmdSpoolDir={directory / 'd'}",
            f"SlurmctldPidFile={directory / 'slurmctld.pid'}",
            f"SlurmdPidFile={directory / 'slurmd.pid'}",
            f"SlurmctldLogFile={directory / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={directory / 'log' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SlurmdParameters=config_overrides",
            "MpiDefault=none",
            "MailProg=/bin/true",
            "ReturnToService=2",
            f"MinJobAge={self.min_job_age}",
            "KillWait=5",
            "InactiveLimit=0",
            "SlurmdTimeout=60",
            f"NodeName={self.node} NodeAddr=127.0.0.1 {topology} RealMemory={memory} "
            "State=UNKNOWN",
            f"PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE "
            "OverSubscribe=NO State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def _spawn(self, name: str, argv: Sequence[str], user: str | None = None) -> None:
        log = self._dir() / "log" / f"{name}.out"
        uid: int | None = None
        gid: int | None = None
        groups: list[int] | None = None
        if user is not None:  # switch ids before exec: the daemon never holds root
            entry = pwd.getpwnam(user)
            uid, gid, groups = entry.pw_uid, entry.pw_gid, []
        with open(log, "ab") as out:
            proc = subprocess.Popen(  # a fixed argument list, never a shell
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, **self.environ()},
                user=uid, group=gid, extra_groups=groups,
            )
        self._pids[name] = proc.pid
        self._procs.append(proc)

    def _wait_idle(self) -> None:
        """Wait until sinfo reports the node idle (or mixed/allocated: it is usable)."""
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer"
        env = {**os.environ, **self.environ()}
        while time.monotonic() < deadline:
            for name, pid in self._pids.items():
                if not _alive(pid):
                    raise SlurmStartError(f"{name} exited during start-up\n{self.log_tail()}")
            done = subprocess.run([self._bin("sinfo"), "-h", "-N", "-o", "%T|%E"],
                                  capture_output=True, text=True, env=env, check=False,
                                  timeout=15)
            last = (done.stdout or done.stderr).strip()
            state = last.split("|")[0].rstrip("*~#").lower()
            if done.returncode == 0 and state in ("idle", "mixed", "allocated", "completing"):
                return
            time.sleep(0.2)
        raise SlurmStartError(f"the Slurm node did not become idle within "
                              f"{self.startup_timeout:g} s (last: {last})\n{self.log_tail()}")

    # -- pids across processes ---------------------------------------------

    def _pids_file(self) -> Path:
        return self._dir() / "pids.json"

    def _write_pids(self) -> None:
        self._pids_file().write_text(json.dumps({"pids": self._pids, "node": self.node}))

    def _read_pids(self) -> dict[str, int]:
        if self.state_dir is None:
            return {}
        try:
            data = json.loads(self._pids_file().read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): int(v) for k, v in data.get("pids", {}).items()}

    def _read_node(self) -> str | None:
        try:
            return str(json.loads(self._pids_file().read_text()).get("node"))
        except (OSError, ValueError):
            return None

    # -- stop --------------------------------------------------------------

    def cancel_all(self, timeout: float = 20.0) -> None:
        """Cancel every job of this cluster and wait until the node has none running."""
        if not self.running():
            return
        env = {**os.environ, **self.environ()}
        subprocess.run([self._bin("scancel"), f"--partition={self.partition}"],
                       capture_output=True, env=env, check=False, timeout=30)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = subprocess.run([self._bin("squeue"), "-h", "-o", "%i"], capture_output=True,
                                  text=True, env=env, check=False, timeout=15)
            if done.returncode != 0 or not done.stdout.strip():
                return
            time.sleep(0.2)

    @staticmethod
    def _stop_pids(pids: Mapping[str, int]) -> None:
        # slurmd first (it stops running job steps), then the controller, munge last
        for name in ("slurmd", "slurmctld", "munged"):
            pid = pids.get(name)
            if pid is not None and _alive(pid):
                _terminate_pid(pid, 10.0)

    def stop(self) -> None:
        """Cancel all jobs and stop the daemons; safe to call repeatedly."""
        pids = self._pids or self._read_pids()
        if pids:
            with contextlib.suppress(OSError, subprocess.SubprocessError, SlurmStartError):
                self.cancel_all()
        self._stop_pids(pids)
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self._procs = []
        self._pids = {}
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self.state_dir is not None:
            with contextlib.suppress(OSError):
                self._pids_file().unlink()

    def detach(self) -> None:
        """Let the daemons outlive this object (the command line's ``start``)."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._procs = []

    def close(self) -> None:
        """``stop()``, and remove a temporary state directory."""
        self.stop()
        if self._temporary and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- diagnostics -------------------------------------------------------

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of every daemon log, for error messages."""
        if self.state_dir is None:
            return ""
        parts = []
        for log in sorted((self.state_dir / "log").glob("*")) + \
                sorted((self.state_dir / "munge").glob("*.log")):
            with contextlib.suppress(OSError):
                text = log.read_text(errors="replace").strip().splitlines()[-lines:]
                if text:
                    parts.append(f"--- {log}\n" + "\n".join(text))
        return "\n".join(parts)

    def __repr__(self) -> str:
        state = "running" if self.running() else "stopped"
        return f"SingleNodeSlurm({str(self.state_dir)!r}, node={self.node!r}, {state})"


def main(argv: Sequence[str] | None = None) -> int:
    """``start`` / ``stop`` / ``status`` a single-node Slurm from a shell."""
    parser = argparse.ArgumentParser(prog="python -m hepflow.testing.slurm",
                                     description="A single-node Slurm for trying hepflow.")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--dir", default=DEFAULT_STATE_DIR,
                        help=f"state directory (default {DEFAULT_STATE_DIR})")
    parser.add_argument("--partition", default="debug")
    parser.add_argument("--cpus", type=int, default=None,
                        help="CPUs to declare (default: what the machine has)")
    args = parser.parse_args(argv)
    slurm = SingleNodeSlurm(args.dir, partition=args.partition, cpus=args.cpus)
    if args.action == "start":
        try:
            slurm.start()
        except SlurmStartError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        slurm.detach()
        print(f"export SLURM_CONF={slurm.conf}")
        print(f"# single-node Slurm running (node {slurm.node}, partition {slurm.partition}); "
              f"stop it with: python -m hepflow.testing.slurm stop --dir {args.dir}",
              file=sys.stderr)
        return 0
    if args.action == "stop":
        slurm.stop()
        print(f"stopped the Slurm in {args.dir}", file=sys.stderr)
        return 0
    running = slurm.running()
    print(f"{'running' if running else 'stopped'}: SLURM_CONF={slurm.conf}")
    return 0 if running else 1


if __name__ == "__main__":
    sys.exit(main())
