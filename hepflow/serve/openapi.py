"""The OpenAPI 3 description of the server, written out rather than generated.

Written by hand because the request bodies are not one typed schema: their
columns are the served model's raw inputs, JSON or Arrow or ``.npy``. The
description is what clients (and schemathesis, in the tests) read, so it
lists every status each endpoint can answer and the headers that come with
them (``WWW-Authenticate`` on 401/403, ``Retry-After`` on 429).
"""

from __future__ import annotations

from typing import Any

from hepflow.serve.inputs import ARROW, JSON, NPY

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"

_NUMBER_OR_LIST = {"oneOf": [{"type": "number"}, {"type": "boolean"},
                             {"type": "array", "items": {"type": "number"}}]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
    "ModelSummary": {
        "type": "object", "required": ["name", "kind", "version", "inputs", "classes"],
        "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["xgboost", "keras"]},
            "version": {"type": "string", "description": "content hash of the bundle"},
            "inputs": {"type": "array", "items": {"type": "string"},
                       "description": "raw input columns a request must give"},
            "jagged": {"type": "object", "additionalProperties": {"type": "integer"},
                       "description": "jagged columns and the length they are cut/padded to"},
            "classes": {"type": "object", "additionalProperties": {"type": "string"}},
            "loaded_at": {"type": "number"},
        },
    },
    "ModelList": {
        "type": "object", "required": ["models"],
        "properties": {"models": {"type": "array",
                                  "items": {"$ref": "#/components/schemas/ModelSummary"}}},
    },
    "ModelInfo": {
        "allOf": [{"$ref": "#/components/schemas/ModelSummary"}, {
            "type": "object",
            "properties": {
                "features": {"type": "object"},
                "model_inputs": {"type": "array", "items": {"type": "string"}},
                "normalisation": {"type": "object"},
                "metrics": {"type": "object"},
                "provenance": {"type": "object"},
                "content_types": {"type": "array", "items": {"type": "string"}},
            }}],
    },
    "PredictRequest": {
        "oneOf": [
            {"type": "object", "required": ["instances"], "additionalProperties": False,
             "properties": {"instances": {
                 "type": "array", "description": "one object per event: {column: value}",
                 "items": {"type": "object", "additionalProperties": _NUMBER_OR_LIST}}}},
            {"type": "object", "required": ["inputs"], "additionalProperties": False,
             "properties": {"inputs": {
                 "type": "object", "description": "{column: [one value (or list) per event]}",
                 "additionalProperties": {"type": "array", "items": _NUMBER_OR_LIST}}}},
        ],
    },
    "PredictResponse": {
        "type": "object", "required": ["model", "version", "predictions"],
        "properties": {
            "model": {"type": "string"},
            "version": {"type": "string"},
            "predictions": {"type": "array", "description": "one score per event (two "
                            "classes) or one list of class scores per event",
                            "items": {"oneOf": [
                                {"type": ["number", "null"]},
                                {"type": "array", "items": {"type": ["number", "null"]}}]}},
        },
    },
    "Status": {"type": "object", "required": ["status"],
               "properties": {"status": {"type": "string"}}},
}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {
        JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if headers:
        out["headers"] = headers
    return out


_WWW = {"WWW-Authenticate": {"schema": {"type": "string"},
                             "description": "Bearer challenge (RFC 6750)"}}
_AUTH_ERRORS = {
    "401": _error("missing or invalid bearer token", _WWW),
    "403": _error("the token lacks the role this needs", _WWW),
    "429": _error("rate limited", {"Retry-After": {"schema": {"type": "string"}}}),
    "503": _error("starting, stopping, or the request ran past its time limit"),
}
_NAME_PARAM = {"name": "name", "in": "path", "required": True,
               "schema": {"type": "string", "pattern": _NAME_PATTERN, "maxLength": 128}}
_ARCHIVE = {"schema": {"type": "string", "format": "binary"}}


_JOB_PARAM = {"name": "id", "in": "path", "required": True,
              "schema": {"type": "string", "maxLength": 64}}
_FILE = {"type": "string", "format": "binary"}
_JOB_FIELDS = {
    "analysis": {**_FILE, "description": "an analysis file, as `hepflow run` takes"},
    "training": {"description": "a training spec (YAML/JSON; hepflow.serve.jobspec."
                                "TrainingSpec), instead of an analysis file"},
    "dataset": {"description": "a dataset spec (YAML/JSON, as Dataset.load reads)"},
    "options": {"type": "object", "properties": {"name": {"type": "string"}},
                "additionalProperties": False},
}
JOB_SCHEMAS: dict[str, Any] = {
    "Job": {
        "type": "object", "required": ["id", "state", "progress"],
        "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "state": {"type": "string",
                      "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
            "progress": {"type": "object", "properties": {
                "chunks_done": {"type": "integer"}, "chunks_total": {"type": "integer"}}},
            "run_info": {"type": "object"}, "results": {"type": "object"},
            "error": {"type": "string"}, "created": {"type": "number"},
            "started": {"type": ["number", "null"]}, "finished": {"type": ["number", "null"]},
            "kept_bytes": {"type": "integer", "description":
                           "what the job's folder keeps on the server (its owner's quota)"},
        },
    },
    "RemovedJob": {
        "type": "object", "required": ["id", "removed", "freed_bytes"],
        "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "state": {"type": "string"},
            "removed": {"const": True}, "freed_bytes": {"type": "integer"},
            "kept_bytes": {"type": "integer",
                           "description": "what the owner's other jobs still keep"},
        },
    },
}


