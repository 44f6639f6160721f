"""Slow, silent and surplus connections against the real server: predictions keep working.

Every test starts the real app under uvicorn on 127.0.0.1 (`running`), opens a
bounded number of raw TCP connections that misbehave (send nothing, trickle
header bytes, send endless headers, or hold a request open), and checks that
a legitimate predict still answers at once, and that the server closes the
misbehaving connections when its limits say so (`hepflow.serve.connections`).
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hepflow.serve.config import load_config
from hepflow.serve.testing import running, xgboost_bundle

ROW = {"instances": [{"MET_pt": 40.0, "HT": 120.0, "Jet_pt": [60.0], "Jet_eta": [0.1]}]}
HEADER_TIMEOUT = 1.5


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    xgboost_bundle(n=300, trees=2).save(folder / "bdt")
    return folder


def serve(models: Path, http: str | None = None, batching: Any = None, **limits: Any) -> Any:
    return running(load_config(models=models, insecure_no_auth=True, batching=batching,
                               limits={"header_timeout_s": HEADER_TIMEOUT, **limits}),
                   http=http)


def connect(server: Any, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
    port = int(server.url.rsplit(":", 1)[1])
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if first_bytes:
            sock.sendall(first_bytes)
        sockets.append(sock)
    return sockets


def predict_quickly(server: Any, within: float = 3.0) -> None:
    start = time.monotonic()
    answer = httpx.post(server.url + "/v1/models/bdt:predict", json=ROW, timeout=within)
    assert answer.status_code == 200, answer.text
    assert time.monotonic() - start < within


def _readable(sockets: list[socket.socket], timeout: float) -> list[socket.socket]:
    """The sockets with data or a close to read: poll, since select() takes no fd past 1023
    (a long test session holds many)."""
    poller = select.poll()
    by_fd = {s.fileno(): s for s in sockets}
    for fd in by_fd:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    return [by_fd[fd] for fd, _ in poller.poll(timeout * 1000)]


def closed_by_server(sockets: list[socket.socket], until: float,
                     trickle: tuple[socket.socket, ...] = ()
                     ) -> dict[socket.socket, tuple[float, bytes]]:
    """When (monotonic time) and with what answer the server closed each socket.

    One more header byte goes to each open socket of `trickle` every 0.2 s,
    as a slow-header client would send them.
    """
    closed: dict[socket.socket, tuple[float, bytes]] = {}
    received: dict[socket.socket, bytes] = {s: b"" for s in sockets}
    next_trickle = time.monotonic()
    while len(closed) < len(sockets) and time.monotonic() < until:
        still = [s for s in sockets if s not in closed]
        if trickle and time.monotonic() >= next_trickle:
            next_trickle += 0.2
            for sock in set(still) & set(trickle):
                try:
                    sock.send(b"X")
                except OSError:
                    closed.setdefault(sock, (time.monotonic(), received[sock]))
        readable = _readable(still, 0.05)
        for sock in readable:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            received[sock] += data
            if not data:
                closed.setdefault(sock, (time.monotonic(), received[sock]))
    return closed


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def wait_for(server: Any, sample: str, value: float, within: float = 5.0) -> None:
    """Until the server's own metrics registry shows `sample` at `value` (read in process)."""
    registry = server.service.metrics.registry
    deadline = time.monotonic() + within
    while registry.get_sample_value(sample) != value:
        assert time.monotonic() < deadline, f"{sample} never reached {value}"
        time.sleep(0.01)


