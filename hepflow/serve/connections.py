"""Connections that cannot hold the server: a deadline for request headers, a cap on their number.

Why this sits in uvicorn's HTTP protocol and not in the app: uvicorn 0.54
reads headers without any time limit (its keep-alive timer only starts once a
response is sent), so a client that opens connections and sends nothing, or
trickles header bytes, holds them for ever, and the app never sees them. And
uvicorn's own `limit_concurrency` counts those idle connections: once they
reach the limit, every real request gets a 503, so the cap alone would hand
the attack its goal. Here, per server (one `ConnectionGuard`):

* a request's headers must be complete within `header_timeout_s` of the
  connection opening (or of the request's first byte on a kept-alive
  connection), and within `max_header_bytes`; otherwise the connection is
  closed (408 or 431 first where bytes had arrived);
* at `max_connections` open connections a new one closes the connection that
  has waited longest *without a request in progress* (still waiting for
  headers, or idle between requests); failing that, the one whose request has
  waited longest for the rest of its body (408). So neither idle connections
  nor requests that never finish sending can crowd out real requests; only
  when every connection holds a whole request still being answered is the new
  one refused (503).

The guard wraps whichever of uvicorn's HTTP/1.1 protocols is used (httptools
or h11): both set ``cycle`` when a request's headers are complete and call
``on_response_complete`` when its answer is sent, which is all it relies on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from hepflow.serve.errors import ConfigError

if TYPE_CHECKING:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Protocol
else:
    _Protocol = object


def _answer(status: str) -> bytes:
    return (f"HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").encode()


_TIMEOUT = _answer("408 Request Timeout")
_HEADERS_TOO_LARGE = _answer("431 Request Header Fields Too Large")
_BUSY = _answer("503 Service Unavailable")


@dataclass(slots=True)
class ConnectionGuard:
    """The limits, and the open connections of one server (oldest idle one first)."""

    header_timeout_s: float
    max_header_bytes: int
    max_connections: int
    on_close: Callable[[str], None] | None = None
    open: set[Any] = field(default_factory=set)
    idle: dict[Any, None] = field(default_factory=dict)

    def closed(self, reason: str) -> None:
        if self.on_close is not None:
            self.on_close(reason)

    def make_room(self) -> bool:
        """Close the longest-idle connection, else the longest wait for a body.

        False when every connection holds a whole request still being answered.
        """
        if self.idle:
            next(iter(self.idle)).close_by_guard(None, "evicted")
            return True
        receiving = [c for c in self.open if c.receiving_body()]
        if not receiving:
            return False
        victim = min(receiving, key=lambda c: c.request_started)
        victim.close_by_guard(_TIMEOUT, "evicted_body")
        return True


class _Guarded(_Protocol):
    """The header deadline and connection cap, mixed into a uvicorn HTTP protocol class."""

    guard: ClassVar[ConnectionGuard]
    _header_timer: asyncio.TimerHandle | None
    _header_bytes: int
    request_started: float

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        guard = self.guard
        self._header_timer = None
        self._header_bytes = 0
        self.request_started = 0.0
        if len(guard.open) >= guard.max_connections and not guard.make_room():
            guard.closed("refused")
            transport.write(_BUSY)
            transport.close()
            return
        guard.open.add(self)
        guard.idle[self] = None
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        waiting = self._waiting()
        if waiting:
            if self._header_timer is None:
                self._arm()
            self._header_bytes += len(data)
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # a request's headers are complete: it runs now
            self._disarm()
            self._header_bytes = 0
            self.request_started = self.loop.time()
            self.guard.idle.pop(self, None)
        elif waiting and self._header_bytes > self.guard.max_header_bytes:
            self.close_by_guard(_HEADERS_TOO_LARGE, "header_too_large")

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self in self.guard.open and self._waiting():
            self.guard.idle.pop(self, None)
            self.guard.idle[self] = None  # idle from now: the last in line to be evicted

    # -- helpers ------------------------------------------------------------------------

    def _waiting(self) -> bool:
        """No request in progress: waiting for (the rest of) the next request's headers."""
        return self.cycle is None or bool(self.cycle.response_complete)

    def receiving_body(self) -> bool:
        """A request is in progress and its body has not all arrived yet."""
        return not self._waiting() and bool(self.cycle.more_body)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.guard.header_timeout_s,
                                                  self._header_timeout)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self._waiting():
            self.close_by_guard(_TIMEOUT if self._header_bytes else None, "header_timeout")

    def _forget(self) -> None:
        self._disarm()
        self.guard.open.discard(self)
        self.guard.idle.pop(self, None)

    def close_by_guard(self, answer: bytes | None, reason: str) -> None:
        """Close this connection now (with a short answer if given) and count why."""
        self._forget()
        self.guard.closed(reason)
        if not self.transport.is_closing():
            if answer is not None:
                self.transport.write(answer)
            self.transport.close()


def guarded_protocol(http: str, guard: ConnectionGuard) -> type[asyncio.Protocol]:
    """uvicorn's `http` ("httptools" or "h11") protocol class with `guard` applied."""
    base: type[asyncio.Protocol]
    if http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol
    elif http == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    else:
        raise ConfigError(f"no connection guard for the {http!r} HTTP protocol")
    guarded: type[asyncio.Protocol] = type(f"Guarded{base.__name__}", (_Guarded, base),
                                           {"guard": guard})
    return guarded


def fit_open_files(connections: int, spare: int = 128) -> int:
    """How many connections the process's open-file limit allows, raising it if it can.

    Each connection is a file descriptor. Past the limit `accept` fails, and
    the guard never sees the connection it would have made room for, so the
    cap must stay under the limit.
    """
    try:
        import resource
    except ImportError:  # not on Unix: no limit to fit
        return connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + spare
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return connections
    return max(1, min(connections, soft - spare))


__all__ = ["ConnectionGuard", "fit_open_files", "guarded_protocol"]
