"""Database plumbing shared by every domain package.

The two backends differ in a few places only (loading SpatiaLite, geodesic distances, spatial
index look-ups, row locks); each difference lives in one small function here.
"""

from __future__ import annotations

import importlib
import math
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from geoalchemy2.admin.dialects.sqlite import init_spatialite
from sqlalchemy import Connection, DateTime, Engine, Float, MetaData, Text, bindparam, case, cast, column, create_engine, event, func, or_, select, table
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

SRID = 4326
PARIS_TZ = ZoneInfo("Europe/Paris")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The largest id the databases store (PostgreSQL `integer`): a larger one is unknown, never sent to SQL.
MAX_ID = 2**31 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC on both backends (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def sqlite_dbapi() -> Any:
    """The DB-API module able to load SQLite extensions.

    Some Python builds (pyenv's default one among them) compile `sqlite3` without extension
    loading; the `pysqlite3-binary` wheel has it.
    """
    if hasattr(sqlite3.connect(":memory:"), "enable_load_extension"):
        return sqlite3
    try:
        return importlib.import_module("pysqlite3.dbapi2")
    except ImportError as exc:  # pragma: no cover - depends on the platform
        raise RuntimeError(
            "Ce Python ne sait pas charger d'extension SQLite : installez le paquet "
            "« pysqlite3-binary » (pip install pysqlite3-binary)."
        ) from exc


def _spatialite_path() -> str:
    return os.environ.get("APTIC_SPATIALITE_PATH", "mod_spatialite")


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    try:
        dbapi_connection.enable_load_extension(True)
        dbapi_connection.load_extension(_spatialite_path())
        dbapi_connection.enable_load_extension(False)
    except Exception as exc:
        raise RuntimeError(
            "SpatiaLite est introuvable : installez le paquet Debian « libsqlite3-mod-spatialite » "
            "(sudo apt-get install libsqlite3-mod-spatialite) ou indiquez son chemin dans "
            "APTIC_SPATIALITE_PATH."
        ) from exc
    # Let SQLAlchemy, not the driver, decide when transactions start (SAVEPOINT support).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()
    init_spatialite(dbapi_connection, transaction=True, init_mode="WGS84")


def _on_sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking
    # on a lock upgrade; SQLite serialises writers anyway.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _load_bundled_geo_libraries() -> None:
    """Load pyproj and shapely (with the PROJ, SQLite and GEOS copies their wheels bundle) first.

    SQLite opens extensions with RTLD_GLOBAL, so once mod_spatialite is in, the system's
    libsqlite3/libproj/libgeos symbols take precedence: a pyproj imported afterwards binds its
    PROJ to the wrong SQLite and the process aborts at exit ("double free or corruption").
    """
    importlib.import_module("pyproj")
    importlib.import_module("shapely")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for a SpatiaLite file or a PostgreSQL/PostGIS server."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _load_bundled_geo_libraries()
        engine = create_engine(url, module=sqlite_dbapi(), **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        # JIT only for really big queries (reports over millions of cheques): the planner costs the spatial
        # functions so high that, at the default threshold (100,000), JIT compiled a 2 ms nearby count for 10-50 ms.
        kwargs.setdefault("connect_args", {}).setdefault("options", "-c jit_above_cost=2000000")
        return create_engine(url, **kwargs)
    raise ValueError(f"Base de données non prise en charge : {parsed.get_backend_name()}")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dialect_name(bind: Session | Engine | Connection) -> str:
    """"postgresql" or "sqlite": for the few differences kept in this module, and for reports."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name


def is_postgresql(bind: Session | Engine | Connection) -> bool:
    return dialect_name(bind) == "postgresql"


def statement_cache_key(bind: Session | Engine | Connection) -> str:
    """What a statement built once and cached depends on: the dialect it was compiled for."""
    return dialect_name(bind)


def geodesic_distance_m(session: Session, a: Any, b: Any) -> ColumnElement[float]:
    """Distance in metres on the WGS84 ellipsoid between two SRID 4326 geometries."""
    if dialect_name(session) == "postgresql":
        return func.ST_Distance(func.geography(a), func.geography(b))
    return func.ST_Distance(a, b, 1)


def bbox_filter(
    session: Session, model: Any, column_name: str, xmin: float, ymin: float, xmax: float, ymax: float
) -> ColumnElement[bool]:
    """Rows whose geometry's bounding box meets a lon/lat box, answered by the spatial index."""
    geometry = getattr(model, column_name)
    if dialect_name(session) == "postgresql":
        return geometry.op("&&")(func.ST_MakeEnvelope(xmin, ymin, xmax, ymax, SRID))
    # SpatiaLite keeps its R*Tree as a plain virtual table named idx_<table>_<column>.
    rtree = table(
        f"idx_{model.__tablename__}_{column_name}",
        column("pkid"), column("xmin"), column("xmax"), column("ymin"), column("ymax"),
    )
    return model.id.in_(
        select(rtree.c.pkid).where(
            rtree.c.xmax >= xmin, rtree.c.xmin <= xmax, rtree.c.ymax >= ymin, rtree.c.ymin <= ymax
        )
    )


# A degree of latitude is at least this long (at the equator): a box built with it holds the circle.
METRES_PER_DEGREE_LAT_MIN = 110_574
# PostGIS's geography index answers distances on its sphere (radius 6 371 008.8 m); the ellipsoid distance
# is at least 0.9944 times the sphere one (the meridian radius at the equator over the sphere's), 0.99 with
# a margin: every point within d metres on the ellipsoid is within d / 0.99 on the sphere. It is at most
# 1.0045 times (the polar radius of curvature over the sphere's): within 0.99 d on the sphere is within d.
ELLIPSOID_OVER_SPHERE_MIN = 0.99
# SpatiaLite's first search circle for the nearest rows (metres, for 20 rows), doubled until it holds them.
FIRST_REACH_M = 1_000.0


def box_around(lon: float, lat: float, metres: float) -> dict[str, float]:
    """The lon/lat box (xmin, ymin, xmax, ymax) holding the circle of `metres` around a point."""
    dlat = metres / METRES_PER_DEGREE_LAT_MIN
    dlon = min(180.0, dlat / math.cos(math.radians(min(89.0, abs(lat) + dlat))))
    return {"xmin": lon - dlon, "ymin": lat - dlat, "xmax": lon + dlon, "ymax": lat + dlat}


def within_distance(
    session: Session, model: Any, column_name: str, centre: Any, metres: Any, box: tuple[Any, ...] | None = None
) -> list[ColumnElement[bool]]:
    """Rows whose point lies within `metres` of `centre` on the ellipsoid, found through the spatial index.

    PostgreSQL: the geography index, on the sphere widened to hold the ellipsoid circle; SpatiaLite:
    the R*Tree inside `box`, which must hold the circle (`box_around`).
    """
    geometry = getattr(model, column_name)
    exact = geodesic_distance_m(session, geometry, centre) <= metres
    if dialect_name(session) == "postgresql":
        return [_sphere_within(geometry, centre, metres), exact]
    return [bbox_filter(session, model, column_name, *box), exact]


def _sphere_within(geometry: Any, centre: Any, metres: Any) -> ColumnElement[bool]:
    """PostgreSQL: within `metres` on the ellipsoid, surely (wider on the sphere), by the geography index."""
    return func.ST_DWithin(func.geography(geometry), func.geography(centre), metres / ELLIPSOID_OVER_SPHERE_MIN, False)


def _planar_nearest(
    session: Session, model: Any, column_name: str, centre: Any, conditions: list[Any], box: tuple[Any, ...], count: Any
) -> Any:
    """PostgreSQL: the ellipsoid distance ("metres") and the planar one ("degrees") of the `count` rows meeting
    `conditions` in `box` nearest `centre` in planar order, read from the spatial index in that order."""
    geometry = getattr(model, column_name)
    # The ellipsoid distance is measured on the `count` rows only (PostgreSQL postpones costly outputs).
    planar = geometry.op("<->", return_type=Float)(centre)
    return (
        select(geodesic_distance_m(session, geometry, centre).label("metres"), planar.label("degrees"))
        .where(*conditions, bbox_filter(session, model, column_name, *box))
        .order_by(planar)
        .limit(count)
        .subquery()
    )


def nearest_reach(
    session: Session, model: Any, column_name: str, centre: Any, conditions: list[Any], radius: Any, count: Any,
    box: tuple[Any, ...],
) -> ColumnElement[float]:
    """The distance in metres (ellipsoid) within which lie the `count` rows nearest `centre` meeting `conditions`
    (written on `model`, an alias), `radius` at most (`box` holds its circle): what `within_distance` of a
    nearest-first page needs.

    PostgreSQL: the `count` nearest in planar order, from the spatial index; SpatiaLite: the parameter
    `reach`, which `nearest_rows` sets.
    """
    if dialect_name(session) != "postgresql":
        return bindparam("reach", type_=Float)
    nearest = _planar_nearest(session, model, column_name, centre, conditions, box, count)
    # Any `count` rows lie within some distance on the ellipsoid: so do the `count` nearest ones (maybe other
    # rows, in another order, which `within_distance` finds); the planar nearest keep that distance tight.
    farthest = func.least(func.max(nearest.c.metres), radius)
    reach = select(case((func.count() < count, radius), else_=farthest).label("metres")).cte("reach")
    # Read through a CTE: the page uses the distance twice, PostgreSQL computes it once.
    return select(reach.c.metres).scalar_subquery()


def capped_count(
    session: Session, model: Any, column_name: str, centre: Any, conditions: list[Any], radius: Any, count: Any,
    box: tuple[Any, ...],
) -> Any:
    """How many rows meeting `conditions` lie within `radius` metres of `centre` (`box` holds the circle),
    `count` at most."""
    geometry = getattr(model, column_name)
    distance = geodesic_distance_m(session, geometry, centre)
    if dialect_name(session) != "postgresql":
        matching = select(model.id).where(*conditions, bbox_filter(session, model, column_name, *box), distance <= radius)
        return select(func.count()).select_from(matching.limit(count).subquery())
    # The geography index finds the candidates; the ellipsoid distance (costly) is measured only near the
    # edge, since well inside on the sphere is inside.
    surely_inside = func.ST_DWithin(func.geography(geometry), func.geography(centre), radius * ELLIPSOID_OVER_SPHERE_MIN, False)
    matching = select(model.id).where(
        *conditions, _sphere_within(geometry, centre, radius), or_(surely_inside, distance <= radius)
    )
    return select(func.count()).select_from(matching.limit(count).subquery())


def nearest_rows(
    session: Session, statement: Any, parameters: dict[str, Any], lon: float, lat: float, radius_m: float, rows: int
) -> list[Any]:
    """The rows of a nearest-first page `statement` (`within_distance` of `nearest_reach`, `rows` at most).

    SpatiaLite has no index order: the page is read in a circle around (lon, lat) doubled until it
    holds `rows` rows or reaches `radius_m`; the circle holding them all, they are the nearest.
    """
    if dialect_name(session) == "postgresql":
        return session.execute(statement, parameters).all()
    reach = min(radius_m, FIRST_REACH_M * math.sqrt(max(1.0, parameters["nearest"] / 20)))
    while True:
        found = session.execute(statement, {**parameters, **box_around(lon, lat, reach), "reach": reach}).all()
        if len(found) >= rows or reach >= radius_m:
            return found
        reach = min(radius_m, reach * 2)


def point_wkt(lon: float, lat: float) -> str:
    return f"SRID={SRID};POINT({lon!r} {lat!r})"


@dataclass(frozen=True)
class ScheduledJob:
    """A periodic job a domain package declares in `api.SCHEDULED_JOBS`; the shell runs it.

    `run` receives a session factory and owns its units of work; `cron` holds APScheduler
    CronTrigger fields, in Europe/Paris time.
    """

    id: str
    description: str
    run: Callable[[sessionmaker[Session]], None]
    cron: dict[str, Any] = field(default_factory=dict)
    misfire_grace_seconds: int = 6 * 3600

    def trigger(self) -> Any:
        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger(timezone=PARIS_TZ, **self.cron)


def json_array_contains(session: Session, column_expression: Any, value: str) -> ColumnElement[bool]:
    """Rows whose JSON array column holds `value` (PostgreSQL: jsonb containment; SQLite: json_each)."""
    if dialect_name(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return column_expression.cast(JSONB).contains(func.jsonb_build_array(cast(value, Text)))
    each = func.json_each(column_expression).table_valued("value")
    return select(1).select_from(each).where(each.c.value == value).exists()


def try_transaction_lock(session: Session, name: str) -> bool:
    """Hold a named lock until the session's transaction ends, without queueing; False if it is taken.

    PostgreSQL: a transaction-level advisory lock. SQLite: the transaction's BEGIN IMMEDIATE
    already holds the database's single write lock; a writer still busy after busy_timeout
    means the lock is taken.
    """
    from sqlalchemy.exc import OperationalError

    if dialect_name(session) == "postgresql":
        return bool(session.scalar(select(func.pg_try_advisory_xact_lock(func.hashtext(name)))))
    try:
        session.execute(select(1))
    except OperationalError as error:
        if "locked" not in str(error):
            raise
        session.rollback()
        return False
    return True


def transaction_lock(session: Session, name: str) -> None:
    """Hold a named lock until the transaction ends, waiting for it if another holds it.

    PostgreSQL: a transaction-level advisory lock. SQLite: BEGIN IMMEDIATE already serialises writers.
    """
    if is_postgresql(session):
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(name))))


def insert_ignoring_duplicates(session: Session, model: type) -> Any:
    """INSERT … ON CONFLICT DO NOTHING, for rows two processes may write at once."""
    if is_postgresql(session):
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(model).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model).on_conflict_do_nothing()


def allocate_ids(session: Session, model: Any, count: int) -> list[int]:
    """Primary keys for a bulk insert, so it needs no RETURNING (row by row on SQLite)."""
    if is_postgresql(session):
        sequence = func.pg_get_serial_sequence(model.__tablename__, "id")
        return list(session.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count))))
    # SQLite: the write lock is held since BEGIN IMMEDIATE, no other writer can take these ids.
    start = (session.scalar(select(func.max(model.id))) or 0) + 1
    return list(range(start, start + count))
