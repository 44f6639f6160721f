"""The jobs endpoints (``hepflow serve --jobs``), behind the same guard as every other route.

    POST   /v1/jobs                     submit: multipart (analysis or training, dataset,
                                        options) or the same fields as one JSON object
    GET    /v1/jobs                     the caller's jobs, what each keeps on the server and
                                        the caller's storage quota
    GET    /v1/jobs/{id}                state, progress (chunks done of total), run_info
    GET    /v1/jobs/{id}/logs           the job's output (its last ``max_log_bytes``)
    GET    /v1/jobs/{id}/results        what can be downloaded
    GET    /v1/jobs/{id}/results/{name} a histogram as ROOT (``?format=json``: JSON), or a
                                        model bundle as the tar.gz `PUT /v1/models/{name}` takes
    DELETE /v1/jobs/{id}                cancel a queued or running job; remove an ended one
                                        with its outputs (frees the owner's storage quota)

Every route needs the ``submit`` role (scope ``hepflow:submit`` by default)
and sees only the caller's own jobs. DELETE never removes a running job's
files in one go: the first DELETE cancels it, and a cancelled job's partial
outputs stay (for its logs) until a second DELETE removes them.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from hepflow.serve.auth import SUBMIT, Principal
from hepflow.serve.errors import BadRequest, NotFound, UnsupportedMediaType
from hepflow.serve.jobs import ACTIVE, JobManager
from hepflow.serve.jobspec import (
    JobRequest,
    analysis_text,
    job_options,
    read_dataset,
    training_spec,
)

if TYPE_CHECKING:
    from hepflow.serve.app import Service

JSON_TYPE = "application/json"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_FIELDS = ("analysis", "training", "dataset", "options")


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":")).encode(), status,
                    media_type=JSON_TYPE)


async def _form(request: Request, body: bytes) -> dict[str, tuple[bytes | str, str]]:
    """The multipart fields (value, filename), parsed from the already bounded body."""
    sent = False

    async def replay() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    bounded = Request(request.scope, replay)
    try:
        form = await bounded.form(max_files=4, max_fields=4, max_part_size=len(body) + 1)
    except (MultiPartException, HTTPException, ValueError) as err:  # a malformed body
        raise BadRequest(f"cannot read the multipart body: {err}") from None
    out: dict[str, tuple[bytes | str, str]] = {}
    try:
        for key, value in form.multi_items():
            if key not in _FIELDS:
                raise BadRequest(f"unknown form field {key!r}; send {', '.join(_FIELDS)}")
            if isinstance(value, UploadFile):
                out[key] = (await value.read(), value.filename or "")
            else:
                out[key] = (value, "")
    finally:
        await form.close()
    return out


def _json_fields(body: bytes) -> dict[str, tuple[Any, str]]:
    try:
        data = json.loads(body)
    except ValueError as err:
        raise BadRequest(f"the body is not JSON: {err}") from None
    if not isinstance(data, Mapping):
        raise BadRequest("the body must be a JSON object with analysis, dataset, options")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; send "
                         f"{', '.join(_FIELDS)}")
    return {k: (v, "") for k, v in data.items()}


def _spec_value(field: tuple[Any, str], what: str) -> tuple[Any, str]:
    value, filename = field
    if not isinstance(value, (str, bytes, Mapping)):
        raise BadRequest(f"{what} must be the spec's text or a JSON object")
    return value, filename


class JobHandlers:
    """The handlers; each takes the request and the authenticated principal."""

    def __init__(self, service: Service, manager: JobManager) -> None:
        self.service = service
        self.manager = manager
        cfg = manager.config
        self.body_limit = cfg.max_analysis_bytes + cfg.max_dataset_bytes + 64 * 1024

    async def submit(self, request: Request, principal: Principal) -> Response:
        from hepflow.serve.app import read_body

        self.manager.check_quota(principal.subject)  # before reading a large body
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        body = await read_body(request, self.body_limit)
        if kind == "multipart/form-data":
            fields: Mapping[str, tuple[Any, str]] = await _form(request, body)
        elif kind in ("application/json", ""):
            fields = _json_fields(body)
        else:
            raise UnsupportedMediaType(f"send multipart/form-data (curl -F) or JSON, not "
                                       f"{kind!r}")
        if ("analysis" in fields) == ("training" in fields):
            raise BadRequest("send an analysis file (`analysis`) or a training spec "
                             "(`training`), one of them")
        if "dataset" not in fields:
            raise BadRequest("missing the dataset spec (`dataset`)")
        config = self.manager.config
        analysis = analysis_text(fields["analysis"][0], config) if "analysis" in fields \
            else None
        options = job_options(fields.get("options", (None, ""))[0])
        job_id, folder = self.manager.new_folder()
        loop = asyncio.get_running_loop()
        try:
            training = None
            if "training" in fields:
                text, filename = _spec_value(fields["training"], "training")
                training = training_spec(text, filename, folder, config)
            value, filename = _spec_value(fields["dataset"], "dataset")
            dataset = await loop.run_in_executor(self.service.parser, read_dataset, value,
                                                 filename, folder, config)
            job = self.manager.submit(principal.subject, job_id, folder, JobRequest(
                analysis, training, dataset, options.get("name", "")))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return _json(job.describe(), 201)

    async def list_jobs(self, request: Request, principal: Principal) -> Response:
        jobs = self.manager.of(principal.subject)
        return _json({"jobs": [{"id": j.id, "name": j.name, "state": j.state,
                                "created": j.created, "kept_bytes": j.kept_bytes}
                               for j in jobs],
                      "kept_bytes": self.manager.kept_bytes(principal.subject),
                      "quota_bytes": self.manager.config.max_user_output_bytes})

    async def get_job(self, request: Request, principal: Principal) -> Response:
        return _json(self._job(request, principal).describe())

    async def cancel(self, request: Request, principal: Principal) -> Response:
        """Cancel a queued or running job; remove an ended one, and everything it kept."""
        job = self._job(request, principal)
        if job.state in ACTIVE:
            await self.manager.cancel(job)
            return _json(job.describe())
        freed = await self.manager.remove(job)
        return _json({"id": job.id, "name": job.name, "state": job.state, "removed": True,
                      "freed_bytes": freed,
                      "kept_bytes": self.manager.kept_bytes(principal.subject)})

    async def logs(self, request: Request, principal: Principal) -> Response:
        job = self._job(request, principal)
        limit = self.manager.config.max_log_bytes
        try:  # the job may have replaced its log with a link: not followed
            fd = os.open(job.log_file, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            fd = -1
        except OSError as err:
            raise NotFound(f"job {job.id} has no readable log ({err.strerror})") from None
        text = b""
        if fd >= 0:
            with os.fdopen(fd, "rb") as f:
                f.seek(0, io.SEEK_END)
                f.seek(max(0, f.tell() - limit))
                text = f.read()
        return Response(text, media_type="text/plain; charset=utf-8")

    async def list_results(self, request: Request, principal: Principal) -> Response:
        job = self._job(request, principal)
        return _json({"results": _results(job.outdir)})

    async def get_result(self, request: Request, principal: Principal) -> Response:
        job = self._job(request, principal)
        name = request.path_params["name"]
        found = {r["name"]: r for r in _results(job.outdir)} if _NAME.match(name) else {}
        result = found.get(name)
        if result is None:
            raise NotFound(f"job {job.id} has no result {name!r}; GET "
                           f"/v1/jobs/{job.id}/results lists them")
        fmt = request.query_params.get("format", result["formats"][0])
        if fmt not in result["formats"]:
            raise BadRequest(f"result {name!r} comes as {' or '.join(result['formats'])}, "
                             f"not {fmt!r}")
        if result["type"] == "bundle":
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(self.service.parser, _tar_gz,
                                              job.outdir / "bundles" / name)
            return Response(data, media_type="application/gzip", headers={
                "Content-Disposition": f'attachment; filename="{name}.tar.gz"'})
        path = job.outdir / "results" / f"{name}.{fmt}"
        media = JSON_TYPE if fmt == "json" else "application/octet-stream"
        return FileResponse(path, media_type=media, filename=path.name)

    def _job(self, request: Request, principal: Principal) -> Any:
        return self.manager.get(principal.subject, request.path_params["id"])


def _results(outdir: Path) -> list[dict[str, Any]]:
    """The downloadable results of a job: histograms, then model bundles."""
    out: list[dict[str, Any]] = []
    if outdir.is_symlink():
        return out
    results = outdir / "results"
    if results.is_dir() and not results.is_symlink():
        for path in sorted(results.glob("*.json")):
            root = results / f"{path.stem}.root"
            if _NAME.match(path.stem) and _plain_file(path) and _plain_file(root):
                out.append({"name": path.stem, "type": "histogram",
                            "formats": ["root", "json"]})
    bundles = outdir / "bundles"
    if bundles.is_dir() and not bundles.is_symlink():
        for path in sorted(bundles.iterdir()):
            if _NAME.match(path.name) and not path.is_symlink() and \
                    (path / "bundle.json").is_file():
                out.append({"name": path.name, "type": "bundle", "formats": ["tar.gz"]})
    return out


def _plain_file(path: Path) -> bool:
    """A regular file, not a link: a job's outputs never lead the server elsewhere."""
    return path.is_file() and not path.is_symlink()


