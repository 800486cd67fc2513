"""Per-process caches of what changes rarely: small tables (the service referential, the dated fee
rules) and, entry by entry, what a hot path reads on every request (a scanner's key and venue).

A `ProcessCache` holds, per database, plain copies of the rows of one model for `ttl` seconds; a session
that writes rows of that model clears it at flush and again when its transaction ends. A `KeyedCache`
holds values computed per key for `ttl` seconds; a session that writes one of the rows a value was
read from drops that entry at flush and again when its transaction ends. Either way another process
sees a change within `ttl` seconds, this one at once. Callers get objects attached to their own
session without a query.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, event, inspect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

CACHES: list[ProcessCache | KeyedCache] = []


def column_values(instance: Any) -> dict[str, Any]:
    """The column attributes of a mapped instance, as plain values (`attach` turns them back)."""
    return {attribute.key: getattr(instance, attribute.key) for attribute in inspect(type(instance)).column_attrs}


def attach(session: Session, model: type, values: dict[str, Any]) -> Any:
    """Cached column values as an instance of `model` in `session`, without a query."""
    return attach_instance(session, model(**values))


def attach_instance(session: Session, instance: Any, **related: Any) -> Any:
    """A new instance holding the columns of a row that exists (cached, or just written with a Core
    insert) as a clean persistent object of `session`, with the `related` objects as if loaded: no
    query, nothing to flush. The session's own copy when it holds the row already."""
    make_transient_to_detached(instance)
    existing = session.identity_map.get(inspect(instance).key)
    if existing is not None:
        return existing
    session.add(instance)
    for name, value in related.items():
        set_committed_value(instance, name, value)
    return instance


def _database(session: Session) -> str:
    return str(session.get_bind().engine.url)


class ProcessCache:
    def __init__(self, model: type, query: Callable[[], Select], ttl: float = 60.0) -> None:
        self.model = model
        self.query = query
        self.ttl = ttl
        self._rows: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()
        CACHES.append(self)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def forget(self, written: set[tuple[type, Any]]) -> bool:
        """Clear the cache when rows of its model were written; whether it did."""
        if any(model is self.model for model, _ in written):
            self.clear()
            return True
        return False

    def rows(self, session: Session) -> list[dict[str, Any]]:
        """The rows of the query as column values (read from the database at most once per `ttl`)."""
        database = _database(session)
        with self._lock:
            cached = self._rows.get(database)
        if cached is None or time.monotonic() - cached[0] > self.ttl:
            rows = [column_values(item) for item in session.scalars(self.query())]
            cached = (time.monotonic(), rows)
            with self._lock:
                self._rows[database] = cached
        return cached[1]

    def attach(self, session: Session, values: dict[str, Any]) -> Any:
        """A cached row as an instance of the model in `session`, without a query."""
        return attach(session, self.model, values)


class KeyedCache:
    """Values computed per key by the caller, each kept `ttl` seconds with the rows it was read from."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        # (database, key) -> (time read, value); and for each row read, the entries read from it
        self._entries: dict[tuple[str, Any], tuple[float, Any]] = {}
        self._readers: dict[tuple[type, Any], set[tuple[str, Any]]] = {}
        self._lock = threading.Lock()
        CACHES.append(self)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._readers.clear()

    def forget(self, written: set[tuple[type, Any]]) -> bool:
        """Drop the entries read from one of the `written` rows; whether there were any."""
        with self._lock:
            stale = set().union(*(self._readers.pop(row, ()) for row in written))
            for key in stale:
                self._entries.pop(key, None)
        return bool(stale)

    def get(self, session: Session, key: Any, load: Callable[[], tuple[Any, list[Any]]]) -> Any:
        """The value for `key`: cached, or `load()`'s value (not kept when None) with the mapped
        instances it was read from."""
        entry_key = (_database(session), key)
        with self._lock:
            entry = self._entries.get(entry_key)
        if entry is not None and time.monotonic() - entry[0] <= self.ttl:
            return entry[1]
        value, instances = load()
        if value is not None:
            with self._lock:
                self._entries[entry_key] = (time.monotonic(), value)
                for instance in instances:
                    self._readers.setdefault((type(instance), inspect(instance).identity), set()).add(entry_key)
        return value


def clear_all() -> None:
    for cache in CACHES:
        cache.clear()


@event.listens_for(Session, "after_flush")
def _clear_on_write(session: Session, _context: Any) -> None:
    written = {(type(item), inspect(item).identity) for item in (*session.new, *session.dirty, *session.deleted)}
    for cache in CACHES:
        if cache.forget(written):
            session.info.setdefault("process_caches_written", set()).update(written)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _clear_at_end(session: Session) -> None:
    # Another session of this process may have read the rows again before this transaction ended.
    written = session.info.pop("process_caches_written", None)
    if written:
        for cache in CACHES:
            cache.forget(written)
