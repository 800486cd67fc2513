"""Weight of the public map's answers for typical views, and the time of the clustered query.

    .venv/bin/python bench/map_answers.py [--venues 20000 --venues 100000] [--backend spatialite|postgis]
        [--before /work/main] [--runs 20] [--screenshots /tmp]

Builds a throwaway database per backend and scale (territories, referential, synthetic venues spread
over France by population, the qualified ones published: `directory.factories.generate_venues`, as
bench/nearby_search.py does), serves it from this tree — and, with `--before`, from another tree on
the same database (the code before a change) — and prints, for the Lyon, Paris and whole-France views,
the bytes of `GET /api/v1/map/venues` (raw and gzip), what the answer holds, then the time of
`maps.clusters.map_area` in process (p50/p95) and of `GET /api/v1/map/counts`. With `--screenshots`,
the embedded maps of Lyon and Paris and the home search around Lyon at 1280 and 360 px wide in Debian's Chromium (20,000 venues only).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session
from support import prepare_database, throwaway_database

from directory import factories
from directory.db import make_engine, make_sessionmaker
from maps.clusters import map_area

# (name, bbox, zoom): the zoom a 1280 px wide map shows that box at.
VIEWS = [
    ("Lyon", (4.70, 45.70, 5.00, 45.83), 11),
    ("Paris", (2.22, 48.81, 2.47, 48.91), 12),
    ("France", (-5.5, 41.0, 10.0, 51.5), 6),
    ("France sans zoom", (-5.5, 41.0, 10.0, 51.5), None),
]
SERVE = """
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.WARNING)
from werkzeug.serving import make_server
from aptic import create_app
app = create_app({"DATABASE_URL": sys.argv[1], "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False,
                  "LOG_LEVEL": "WARNING"})
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""
CHROMIUM = "/usr/bin/chromium"


def path_of(bbox: tuple[float, ...], zoom: int | None) -> str:
    return "/api/v1/map/venues?bbox=" + ",".join(map(str, bbox)) + ("" if zoom is None else f"&zoom={zoom}")


def served(tree: Path, url: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-c", SERVE, url], cwd=tree, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(tree)})
    return process, f"http://127.0.0.1:{process.stdout.readline().strip()}"


def fetch(base: str, path: str) -> bytes:
    with urllib.request.urlopen(base + path) as response:
        return response.read()


def describe(body: bytes) -> str:
    answer = json.loads(body)
    features = answer["features"]
    if "contenu" not in answer:
        return f"{len(features)} lieux" + (" (tronqué)" if answer.get("tronque") else "")
    groups = sum(1 for f in features if "bbox" in f)
    return f"{answer['contenu']}: {groups} groupes + {len(features) - groups} lieux, total {answer['total']}"


def sizes(label: str, base: str) -> None:
    for name, bbox, zoom in VIEWS:
        body = fetch(base, path_of(bbox, zoom))
        print(f"  {label:6} {name:17} zoom {zoom!s:4} {len(body):>9,} B  gzip {len(gzip.compress(body)):>8,} B  "
              f"{describe(body)}")
    counts = fetch(base, "/api/v1/map/counts?level=departement")
    print(f"  {label:6} bulles départements          {len(counts):>9,} B")


def timings(url: str, runs: int) -> None:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    for name, bbox, zoom in VIEWS:
        samples = []
        for _ in range(runs + 2):
            with factory() as session:
                started = time.perf_counter()
                answer = map_area(session, bbox, zoom)
                samples.append(time.perf_counter() - started)
        samples = sorted(samples[2:])  # the first two warm the caches
        kind = "lieux" if answer.cell_deg is None else f"{len(answer.clusters)} groupes"
        print(f"  map_area {name:17} p50 {statistics.median(samples) * 1000:7.1f} ms  "
              f"p95 {samples[max(0, round(0.95 * len(samples)) - 1)] * 1000:7.1f} ms  ({answer.total} lieux, {kind})")
    engine.dispose()


def screenshots(base: str, folder: Path, backend: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width in (1280, 360):
            for name, path in (("lyon", "/embed?territoire=69123"), ("paris", "/embed?territoire=75056"),
                               ("recherche-lyon", "/?q=Lyon")):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
                page.goto(base + path)
                status = "document.getElementById('map-status').textContent"
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and not page.evaluate(status):
                    time.sleep(0.2)
                time.sleep(0.5)  # the markers' fade-in
                target = folder / f"clusters-{backend}-{name}-{width}px.png"
                page.screenshot(path=str(target))
                print(f"  screenshot {target}: {page.evaluate(status)}")
                page.close()
        browser.close()


def bench(backend: str, venues: int, before: Path | None, runs: int, shots: Path | None) -> None:
    with throwaway_database(backend) as url:
        started = time.perf_counter()
        engine = prepare_database(url)
        with Session(engine) as session:
            factories.generate_venues(session, venues)
            session.commit()
            published = session.scalar(text("SELECT count(*) FROM venue WHERE published"))
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        engine.dispose()
        print(f"\n== {backend}: {venues:,} synthetic venues ({published:,} published), built in "
              f"{time.perf_counter() - started:.0f} s")
        trees = ([("avant", before)] if before else []) + [("après", Path(__file__).resolve().parent.parent)]
        for label, tree in trees:
            process, base = served(tree, url)
            try:
                sizes(label, base)
                if label == "après" and shots is not None and venues <= 20_000:
                    screenshots(base, shots, backend)
            finally:
                process.terminate()
                process.wait()
        timings(url, runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", type=int, action="append")
    parser.add_argument("--backend", choices=["spatialite", "postgis"], action="append")
    parser.add_argument("--before", type=Path, help="a tree of the code before the change, served on the same data")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--screenshots", type=Path)
    args = parser.parse_args()
    for venues in args.venues or [20_000, 100_000]:
        for backend in args.backend or ["spatialite", "postgis"]:
            bench(backend, venues, args.before, args.runs, args.screenshots)


if __name__ == "__main__":
    main()
