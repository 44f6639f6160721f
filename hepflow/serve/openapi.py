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


def spec(title: str = "hepflow serve", version: str = "1", *, secured: bool = True,
         ) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a server (`secured`: whether endpoints need a token)."""
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
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Predictions from hepflow model bundles."},
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
    if secured:
        document["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                       "description": "an OIDC access token from the configured issuer"}}
    return document


__all__ = ["SCHEMAS", "spec"]
