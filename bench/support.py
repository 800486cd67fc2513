"""Setup shared by the benchmark scripts: throwaway databases and their preparation.

The scripts run as `python bench/<script>.py` from the repository root, so this folder is on
sys.path and they import it as `from support import ...`.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from aptic import schema
from directory import api
from directory.db import make_engine
from ingestion.api import load_territories

# The PostgreSQL server where throwaway databases are created (same variable as the test suite).
POSTGRES_ADMIN_URL = os.environ.get("APTIC_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres")
BACKENDS = ("spatialite", "postgis")


@contextmanager
def throwaway_database(backend: str, admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str]:
    """Yield the URL of an empty database, removed on exit.

    spatialite: a file in a temporary folder. postgis: a database aptic_bench_<hex> created on the
    server of `admin_url` with the postgis extension, dropped (WITH (FORCE)) at the end.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}, expected one of {BACKENDS}")
    if backend == "spatialite":
        with tempfile.TemporaryDirectory() as workdir:
            yield f"sqlite:///{Path(workdir) / 'bench.db'}"
        return
    name = f"aptic_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        try:
            engine = make_engine(url)
            with engine.begin() as connection:
                connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            engine.dispose()
            yield url
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def prepare_database(url: str) -> Engine:
    """Migrate the database at `url`, load the territories and the referential; return its engine."""
    engine = make_engine(url)
    with engine.begin() as connection:
        schema.upgrade(connection=connection)
    with Session(engine) as session:
        load_territories(session)
        api.load_referential(session)
        session.commit()
    return engine


# --- Load on the production server ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def gunicorn_server(url: str, workers: int, **settings: str) -> Iterator[Any]:
    """The production profile (deploy/gunicorn.conf.py, Redis rate limits) on `url`, `workers` processes."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.production_site import production_environment, production_site

    with tempfile.TemporaryDirectory() as folder:
        environment = production_environment(url, Path(folder), APTIC_WEB_WORKERS=str(workers),
                                             APTIC_LOG_LEVEL="WARNING", **settings)
        with production_site(environment, Path(folder)) as site:
            yield site


@dataclass
class Call:
    method: str
    path: str
    json: Any = None
    headers: dict[str, str] | None = None


def _client(base_url: str, calls: list[Call], barrier: Any, results: Any) -> None:
    import requests

    http = requests.Session()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    barrier.wait()
    for call in calls:
        started = time.perf_counter()
        status = http.request(call.method, base_url + call.path, json=call.json, headers=call.headers, timeout=60).status_code
        latencies.append(time.perf_counter() - started)
        statuses[status] = statuses.get(status, 0) + 1
    results.put((statuses, latencies))


def run_clients(base_url: str, work: list[list[Call]]) -> tuple[float, dict[int, int], list[float]]:
    """Each list of calls sent in order by its own client process, all at once: elapsed, statuses, latencies."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(work) + 1)
    results = context.Queue()
    processes = [context.Process(target=_client, args=(base_url, calls, barrier, results)) for calls in work]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    for _ in processes:
        client_statuses, client_latencies = results.get()
        latencies += client_latencies
        for status, count in client_statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    return elapsed, statuses, latencies


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


def machine_load() -> str:
    """The load average when the figures were taken (the machine may be shared)."""
    one, five, fifteen = os.getloadavg()
    return f"{multiprocessing.cpu_count()} CPU, load average {one:.2f} {five:.2f} {fifteen:.2f}"
