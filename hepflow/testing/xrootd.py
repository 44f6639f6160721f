"""Real XRootD servers for tests and benchmarks.

Why a real server: hepflow's I/O layer promises timeouts, retries and failover
for ``root://`` files.  Those promises are about how the XRootD *client*
library (XrdCl, used by fsspec-xrootd, used by uproot) behaves when a site is
slow, gone, or back again, so they can only be checked against the real
protocol.  Debian's ``xrootd-server`` package provides the daemon; this module
starts it unprivileged on 127.0.0.1, one process per "site".

Layout of one server's private work directory (``XRootDServer.workdir``)::

    xrootd.cfg      the generated configuration (or a copy of ``config_file``)
    admin/          all.adminpath (Unix sockets, so the path is kept short)
    run/            all.pidpath (xrootd.pid)
    log/xrootd.log  the daemon's log (``-l``)
    stderr.txt      anything printed before the log is open
    export/         only in mirror mode: the served tree (see below)

The exported directory becomes the server's namespace root
(``oss.localroot``), so a file ``<directory>/a/b.root`` has the logical name
``/a/b.root`` and the URL ``root://127.0.0.1:PORT//a/b.root`` (two slashes:
XRootD rejects relative paths).  Several servers over copies of the same tree
therefore serve the *same* logical names, as replicas at real sites do.

The daemon refuses to run as root, so as root it is started as ``nobody``:
by default its ids are switched before exec (``subprocess.Popen(user=...)``),
or, with ``drop_privileges="xrootd"``, by xrootd's own ``-R nobody`` (which
changes only the effective ids).  ``nobody`` must be able to read the files.
pytest's temporary directories live under ``/tmp/pytest-of-<user>`` with mode
0700, so when the tree is not readable by that user it is *mirrored* (hard
links where the file itself is world-readable, copies otherwise) into the
work directory instead of loosening permissions on the caller's paths.

Client side: see ``hepflow.testing.xrootd_client`` (``FAST_FAIL_CLIENT_SETTINGS``) for
the XrdCl settings without which a dead server takes minutes to fail.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from hepflow.testing.permissions import _may, _tree_readable, _user_ids
from hepflow.testing.service import Service
from hepflow.testing.xrootd_probe import xrootd_stat
from hepflow.util.net import free_port

__all__ = [
    "Sites",
    "XRootDServer",
    "XRootDServerError",
    "deployment_config",
    "xrootd_available",
    "xrootd_binary",
]



_READY_LINE = "initialization completed"
_FAILED_LINE = "initialization failed"
_ADDRESS_IN_USE = "address already in use"


class XRootDServerError(RuntimeError):
    """The xrootd daemon could not be started or did not answer in time."""


class _PortInUse(XRootDServerError):
    """Internal: the chosen port was taken between picking it and binding it."""


class _CrashedAtStart(XRootDServerError):
    """The server process died from a signal before it was ready (worth one more try)."""


def xrootd_binary() -> str | None:
    """Path of the ``xrootd`` daemon, or None when Debian's package is absent."""
    found = shutil.which("xrootd")
    if found:
        return found
    # /usr/bin may be missing from PATH in stripped-down CI environments.
    for candidate in ("/usr/bin/xrootd", "/usr/local/bin/xrootd"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def xrootd_available() -> bool:
    """True when an ``xrootd`` server binary is installed (tests skip otherwise)."""
    return xrootd_binary() is not None


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; safe to call repeatedly."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
            # A paused (SIGSTOPped) daemon only acts on SIGTERM once continued.
            proc.send_signal(signal.SIGCONT)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()


def deployment_config(name: str) -> Path:
    """Path of a configuration shipped in the repository's ``deployments/xrootd/``.

    The tests run them through the harness so that the documented configs
    cannot silently rot.  Only available in a source checkout.
    """
    path = Path(__file__).resolve().parents[2] / "deployments" / "xrootd" / name
    if not path.is_file():
        raise XRootDServerError(
            f"{path} not found: deployment configs ship with the source tree only; "
            "pass config_file= explicitly"
        )
    return path


class XRootDServer(Service):
    """One unprivileged ``xrootd`` daemon exporting ``directory`` on 127.0.0.1.

    Use as a context manager (started on enter, stopped and cleaned up on
    exit) or call ``start``/``stop``/``close``.  After the first successful
    start the port is fixed, so ``stop()`` + ``start()`` simulates a site
    going away and coming back at the same address, and ``pause()`` /
    ``resume()`` (SIGSTOP/SIGCONT) simulate a site that hangs: the kernel
    still accepts connections but nothing answers.

    Args:
        directory: the tree to serve; it becomes the namespace root.
        port: a fixed port, or None to pick a free one (retried on collision).
        host: address clients use; connections from elsewhere are refused
            (``xrd.allow host``).  The daemon itself listens on all
            interfaces: xrootd has no bind-address directive.
        user: the account to run as when started as root (ignored otherwise).
        drop_privileges: how to become ``user`` when started as root.
            "setuid" (default) switches real, effective and saved ids before
            exec, so the daemon cannot regain root; "xrootd" passes
            ``-R user``, with which xrootd 5.5 changes only its *effective*
            ids (``ps`` shows RUSER root).
        writable: export read-write instead of read-only.
        mirror: True to always serve a mirror of ``directory``, False to
            always serve it in place, None to mirror only when ``user`` cannot
            read it in place.
        name: a label for logs (``all.sitename``) and error messages.
        startup_timeout: seconds ``start()`` waits for a working server.
        extra_config: more configuration lines appended verbatim (tracing,
            throttling, ...).
        config_file: run this configuration file (e.g. one of
            ``deployments/xrootd/``) instead of the generated one.  It is
            copied into the work directory (plus ``extra_config``) and gets
            its installation-specific values from the environment:
            HEPFLOW_XRD_LOCALROOT (the served directory), HEPFLOW_XRD_PORT,
            HEPFLOW_XRD_ALLOW, HEPFLOW_XRD_RUNDIR (the work directory) and
            HEPFLOW_XRD_SITENAME, which the harness sets.
        environ: more environment variables for the daemon (e.g.
            HEPFLOW_XCACHE_ORIGIN for ``xcache.cfg``).
        workdir_parent: where the private work directory is made; it must
            be traversable by ``user`` and short (Unix socket paths).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        user: str = "nobody",
        writable: bool = False,
        mirror: bool | None = None,
        name: str | None = None,
        startup_timeout: float = 20.0,
        extra_config: Iterable[str] = (),
        workdir_parent: str | os.PathLike[str] | None = None,
        drop_privileges: Literal["setuid", "xrootd"] = "setuid",
        config_file: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = Path(directory).resolve()
        if not self.directory.is_dir():
            raise NotADirectoryError(f"XRootD export directory {self.directory} does not exist")
        self.host = host
        self.name = name or self.directory.name or "site"
        self.writable = writable
        self.startup_timeout = startup_timeout
        self.extra_config = list(extra_config)
        self.config_file = Path(config_file).resolve() if config_file is not None else None
        if self.config_file is not None and not self.config_file.is_file():
            raise FileNotFoundError(f"XRootD configuration {self.config_file} does not exist")
        self.environ = dict(environ or {})
        self._port = port
        self._port_pinned = port is not None
        self._as_root = os.geteuid() == 0
        if drop_privileges not in ("setuid", "xrootd"):
            raise ValueError(
                f"drop_privileges must be 'setuid' or 'xrootd', not {drop_privileges!r}"
            )
        self.drop_privileges = drop_privileges
        self.user = user if self._as_root else pwd.getpwuid(os.geteuid()).pw_name
        self._uid, self._gid, self._groups = _user_ids(self.user)
        self._mirror_wanted = mirror
        self._workdir_parent = Path(workdir_parent) if workdir_parent else None
        self._workdir: Path | None = None
        self._export_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._workdir_cleanup: weakref.finalize[Any, Any] | None = None
        self._paused = False

    @classmethod
    def xcache(
        cls,
        origin: XRootDServer | str,
        cache_dir: str | os.PathLike[str],
        *,
        ram: str = "1g",
        config_file: str | os.PathLike[str] | None = None,
        name: str = "xcache",
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> XRootDServer:
        """An XCache (caching proxy) in front of ``origin``, from ``xcache.cfg``.

        ``origin`` is a server or a ``host:port``.  Cached blocks land in
        ``cache_dir`` (or, when the daemon's user cannot write there, in a
        mirror: ``export_dir``).  Clients use ``url(path)`` with the
        origin's logical names.  ``ram`` is ``pfc.ram``; xrootd 5.5 refuses
        less than 1g.  ``cache_dir`` is created if missing.
        """
        address = origin.address if isinstance(origin, XRootDServer) else origin
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        env = {"HEPFLOW_XCACHE_ORIGIN": address, "HEPFLOW_XCACHE_RAM": ram, **(environ or {})}
        return cls(
            cache_dir,
            config_file=config_file or deployment_config("xcache.cfg"),
            environ=env,
            writable=True,  # the daemon writes the cache
            name=name,
            **options,
        )

    # -- properties -----------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port; known after the first ``start()`` (or if given)."""
        if self._port is None:
            raise XRootDServerError(f"XRootD server {self.name!r} has no port yet: start() it")
        return self._port

    @property
    def address(self) -> str:
        """``host:port``, the XRootD "hostid" fsspec-xrootd keys its filesystems by."""
        return f"{self.host}:{self.port}"

    @property
    def workdir(self) -> Path:
        """Private directory holding config, admin path, pid file and log."""
        if self._workdir is None:
            raise XRootDServerError(f"XRootD server {self.name!r} was never started")
        return self._workdir

    @property
    def export_dir(self) -> Path:
        """The directory the daemon actually serves (``directory`` or its mirror)."""
        if self._export_dir is None:
            raise XRootDServerError(f"XRootD server {self.name!r} was never started")
        return self._export_dir

    @property
    def mirrored(self) -> bool:
        """True when a mirror is served: files added later need ``sync()``."""
        return self._export_dir is not None and self._export_dir != self.directory

    @property
    def config_path(self) -> Path:
        return self.workdir / "xrootd.cfg"

    @property
    def log_path(self) -> Path:
        return self.workdir / "log" / "xrootd.log"

    @property
    def pid_path(self) -> Path:
        return self.workdir / "run" / "xrootd.pid"

    @property
    def pid(self) -> int | None:
        """Process id of the running daemon, None when stopped."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        return self.running and self._paused

    # -- URLs -----------------------------------------------------------------

    def lfn(self, path: str | os.PathLike[str] = "") -> str:
        """Logical file name (``/a/b.root``) of a path below ``directory``.

        Accepts a path relative to the exported tree or an absolute local
        path inside ``directory`` (or its mirror).
        """
        p = Path(path)
        if p.is_absolute():
            resolved = p.resolve()
            for base in (self.directory, self._export_dir):
                if base is not None and resolved.is_relative_to(base):
                    p = resolved.relative_to(base)
                    break
            else:
                raise ValueError(
                    f"{path} is not inside the directory {self.directory} "
                    f"exported by XRootD server {self.name!r}"
                )
        rel = p.as_posix().lstrip("/")
        return "/" if rel in ("", ".") else "/" + rel

    def url(self, path: str | os.PathLike[str] = "") -> str:
        """``root://127.0.0.1:PORT//a/b.root`` for a file of the exported tree.

        The double slash is required: the URL path must be absolute, and a
        single slash makes the server answer "Opening relative path ... is
        disallowed" (kXR error 3010).
        """
        return f"root://{self.address}/{self.lfn(path)}"

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> XRootDServer:
        """Start the daemon and wait until it answers a real XRootD ``stat``.

        Raises XRootDServerError (with the log tail) when it exits or does not
        answer within ``startup_timeout`` seconds.
        """
        if self.running:
            return self
        binary = xrootd_binary()
        if binary is None:
            raise XRootDServerError(
                "the xrootd server binary is not installed: apt-get install "
                "xrootd-server (see deployments/xrootd/debian-packages.txt)"
            )
        self._prepare()
        # A pinned port (a restart) gets a second try after a crash at start-up: xrootd
        # has been seen to die with SIGSEGV while starting on a loaded machine.
        attempts = 2 if self._port_pinned else 5
        for attempt in range(attempts):
            if not self._port_pinned:
                self._port = free_port(self.host)
            try:
                self._launch(binary)
                self._wait_ready(time.monotonic() + self.startup_timeout)
            except (_PortInUse, _CrashedAtStart) as exc:
                self._reap()
                if attempt + 1 == attempts or (self._port_pinned and
                                               isinstance(exc, _PortInUse)):
                    raise
                continue
            except BaseException:
                self._reap()
                raise
            self._port_pinned = True  # restarts come back at the same address
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self, grace: float = 5.0) -> None:
        """Stop the daemon: SIGTERM, then SIGKILL after ``grace`` seconds.

        Idempotent.  The port, work directory and mirror are kept, so
        ``start()`` brings the same site back.
        """
        proc, finalizer = self._proc, self._finalizer
        self._proc, self._finalizer, self._paused = None, None, False
        if finalizer is not None:
            finalizer.detach()
        if proc is not None:
            _terminate(proc, grace)

    def restart(self) -> XRootDServer:
        """``stop()`` then ``start()`` on the same port."""
        self.stop()
        return self.start()

    def pause(self) -> None:
        """Freeze the daemon (SIGSTOP): connections hang instead of failing."""
        if not self.running or self._proc is None:
            raise XRootDServerError(f"XRootD server {self.name!r} is not running")
        self._proc.send_signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Continue a paused daemon (SIGCONT)."""
        if self.running and self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)
        self._paused = False

    def close(self) -> None:
        """Stop the daemon and delete the work directory (and mirror)."""
        self.stop()
        cleanup, self._workdir_cleanup = self._workdir_cleanup, None
        if cleanup is not None:
            cleanup()
        self._workdir = None
        self._export_dir = None

    def __repr__(self) -> str:
        state = "paused" if self.paused else "running" if self.running else "stopped"
        port = self._port if self._port is not None else "?"
        return f"<XRootDServer {self.name!r} {self.host}:{port} {state} {self.directory}>"

    # -- diagnostics ----------------------------------------------------------

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the daemon's log and stderr, for error messages."""
        if self._workdir is None:
            return ""
        parts = []
        for path in (self.workdir / "stderr.txt", self.log_path):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").strip()
                if text:
                    parts.append(f"--- {path} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)

    # -- mirror ---------------------------------------------------------------

    def sync(self) -> None:
        """Bring the mirror up to date with ``directory`` (no-op when not mirrored).

        Needed only for files created or rewritten after ``start()``.
        """
        if self.mirrored:
            self._mirror(self.directory, self.export_dir)

    def _mirror(self, src: Path, dst: Path) -> None:
        dir_owner = (self._uid, self._gid) if (self.writable and self._as_root) else None
        for dirpath, _dirnames, filenames in os.walk(src):
            rel = Path(dirpath).relative_to(src)
            target_dir = dst / rel
            target_dir.mkdir(parents=True, exist_ok=True)
            target_dir.chmod(0o775 if self.writable else 0o755)
            if dir_owner is not None:
                os.chown(target_dir, *dir_owner)
            for fname in filenames:
                source = Path(dirpath) / fname
                target = target_dir / fname
                st = source.stat()
                if target.exists():
                    tst = target.stat()
                    if tst.st_ino == st.st_ino or (
                        tst.st_size == st.st_size and tst.st_mtime_ns == st.st_mtime_ns
                    ):
                        continue
                    target.unlink()
                self._place(source, target, st)

    def _place(self, source: Path, target: Path, st: os.stat_result) -> None:
        # A hard link costs nothing for benchmark-sized files, but shares the
        # inode's permissions: only use it when the file itself is readable.
        if not self.writable and _may(st, self._uid, self._groups, 4):
            try:
                os.link(source, target)
                return
            except OSError as err:
                if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
                    raise
        shutil.copy2(source, target)
        target.chmod(0o664 if self.writable else 0o644)
        if self.writable and self._as_root:
            os.chown(target, self._uid, self._gid)

    # -- internals --------------------------------------------------------------

    def _prepare(self) -> None:
        """Create the work directory and decide what to export (first start only)."""
        if self._workdir is not None:
            return
        parent = self._workdir_parent or Path(tempfile.gettempdir())
        workdir = Path(tempfile.mkdtemp(prefix="hepflow-xrd-", dir=parent))
        try:
            workdir.chmod(0o755)  # the daemon's user must traverse it
            if not _tree_readable(workdir, self._uid, self._groups):
                raise XRootDServerError(
                    f"user {self.user!r} cannot reach {workdir}; pass a "
                    "workdir_parent that it can traverse"
                )
            for sub in ("admin", "run", "log"):
                (workdir / sub).mkdir()
                if self._as_root:
                    os.chown(workdir / sub, self._uid, self._gid)
            use_mirror = self._mirror_wanted
            if use_mirror is None:
                readable = _tree_readable(self.directory, self._uid, self._groups)
                if self.writable:
                    readable = readable and _may(self.directory.stat(), self._uid, self._groups, 3)
                use_mirror = not readable
            if use_mirror:
                export = workdir / "export"
                self._mirror(self.directory, export)
                self._export_dir = export
            else:
                self._export_dir = self.directory
            self._workdir = workdir
            # Removed by close(), or at garbage collection / interpreter exit
            # for a server a failing test never closed (after the daemon is
            # stopped: finalizers run last-registered first).
            self._workdir_cleanup = weakref.finalize(self, shutil.rmtree, workdir, True)
        except BaseException:
            self._workdir = None
            self._export_dir = None
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    def _config_text(self) -> str:
        lines = [
            "# Generated by hepflow.testing.xrootd: one test 'site'.",
            f"all.sitename {_sanitize_sitename(self.name)}",
            f"xrd.port {self.port}",
            # no reverse DNS on every connection: it is slow where DNS is absent
            "xrd.network nodnr",
            f"xrd.allow host {self.host}",
            # the tree is the namespace root: URLs carry logical names only
            f"oss.localroot {self.export_dir}",
            "all.export /" + ("" if self.writable else " r/o"),
            f"all.adminpath {self.workdir / 'admin'}",
            f"all.pidpath {self.workdir / 'run'}",
            "xrd.trace off",
            *self.extra_config,
        ]
        return "\n".join(lines) + "\n"

    def _daemon_environ(self) -> dict[str, str]:
        """The daemon's environment: ours, the HEPFLOW_XRD_* values, ``environ``."""
        env = dict(os.environ)
        env.update(
            HEPFLOW_XRD_LOCALROOT=str(self.export_dir),
            HEPFLOW_XRD_PORT=str(self.port),
            HEPFLOW_XRD_ALLOW=self.host,
            HEPFLOW_XRD_RUNDIR=str(self.workdir),
            HEPFLOW_XRD_SITENAME=_sanitize_sitename(self.name),
        )
        env.update(self.environ)
        return env

    def _launch(self, binary: str) -> None:
        if self.config_file is not None:
            text = self.config_file.read_text()
            if self.extra_config:
                text += (
                    "\n# added by hepflow.testing.xrootd\n" + "\n".join(self.extra_config) + "\n"
                )
        else:
            text = self._config_text()
        self.config_path.write_text(text)
        self.config_path.chmod(0o644)
        with contextlib.suppress(FileNotFoundError):
            self.log_path.unlink()  # readiness is judged from this run's log only
        argv = [binary, "-c", str(self.config_path), "-l", str(self.log_path)]
        drop: dict[str, Any] = {}
        if self._as_root and self.drop_privileges == "xrootd":
            argv += ["-R", self.user]
        elif self._as_root:
            drop = {"user": self._uid, "group": self._gid, "extra_groups": []}
        with open(self.workdir / "stderr.txt", "wb") as err:
            proc = subprocess.Popen(  # fixed argument list, never a shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,  # a Ctrl-C in the test run is not sent to it
                env=self._daemon_environ(),
                **drop,
            )
        self._proc = proc
        self._paused = False
        # Also stops the daemon if the test process forgets to (or dies via atexit).
        self._finalizer = weakref.finalize(self, _terminate, proc, 5.0)

    def _reap(self) -> None:
        proc, finalizer = self._proc, self._finalizer
        self._proc, self._finalizer = None, None
        if finalizer is not None:
            finalizer.detach()
        if proc is not None:
            _terminate(proc, 2.0)

    def _read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _fail(self, what: str) -> XRootDServerError:
        return XRootDServerError(
            f"XRootD server {self.name!r} on {self.host}:{self._port} {what}\n{self.log_tail()}"
        )

    def _wait_ready(self, deadline: float) -> None:
        """Wait until the log says initialised and a real ``stat /`` succeeds."""
        assert self._proc is not None
        initialised = False
        problem = "did not log 'initialization completed'"
        while True:
            if time.monotonic() > deadline:
                raise self._fail(
                    f"did not come up within {self.startup_timeout:g} s (last: {problem})"
                )
            log = self._read_log()
            if self._proc.poll() is not None or _FAILED_LINE in log:
                if _ADDRESS_IN_USE in log.lower():
                    raise _PortInUse(f"port {self._port} is already in use")
                status = self._proc.poll()
                if status is not None and status < 0:  # killed by a signal while starting
                    raise _CrashedAtStart(self._fail(f"crashed during start-up (signal "
                                                     f"{-status})").args[0])
                raise self._fail(f"exited during start-up (status {status})")
            if not initialised:
                initialised = _READY_LINE in log
            if initialised:
                error = xrootd_stat(self.host, self.port, "/", timeout=1.0)
                if error is None:
                    return
                problem = error
            time.sleep(0.05)

    def responds(self, timeout: float = 1.0) -> bool:
        """True when the server answers a real ``stat /`` right now."""
        if self._port is None:
            return False
        return xrootd_stat(self.host, self._port, "/", timeout=timeout) is None


# --------------------------------------------------------------------------
# a minimal XRootD protocol probe
#
# Readiness is checked by speaking the protocol directly instead of through
# XrdCl (XRootD.client): XrdCl state is per process, and a probe that fails
# while the daemon starts would make XrdCl refuse that host:port for
# XRD_STREAMERRORWINDOW seconds (default 1800) in the *test* process, which
# is exactly the process whose reads we want to observe.

def _sanitize_sitename(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_-." else "_" for c in name)
    return cleaned[:15] or "site"  # xrootd limits site names to 15 characters


class Sites(Service):
    """Several XRootD servers on several ports, standing in for several sites.

    ``Sites([dir_a, dir_b])`` serves one directory per site;
    ``Sites.replicas(dir, 3)`` serves the same tree from three sites, so one
    logical file has three replica URLs (``urls(path)``).  Servers are
    started together and always all stopped, even when one fails to start.
    """

    def __init__(
        self,
        directories: Sequence[str | os.PathLike[str]],
        *,
        names: Sequence[str] | None = None,
        **server_options: Any,
    ) -> None:
        if names is not None and len(names) != len(directories):
            raise ValueError("Sites needs one name per directory")
        if names is None:
            names = [f"site{i}" for i in range(len(directories))]
        self.servers: list[XRootDServer] = [
            XRootDServer(directory, name=name, **server_options)
            for directory, name in zip(directories, names, strict=True)
        ]

    @classmethod
    def replicas(cls, directory: str | os.PathLike[str], n: int, **server_options: Any) -> Sites:
        """``n`` sites all serving ``directory``: every file has ``n`` replicas."""
        return cls([directory] * n, **server_options)

    def start(self) -> Sites:
        try:
            for server in self.servers:
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def close(self) -> None:
        for server in self.servers:
            server.close()

    def __len__(self) -> int:
        return len(self.servers)

    def __iter__(self) -> Iterator[XRootDServer]:
        return iter(self.servers)

    def __getitem__(self, key: int | str) -> XRootDServer:
        if isinstance(key, int):
            return self.servers[key]
        for server in self.servers:
            if server.name == key:
                return server
        raise KeyError(key)

    def urls(self, path: str | os.PathLike[str]) -> list[str]:
        """One URL per site for the same relative ``path``: its replicas."""
        return [server.url(path) for server in self.servers]
