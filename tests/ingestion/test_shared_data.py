"""The real files of ../shared/data/mediation: every one imports, APTIC facts are flagged."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.models import Venue, VenueSource
from ingestion.api import import_venues
from tests.builders import ACTOR

FILES = [
    # (source, path under mediation/, kind, created, rejected, accepts the pass, APTIC label)
    ("paca", "anct-client-application/20230517-hub-du-sud-lieux-de-mediation-numeriques-provence-alpes-cote-d-azur.json",
     "standard v1.0", 646, 0, 0, 0),
    ("charente", "anct-client-application/20230711-charente-lieux-de-mediation-numeriques-nouvelle-aquitaine.json",
     "standard v1.0", 188, 0, 0, 0),
    ("bus-charente", "anct-client-application/20231003-bus-france-services-en-charente-lieux-de-mediation-numeriques-"
     "nouvelle-aquitaine.json", "standard v0.1", 12, 0, 0, 12),
    ("nouvelle-caledonie", "anct-client-application/20240320-nouvelle-caledonie-lieux-de-mediation-numeriques-"
     "nouvelle-caledonie.json", "standard v1.0", 90, 0, 0, 0),
    ("hinaura", "anct-client-application/hinaura-source.json", "standard v0.1", 687, 0, 91, 0),
    ("rhinocc", "rhinocc/rhinocc-inclusion-dataset-geocoded.csv", "correspondance rhinocc", 845, 0, 0, 36),
    ("hauts-de-france", "hauts-de-france-assembleurs/siilab-hdf_export.csv", "correspondance hauts-de-france",
     1201, 48, 13, 8),
]


def test_every_shared_file_imports_with_its_aptic_facts(session: Session, shared_data: Path) -> None:
    mediation = shared_data / "mediation"
    summaries = {}
    for source, relative, kind, created, rejected, accepts_pass, aptic in FILES:
        summaries[source] = summary = import_venues(session, ACTOR, [mediation / relative], source=source, geocode=False)
        [file_summary] = summary.files
        assert file_summary.kind == kind, source
        assert (summary.counts["created"], summary.counts["rejected"]) == (created, rejected), source
        assert summary.counts["created"] + summary.counts["merged"] + summary.counts["rejected"] == file_summary.rows
        venues = select(func.count()).select_from(Venue).join(VenueSource).where(VenueSource.source == source)
        assert session.scalar(venues.where(Venue.accepts_pass)) == accepts_pass, source
        assert session.scalar(venues.where(Venue.aptic_label)) == aptic, source

    too_long = [line for line in summaries["nouvelle-caledonie"].report if line["champ"] == "presentation_resume"]
    assert len(too_long) == 12 and all(line["niveau"] == "avertissement" for line in too_long)
    again = import_venues(session, ACTOR, [mediation / FILES[4][1]], source="hinaura", geocode=False)
    assert again.counts["unchanged"] == 687
    resumes = import_venues(session, ACTOR, [mediation / FILES[3][1]], source="nouvelle-caledonie", geocode=False)
    assert resumes.counts["unchanged"] == 90
    paca_without_insee = session.scalar(
        select(func.count()).select_from(Venue).join(VenueSource)
        .where(VenueSource.source == "paca", Venue.code_insee.is_(None))
    )
    assert paca_without_insee == 0  # 629 of 646 rows had no code_insee: derived from their points
