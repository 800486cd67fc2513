"""A venue created by an import is audited with its source and the fields the source gave."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api import audit_trail
from directory.models import Venue, VenueSource
from ingestion.venue_import import count_rows, import_venues
from tests.builders import ACTOR, row, write_csv


def test_created_venues_are_audited_with_their_source_and_known_fields(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "lieux.csv", [row("a"), row("b", telephone="05 56 00 00 00")])
    import_venues(session, ACTOR, [path], source="region", geocode=False)

    venue = session.scalars(select(Venue).join(VenueSource).where(VenueSource.source_id == "b")).one()
    [event] = audit_trail(session, "venue", venue.id)
    assert (event.action, event.actor, event.target_type) == ("venue.created", ACTOR.label, "venue")
    assert event.data["source"] == "region" and event.data["source_id"] == "b"
    assert (event.data["nom"], event.data["telephone"], event.data["code_insee"]) == (
        "Espace numérique b", "+33556000000", "33063"
    )
    assert event.data["date_maj"] == "2024-05-02"
    assert all(value not in (None, [], False) for value in event.data.values())


def test_count_rows_reads_the_files_as_the_import_does(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "un.csv", [row("a"), row("b")])
    second = write_csv(tmp_path / "deux.csv", [row("c")])
    assert count_rows([first, second]) == 3
