"""The Open Inference Protocol (KServe V2) over REST, beside hepflow's own V1 API.

So that the field's clients (``tritonclient.http``, coffea's Triton wrapper,
KServe's) call a hepflow bundle unchanged. Every route goes through the same
`Service.guard` as V1 (bearer token, rate limit, time limit, metrics), reads
its body under the same byte limit, and predicts through the same model's
micro-batcher, so V1 and V2 requests share model calls. Only the error
answers differ: V2's ``{"error": "..."}`` with the same status codes.

The tensors and their checks are `hepflow.serve.v2tensors`.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hepflow.serve.auth import PREDICT, Principal
from hepflow.serve.errors import NotFound, ServeError, Unavailable
from hepflow.serve.registry import ServedModel
from hepflow.serve.v2tensors import (
    HEADER_LENGTH,
    OUTPUT,
    input_metadata,
    read_request,
    response,
    to_batch,
)
from hepflow.version import __version__

if TYPE_CHECKING:
    from hepflow.serve.app import Service

JSON_TYPE = "application/json"
_PARSE_OFFLOAD_BYTES = 256 * 1024
#: The protocol extensions this server implements (the server metadata lists them).
EXTENSIONS = ("binary_tensor_data",)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data, separators=(",", ":")).encode(), status, headers,
                    media_type=JSON_TYPE)


def render_error(err: ServeError) -> Response:
    """V2's error answer: ``{"error": message}``, with the status and headers of `err`."""
    return _json({"error": err.message}, err.status, err.headers)


def output_shape(served: ServedModel) -> list[int]:
    """The score tensor's shape: ``[-1]``, or ``[-1, classes]`` for a multi-class model."""
    classes = len(served.bundle.classes)
    return [-1] if classes <= 2 else [-1, classes]


def model_metadata(served: ServedModel) -> dict[str, Any]:
    """V2 model metadata: the bundle's features as inputs, the score as output."""
    return {"name": served.name, "versions": [served.version],
            "platform": f"hepflow_{served.bundle.kind}",
            "inputs": input_metadata(served.bundle.features),
            "outputs": [{"name": OUTPUT, "datatype": "FP32", "shape": output_shape(served)}]}


class V2Handlers:
    """The V2 endpoints of one `Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def _model(self, request: Request) -> ServedModel:
        served = self.service._model(request)
        version = request.path_params.get("version")
        if version is not None and version != served.version:
            raise NotFound(f"model {served.name!r} has no version {version!r}; it serves "
                           f"{served.version!r}")
        return served

    async def live(self, request: Request, principal: Principal) -> Response:
        return _json({"live": True})

    async def ready(self, request: Request, principal: Principal) -> Response:
        service = self.service
        ready = service.ready and not service.stopping
        return _json({"ready": ready}, 200 if ready else 503)

    async def server_metadata(self, request: Request, principal: Principal) -> Response:
        return _json({"name": "hepflow", "version": __version__,
                      "extensions": list(EXTENSIONS)})

    async def metadata(self, request: Request, principal: Principal) -> Response:
        return _json(model_metadata(self._model(request)))

    async def model_ready(self, request: Request, principal: Principal) -> Response:
        served = self._model(request)
        if self.service.stopping:
            raise Unavailable("the server is stopping")
        return _json({"name": served.name, "ready": True})

    async def infer(self, request: Request, principal: Principal) -> Response:
        from hepflow.serve.app import read_body

        served = self._model(request)
        body = await read_body(request, self.service.config.limits.max_body_bytes)
        header = request.headers.get(HEADER_LENGTH)
        if len(body) > _PARSE_OFFLOAD_BYTES:
            loop = asyncio.get_running_loop()
            head, batch = await loop.run_in_executor(self.service.parser, _parse, body,
                                                     header, served)
        else:
            head, batch = _parse(body, header, served)
        if batch.rows:
            scores = await served.batcher.predict(batch)
        else:
            scores = np.zeros((0, *output_shape(served)[1:]), np.float32)
        content, length = response(head, served.name, served.version, scores)
        if length is None:
            return Response(content, media_type=JSON_TYPE)
        return Response(content, media_type="application/octet-stream",
                        headers={"Inference-Header-Content-Length": str(length)})


def _parse(body: bytes, header: str | None, served: ServedModel) -> tuple[dict[str, Any], Any]:
    head, tensors = read_request(body, header, served.spec)
    return head, to_batch(tensors, served.spec, served.bundle.features)


def v2_routes(service: Service) -> list[Route]:
    """The V2 routes, each behind the service's guard with V2 error answers."""
    h = V2Handlers(service)

    def g(endpoint: str, role: str | None, handler: Any) -> Any:
        return service.guard("v2_" + endpoint, role, handler, render=render_error)

    metadata = g("metadata", PREDICT, h.metadata)
    ready = g("model_ready", PREDICT, h.model_ready)
    infer = g("infer", PREDICT, h.infer)
    return [
        Route("/v2/health/live", g("live", None, h.live), methods=["GET"]),
        Route("/v2/health/ready", g("ready", None, h.ready), methods=["GET"]),
        Route("/v2", g("server_metadata", PREDICT, h.server_metadata), methods=["GET"]),
        Route("/v2/models/{name}", metadata, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}", metadata, methods=["GET"]),
        Route("/v2/models/{name}/ready", ready, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}/ready", ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
    ]


__all__ = ["EXTENSIONS", "V2Handlers", "model_metadata", "output_shape", "render_error",
           "v2_routes"]
