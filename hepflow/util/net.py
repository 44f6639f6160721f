"""Network helpers for the services hepflow starts itself (test servers, TensorFlow, Dask)."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that was free a moment ago.

    Binding port 0 lets the kernel choose; the socket is closed again before
    the caller's server binds, so another process may win the race: servers
    started on it should notice "address already in use" and retry with a new
    port. `host=""` asks for a port free on every interface.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


__all__ = ["free_port"]
