"""Errors of the serving layer, each carrying the HTTP answer it becomes.

Every failure a client can cause is one of these and becomes a short JSON body
with a 4xx status; anything else is a bug, logged with its traceback on the
server and answered with a bare 500 (never a traceback: that would leak
server paths and code to whoever sent the request).
"""

from __future__ import annotations

from hepflow.errors import HepflowError


class ServeError(HepflowError):
    """An error answered to the client: `status`, a short `code` and the message."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class BadRequest(ServeError, ValueError):
    """The body cannot be read at all: not JSON, not Arrow, wrong top-level shape."""

    status = 400
    code = "bad_request"


class Unauthorized(ServeError):
    """No token, or a token that is not valid (signature, issuer, audience, time)."""

    status = 401
    code = "unauthorized"


class Forbidden(ServeError):
    """A valid token without the role the endpoint needs."""

    status = 403
    code = "forbidden"


class NotFound(ServeError, LookupError):
    """No model of that name is served."""

    status = 404
    code = "not_found"


class TooLarge(ServeError):
    """The body is over the byte limit, or the request over the row limit."""

    status = 413
    code = "too_large"


class UnsupportedMediaType(ServeError):
    """A content type this endpoint does not read."""

    status = 415
    code = "unsupported_media_type"


class InputError(ServeError, ValueError):
    """Readable but wrong input: unknown or missing feature, wrong type or shape, NaN."""

    status = 422
    code = "invalid_input"


class RateLimited(ServeError):
    """The client sent more requests than its rate allows; `Retry-After` says when to retry."""

    status = 429
    code = "rate_limited"


class Unavailable(ServeError):
    """The server is starting, stopping, or the request ran past its time limit."""

    status = 503
    code = "unavailable"


class ConfigError(HepflowError, ValueError):
    """A serve config file or option is malformed (raised before the server starts)."""


__all__ = ["BadRequest", "ConfigError", "Forbidden", "InputError", "NotFound", "RateLimited",
           "ServeError", "TooLarge", "Unauthorized", "Unavailable", "UnsupportedMediaType"]
