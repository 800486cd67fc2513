"""Many rows into one table at once: COPY on PostgreSQL, executemany elsewhere (issues, signals)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from directory.db import dialect_name

EXECUTEMANY_BATCH = 10_000


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, values as the database stores them) in the session's transaction.

    COPY applies no Python-side column default: the rows give every column that has one."""
    if not rows:
        return
    if dialect_name(session) == "postgresql":
        names = list(rows[0])
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[name] for name in names])
        return
    for offset in range(0, len(rows), EXECUTEMANY_BATCH):
        session.execute(insert(table), rows[offset:offset + EXECUTEMANY_BATCH])
