"""The database layer behaves the same on SpatiaLite and PostGIS."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pyproj import Geod
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from aptic.schema import metadata
from directory import api
from directory.db import geodesic_distance_m, point_wkt
from directory.models import AuditEvent, Organisation, User
from tests.builders import ACTOR


def test_migrations_match_the_models(connection):
    def include(obj, name, obj_type, reflected, compare_to):
        # SpatiaLite/PostGIS bookkeeping tables are not ours.
        return not (obj_type == "table" and reflected and compare_to is None)

    context = MigrationContext.configure(connection, opts={"include_object": include, "compare_type": False})
    differences = [
        d for d in compare_metadata(context, metadata())
        # GeoAlchemy2 manages spatial indexes outside SQLAlchemy's index reflection on SpatiaLite.
        if not (d[0] in ("add_index", "remove_index") and d[1].name.startswith("idx_"))
    ]
    assert differences == []


def test_geometries_are_stored_in_wgs84(session):
    srid = session.scalar(text("SELECT ST_SRID(centre) FROM territory WHERE code = '75056'"))
    assert srid == 4326


def test_distances_are_metres_on_the_ellipsoid(session):
    paris, lyon = (2.3522, 48.8566), (4.8357, 45.7640)
    expected = Geod(ellps="WGS84").inv(*paris, *lyon)[2]
    a = func.ST_GeomFromEWKT(point_wkt(*paris))
    b = func.ST_GeomFromEWKT(point_wkt(*lyon))
    distance = session.scalar(select(geodesic_distance_m(session, a, b)))
    assert distance == pytest.approx(expected, abs=1.0)
    assert 390_000 < distance < 393_000


def test_times_are_stored_in_utc_and_read_back_aware(session):
    paris_time = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    user = User(email="tz@example.fr", full_name="Fuseau", password_hash="x", created_at=paris_time)
    session.add(user)
    session.flush()
    session.expire(user)
    assert user.created_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert user.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(session):
    session.add(User(email="naive@example.fr", full_name="Naïf", password_hash="x", created_at=datetime(2026, 1, 1)))
    with pytest.raises(StatementError, match="naive"):
        session.flush()


def test_audit_log_is_append_only_in_the_database(session):
    event = api.record_audit(session, ACTOR, "thing.done", "thing", 1, detail="x")
    with pytest.raises(DBAPIError, match="append-only"):
        with session.begin_nested():
            session.execute(text("UPDATE audit_event SET action = 'forged' WHERE id = :id"), {"id": event.id})
    with pytest.raises(DBAPIError, match="append-only"):
        with session.begin_nested():
            session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": event.id})
    assert session.get(AuditEvent, event.id).action == "thing.done"


def test_an_organisation_without_siret_nor_rna_is_refused_by_the_database(session):
    session.add(Organisation(name="Sans identifiant", legal_form="association", is_sponsor=True))
    with pytest.raises(IntegrityError):
        session.flush()


def test_an_organisation_without_role_is_refused_by_the_database(session):
    session.add(Organisation(name="Sans rôle", legal_form="association", siret="22330001300016"))
    with pytest.raises(IntegrityError):
        session.flush()
