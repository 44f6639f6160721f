"""The ASGI application: routes, the per-request guard (auth, rate limit, timeout), handlers.

Built on Starlette rather than FastAPI because the request bodies are not one
typed model (their columns depend on the served model, and two of the three
formats are binary): validation lives in `hepflow.serve.inputs`, and the
OpenAPI description is written out in `hepflow.serve.openapi`. No middleware
sits on the predict path: every endpoint goes through one `_guard` that
authenticates, rate-limits, applies the time limit, turns `ServeError`s into
short JSON answers and anything unexpected into a bare 500 (logged with its
traceback here, never sent), and records the metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from hepflow.serve import openapi
from hepflow.serve.auth import ADMIN, ANONYMOUS, PREDICT, Authenticator, Principal
from hepflow.serve.config import ServeConfig
from hepflow.serve.errors import (
    BadRequest,
    ConfigError,
    NotFound,
    RateLimited,
    ServeError,
    TooLarge,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
)
from hepflow.serve.inputs import encode as encode_predictions
from hepflow.serve.inputs import parse, wanted_format
from hepflow.serve.jobroutes import job_routes
from hepflow.serve.jobs import JobManager
from hepflow.serve.metrics import ServeMetrics
from hepflow.serve.ratelimit import RateLimiter
from hepflow.serve.registry import ModelRegistry, ServedModel
from hepflow.serve.v2 import v2_routes

log = logging.getLogger("hepflow.serve")

JSON_TYPE = "application/json"
_ARCHIVE_TYPES = ("application/x-tar", "application/gzip", "application/x-gzip",
                  "application/zip", "application/x-zip-compressed", "application/octet-stream",
                  "application/x-bzip2", "application/x-xz")
_PARSE_OFFLOAD_BYTES = 256 * 1024
_SPOOL_BYTES = 16 * 2**20
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

Handler = Callable[[Request, Principal], Awaitable[Response]]
_timeout: Any = getattr(asyncio, "timeout", None)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data, separators=(",", ":")).encode(), status, headers,
                    media_type=JSON_TYPE)


def _error(err: ServeError) -> Response:
    return _json({"error": err.code, "message": err.message}, err.status, err.headers)


class Service:
    """The state behind one app: config, models, token check, limits, metrics, threads."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.metrics = ServeMetrics()
        self.executor = ThreadPoolExecutor(config.batching.threads,
                                           thread_name_prefix="hepflow-serve-model")
        self.parser = ThreadPoolExecutor(1, thread_name_prefix="hepflow-serve-parse")
        self.registry = ModelRegistry(config, self.metrics, self.executor)
        self.auth: Authenticator | None = None
        if not config.insecure_no_auth:
            if config.auth is None:  # ServeConfig refuses this already; keep mypy honest
                raise ConfigError("no auth configured and --insecure-no-auth not given")
            self.auth = Authenticator(config.auth)
            self.auth.on_failure = lambda reason: self.metrics.auth_failures.labels(
                reason).inc()
        limits = config.limits
        self.limiter = RateLimiter(limits.rate_limit_per_s, limits.rate_limit_burst)
        self.jobs = JobManager(config.jobs) if config.jobs.enabled else None
        self.ready = False
        self.stopping = False
        self._loading: asyncio.Task[None] | None = None
        self._openapi = json.dumps(openapi.spec(secured=self.auth is not None,
                                                jobs=self.jobs is not None)).encode()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin loading models in the background, so /healthz answers during a long load."""
        if self.auth is None:
            log.warning("AUTH IS OFF (--insecure-no-auth): anyone who can reach this server "
                        "can predict, upload and delete models")
        loop = asyncio.get_running_loop()
        if self.jobs is not None:
            self.jobs.start()

        async def load() -> None:
            try:
                if self.auth is not None:
                    await self.auth.start()
                await loop.run_in_executor(self.parser, self.registry.scan)
                # Everything loaded so far (libraries, models) lives as long as the
                # server: keep it out of the cyclic GC's full collections, which would
                # otherwise walk it and pause every request for tens of milliseconds.
                gc.collect()
                gc.freeze()
                self.ready = True
            except Exception:
                log.exception("loading the models failed")
                raise

        self._loading = loop.create_task(load())

    async def wait_ready(self) -> None:
        if self._loading is not None:
            await self._loading

    async def stop(self) -> None:
        self.stopping = True
        self.ready = False
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        if self.jobs is not None:
            await self.jobs.close()
        if self.auth is not None:
            await self.auth.close()
        self.registry.close()
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.parser.shutdown(wait=False, cancel_futures=True)

    # -- the guard every endpoint goes through ---------------------------------------------

    def _limit(self, key: str) -> None:
        wait = self.limiter.check(key)
        if wait:
            self.metrics.rate_limited.inc()
            raise RateLimited("too many requests from this client; retry later",
                              headers={"Retry-After": RateLimiter.retry_after(wait)})

    async def _principal(self, request: Request, role: str) -> Principal:
        peer = request.client.host if request.client else "?"
        return await self.principal(request.headers.get("authorization"), peer, role)

    async def principal(self, authorization: str | None, peer: str, role: str) -> Principal:
        """Who sent this ``Authorization`` header from `peer`, rate-limited, holding `role`.

        One check for every protocol (V1 and V2 over HTTP, V2 over gRPC).
        """
        if self.auth is None:
            if self.limiter.enabled:
                self._limit("ip:" + peer)
            return ANONYMOUS
        try:
            principal = await self.auth.authenticate(authorization)
        except Unauthorized:
            if self.limiter.enabled:
                self._limit("ip:" + peer)
            raise
        if self.limiter.enabled:
            self._limit("sub:" + principal.subject)
        self.auth.authorize(principal, role)
        return principal

    def guard(self, endpoint: str, role: str | None, handler: Handler, *,
              timeout: float | None = None,
              render: Callable[[ServeError], Response] | None = None,
              ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler with auth, rate limit, time limit, error answers and metrics.

        `render` writes the error answers (V1's ``{"error": code, "message": ...}``
        unless given: the V2 protocol has its own).
        """
        error = render or _error
        timeout = timeout or self.config.limits.request_timeout_s
        metrics = self.metrics
        models = self.registry.models

        async def endpoint_app(request: Request) -> Response:
            start = time.perf_counter()
            metrics.inflight.inc()
            try:
                principal = await self._principal(request, role) if role else ANONYMOUS
                if _timeout is not None:  # Python >= 3.11: no extra task per request
                    async with _timeout(timeout):
                        response = await handler(request, principal)
                else:
                    response = await asyncio.wait_for(handler(request, principal), timeout)
            except ServeError as err:
                response = error(err)
            except ClientDisconnect:  # gone mid-body: nobody to answer, nothing to log
                response = error(BadRequest("the client disconnected before sending the "
                                             "whole request"))
            except asyncio.TimeoutError:
                response = error(Unavailable(
                    f"the request took longer than the server's {timeout:g} s limit",
                    headers={"Retry-After": "1"}))
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                response = error(ServeError("internal error; the server log has the details"))
            finally:
                metrics.inflight.dec()
            if response.status_code >= 400 and request.method in _BODY_METHODS:
                # Refused perhaps before (all of) the body was read: what is left of it is
                # still on the connection and must not be read as the next request (it
                # was answered 431), so this connection ends with the answer.
                response.headers["Connection"] = "close"
            name = request.path_params.get("name", "")
            metrics.request(name if name in models else "", endpoint, response.status_code,
                            time.perf_counter() - start)
            return response

        return endpoint_app

    # -- handlers --------------------------------------------------------------------------

    def _model(self, request: Request) -> ServedModel:
        return self.model(request.path_params["name"])

    def model(self, name: str) -> ServedModel:
        """The served model `name`: 404 if there is none, 503 while models still load."""
        served = self.registry.get(name)
        if served is None:
            if not self.ready:
                raise Unavailable("the server is still loading its models",
                                  headers={"Retry-After": "1"})
            raise NotFound(f"no model {name!r} is served; GET /v1/models lists them")
        return served

    async def predict(self, request: Request, principal: Principal) -> Response:
        served = self._model(request)
        body = await read_body(request, self.config.limits.max_body_bytes)
        content_type = request.headers.get("content-type", "")
        if len(body) > _PARSE_OFFLOAD_BYTES:
            loop = asyncio.get_running_loop()
            batch = await loop.run_in_executor(self.parser, parse, body, content_type,
                                               served.spec)
        else:
            batch = parse(body, content_type, served.spec)
        if batch.rows:
            predictions = await served.batcher.predict(batch)
        else:
            predictions = np.zeros(0, np.float32)
        fmt = wanted_format(request.headers.get("accept"))
        return Response(encode_predictions(predictions, fmt, served.name, served.version),
                        media_type=fmt)

    async def list_models(self, request: Request, principal: Principal) -> Response:
        return _json({"models": [m.summary() for m in self.registry.models.values()]})

    async def get_model(self, request: Request, principal: Principal) -> Response:
        return _json(self._model(request).describe())

    async def put_model(self, request: Request, principal: Principal) -> Response:
        if not self.ready:
            raise Unavailable("the server is still loading its models",
                              headers={"Retry-After": "1"})
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind and kind not in _ARCHIVE_TYPES:
            raise UnsupportedMediaType(f"upload a tar, tar.gz or zip archive of the bundle "
                                       f"folder, not {kind!r}")
        limit = self.config.limits.max_upload_bytes
        length = _content_length(request)
        if length is not None and length > limit:
            raise TooLarge(f"the archive is {length} bytes; the limit is {limit}")
        spool = tempfile.SpooledTemporaryFile(_SPOOL_BYTES)
        try:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the archive is over the {limit}-byte limit")
                spool.write(chunk)
            if not size:
                raise BadRequest("the upload is empty")
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        # Shielded: once unpacked and checked, a swap completes even if the client gives
        # up, so the folder and the registry never disagree; the spool closes after it.
        task = asyncio.ensure_future(self.registry.put(request.path_params["name"], spool))
        task.add_done_callback(_close_after(spool))
        try:
            served, created = await asyncio.shield(task)
        except ServeError:
            self.metrics.model_updates.labels("put", "refused").inc()
            raise
        self.metrics.model_updates.labels("put", "created" if created else "replaced").inc()
        log.info("%s uploaded model %s", principal.subject, served.name)
        return _json(served.describe(), 201 if created else 200)

    async def delete_model(self, request: Request, principal: Principal) -> Response:
        if not self.ready:
            raise Unavailable("the server is still loading its models",
                              headers={"Retry-After": "1"})
        name = request.path_params["name"]
        if not await self.registry.delete(name):
            raise NotFound(f"no model {name!r} is served")
        self.metrics.model_updates.labels("delete", "deleted").inc()
        log.info("%s deleted model %s", principal.subject, name)
        return Response(status_code=204)

    async def healthz(self, request: Request, principal: Principal) -> Response:
        return _json({"status": "ok"})

    async def readyz(self, request: Request, principal: Principal) -> Response:
        if self.ready and not self.stopping:
            # Names only: /readyz is public, and load errors can name server paths.
            return _json({"status": "ready", "models": sorted(self.registry.models),
                          "failed": sorted(self.registry.failures)})
        return _json({"status": "stopping" if self.stopping else "loading"}, 503)

    async def metrics_page(self, request: Request, principal: Principal) -> Response:
        return Response(self.metrics.render(), media_type=self.metrics.content_type)

    async def openapi_page(self, request: Request, principal: Principal) -> Response:
        return Response(self._openapi, media_type=JSON_TYPE)


