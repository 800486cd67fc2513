"""The real files of ../shared/data/mediation: every one imports with pinned counts, dates and places
are checked, and an export imported into a fresh database keeps every date (both backends)."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session


from directory.db import make_engine
from directory.models import Venue, VenueSource, VenueStatus
from ingestion import exports
from ingestion.api import import_venues
from ingestion.publication import publish
from tests.builders import ACTOR
from tests.conftest import database_copy
from tests.ingestion.test_publication import check_publication

FILES = [
    # (source, path under mediation/, kind, created, rejected, warnings, accepts the pass, APTIC label)
    ("paca", "anct-client-application/20230517-hub-du-sud-lieux-de-mediation-numeriques-provence-alpes-cote-d-azur.json",
     "standard v1.0", 646, 0, 11, 0, 0),
    ("charente", "anct-client-application/20230711-charente-lieux-de-mediation-numeriques-nouvelle-aquitaine.json",
     "standard v1.0", 188, 0, 1, 0, 0),
    ("bus-charente", "anct-client-application/20231003-bus-france-services-en-charente-lieux-de-mediation-numeriques-"
     "nouvelle-aquitaine.json", "standard v0.1", 12, 0, 2, 0, 12),
    ("nouvelle-caledonie", "anct-client-application/20240320-nouvelle-caledonie-lieux-de-mediation-numeriques-"
     "nouvelle-caledonie.json", "standard v1.0", 90, 0, 21, 0, 0),
    ("hinaura", "anct-client-application/hinaura-source.json", "standard v0.1", 687, 0, 0, 91, 0),
    ("rhinocc", "rhinocc/rhinocc-inclusion-dataset-geocoded.csv", "correspondance rhinocc", 845, 0, 338, 0, 36),
    ("hauts-de-france", "hauts-de-france-assembleurs/siilab-hdf_export.csv", "correspondance hauts-de-france",
     1201, 48, 82, 13, 8),
]


def _import_all(session: Session, mediation: Path) -> dict[str, object]:
    summaries = {}
    for source, relative, kind, created, rejected, warnings, accepts_pass, aptic in FILES:
        summaries[source] = summary = import_venues(session, ACTOR, [mediation / relative], source=source, geocode=False)
        [file_summary] = summary.files
        assert file_summary.kind == kind, source
        assert (summary.counts["created"], summary.counts["rejected"], summary.warnings) == (created, rejected, warnings), source
        assert summary.counts["created"] + summary.counts["merged"] + summary.counts["rejected"] == file_summary.rows
        venues = select(func.count()).select_from(Venue).join(VenueSource).where(VenueSource.source == source)
        assert session.scalar(venues.where(Venue.accepts_pass)) == accepts_pass, source
        assert session.scalar(venues.where(Venue.aptic_label)) == aptic, source
    return summaries


def _codes(session: Session, source: str) -> list[str | None]:
    return list(session.scalars(select(Venue.code_insee).join(VenueSource).where(VenueSource.source == source)))


def _dates(session: Session, source: str) -> dict[str, date | None]:
    """{source id: date_maj} of the venues one source feeds."""
    return dict(session.execute(select(VenueSource.source_id, Venue.date_maj).join(Venue).where(VenueSource.source == source)).all())


def test_shared_files_import_with_checked_dates_and_places(session: Session, shared_data: Path) -> None:
    mediation = shared_data / "mediation"
    summaries = _import_all(session, mediation)

    too_long = [line for line in summaries["nouvelle-caledonie"].report if line["champ"] == "presentation_resume"]
    assert len(too_long) == 12 and all(line["niveau"] == "avertissement" for line in too_long)
    again = import_venues(session, ACTOR, [mediation / FILES[4][1]], source="hinaura", geocode=False)
    assert again.counts["unchanged"] == 687
    resumes = import_venues(session, ACTOR, [mediation / FILES[3][1]], source="nouvelle-caledonie", geocode=False)
    assert resumes.counts["unchanged"] == 90
    assert None not in _codes(session, "paca")  # 629 of 646 rows had no code_insee: derived from their points

    # dates: every format of the files is read; only empty cells stay unknown
    report = [line for summary in summaries.values() for line in summary.report]
    refused = [line for line in report if line["champ"] == "date_maj" and line["valeur"]]
    assert refused == []
    assert sum(line["champ"] == "date_maj" for line in report) == 193  # RhinOcc rows without a date
    hdf = _dates(session, "hauts-de-france")
    with (mediation / FILES[6][1]).open(encoding="utf-8-sig") as handle:
        timestamped = [r["ID Exporter les données"] for r in csv.DictReader(handle) if r["Horodateur"].endswith(" 00:00:00")]
    assert len(timestamped) == 6 and all(hdf[source_id] is not None for source_id in timestamped if source_id in hdf)
    assert date(2019, 2, 25) in {hdf[source_id] for source_id in timestamped if source_id in hdf}

    # places: Nouvelle-Calédonie venues are in Nouvelle-Calédonie, named so
    assert {code[:3] for code in _codes(session, "nouvelle-caledonie")} == {"988"}
    moved = [line for line in summaries["nouvelle-caledonie"].report if line["valeur"] == "63236"]
    assert len(moved) == 9 and all("en Nouvelle-Calédonie" in line["message"] for line in moved)
    assert not [line for line in report if "hors de France" in line["message"]]
    [far] = [line for line in summaries["bus-charente"].report if "point écarté" in line["message"]]
    assert "Bouc-Bel-Air" in far["message"]
    assert all(code.startswith("16") for code in _codes(session, "bus-charente"))


def _venue_dates(engine: Engine) -> dict[int, date | None]:
    with Session(engine) as session:
        return dict(session.execute(select(Venue.id, Venue.date_maj)).all())


def test_an_export_imported_into_a_fresh_database_keeps_every_date(database_url: str, engine: Engine,
                                                                  shared_data: Path, tmp_path: Path) -> None:
    engine.dispose()
    mediation = shared_data / "mediation"
    with database_copy(database_url, tmp_path) as source_url, database_copy(database_url, tmp_path) as target_url:
        source_engine, target_engine = make_engine(source_url), make_engine(target_url)
        with Session(source_engine) as session:
            for source, relative, *_ in FILES:
                import_venues(session, ACTOR, [mediation / relative], source=source, geocode=False)
            session.commit()
            exports.export_venues(session, tmp_path / "lieux.csv", "csv")
            exports.export_venues(session, tmp_path / "lieux.json", "json")
            # every venue published: `aptic publish` output passes schema v1.0.1 and data-inclusion-schema
            session.execute(update(Venue).values(status=VenueStatus.QUALIFIED, published=True))
            publish(session, tmp_path / "publication")
            metadata = check_publication(tmp_path / "publication")
            assert metadata["nombres"]["lieux"] == 3669 and metadata["nombres"]["lieux_pass"] == 104
            session.rollback()
        known = _venue_dates(source_engine)
        unknown = sum(value is None for value in known.values())
        assert unknown >= 193
        sidecar = json.loads((tmp_path / "lieux.csv.meta.json").read_text(encoding="utf-8"))
        assert len(sidecar["date_maj_premiere_vue"]) == unknown

        with Session(target_engine) as session:
            summary = import_venues(session, ACTOR, [tmp_path / "lieux.csv"], source="aptic", geocode=False)
            assert summary.counts["created"] == len(known)
            session.commit()
            carried = _dates(session, "aptic")
            assert {int(source_id): value for source_id, value in carried.items()} == known
            assert sum(value is None for value in carried.values()) == unknown
            # exported again, the dates are the same: the first-seen day travelled with the venue
            exports.export_venues(session, tmp_path / "again.csv", "csv")
            with (tmp_path / "lieux.csv").open(encoding="utf-8") as first, (tmp_path / "again.csv").open(encoding="utf-8") as second:
                before = {row["id"]: row["date_maj"] for row in csv.DictReader(first)}
                ids = dict(session.execute(select(VenueSource.venue_id, VenueSource.source_id).where(VenueSource.source == "aptic")).all())
                after = {ids[int(row["id"])]: row["date_maj"] for row in csv.DictReader(second)}
            assert after == before

            # a newer, real date wins the merge over a venue whose date was never known
            undated_id = next(source_id for source_id, value in carried.items() if value is None)
            venue = session.scalar(select(Venue).join(VenueSource).where(VenueSource.source == "aptic",
                                                                           VenueSource.source_id == undated_id))
            point = exports.venue_row(venue)
            newer = tmp_path / "newer.csv"
            with newer.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=["id", "nom", "adresse", "commune", "code_postal", "code_insee",
                                                            "latitude", "longitude", "telephone", "date_maj"])
                writer.writeheader()
                writer.writerow({"id": "n1", "nom": venue.nom, "adresse": venue.adresse, "commune": venue.commune,
                                 "code_postal": venue.code_postal, "code_insee": venue.code_insee,
                                 "latitude": point["latitude"], "longitude": point["longitude"],
                                 "telephone": "+33561000099", "date_maj": "2025-06-01"})
            merged = import_venues(session, ACTOR, [newer], source="region-2025", geocode=False)
            assert merged.counts["merged"] == 1
            session.refresh(venue)
            assert venue.telephone == "+33561000099" and venue.date_maj == date(2025, 6, 1)
        source_engine.dispose()
        target_engine.dispose()
