"""A bare XRootD protocol probe (handshake, login, stat) that never touches XrdCl.

A failed XrdCl request blacklists the host:port inside the calling process, so the
server harness checks readiness with its own few bytes instead.
"""

from __future__ import annotations

import os
import socket
import struct

_KXR_OK = 0
_KXR_LOGIN = 3007
_KXR_STAT = 3017
_HANDSHAKE = struct.pack(">5i", 0, 0, 0, 4, 2012)  # "I am an xroot client"


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed by the server")
        data += chunk
    return data


def _response(sock: socket.socket) -> tuple[int, bytes]:
    _streamid, status, dlen = struct.unpack(">2sHi", _recv_exact(sock, 8))
    return status, _recv_exact(sock, dlen) if dlen > 0 else b""


def xrootd_stat(host: str, port: int, path: str = "/", timeout: float = 2.0) -> str | None:
    """``stat`` ``path`` with the bare XRootD protocol; None on success, else why not.

    Handshake, anonymous ``kXR_login``, ``kXR_stat``: enough to prove that
    the daemon is up, speaks xroot and can see its export, without touching
    XrdCl's per-process connection state.  Servers that demand
    authentication are reported as not ready.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_HANDSHAKE)
            status, _ = _response(sock)
            if status != _KXR_OK:
                return f"handshake answered with status {status}"
            username = b"hepflow\0"
            sock.sendall(
                struct.pack(
                    ">2sHi8sBBBBi", b"\0\1", _KXR_LOGIN, os.getpid(), username, 0, 0, 5, 0, 0
                )
            )
            status, body = _response(sock)
            if status != _KXR_OK:
                return f"login answered with status {status}"
            if len(body) > 16:
                return "the server requires authentication"
            encoded = path.encode()
            sock.sendall(
                struct.pack(">2sHB11s4si", b"\0\2", _KXR_STAT, 0, bytes(11), bytes(4), len(encoded))
                + encoded
            )
            status, body = _response(sock)
            if status != _KXR_OK:
                message = body[4:].rstrip(b"\0").decode(errors="replace")
                return f"stat {path} answered with status {status}: {message}"
            return None
    except (OSError, struct.error) as err:
        return f"{type(err).__name__}: {err}"