def job_paths(op: Any) -> dict[str, Any]:
    """The jobs endpoints (``hepflow serve --jobs``); `op` adds security and auth errors."""
    job = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/Job"}}}}
    missing = _error("no such job of this user (another user's job answers the same)")
    return {
        "/v1/jobs": {
            "get": op("the caller's jobs; submit role", {
                "200": {"description": "id, name, state, creation time and kept_bytes of "
                                       "each job; the caller's kept_bytes and quota_bytes",
                        "content": {JSON: {"schema": {"type": "object"}}}}}),
            "post": op("submit an analysis file or a training spec with a dataset spec; "
                       "submit role", {
                           "201": {"description": "queued", **job},
                           "400": _error("unreadable body, or a dataset file outside the "
                                         "allowed roots"),
                           "413": _error("a part over its size limit"),
                           "415": _error("not multipart/form-data or JSON"),
                           "422": _error("a spec that does not read, saying why"),
                           "429": _error("too many jobs queued or running for this user "
                                         "(with Retry-After), or its jobs keep more than "
                                         "its storage quota (remove ended jobs first)",
                                         {"Retry-After": {"schema": {"type": "string"}}})},
                       requestBody={"required": True, "content": {
                           "multipart/form-data": {"schema": {
                               "type": "object", "properties": _JOB_FIELDS}},
                           JSON: {"schema": {"type": "object", "properties": _JOB_FIELDS,
                                             "additionalProperties": False}}}}),
        },
        "/v1/jobs/{id}": {
            "parameters": [_JOB_PARAM],
            "get": op("state, progress (chunks done of total), run_info, results", {
                "200": {"description": "the job", **job}, "404": missing}),
            "delete": op("cancel a queued or running job (its processes stop, its Dask "
                         "tasks are dropped); remove an ended one with its outputs", {
                "200": {"description": "the job, cancelled; or, for an ended job, what "
                                       "its removal freed", "content": {JSON: {"schema": {
                                           "oneOf": [{"$ref": "#/components/schemas/Job"},
                                                     {"$ref": "#/components/schemas/"
                                                              "RemovedJob"}]}}}},
                "404": missing}),
        },
        "/v1/jobs/{id}/logs": {
            "parameters": [_JOB_PARAM],
            "get": op("the job's output (its last jobs.max_log_bytes)", {
                "200": {"description": "text",
                        "content": {"text/plain": {"schema": {"type": "string"}}}},
                "404": missing}),
        },
        "/v1/jobs/{id}/results": {
            "parameters": [_JOB_PARAM],
            "get": op("the downloadable results: histograms and model bundles", {
                "200": {"description": "name, type and formats of each",
                        "content": {JSON: {"schema": {"type": "object"}}}},
                "404": missing}),
        },
        "/v1/jobs/{id}/results/{name}": {
            "parameters": [_JOB_PARAM, _NAME_PARAM,
                           {"name": "format", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["root", "json", "tar.gz"]}}],
            "get": op("a histogram as ROOT (default) or JSON, or a model bundle as the "
                      "tar.gz PUT /v1/models/{name} takes", {
                          "200": {"description": "the result", "content": {
                              "application/octet-stream": {"schema": _FILE},
                              JSON: {"schema": {"type": "object"}},
                              "application/gzip": {"schema": _FILE}}},
                          "400": _error("a format this result does not come in"),
                          "404": missing}),
        },
    }


