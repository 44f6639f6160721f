"""Prometheus metrics of the server: requests, latencies, rows and model calls, per model.

Each app has its own registry (not prometheus_client's global one), so that
several servers in one process, as in the tests, do not collide, and
``/metrics`` shows exactly this server. The ``model`` label only ever takes the
names of served models (anything else is counted under ``model=""``): a
label taken from the URL would let any client create unbounded time series.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0,
                    5.0, 10.0, 30.0)
_ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384, 65536, 262144)


class ServeMetrics:
    """The server's metrics, registered in their own `CollectorRegistry`."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("hepflow_serve_requests", "HTTP requests answered",
                                ["model", "endpoint", "code"], registry=r)
        self.latency = Histogram("hepflow_serve_request_seconds",
                                 "Time from request start to response, by endpoint",
                                 ["model", "endpoint"], buckets=_LATENCY_BUCKETS, registry=r)
        self.rows = Counter("hepflow_serve_rows_predicted", "Rows (events) predicted",
                            ["model"], registry=r)
        self.model_calls = Counter("hepflow_serve_model_calls",
                                   "Model calls (one per micro-batch)", ["model"], registry=r)
        self.batch_rows = Histogram("hepflow_serve_batch_rows", "Rows per model call",
                                    ["model"], buckets=_ROW_BUCKETS, registry=r)
        self.batch_requests = Histogram("hepflow_serve_batch_requests",
                                        "Requests stacked into one model call", ["model"],
                                        buckets=_ROW_BUCKETS[:10], registry=r)
        self.model_seconds = Histogram("hepflow_serve_model_call_seconds",
                                       "Time of one model call (preparation + predict)",
                                       ["model"], buckets=_LATENCY_BUCKETS, registry=r)
        self.inflight = Gauge("hepflow_serve_inflight_requests", "Requests being answered",
                              registry=r)
        self.models = Gauge("hepflow_serve_models", "Models served", registry=r)
        self.auth_failures = Counter("hepflow_serve_auth_failures",
                                     "Requests refused by the token check, by reason",
                                     ["reason"], registry=r)
        self.rate_limited = Counter("hepflow_serve_rate_limited",
                                    "Requests refused with 429", registry=r)
        self.model_updates = Counter("hepflow_serve_model_updates",
                                     "Model uploads and deletions, by outcome",
                                     ["action", "outcome"], registry=r)
        self.connections_closed = Counter(
            "hepflow_serve_connections_closed",
            "Connections closed by the server's limits, by reason (header_timeout, "
            "header_too_large, evicted, refused)", ["reason"], registry=r)
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def request(self, model: str, endpoint: str, code: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (model, endpoint)
        child = self._children.get(key)
        if child is None:
            child = (self.latency.labels(model, endpoint), {})
            self._children[key] = child
        child[0].observe(seconds)
        counters: dict[int, Any] = child[1]
        counter = counters.get(code)
        if counter is None:
            counter = counters[code] = self.requests.labels(model, endpoint, str(code))
        counter.inc()

    def observer(self, model: str) -> Any:
        """A callback for the model's micro-batcher: (rows, requests, seconds) per call."""
        rows = self.rows.labels(model)
        calls = self.model_calls.labels(model)
        batch_rows = self.batch_rows.labels(model)
        batch_requests = self.batch_requests.labels(model)
        seconds = self.model_seconds.labels(model)

        def observe(n_rows: int, n_requests: int, took: float) -> None:
            rows.inc(n_rows)
            calls.inc()
            batch_rows.observe(n_rows)
            batch_requests.observe(n_requests)
            seconds.observe(took)

        return observe

    def render(self) -> bytes:
        return generate_latest(self.registry)


__all__ = ["ServeMetrics"]
