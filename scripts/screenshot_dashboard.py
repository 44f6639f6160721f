"""Screenshot of hepflow's live throughput page during a dimuon run (docs/dashboard-throughput.png).

    python scripts/screenshot_dashboard.py [--seconds 25] [--out docs/dashboard-throughput.png]

Needs Debian's Chromium (`apt-get install -y chromium chromium-driver`) and
Playwright's Python package (`pip install playwright`; its own browser
download is not used: Playwright drives /usr/bin/chromium). Not run in CI.

It starts hepflow's LocalCluster with the dashboard pages and plugin, runs
the demo's dimuon analysis over the benchmark sample (2M events, made once in
./bench-sample) again and again in a background thread, and takes the
screenshot while the runs go on, so the page shows live, per-worker curves.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"]


def _keep_running(client: object, files: list[str], stop: threading.Event) -> None:
    import hepflow
    from hepflow.demo import dimuon

    while not stop.is_set():
        df = hepflow.RDataFrame("Events", files, client=client, chunk_entries=50_000)
        _hist, count, _report = dimuon(df)
        print(f"dimuon run: {count.GetValue():,} selected events", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=25.0,
                        help="how long the runs go on before the screenshot")
    parser.add_argument("--out", default="docs/dashboard-throughput.png")
    parser.add_argument("--page", default="individual-hepflow-throughput")
    parser.add_argument("--sample-dir", default="bench-sample")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)

    import distributed
    from playwright.sync_api import sync_playwright

    from hepflow.bench.scaling import bench_files
    from hepflow.cluster import local_cluster
    from hepflow.observe import install, register_pages

    files = bench_files(args.sample_dir, 2_000_000, 8)
    register_pages()
    with local_cluster(args.workers) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        install(client)
        url = f"http://127.0.0.1:{cluster.scheduler.http_server.port}/{args.page}"
        print(f"dashboard page: {url}", flush=True)
        stop = threading.Event()
        runner = threading.Thread(target=_keep_running, args=(client, files, stop), daemon=True)
        runner.start()
        time.sleep(args.seconds)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_selector("canvas", timeout=30_000)
            page.wait_for_timeout(3_000)  # two page updates
            page.screenshot(path=str(out))
            browser.close()
        stop.set()
        runner.join(timeout=120)
    print(f"screenshot written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