def _tar_gz(folder: Path) -> bytes:
    """The bundle folder as a tar.gz (regular files only: a job's links are not followed)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                continue
            tar.add(path, arcname=str(Path(folder.name) / path.relative_to(folder)),
                    recursive=False)
    return buffer.getvalue()


def job_routes(service: Service, manager: JobManager) -> list[Route]:
    """The jobs routes, each behind the service's guard with the ``submit`` role."""
    h = JobHandlers(service, manager)

    def g(endpoint: str, handler: Callable[[Request, Principal], Awaitable[Response]],
          ) -> Any:
        return service.guard("jobs_" + endpoint, SUBMIT, handler)

    get_job, cancel = g("get", h.get_job), g("cancel", h.cancel)

    async def job_endpoint(request: Request) -> Response:
        answer: Response = await (cancel if request.method == "DELETE" else get_job)(request)
        return answer

    return [
        Route("/v1/jobs", g("submit", h.submit), methods=["POST"]),
        Route("/v1/jobs", g("list", h.list_jobs), methods=["GET"]),
        Route("/v1/jobs/{id}", job_endpoint, methods=["GET", "DELETE"]),
        Route("/v1/jobs/{id}/logs", g("logs", h.logs), methods=["GET"]),
        Route("/v1/jobs/{id}/results", g("results", h.list_results), methods=["GET"]),
        Route("/v1/jobs/{id}/results/{name}", g("result", h.get_result), methods=["GET"]),
    ]


__all__ = ["JobHandlers", "job_routes"]
