"""Test harness: every database test runs on SpatiaLite and on PostgreSQL/PostGIS.

A session-scoped database per backend is migrated with the real migrations and filled with the
shipped territories and the referential once; each test then runs in a transaction rolled back
at its end (the app under test joins that transaction through savepoints).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from aptic import create_app, schema
from directory import api, process_cache
from directory.db import make_engine
from ingestion.api import load_territories
from tests.ban_server import BanServer

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("APTIC_SHARED_DATA", ROOT.parent / "shared" / "data"))
POSTGRES_ADMIN_URL = os.environ.get(
    "APTIC_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ["spatialite", "postgis"]
CHROMIUM = "/usr/bin/chromium"


def _postgres_unavailable(reason: str) -> None:
    message = f"PostGIS indisponible ({reason}) : tests PostGIS ignorés."
    if IN_CI:
        pytest.fail(f"{message} En CI (CI=true), PostGIS est obligatoire.", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data of ../shared/data; tests that need it skip on a fresh clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"données partagées absentes ({SHARED_DATA}) : test ignoré")
    return SHARED_DATA


def _create_postgis_database() -> tuple[str, Engine]:
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"aptic_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # connection refused, auth, …
        admin.dispose()
        _postgres_unavailable(str(exc).splitlines()[0])
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except Exception as exc:
        engine.dispose()
        _drop_postgis_database(admin, name)
        _postgres_unavailable(f"extension postgis : {str(exc).splitlines()[0]}")
    engine.dispose()
    return url, admin


def _drop_postgis_database(admin: Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database of each backend, with territories and referential loaded."""
    if request.param == "spatialite":
        url = f"sqlite:///{tmp_path_factory.mktemp('spatialite') / 'aptic-test.db'}"
        admin = None
    else:
        url, admin = _create_postgis_database()
    engine = make_engine(url)
    with engine.begin() as connection:
        schema.upgrade(connection=connection)
    with Session(engine) as session:
        load_territories(session)
        api.load_referential(session)
        session.commit()
    engine.dispose()
    yield url
    if admin is not None:
        _drop_postgis_database(admin, make_url(url).database)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()
    # The rollback of the test's outer transaction is not a session's: the per-process caches cannot see it.
    process_cache.clear_all()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session whose commits are savepoints inside the test's rolled-back transaction."""
    with Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
        yield session


@pytest.fixture
def app(database_url: str, connection: Connection, tmp_path: Path) -> Flask:
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test", "SERVER_NAME": "aptic.test"})
    app.extensions["aptic.db"].bind_to(connection)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ban() -> Iterator[BanServer]:
    """A local server answering like the national address API (`/search/` and `/search/csv/`)."""
    with BanServer() as server:
        yield server


@contextmanager
def database_copy(database_url: str, folder: Path) -> Iterator[str]:
    """A throwaway copy of a migrated database (a file copy, or a PostgreSQL TEMPLATE copy), dropped on exit.

    The original must be idle: dispose of its engines first.
    """
    if database_url.startswith("sqlite"):
        source = Path(make_url(database_url).database)
        with closing(sqlite3.connect(source)) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        copy = folder / f"aptic-copy-{uuid.uuid4().hex[:6]}.db"
        shutil.copyfile(source, copy)
        yield f"sqlite:///{copy}"
        return
    template = make_url(database_url).database
    name = f"{template}_c{uuid.uuid4().hex[:6]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop_postgis_database(admin, name)


@pytest.fixture
def committed_database_url(database_url: str, engine: Engine, tmp_path: Path) -> Iterator[str]:
    """A throwaway copy of the session database, for tests whose work must really commit.

    Threads, several processes and live HTTP servers see only committed data, which the
    rolled-back `connection` fixture never produces. Do not combine with `connection`,
    `session`, `app` or `client` in the same test: the copy needs the original idle.
    """
    engine.dispose()
    with database_copy(database_url, tmp_path) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's headless Chromium through Playwright (the browser tests skip where it is absent)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium absent (paquet Debian « chromium ») : test navigateur ignoré")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()
