"""Setup shared by the benchmark scripts: throwaway databases and their preparation.

The scripts run as `python bench/<script>.py` from the repository root, so this folder is on
sys.path and they import it as `from support import ...`.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
