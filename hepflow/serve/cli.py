"""``hepflow serve --models DIR [--config FILE]``: serve every bundle in a folder over HTTP.

Wired into the main command line with one call, ``add_parser(subparsers)``;
``python -m hepflow.serve`` runs the same command on its own. One process
serves every model (each loaded once, micro-batched on its threads); to use
more cores, run several replicas behind the proxy or load balancer, each with
its own copy of the model folder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

_EPILOG = """examples:
  hepflow serve --models ./models --config serve.yaml
  hepflow serve --models ./models --insecure-no-auth      # a local test only
  hepflow serve --models ./models --config serve.yaml --grpc-port 8001   # + V2 gRPC
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/v1/models
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/v2/models/bdt   # V2 metadata
  hepflow serve --models ./models --config serve.yaml --jobs   # + analysis jobs over HTTP
  curl -H "Authorization: Bearer $JOBS" -F analysis=@dimuon.py -F dataset=@dy.yaml \
       http://127.0.0.1:8000/v1/jobs

trying it with auth on, without an OIDC issuer (a local key pair):
  hepflow serve keygen local.key         # writes local.key and local.pub
  # serve.yaml: auth: {issuer: hepflow-local, audience: hepflow, public_key_file: local.pub}
  TOKEN=$(hepflow serve token --config serve.yaml --key local.key)
  ADMIN=$(hepflow serve token --config serve.yaml --key local.key --scope hepflow:admin)
  JOBS=$(hepflow serve token --config serve.yaml --key local.key --scope hepflow:submit)