def spec(title: str = "hepflow serve", version: str = "1", *, secured: bool = True,
         jobs: bool = False) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a server (`secured`: whether endpoints need a token;
    `jobs`: whether it runs jobs)."""
    security: list[dict[str, list[str]]] = [{"bearer": []}] if secured else []
    auth_errors = _AUTH_ERRORS if secured else {k: v for k, v in _AUTH_ERRORS.items()
                                                if k in ("429", "503")}

    def op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"summary": summary, "security": security,
                "responses": {**responses, **auth_errors}, **extra}

    model_info = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/ModelInfo"}}}}
    paths: dict[str, Any] = {
        "/healthz": {"get": {"summary": "the process is up", "security": [], "responses": {
            "200": {"description": "alive", "content": {
                JSON: {"schema": {"$ref": "#/components/schemas/Status"}}}}}}},
        "/readyz": {"get": {"summary": "models are loaded and requests are accepted",
                            "security": [], "responses": {
            "200": {"description": "ready", "content": {
                JSON: {"schema": {"$ref": "#/components/schemas/Status"}}}},
            "503": {"description": "not ready", "content": {
                JSON: {"schema": {"$ref": "#/components/schemas/Status"}}}}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": {
            "200": {"description": "text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        "/v1/models": {"get": op("list the served models", {
            "200": {"description": "the models", "content": {
                JSON: {"schema": {"$ref": "#/components/schemas/ModelList"}}}}})},
        "/v1/models/{name}": {
            "parameters": [_NAME_PARAM],
            "get": op("one model: feature spec, normalisation, metrics, provenance", {
                "200": {"description": "the model", **model_info},
                "404": _error("no such model")}),
            "put": op("upload a bundle archive (tar, tar.gz or zip of the bundle folder); "
                      "admin role", {
                          "200": {"description": "replaced", **model_info},
                          "201": {"description": "created", **model_info},
                          "400": _error("unreadable body"),
                          "413": _error("archive too large"),
                          "415": _error("not a tar or zip archive"),
                          "422": _error("unsafe or broken bundle; nothing was replaced")},
                      requestBody={"required": True, "content": {
                          "application/x-tar": _ARCHIVE, "application/gzip": _ARCHIVE,
                          "application/zip": _ARCHIVE,
                          "application/octet-stream": _ARCHIVE}}),
            "delete": op("stop serving a model and remove its bundle; admin role", {
                "204": {"description": "deleted"},
                "404": _error("no such model")}),
        },
        "/v1/models/{name}:predict": {
            "parameters": [_NAME_PARAM],
            "post": op("predict: raw input columns in, scores out (the server applies the "
                       "bundle's feature preparation and normalisation)", {
                           "200": {"description": "one score (or class scores) per event",
                                   "content": {
                                       JSON: {"schema": {
                                           "$ref": "#/components/schemas/PredictResponse"}},
                                       ARROW: {"schema": {"type": "string",
                                                          "format": "binary"}},
                                       NPY: {"schema": {"type": "string",
                                                        "format": "binary"}}}},
                           "400": _error("unreadable body"),
                           "404": _error("no such model"),
                           "413": _error("body or row count over the limit"),
                           "415": _error("unsupported content type"),
                           "422": _error("wrong feature names, types, shapes or NaN")},
                       requestBody={"required": True, "content": {
                           JSON: {"schema": {"$ref": "#/components/schemas/PredictRequest"}},
                           ARROW: {"schema": {"type": "string", "format": "binary"}},
                           NPY: {"schema": {"type": "string", "format": "binary"}}}}),
        },
    }
    if jobs:
        paths.update(job_paths(op))
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Predictions from hepflow model bundles."},
        "paths": paths,
        "components": {"schemas": {**SCHEMAS, **(JOB_SCHEMAS if jobs else {})}},
    }
    if secured:
        document["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                       "description": "an OIDC access token from the configured issuer"}}
    return document


__all__ = ["JOB_SCHEMAS", "SCHEMAS", "job_paths", "spec"]
