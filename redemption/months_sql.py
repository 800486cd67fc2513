"""The Europe/Paris month of a stored time, computed by the database (for GROUP BY month)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session

from directory.db import is_postgresql
from redemption.months import paris_date


def _sqlite_paris_month(value: str | None) -> str | None:
    if value is None:
        return None
    return paris_date(datetime.fromisoformat(value).replace(tzinfo=UTC)).strftime("%Y-%m")


def paris_month(session: Session, column: Any) -> Any:
    """AAAA-MM of a time in Paris; SQLite, which knows no time zones, gets it as a function of the connection."""
    if is_postgresql(session):
        return func.to_char(func.timezone("Europe/Paris", column), "YYYY-MM")
    session.connection().connection.driver_connection.create_function(
        "aptic_paris_month", 1, _sqlite_paris_month, deterministic=True)
    return func.aptic_paris_month(column)
