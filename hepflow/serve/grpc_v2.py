"""The Open Inference Protocol (KServe V2) over gRPC: ``inference.GRPCInferenceService``.

Served by grpcio's asyncio server on the same event loop as the HTTP app, so
that gRPC and HTTP requests share each model's micro-batcher. The message and
service classes are the ones generated from KServe's ``grpc_predict_v2.proto``
that `tritonclient` ships (``tritonclient.grpc.service_pb2``): the same
definitions Triton's clients are built from, with no code generation here.

Every call goes through the same checks as over HTTP: the bearer token from
the ``authorization`` metadata (`Service.principal`: auth, rate limit, role),
the body limit (grpcio's receive limit is the server's body limit), the same
tensor checks (`hepflow.serve.v2tensors`) and the request time limit. Errors
are gRPC status codes with the same messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from hepflow.serve.auth import PREDICT
from hepflow.serve.errors import BadRequest, ConfigError, ServeError, Unavailable
from hepflow.serve.registry import ServedModel
from hepflow.serve.v2 import EXTENSIONS, model_metadata, output_shape
from hepflow.serve.v2tensors import OUTPUT, Tensor, declared, json_values, to_batch
from hepflow.version import __version__

if TYPE_CHECKING:
    from hepflow.serve.app import Service

log = logging.getLogger("hepflow.serve.grpc")
_timeout: Any = getattr(asyncio, "timeout", None)

#: V2 datatype -> the InferTensorContents field that carries it (FP16 goes raw only).
_CONTENTS = {"INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
             "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
             "UINT32": "uint_contents", "UINT64": "uint64_contents",
             "FP32": "fp32_contents", "FP64": "fp64_contents"}


def generated_classes() -> tuple[Any, Any]:
    """(service_pb2, service_pb2_grpc) from tritonclient, or a clear error."""
    try:
        from tritonclient.grpc import service_pb2, service_pb2_grpc
    except (ImportError, RuntimeError) as err:
        raise ConfigError("the V2 gRPC service needs tritonclient (its generated KServe V2 "
                          "classes) and grpcio: pip install 'hepflow[serve,triton]' and "
                          "tritonclient==2.73.0") from err
    return service_pb2, service_pb2_grpc


def _status(err: ServeError) -> Any:
    import grpc

    return {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
            403: grpc.StatusCode.PERMISSION_DENIED, 404: grpc.StatusCode.NOT_FOUND,
            413: grpc.StatusCode.RESOURCE_EXHAUSTED, 415: grpc.StatusCode.INVALID_ARGUMENT,
            422: grpc.StatusCode.INVALID_ARGUMENT, 429: grpc.StatusCode.RESOURCE_EXHAUSTED,
            503: grpc.StatusCode.UNAVAILABLE}.get(err.status, grpc.StatusCode.INTERNAL)


def read_tensors(request: Any, served: ServedModel) -> list[Tensor]:
    """The checked tensors of a ``ModelInferRequest`` (raw contents or typed contents)."""
    spec = served.spec
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise BadRequest(f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs; "
                         "give raw contents for every input or for none")
    tensors: list[Tensor] = []
    for i, item in enumerate(request.inputs):
        name = item.name
        shape, dtype, count, size = declared(name, item.datatype, list(item.shape), spec)
        if raw:
            if len(raw[i]) != size:
                raise BadRequest(f"input `{name}`: shape {list(shape)} of {item.datatype} is "
                                 f"{size} bytes, but its raw contents are {len(raw[i])}")
            values = np.frombuffer(raw[i], dtype=dtype, count=count)
        else:
            field = _CONTENTS.get(item.datatype)
            if field is None:
                raise BadRequest(f"input `{name}`: send {item.datatype} as raw contents")
            values = json_values(list(getattr(item.contents, field)), name, item.datatype,
                                 count)
        tensors.append(Tensor(name, item.datatype, values.reshape(shape)))
    return tensors


class InferenceServicer:
    """The V2 gRPC methods hepflow implements (the others answer UNIMPLEMENTED).

    The method names are the proto's (CamelCase): grpcio dispatches by them.
    """

    def __init__(self, service: Service, pb: Any) -> None:
        self.service = service
        self.pb = pb

    async def _call(self, name: str, context: Any, role: str | None,
                    work: Callable[[], Awaitable[Any]], model: str = "") -> Any:
        """Auth, time limit, metrics and error statuses around one call: gRPC's guard."""
        service = self.service
        start = time.perf_counter()
        code = 200
        timeout = service.config.limits.request_timeout_s
        try:
            if role is not None:
                metadata = dict(context.invocation_metadata() or ())
                peer = str(context.peer() or "?").rsplit(":", 1)[0]  # ipv4:host:port
                await service.principal(metadata.get("authorization"), peer, role)
            if _timeout is not None:  # Python >= 3.11: no extra task per call
                async with _timeout(timeout):
                    return await work()
            return await asyncio.wait_for(work(), timeout)
        except ServeError as err:
            code = err.status
            await context.abort(_status(err), err.message)
        except asyncio.TimeoutError:
            code = 503
            await context.abort(_status(Unavailable("")), f"the request took longer than the "
                                f"server's {timeout:g} s limit")
        except Exception:
            code = 500
            log.exception("gRPC %s failed", name)
            await context.abort(_status(ServeError("")), "internal error; the server log "
                                "has the details")
        finally:
            service.metrics.request(model if model in service.registry.models else "",
                                    "grpc_" + name, code, time.perf_counter() - start)

    async def ServerLive(self, request: Any, context: Any) -> Any:
        async def work() -> Any:
            return self.pb.ServerLiveResponse(live=True)

        return await self._call("live", context, None, work)

    async def ServerReady(self, request: Any, context: Any) -> Any:
        async def work() -> Any:
            return self.pb.ServerReadyResponse(
                ready=self.service.ready and not self.service.stopping)

        return await self._call("ready", context, None, work)

    async def ServerMetadata(self, request: Any, context: Any) -> Any:
        async def work() -> Any:
            return self.pb.ServerMetadataResponse(name="hepflow", version=__version__,
                                                  extensions=list(EXTENSIONS))

        return await self._call("server_metadata", context, PREDICT, work)

    def _served(self, name: str, version: str) -> ServedModel:
        from hepflow.serve.errors import NotFound

        served = self.service.model(name)
        if version and version != served.version:
            raise NotFound(f"model {name!r} has no version {version!r}; it serves "
                           f"{served.version!r}")
        return served

    async def ModelReady(self, request: Any, context: Any) -> Any:
        async def work() -> Any:
            self._served(request.name, request.version)
            return self.pb.ModelReadyResponse(ready=not self.service.stopping)

        return await self._call("model_ready", context, PREDICT, work, request.name)

    async def ModelMetadata(self, request: Any, context: Any) -> Any:
        async def work() -> Any:
            meta = model_metadata(self._served(request.name, request.version))
            tensor = self.pb.ModelMetadataResponse.TensorMetadata
            return self.pb.ModelMetadataResponse(
                name=meta["name"], versions=meta["versions"], platform=meta["platform"],
                inputs=[tensor(**t) for t in meta["inputs"]],
                outputs=[tensor(**t) for t in meta["outputs"]])

        return await self._call("metadata", context, PREDICT, work, request.name)

    async def ModelInfer(self, request: Any, context: Any) -> Any:
        async def work() -> Any:
            served = self._served(request.model_name, request.model_version)
            for output in request.outputs:
                if output.name != OUTPUT:
                    raise BadRequest(f"unknown output {output.name!r}; this model answers "
                                     f"{OUTPUT!r}")
            batch = to_batch(read_tensors(request, served), served.spec,
                             served.bundle.features)
            if batch.rows:
                scores = await served.batcher.predict(batch)
            else:
                scores = np.zeros((0, *output_shape(served)[1:]), np.float32)
            scores = np.ascontiguousarray(scores, dtype="<f4")
            out = self.pb.ModelInferResponse.InferOutputTensor(
                name=OUTPUT, datatype="FP32", shape=list(scores.shape))
            return self.pb.ModelInferResponse(
                model_name=served.name, model_version=served.version, id=request.id,
                outputs=[out], raw_output_contents=[scores.tobytes()])

        return await self._call("infer", context, PREDICT, work, request.model_name)


class GrpcServer:
    """The V2 gRPC service of one `Service`, on ``config.host:config.grpc_port``."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.server: Any = None
        self.port: int | None = None

    async def start(self) -> None:
        import grpc

        pb, pb_grpc = generated_classes()
        config = self.service.config
        limit = config.limits.max_body_bytes
        self.server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", max(limit, 64 * 2**20)),
            ("grpc.so_reuseport", 0)])
        servicer = type("Servicer", (InferenceServicer, pb_grpc.GRPCInferenceServiceServicer),
                        {})(self.service, pb)
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, self.server)
        address = f"{config.host}:{config.grpc_port}"
        self.port = self.server.add_insecure_port(address)
        if not self.port:
            raise ConfigError(f"cannot bind the gRPC port {address}")
        await self.server.start()
        log.info("V2 gRPC service on %s:%d", config.host, self.port)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=1.0)


__all__ = ["GrpcServer", "InferenceServicer", "generated_classes", "read_tensors"]
