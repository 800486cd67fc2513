"""Per-process caches of small tables that change rarely (the service referential, the dated fee rules).

Each cache holds, per database, plain copies of the rows of one model for `ttl` seconds. A session that
writes rows of that model clears it at flush and again when its transaction ends (so another process
sees a change within `ttl` seconds, this one at once). Callers get objects attached to their own
session without a query.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

CACHES: list[ProcessCache] = []


class ProcessCache:
    def __init__(self, model: type, query: Callable[[], Select], ttl: float = 60.0) -> None:
        self.model = model
        self.query = query
        self.ttl = ttl
        self.columns = [column.key for column in inspect(model).column_attrs]
        self._rows: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        CACHES.append(self)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def rows(self, session: Session) -> list[dict[str, Any]]:
        """The rows of the query as column values (read from the database at most once per `ttl`)."""
        database = str(session.get_bind().engine.url)
        with self._lock:
            cached = self._rows.get(database)
        if cached is None or time.monotonic() - cached[0] > self.ttl:
            rows = [{name: getattr(item, name) for name in self.columns}
                    for item in session.scalars(self.query())]
            cached = (time.monotonic(), rows)
            with self._lock:
                self._rows[database] = cached
        return cached[1]

    def attach(self, session: Session, values: dict[str, Any]) -> Any:
        """A cached row as an instance of the model in `session`, without a query."""
        instance = self.model(**values)
        make_transient_to_detached(instance)
        return session.merge(instance, load=False)


def clear_all() -> None:
    for cache in CACHES:
        cache.clear()


@event.listens_for(Session, "after_flush")
def _clear_on_write(session: Session, _context: Any) -> None:
    changed = {type(item) for item in (*session.new, *session.dirty, *session.deleted)}
    for cache in CACHES:
        if cache.model in changed:
            cache.clear()
            session.info.setdefault("process_caches_written", set()).add(id(cache))


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _clear_at_end(session: Session) -> None:
    written = session.info.pop("process_caches_written", set())
    for cache in CACHES:
        if id(cache) in written:
            cache.clear()
