"""Setup shared by the benchmark scripts: throwaway databases and their preparation.

The scripts run as `python bench/<script>.py` from the repository root, so this folder is on
sys.path and they import it as `from support import ...`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
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


@dataclass
class Load:
    """What `run_wrk` measured: responses per HTTP status, seconds, latency percentiles in seconds."""

    statuses: dict[int, int]
    seconds: float
    latency: dict[int, float]

    def rate(self, status: int | None = None) -> float:
        """Responses per second (of one status, or all)."""
        count = sum(self.statuses.values()) if status is None else self.statuses.get(status, 0)
        return count / self.seconds

    def latency_line(self) -> str:
        return ", ".join(f"p{q} {self.latency[q] * 1000:.1f} ms" for q in sorted(self.latency))


# wrk's Lua side: each thread sends its share of the calls (one per line: method, path, body, headers,
# tab-separated) in order, starting over when it has sent them all, and counts the statuses.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread)
  thread:set("number", #threads)
  table.insert(threads, thread)
end
function init(args)
  local index = 0
  calls, position, statuses = {}, 0, {}
  for line in io.lines(args[1]) do
    if index % tonumber(args[2]) == number then
      local fields = {}
      for field in (line .. "\t"):gmatch("([^\t]*)\t") do table.insert(fields, field) end
      local headers = {}
      for i = 4, #fields do
        local name, value = fields[i]:match("^([^:]+): (.*)$")
        headers[name] = value
      end
      table.insert(calls, wrk.format(fields[1], fields[2], headers, fields[3] ~= "" and fields[3] or nil))
    end
    index = index + 1
  end
end
function request()
  position = position % #calls + 1
  return calls[position]
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do counts[status] = (counts[status] or 0) + count end
  end
  for status, count in pairs(counts) do io.write(string.format("status %d %d\n", status, count)) end
  io.write(string.format("seconds %f\n", summary.duration / 1e6))
  for _, q in ipairs({50, 95, 99}) do io.write(string.format("latency %d %f\n", q, latency:percentile(q) / 1e6)) end
end
"""


def run_wrk(base_url: str, calls: list[Call], connections: int, seconds: float) -> Load:
    """`calls` sent over `connections` HTTP/1.1 connections for `seconds` by wrk (a C client, so that
    the load generator does not take the server's CPU, as pgbench does not take PostgreSQL's), in order,
    starting over once all are sent. Threads: at most one per core and per connection."""
    threads = max(1, min(connections, multiprocessing.cpu_count()))
    with tempfile.TemporaryDirectory() as folder:
        script, lines = Path(folder) / "calls.lua", Path(folder) / "calls.tsv"
        script.write_text(WRK_SCRIPT)
        with lines.open("w") as out:
            for call in calls:
                body = json.dumps(call.json) if call.json is not None else ""
                headers = {**({"Content-Type": "application/json"} if body else {}), **(call.headers or {})}
                out.write("\t".join([call.method, call.path, body, *(f"{k}: {v}" for k, v in headers.items())]) + "\n")
        output = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
             "-s", str(script), base_url, "--", str(lines), str(threads)],
            check=True, capture_output=True, text=True,
        )
    statuses, latency, elapsed = {}, {}, 0.0
    for line in output.stdout.splitlines():
        match line.split():
            case ["status", status, count]:
                statuses[int(status)] = int(count)
            case ["seconds", value]:
                elapsed = float(value)
            case ["latency", q, value]:
                latency[int(q)] = float(value)
    if not elapsed:
        raise RuntimeError(f"wrk gave no figures:\n{output.stdout}\n{output.stderr}")
    return Load(statuses, elapsed, latency)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, round(fraction * len(ordered)) - 1)]


def machine_load() -> str:
    """The load average when the figures were taken (the machine may be shared)."""
    one, five, fifteen = os.getloadavg()
    return f"{multiprocessing.cpu_count()} CPU, load average {one:.2f} {five:.2f} {fifteen:.2f}"
