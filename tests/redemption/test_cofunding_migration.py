"""Revision r0004_c15 on a database that already holds an order with a free-text co-funder: the order keeps
its whole face value as the sponsor's share, and the new CHECKs hold afterwards (both backends)."""

from datetime import date

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from aptic import schema
from sqlalchemy.engine import make_url

from directory.db import make_engine
from tests.conftest import _create_postgis_database, _drop_postgis_database

ORGANISATION = ("INSERT INTO organisation (id, name, legal_form, siret, is_sponsor, is_distributor, is_venue_operator, "
                "is_aptic, distribution_only, created_at) VALUES (1, 'Département', 'collectivite', '22330001300016', "
                "true, false, false, false, false, CURRENT_TIMESTAMP)")
ORDER = ("INSERT INTO pass_order (id, sponsor_id, status, booklet_count, cheques_per_booklet, cheque_value_cents, "
         "face_value_cents, fee_rate_bp, fee_cents, vintage, expires_on, territories, allowed_levels, cofunder, "
         "cofunding_percent, requires_distribution, created_at, status_changed_at) VALUES (1, 1, 'draft', 2, 10, "
         "1000, 20000, 400, 800, 2026, :expires, '[]', '[]', 'État', 50, true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")


def test_the_revision_keeps_existing_orders_whole_for_the_sponsor(database_url, tmp_path):
    """A fresh database of the session's backend, stopped before r0004_c15, then upgraded with an order in it."""
    admin = None
    if database_url.startswith("postgresql"):
        url, admin = _create_postgis_database()
    else:
        url = f"sqlite:///{tmp_path / 'before.db'}"
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(schema.alembic_config(connection=connection), "r0002_a1")
            connection.execute(text(ORGANISATION))
            connection.execute(text(ORDER), {"expires": date(2027, 1, 31)})
        with engine.begin() as connection:
            schema.upgrade(connection=connection)
        with engine.begin() as connection:
            row = connection.execute(text("SELECT application_id, funder_share_bp, funder_share_cents, "
                                          "sponsor_share_cents FROM pass_order WHERE id = 1")).one()
            assert tuple(row) == (None, 0, 0, 20_000)
        for bad in ("funder_share_cents = 10000", "sponsor_share_cents = 1", "application_id = 999"):
            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(text(f"UPDATE pass_order SET {bad} WHERE id = 1"))
    finally:
        engine.dispose()
        if admin is not None:
            _drop_postgis_database(admin, make_url(url).database)