"""

_WARNING = ("WARNING: --insecure-no-auth: token checking is OFF. Anyone who can reach "
            "{host}:{port} can run, upload and delete models. Use it only on a trusted "
            "machine for tests.")


def _serve(args: argparse.Namespace) -> int:
    from hepflow.errorreport import report_error
    from hepflow.serve.config import load_config

    try:
        if args.models is None:
            from hepflow.serve.errors import ConfigError

            raise ConfigError("no model folder: pass --models DIR")
        config = load_config(args.config, models=args.models,
                             insecure_no_auth=args.insecure_no_auth, host=args.host,
                             port=args.port, grpc_port=args.grpc_port,
                             log_level=args.log_level,
                             access_log=True if args.access_log else None)
        if args.jobs and not config.jobs.enabled:
            import dataclasses

            config = dataclasses.replace(
                config, jobs=dataclasses.replace(config.jobs, enabled=True))
        if config.insecure_no_auth:
            print(_WARNING.format(host=config.host, port=config.port), file=sys.stderr)
        run(config)
    except Exception as err:
        if args.debug or getattr(args, "debug_all", False):
            raise
        return report_error("serve", err)
    return 0


def _keygen(args: argparse.Namespace) -> int:
    from hepflow.serve.localtoken import keygen

    private, public = keygen(args.key)  # errors: one line from hepflow.cli.main
    print(f"wrote {private} (private: keep it) and {public} (give it to the server: "
          f"auth.public_key_file)")
    return 0


def _token(args: argparse.Namespace) -> int:
    from hepflow.serve.config import load_config
    from hepflow.serve.localtoken import DEFAULT_SCOPES, mint

    config = load_config(args.config, models=".")  # errors: one line from hepflow.cli.main
    print(mint(config, args.key, scopes=args.scope or DEFAULT_SCOPES, subject=args.subject,
               lifetime_s=args.lifetime))
    return 0


def _add_local_token_commands(serve: argparse.ArgumentParser) -> None:
    """`hepflow serve keygen` and `hepflow serve token`: auth on, no OIDC issuer needed."""
    local = serve.add_subparsers(dest="serve_command", required=False, metavar="{keygen,token}")
    keygen = local.add_parser("keygen", help="write a local RSA key pair for trying the "
                                             "server with auth on")
    keygen.add_argument("key", help="private key file to write; the public half goes "
                                    "next to it with the suffix .pub")
    keygen.set_defaults(func=_keygen)
    token = local.add_parser("token", help="print a token signed with the local key, for a "
                                           "server configured with its public half")
    token.add_argument("--config", required=True, metavar="FILE",
                       help="the server's config (its auth.public_key_file must be the "
                            "public half of --key)")
    token.add_argument("--key", required=True, metavar="FILE", help="the local private key")
    token.add_argument("--scope", action="append", default=None,
                       help="a scope to grant (repeatable; default hepflow:predict, "
                            "uploads and deletes need hepflow:admin)")
    token.add_argument("--subject", default="local-user", help="the token's `sub`")
    token.add_argument("--lifetime", type=float, default=3600.0,
                       help="seconds the token is valid (default 3600)")
    token.set_defaults(func=_token)


def run(config: object) -> None:
    """Run the server in this process until interrupted (uvloop and httptools if present)."""
    import uvicorn

    from hepflow.errors import HepflowError
    from hepflow.serve.app import create_app
    from hepflow.serve.config import ServeConfig
    from hepflow.serve.errors import ConfigError

    if not isinstance(config, ServeConfig):
        raise ConfigError(f"run() takes a ServeConfig (from load_config), not "
                          f"{type(config).__name__}")
    _log_like_uvicorn(config.log_level)
    server = uvicorn.Server(server_config(create_app(config), config))
    server.run()
    if not server.started:
        raise HepflowError(f"the server did not start on {config.host}:{config.port} (the "
                           "log above says why)")


def server_config(app: Any, config: Any, *, http: str | None = None, **changes: Any) -> Any:
    """The `uvicorn.Config` of a served app: its address, and the connection limits.

    One place for `run` and for the tests' `ServerThread`, so that tests run
    the server exactly as deployed: the guarded HTTP protocol (header deadline,
    connection cap; `hepflow.serve.connections`), the keep-alive timeout, no
    WebSocket upgrades (no route takes them) and no ``Server`` header. `http`
    picks uvicorn's HTTP protocol ("httptools" when installed, else "h11").
    """
    import uvicorn

    from hepflow.serve.connections import ConnectionGuard, fit_open_files, guarded_protocol

    limits = config.limits
    metrics = app.state.service.metrics
    guard = ConnectionGuard(limits.header_timeout_s, limits.max_header_bytes,
                            fit_open_files(limits.max_connections),
                            on_close=lambda reason: metrics.connections_closed.labels(
                                reason).inc())
    http = http or _best("httptools", "h11")
    settings: dict[str, Any] = {
        "host": config.host, "port": config.port, "log_level": config.log_level,
        "access_log": config.access_log, "loop": _best("uvloop", "asyncio"),
        "http": guarded_protocol(http, guard), "ws": "none",
        "timeout_keep_alive": limits.keep_alive_s,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        "server_header": False, "lifespan": "on", **changes}
    return uvicorn.Config(app, **settings)


def _log_like_uvicorn(level: str) -> None:
    """Show hepflow.serve's own log lines (models loaded, uploads, failures) next to uvicorn's."""
    import logging

    logger = logging.getLogger("hepflow.serve")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level.upper())


def _best(preferred: str, fallback: str) -> str:
    import importlib.util

    return preferred if importlib.util.find_spec(preferred) is not None else fallback


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to the ``hepflow`` command line."""
    serve = subparsers.add_parser(
        "serve", help="serve the model bundles of a folder over HTTP (predictions, uploads, "
                      "metrics; OIDC token auth)",
        description=__doc__, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--models", default=None, metavar="DIR",
                       help="folder with one bundle folder per model (the folder name is the "
                            "model name)")
    serve.add_argument("--config", default=None, metavar="FILE",
                       help="YAML/JSON config: auth, limits, batching (see "
                            "hepflow/serve/config.py)")
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument("--grpc-port", type=int, default=None, metavar="PORT",
                       help="also serve the Open Inference Protocol (KServe V2) over gRPC on "
                            "this port (needs tritonclient; V2 over HTTP is always on)")
    serve.add_argument("--jobs", action="store_true",
                       help="also run analysis jobs submitted over HTTP (POST /v1/jobs; "
                            "needs the hepflow:submit scope; config section `jobs`)")
    serve.add_argument("--log-level", default=None,
                       choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument("--insecure-no-auth", action="store_true",
                       help="switch token checking off (prints a warning; tests only)")
    serve.add_argument("--debug", action="store_true", help="show tracebacks")
    serve.set_defaults(func=_serve)
    _add_local_token_commands(serve)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hepflow")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