def _close_after(spool: Any) -> Callable[[asyncio.Future[Any]], None]:
    def done(task: asyncio.Future[Any]) -> None:
        spool.close()
        if not task.cancelled():
            task.exception()  # retrieved here, so a refusal after a timeout is not re-logged

    return done


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        raise BadRequest("Content-Length is not a number") from None
    if length < 0:
        raise BadRequest("Content-Length is negative")
    return length


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it is known to be over `limit` bytes."""
    length = _content_length(request)
    if length is not None and length > limit:
        raise TooLarge(f"the body is {length} bytes; the limit is {limit} (send large inputs "
                       "in batches; the Python client does)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(config: ServeConfig) -> Starlette:
    """The ASGI app serving every bundle in ``config.models``.

    The `Service` behind it is ``app.state.service``; models load in the
    background once the app starts (``/readyz`` says when they are there).
    """
    service = Service(config)
    grpc_server: Any = None
    if config.grpc_port is not None:
        from hepflow.serve.grpc_v2 import GrpcServer, generated_classes

        generated_classes()  # no tritonclient: refused here, before the server starts
        grpc_server = GrpcServer(service)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            if grpc_server is not None:
                await grpc_server.start()
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop()
            await service.stop()

    g = service.guard

    async def model_endpoint(request: Request) -> Response:
        handler = {"GET": get_model, "HEAD": get_model, "PUT": put_model,
                   "DELETE": delete_model}[request.method]
        return await handler(request)

    get_model = g("get", PREDICT, service.get_model)
    put_model = g("put", ADMIN, service.put_model, timeout=config.limits.upload_timeout_s)
    delete_model = g("delete", ADMIN, service.delete_model)
    routes = [
        Route("/v1/models/{name}:predict", g("predict", PREDICT, service.predict),
              methods=["POST"]),
        Route("/v1/models/{name}", model_endpoint, methods=["GET", "PUT", "DELETE"]),
        Route("/v1/models", g("list", PREDICT, service.list_models), methods=["GET"]),
        Route("/healthz", g("healthz", None, service.healthz), methods=["GET"]),
        Route("/readyz", g("readyz", None, service.readyz), methods=["GET"]),
        Route("/metrics", g("metrics", None, service.metrics_page), methods=["GET"]),
        Route("/openapi.json", g("openapi", None, service.openapi_page), methods=["GET"]),
        *v2_routes(service),
        *(job_routes(service, service.jobs) if service.jobs is not None else []),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        text = exc.detail if isinstance(exc, HTTPException) else "internal error"
        if request.method in _BODY_METHODS:  # the body was not read: see `Service.guard`
            headers["Connection"] = "close"
        return _json({"error": "http_error", "message": str(text)}, status, headers)

    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error})
    app.state.service = service
    app.state.grpc = grpc_server
    return app


__all__ = ["Service", "create_app", "read_body"]
