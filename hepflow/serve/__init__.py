"""Serving model bundles over HTTP: `hepflow serve`, its ASGI app and the Python client.

`create_app(config)` builds the ASGI application (Starlette; run it with
uvicorn, as `hepflow serve` does); `Client(url, token=...)` calls it from
Python; `RemoteModel(url)` uses a served model as a column function in a
dataframe; `V2Model(url)` does the same with a model on any Open Inference
Protocol (KServe V2) server, Triton included. Server-side modules import only
when used, so importing the client does not need the server's dependencies
beyond httpx.
"""

from __future__ import annotations

from typing import Any

from hepflow.serve.client import Client, RemoteModel, ServeClientError, remote_model
from hepflow.serve.config import AuthConfig, Batching, Limits, RoleRule, ServeConfig, load_config
from hepflow.serve.errors import ConfigError, ServeError
from hepflow.serve.v2client import V2Model


def create_app(config: ServeConfig) -> Any:
    """The ASGI app serving every bundle in ``config.models`` (see `hepflow.serve.app`)."""
    from hepflow.serve.app import create_app as build

    return build(config)


__all__ = ["AuthConfig", "Batching", "Client", "ConfigError", "Limits", "RemoteModel",
           "RoleRule", "ServeClientError", "ServeConfig", "ServeError", "create_app",
           "V2Model", "load_config", "remote_model"]
