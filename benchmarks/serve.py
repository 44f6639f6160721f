"""Serving benchmark (issue 7): `hepflow serve` under load, with auth on.

Run as ``python -m benchmarks.serve [--duration 5 --rates 250,500,1000,2000,3000
--batches 1,10,100,1000,10000 --trees 100 --depth 4 --json PATH --plot PATH]``.

It trains a BDT (xgboost, ``--trees`` x ``--depth``) on generated events with
two flat inputs and one jet collection (pt, eta; three leading jets padded
with masks: 11 model inputs), saves it as a bundle, and starts ``python -m
hepflow.serve`` on 127.0.0.1 as its own process with auth ON (RS256 tokens
checked against a configured public key; the benchmark signs one token with
the predict scope). A second process, the driver, then loads it with a
bounded load generator (its own asyncio event loop, raw HTTP/1.1 keep-alive
connections, every step capped in time and in requests):

* **rate steps** (open loop): single-row JSON requests sent on a fixed
  schedule at each ``--rates`` value; latency is measured from the *scheduled*
  send time, so a server that falls behind shows it (no coordinated omission);
* **max throughput** (closed loop): ``--connections`` clients sending single-row
  requests back to back;
* **batch steps** (closed loop, 2 connections): ``--batches`` rows per request
  as Arrow IPC (the Python client's format), predictions back as Arrow.

Each step reports requests/s, rows/s, p50/p95/p99 latency and errors; the
server's own metrics give the mean rows per model call (micro-batching). A
table goes to stdout, the numbers to ``--json``, and a plot to ``--plot``.

The server, the driver and anything else running share the machine's cores
(two here): the driver takes most of one core at a few thousand requests/s,
so the server gets about one. Numbers are therefore a floor for what a
dedicated machine gives and vary with other load; the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hepflow.bench.smoke import sized

AUDIENCE = "hepflow-bench"
ISSUER = "https://issuer.bench.invalid/"
MODEL = "bdt"


# -- the driver (runs in its own process) ----------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection sending prepared request bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lowered = head.lower()
        at = lowered.find(b"\r\ncontent-length:")  # not V2's inference-header-content-length
        length = int(lowered[at + 17:lowered.find(b"\r\n", at + 2)]) if at >= 0 else 0
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


def http_request(host: str, port: int, token: str, body: bytes, content_type: str,
                 accept: str) -> bytes:
    head = (f"POST /v1/models/{MODEL}:predict HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: {content_type}\r\n"
            f"Accept: {accept}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def v2_request(host: str, port: int, token: str, tensors: dict[str, np.ndarray]) -> bytes:
    """A V2 REST infer request with binary tensors (tritonclient's default encoding)."""
    head = {"inputs": [{"name": n, "shape": list(a.shape),
                        "datatype": "INT64" if a.dtype == np.int64 else "FP32",
                        "parameters": {"binary_data_size": a.nbytes}}
                       for n, a in tensors.items()],
            "outputs": [{"name": "score", "parameters": {"binary_data": True}}]}
    text = json.dumps(head).encode()
    body = text + b"".join(a.tobytes() for a in tensors.values())
    return (f"POST /v2/models/{MODEL}/infer HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
            f"Inference-Header-Content-Length: {len(text)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def v2_tensors(data: dict[str, Any], rows: int) -> dict[str, np.ndarray]:
    """The V2 tensors of the first `rows` events: flat columns, 3 padded jets, the count."""
    import awkward as ak

    from hepflow.serve.testing import FLAT, JAGGED

    out = {c: np.asarray(data[c][:rows], np.float32) for c in FLAT}
    for c in JAGGED:
        out[c] = np.asarray(ak.fill_none(ak.pad_none(data[c][:rows], 3, clip=True), 0.0),
                            np.float32)
    out["Jet:count"] = np.minimum(np.asarray(ak.num(data["Jet_pt"][:rows]), np.int64), 3)
    return out


async def grpc_loop(host: str, port: int, token: str, tensors: dict[str, np.ndarray],
                    connections: int, duration: float, rows: int) -> dict[str, Any]:
    """`connections` concurrent V2 gRPC callers (one channel), back to back."""
    import grpc
    from tritonclient.grpc import service_pb2 as pb
    from tritonclient.grpc import service_pb2_grpc as pb_grpc

    request = pb.ModelInferRequest(model_name=MODEL)
    for name, array in tensors.items():
        request.inputs.add(name=name, shape=list(array.shape),
                           datatype="INT64" if array.dtype == np.int64 else "FP32")
        request.raw_input_contents.append(array.tobytes())
    metadata = (("authorization", f"Bearer {token}"),)
    clock = time.perf_counter
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop = clock() + duration
    async with grpc.aio.insecure_channel(f"{host}:{port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)

        async def client() -> None:
            while clock() < stop:
                sent = clock()
                try:
                    await stub.ModelInfer(request, metadata=metadata, timeout=30)
                    code = 200
                except grpc.aio.AioRpcError:
                    code = 500
                latencies.append(clock() - sent)
                statuses[code] = statuses.get(code, 0) + 1

        start = clock()
        await asyncio.wait_for(asyncio.gather(*(client() for _ in range(connections))),
                               timeout=duration + 60)
    out = _summary(latencies, statuses, clock() - start, rows)
    out.update({"connections": connections, "rows_per_request": rows})
    return out


def _summary(latencies: list[float], statuses: dict[int, int], seconds: float,
             rows_per_request: int) -> dict[str, Any]:
    lat = np.asarray(latencies) * 1000.0
    ok = statuses.get(200, 0)
    return {"requests": int(sum(statuses.values())), "ok": ok,
            "errors": int(sum(v for k, v in statuses.items() if k != 200)),
            "seconds": seconds, "requests_per_s": ok / seconds,
            "rows_per_s": ok * rows_per_request / seconds,
            "p50_ms": float(np.percentile(lat, 50)) if lat.size else float("nan"),
            "p95_ms": float(np.percentile(lat, 95)) if lat.size else float("nan"),
            "p99_ms": float(np.percentile(lat, 99)) if lat.size else float("nan"),
            "max_ms": float(lat.max()) if lat.size else float("nan")}


async def open_loop(host: str, port: int, request: bytes, rate: float, duration: float,
                    pool: int = 64) -> dict[str, Any]:
    """Requests on a fixed schedule; latency from the scheduled time (bounded: pool, time)."""
    loop = asyncio.get_running_loop()
    clock = time.perf_counter  # uvloop's loop.time() ticks in whole milliseconds
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(pool):
        idle.put_nowait(await Connection.open(host, port))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    total = int(rate * duration)
    skipped = 0

    async def one(scheduled: float) -> None:
        conn = await idle.get()
        try:
            status, _ = await conn.send(request)
        finally:
            idle.put_nowait(conn)
        latencies.append(clock() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1

    tasks = []
    start = clock() + 0.05
    for i in range(total):
        when = start + i / rate
        delay = when - clock()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        if idle.qsize() == 0 and len(tasks) - len(latencies) > 4 * pool:
            skipped += 1  # far behind: do not queue without bound
            continue
        tasks.append(loop.create_task(one(when)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=duration + 30)
    seconds = max(clock() - start, 1e-9)
    while not idle.empty():
        idle.get_nowait().close()
    out = _summary(latencies, statuses, seconds, 1)
    out.update({"target_rate": rate, "skipped": skipped})
    return out


async def closed_loop(host: str, port: int, request: bytes, connections: int,
                      duration: float, rows: int, max_requests: int = 2_000_000,
                      ) -> dict[str, Any]:
    """`connections` clients sending back to back for `duration` seconds."""
    clock = time.perf_counter
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop = clock() + duration

    async def client() -> None:
        conn = await Connection.open(host, port)
        try:
            while clock() < stop and len(latencies) < max_requests:
                sent = clock()
                status, _ = await conn.send(request)
                latencies.append(clock() - sent)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            conn.close()

    start = clock()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(connections))),
                           timeout=duration + 60)
    out = _summary(latencies, statuses, clock() - start, rows)
    out.update({"connections": connections, "rows_per_request": rows})
    return out


async def drive(plan: dict[str, Any]) -> dict[str, Any]:
    from hepflow.serve.client import ARROW, encode_arrow
    from hepflow.serve.testing import FLAT, JAGGED, events

    host, port, token = plan["host"], plan["port"], plan["token"]
    duration = plan["duration"]
    data = events(max(plan["batches"] + [1]), seed=99)
    single = {"instances": [{"MET_pt": float(data["MET_pt"][0]), "HT": float(data["HT"][0]),
                             "Jet_pt": data["Jet_pt"][0].tolist(),
                             "Jet_eta": data["Jet_eta"][0].tolist()}]}
    single_req = http_request(host, port, token, json.dumps(single).encode(),
                              "application/json", "application/json")
    warm = await closed_loop(host, port, single_req, 8, 1.0, 1)
    results: dict[str, Any] = {"warmup": warm, "rates": [], "max": None, "batches": []}
    for rate in plan["rates"]:
        step = await open_loop(host, port, single_req, rate, duration)
        results["rates"].append(step)
        print(f"  rate {rate:>6.0f}/s: {step['requests_per_s']:8.0f} req/s  p99 "
              f"{step['p99_ms']:7.2f} ms", file=sys.stderr, flush=True)
    results["max"] = await closed_loop(host, port, single_req, plan["connections"], duration, 1)
    print(f"  max: {results['max']['requests_per_s']:.0f} req/s", file=sys.stderr, flush=True)
    for rows in plan["batches"]:
        columns = {c: data[c][:rows] for c in FLAT + JAGGED}
        body = encode_arrow(columns, set(JAGGED))
        request = http_request(host, port, token, body, ARROW, ARROW)
        step = await closed_loop(host, port, request, 2, duration, rows)
        results["batches"].append(step)
        print(f"  batch {rows:>6}: {step['rows_per_s']:12.0f} rows/s  p99 "
              f"{step['p99_ms']:7.2f} ms", file=sys.stderr, flush=True)
    if plan.get("v2"):
        await v2_steps(plan, data, results)
    return results


async def v2_steps(plan: dict[str, Any], data: dict[str, Any], results: dict[str, Any]) -> None:
    """The Open Inference Protocol beside V1: REST (binary tensors) and gRPC."""
    host, port, token = plan["host"], plan["port"], plan["token"]
    duration = plan["duration"]
    single = v2_request(host, port, token, v2_tensors(data, 1))
    results["v2_rest_max"] = await closed_loop(host, port, single, plan["connections"],
                                               duration, 1)
    results["v2_grpc_max"] = await grpc_loop(host, plan["grpc_port"], token,
                                             v2_tensors(data, 1), plan["connections"],
                                             duration, 1)
    results["v2_rest_batches"], results["v2_grpc_batches"] = [], []
    for rows in plan["batches"]:
        request = v2_request(host, port, token, v2_tensors(data, rows))
        results["v2_rest_batches"].append(await closed_loop(host, port, request, 2, duration,
                                                            rows))
        results["v2_grpc_batches"].append(await grpc_loop(
            host, plan["grpc_port"], token, v2_tensors(data, rows), 2, duration, rows))
    print(f"  V2 max: REST {results['v2_rest_max']['requests_per_s']:.0f} req/s, gRPC "
          f"{results['v2_grpc_max']['requests_per_s']:.0f} req/s", file=sys.stderr, flush=True)


def _driver_main(plan_file: str) -> int:
    plan = json.loads(Path(plan_file).read_text())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    gc.collect()
    gc.freeze()  # the driver's own GC pauses would show up as server latency
    results = asyncio.run(drive(plan))
    Path(plan["out"]).write_text(json.dumps(results))
    return 0


# -- the orchestration -------------------------------------------------------------------------


def _setup(workdir: Path, trees: int, depth: int, no_auth: bool) -> tuple[Path, str, str]:
    """The bundle folder, a config file and a token (empty without auth)."""
    import yaml

    from hepflow.serve.testing import LocalIssuer, xgboost_bundle

    models = workdir / "models"
    t0 = time.perf_counter()
    bundle = xgboost_bundle(n=20_000, trees=trees, depth=depth)
    bundle.save(models / MODEL)
    print(f"trained the BDT ({trees} trees, depth {depth}) in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    config: dict[str, Any] = {"limits": {"max_rows": 100_000}}
    token = ""
    if not no_auth:
        issuer = LocalIssuer(AUDIENCE)
        (workdir / "issuer.pem").write_bytes(issuer.public_pem())
        config["auth"] = {"issuer": ISSUER, "audience": AUDIENCE,
                          "public_key_file": "issuer.pem"}
        token = issuer.token(issuer=ISSUER, lifetime=24 * 3600)
    (workdir / "serve.yaml").write_text(yaml.safe_dump(config))
    return models, str(workdir / "serve.yaml"), token


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the server did not become ready")


def _batch_stats(metrics_text: str) -> dict[str, float]:
    sums: dict[str, float] = {}
    for line in metrics_text.splitlines():
        for name in ("hepflow_serve_batch_rows_sum", "hepflow_serve_batch_rows_count",
                     "hepflow_serve_batch_requests_sum"):
            if line.startswith(name + "{"):
                sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    calls = sums.get("hepflow_serve_batch_rows_count", 0.0)
    return {"model_calls": calls,
            "rows_per_call": sums.get("hepflow_serve_batch_rows_sum", 0.0) / max(calls, 1),
            "requests_per_call": sums.get("hepflow_serve_batch_requests_sum", 0.0)
            / max(calls, 1)}


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    rates = results["rates"]
    x = [r["requests_per_s"] for r in rates]
    for key, style in (("p50_ms", "o-"), ("p95_ms", "s-"), ("p99_ms", "^-")):
        left.plot(x, [r[key] for r in rates], style, label=key.split("_")[0])
    left.axhline(20, color="grey", ls=":", label="p99 target (20 ms)")
    left.set_xlabel("single-row requests/s (achieved)")
    left.set_ylabel("latency [ms]")
    left.set_yscale("log")
    left.set_title("latency vs request rate (open loop, auth on)")
    left.legend()
    batches = results["batches"]
    right.plot([b["rows_per_request"] for b in batches], [b["rows_per_s"] for b in batches],
               "o-", label="rows/s")
    right.axhline(1e6, color="grey", ls=":", label="target (1M rows/s)")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("rows per request (Arrow IPC)")
    right.set_ylabel("rows/s")
    right.set_title("throughput vs batch size (2 connections)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(results: dict[str, Any]) -> str:
    lines = ["| step | requests/s | rows/s | p50 ms | p95 ms | p99 ms | errors |",
             "|---|---:|---:|---:|---:|---:|---:|"]

    def row(label: str, r: dict[str, Any]) -> str:
        return (f"| {label} | {r['requests_per_s']:,.0f} | {r['rows_per_s']:,.0f} | "
                f"{r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r['errors'] + r.get('skipped', 0)} |")

    for r in results["rates"]:
        lines.append(row(f"1 row, open loop at {r['target_rate']:,.0f}/s", r))
    m = results["max"]
    lines.append(row(f"1 row, closed loop, {m['connections']} connections", m))
    for b in results["batches"]:
        n = b["rows_per_request"]
        lines.append(row(f"{n:,} row{'s' if n > 1 else ''} per request (Arrow), 2 connections",
                         b))
    if "v2_rest_max" in results:
        for kind in ("rest", "grpc"):
            m = results[f"v2_{kind}_max"]
            label = "V2 REST" if kind == "rest" else "V2 gRPC"
            lines.append(row(f"{label}: 1 row, closed loop, {m['connections']} connections", m))
            for b in results[f"v2_{kind}_batches"]:
                n = b["rows_per_request"]
                lines.append(row(f"{label}: {n:,} row{'s' if n > 1 else ''} per request, "
                                 "2 connections", b))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=sized(5.0, 1.0),
                        help="seconds per step")
    parser.add_argument("--rates", default=sized("250,500,1000,2000,3000", "250,1000"))
    parser.add_argument("--batches", default=sized("1,10,100,1000,10000", "1,1000"))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--no-auth", action="store_true", help="serve with auth off")
    parser.add_argument("--no-v2", action="store_true",
                        help="skip the V2 (Open Inference Protocol) REST and gRPC steps")
    parser.add_argument("--json", default=None)
    parser.add_argument("--plot", default="serve-benchmark.png")
    parser.add_argument("--drive", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        return _driver_main(args.drive)

    import httpx

    from hepflow.util.net import free_port

    with tempfile.TemporaryDirectory(prefix="hepflow-serve-bench-") as tmp:
        workdir = Path(tmp)
        models, config, token = _setup(workdir, args.trees, args.depth, args.no_auth)
        port, grpc_port = free_port(), free_port()
        command = [sys.executable, "-m", "hepflow.serve", "--models", str(models),
                   "--config", config, "--port", str(port), "--log-level", "warning"]
        if not args.no_v2:
            command += ["--grpc-port", str(grpc_port)]
        if args.no_auth:
            command.append("--insecure-no-auth")
        server = subprocess.Popen(command, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, server)
            load_before = os.getloadavg()
            plan = {"host": "127.0.0.1", "port": port, "token": token,
                    "duration": args.duration,
                    "rates": [float(r) for r in args.rates.split(",") if r],
                    "batches": [int(b) for b in args.batches.split(",") if b],
                    "connections": args.connections, "out": str(workdir / "results.json"),
                    "v2": not args.no_v2, "grpc_port": grpc_port}
            (workdir / "plan.json").write_text(json.dumps(plan))
            steps = len(plan["rates"]) + len(plan["batches"]) * (1 if args.no_v2 else 3) + 4
            budget = 60 + 2 * args.duration * steps
            subprocess.run([sys.executable, "-m", "benchmarks.serve", "--drive",
                            str(workdir / "plan.json")], check=True, timeout=budget)
            results = json.loads((workdir / "results.json").read_text())
            results["server_batching"] = _batch_stats(httpx.get(url + "/metrics").text)
        finally:
            server.terminate()
            server.wait(timeout=30)
    results.update({"load_before": load_before, "load_after": os.getloadavg(),
                    "cpus": os.cpu_count(), "auth": not args.no_auth,
                    "model": {"trees": args.trees, "depth": args.depth, "inputs": 11}})
    print(f"\nBDT: {args.trees} trees, depth {args.depth}; auth "
          f"{'on' if not args.no_auth else 'OFF'}; {os.cpu_count()} CPUs; load average "
          f"before {load_before[0]:.2f}, after {results['load_after'][0]:.2f}")
    print(table(results))
    b = results["server_batching"]
    print(f"\nmicro-batching over the run: {b['model_calls']:.0f} model calls, "
          f"{b['requests_per_call']:.2f} requests and {b['rows_per_call']:.1f} rows per call")
    if args.plot:
        plot(results, Path(args.plot))
        print(f"plot: {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
