"""The database of a running app: one engine, one session per request, committed at the edge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, g
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from directory.db import make_engine, make_sessionmaker, unit_of_work


class Database:
    def __init__(self, url: str, pool_size: int = 10, pool_timeout: float = 10) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=pool_timeout)
        self.sessionmaker: sessionmaker[Session] = make_sessionmaker(self.engine)

    def bind_to(self, connection: Connection) -> None:
        """Run every session inside an outer transaction that the caller rolls back (tests)."""
        self.sessionmaker = sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with unit_of_work(self.sessionmaker) as session:
            yield session

    def request_session(self) -> Session:
        """The session of the current request, opened on first use."""
        if "db_session" not in g:
            g.db_session = self.sessionmaker()
        return g.db_session

    def init_app(self, app: Flask) -> None:
        app.extensions["aptic.db"] = self
        app.after_request(_commit_or_rollback)
        app.teardown_appcontext(_close_session)


def _commit_or_rollback(response: Response) -> Response:
    session: Session | None = g.get("db_session")
    if session is not None:
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
    return response


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