def metric(server: Any, reason: str) -> float:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith(f'hepflow_serve_connections_closed_total{{reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture(scope="module", params=["httptools", "h11"])
def server(models: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A server with uvicorn's fast protocol (httptools) and its pure-Python one (h11)."""
    with serve(models, request.param, max_connections=400) as server:
        yield server


def test_trickled_and_silent_headers_do_not_block_predicts_and_are_closed(
        server: Any) -> None:
    start = time.monotonic()
    silent = connect(server, 120)
    trickling = connect(server, 120, b"POST /v1/models/bdt:predict HTTP/1.1\r\nHost: x\r\nX-")
    try:
        predict_quickly(server)
        closed = closed_by_server(silent + trickling, start + HEADER_TIMEOUT + 8,
                                  trickle=tuple(trickling))
        assert len(closed) == len(silent) + len(trickling), \
            f"{len(silent) + len(trickling) - len(closed)} connections still open"
        times = [when - start for when, _ in closed.values()]
        assert min(times) >= HEADER_TIMEOUT * 0.9  # the deadline, not something earlier
        for sock in trickling:
            assert closed[sock][1].startswith(b"HTTP/1.1 408 ")
        for sock in silent:
            assert closed[sock][1] == b""
        assert metric(server, "header_timeout") >= 240
        predict_quickly(server)
    finally:
        close_all(silent + trickling)


def test_endless_headers_are_cut_off(server: Any) -> None:
    before = metric(server, "header_too_large")
    [sock] = connect(server, 1, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    try:
        with pytest.raises(OSError):  # the server stops reading: the send fails or times out
            for _ in range(200):  # 200 x 4 KiB, far over max_header_bytes (64 KiB)
                sock.sendall(b"X-Filler: " + b"y" * 4086 + b"\r\n")
                time.sleep(0.002)
        closed = closed_by_server([sock], time.monotonic() + 2)
        assert sock in closed  # an answer of 431 then EOF, or a reset
    finally:
        sock.close()
    assert metric(server, "header_too_large") == before + 1
    predict_quickly(server)


def test_surplus_connections_evict_idle_ones_not_requests(server: Any) -> None:
    before = metric(server, "evicted")
    idle = connect(server, 600)  # more than max_connections = 400
    try:
        predict_quickly(server)
        closed = closed_by_server(idle, time.monotonic() + 0.5)
        assert len(closed) >= 200  # the oldest ones made room (the rest time out later)
        assert metric(server, "evicted") - before >= 200
    finally:
        close_all(idle)


def test_requests_that_never_send_their_body_make_room(models: Path) -> None:
    head = (b"POST /v1/models/bdt:predict HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    with serve(models, max_connections=3) as server:
        stalled: list[socket.socket] = []
        try:
            for count in (1, 2, 3):  # one after the other, as the server sees them: which
                stalled += connect(server, 1, head)  # is oldest is the server's clock's call
                wait_for(server, "hepflow_serve_inflight_requests", count)
            predict_quickly(server)  # needs a connection: the oldest stalled one made room
            answers = closed_by_server(stalled, time.monotonic() + 2)
            assert [a for _, a in answers.values()] == [b"HTTP/1.1 408 Request Timeout\r\n"
                                                        b"content-length: 0\r\nconnection: "
                                                        b"close\r\n\r\n"], answers
            assert stalled[0] in answers
            assert metric(server, "evicted_body") >= 1
        finally:
            close_all(stalled)


def test_connections_all_answering_refuse_newcomers(models: Path) -> None:
    """Three whole requests held by the micro-batcher's 1 s delay: a fourth connection is 503."""
    with serve(models, max_connections=3, keep_alive_s=0.5,
               batching={"max_delay_ms": 1000}) as server:
        body = b'{"inputs": {"MET_pt": [1.0], "HT": [2.0], "Jet_pt": [[]], "Jet_eta": [[]]}}'
        whole = (b"POST /v1/models/bdt:predict HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 b"application/json\r\nContent-Length: " + str(len(body)).encode()
                 + b"\r\n\r\n" + body)
        answering = connect(server, 3, whole)
        try:
            wait_for(server, "hepflow_serve_inflight_requests", 3)
            [late] = connect(server, 1)
            answer = closed_by_server([late], time.monotonic() + 2)
            assert answer[late][1].startswith(b"HTTP/1.1 503 "), answer
            answers = closed_by_server(answering, time.monotonic() + 5)
            assert all(a.startswith(b"HTTP/1.1 200 ") for _, a in answers.values()), answers
            predict_quickly(server)
            assert metric(server, "refused") == 1
        finally:
            close_all(answering)


def test_idle_keep_alive_connections_are_closed(models: Path) -> None:
    with serve(models, keep_alive_s=0.5) as server:
        [sock] = connect(server, 1, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            start = time.monotonic()
            closed = closed_by_server([sock], start + 5)
            when, answer = closed[sock]
            assert answer.startswith(b"HTTP/1.1 200 ")
            assert 0.4 <= when - start < 3
        finally:
            sock.close()


@pytest.mark.parametrize(("soft", "hard", "allowed"), [(300, 4000, 1000), (300, 300, 172)])
def test_connection_cap_fits_the_open_file_limit(soft: int, hard: int, allowed: int) -> None:
    """Past the open-file limit `accept` fails before the guard could make room: stay under."""
    code = ("import resource\n"
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))\n"
            "from hepflow.serve.connections import fit_open_files\n"
            "print(fit_open_files(1000), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.split() == [str(allowed), str(max(soft, min(hard, 1128)))]
