"""The daily open-data publication of the qualified, published venues (`aptic publish`, job `open-data-publication`).

Into one folder (APTIC_PUBLICATION_DIR, served at /donnees/): the national standard v1.0.1 as CSV
and JSON, a GeoJSON, data·inclusion structures and services (JSON), and `metadonnees.json`
(licence, dates, counts, sha256 of each file, the ids whose date_maj is the first-seen day).
Each file is written to a temporary file of the folder and renamed (os.replace): a reader gets
the previous file or the new one, never half of one. Files are checked before they are renamed
into place; a file that fails its schema stops the publication and the previous files stay.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from directory.db import PARIS_TZ, ScheduledJob, unit_of_work, utcnow
from directory.errors import DomainError
from directory.french import count
from directory.models import Venue, VenueStatus
from ingestion import dates, exports, open_formats, standard

log = logging.getLogger(__name__)

LICENCE = {"nom": "Licence Ouverte / Open Licence version 2.0",
           "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/", "spdx": "etalab-2.0"}
PUBLICATION_CRON = {"hour": 5, "minute": 30}  # every day, Paris time
FILES = {
    "lieux-mediation-numerique.csv": ("csv", "Standard des lieux de médiation numérique v1.0.1 (CSV)"),
    "lieux-mediation-numerique.json": ("json", "Standard des lieux de médiation numérique v1.0.1 (JSON)"),
    "lieux-mediation-numerique.geojson": ("geojson", "Les mêmes lieux en GeoJSON (points WGS84)"),
    "data-inclusion-structures.json": ("json", "Structures au schéma data·inclusion v1"),
    "data-inclusion-services.json": ("json", "Services au schéma data·inclusion v1"),
}


class PublicationInvalid(DomainError):
    code = "publication_invalid"
    status = 500


@dataclass(frozen=True)
class Publication:
    folder: Path
    metadata: dict[str, Any]

    def summary_line(self) -> str:
        counts = self.metadata["nombres"]
        return (f"Publication dans {self.folder} : {count(counts['lieux'], 'lieu', 'lieux')}, "
                f"{count(counts['services'], 'service')}, {count(counts['lieux_pass'], 'lieu acceptant', 'lieux acceptant')} "
                "le Pass numérique.")


def published_venues(session: Session) -> list[Venue]:
    """The venues on the public cartography: qualified and published."""
    return list(session.scalars(
        select(Venue).where(Venue.status == VenueStatus.QUALIFIED, Venue.published)
        .order_by(Venue.id).options(selectinload(Venue.services))
    ))


def publish(session: Session, folder: Path, now: datetime | None = None) -> Publication:
    """Write every file of the publication into `folder`, checked, atomically; returns its metadata."""
    now = now or utcnow()
    venues = published_venues(session)
    rows, estimated = exports.export_rows(session, venues=iter(venues))
    passes = {str(venue.id): venue.accepts_pass for venue in venues}
    dropped: dict[str, int] = {}
    structures = [_fitted("structures", open_formats.structure(row, passes[row["id"]]), dropped) for row in rows]
    services = [_fitted("services", item, dropped) for row in rows for item in open_formats.services(row, passes[row["id"]])]
    problems = {
        "lieux-mediation-numerique": open_formats.v1_errors(rows),
        "data-inclusion-structures": open_formats.di_errors("structures", structures),
        "data-inclusion-services": open_formats.di_errors("services", services),
    }
    if any(problems.values()):
        details = "; ".join(f"{name} : {errors[0]} ({count(len(errors), 'erreur')})"
                            for name, errors in problems.items() if errors)
        raise PublicationInvalid(f"Publication refusée, fichiers non conformes : {details}.", field="publication")

    features = exports.geojson(rows)
    for feature in features["features"]:
        feature["properties"] = {**feature["properties"], "pass_numerique_aptic": passes[feature["properties"]["id"]]}
    folder.mkdir(parents=True, exist_ok=True)
    exports.write_rows(folder / "lieux-mediation-numerique.csv", "csv", rows)
    contents = {
        "lieux-mediation-numerique.json": rows,
        "lieux-mediation-numerique.geojson": features,
        "data-inclusion-structures.json": structures,
        "data-inclusion-services.json": services,
    }
    for name, content in contents.items():
        exports.write_atomically(folder / name, lambda handle, content=content: json.dump(content, handle, ensure_ascii=False))
    known = [row["date_maj"] for row in rows if row["id"] not in estimated]
    metadata = {
        "titre": "Lieux de médiation numérique qualifiés APTIC",
        "producteur": "APTIC",
        "licence": LICENCE,
        "date_publication": now.astimezone(PARIS_TZ).isoformat(timespec="seconds"),
        "date_maj_la_plus_recente": max(known, default=None),
        "date_maj_la_plus_ancienne": min(known, default=None),
        "schemas": {"lieux-mediation-numerique": f"LaMednum/standard-mediation-num v{standard.OUTPUT_VERSION}",
                    "data-inclusion": "data-inclusion-schema v1 (PyPI)"},
        "pass_numerique": ("Les lieux qui acceptent le Pass numérique APTIC portent « " + standard.PASS_TEXT
                           + " » dans autres_formations_labels (standard), la propriété pass_numerique_aptic (GeoJSON) "
                           "et la mention dans frais_precisions de chaque service (data·inclusion)."),
        "nombres": {"lieux": len(rows), "services": len(services), "lieux_pass": sum(passes.values()),
                    "dates_inconnues": len(estimated)},
        # optional values data·inclusion's validator refuses (left out of those files only), per field
        "data_inclusion_valeurs_ecartees": dict(sorted(dropped.items())),
        "fichiers": [_describe(folder / name, kind, title, len(rows) if name != "data-inclusion-services.json"
                               else len(services)) for name, (kind, title) in FILES.items()],
        dates.ESTIMATED_KEY: estimated,
    }
    exports.write_atomically(folder / dates.PUBLICATION_METADATA,
                             lambda handle: json.dump(metadata, handle, ensure_ascii=False, indent=1))
    return Publication(folder, metadata)


def _fitted(kind: str, item: dict[str, Any], dropped: dict[str, int]) -> dict[str, Any]:
    fitted, names = open_formats.fit(kind, item)
    for name in names:
        key = f"{kind}.{name}"
        dropped[key] = dropped.get(key, 0) + 1
    return fitted


def _describe(path: Path, kind: str, title: str, items: int) -> dict[str, Any]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"fichier": path.name, "format": kind, "titre": title, "elements": items,
            "octets": path.stat().st_size, "sha256": digest}


def read_metadata(folder: Path) -> dict[str, Any] | None:
    """The metadata of the last publication in `folder`, or None before the first one."""
    try:
        return json.loads((folder / dates.PUBLICATION_METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def publication_dir() -> Path:
    """The folder of the running app (APTIC_PUBLICATION_DIR, else `publication/` in the instance folder)."""
    from flask import current_app

    configured = current_app.config.get("PUBLICATION_DIR") or ""
    return Path(configured) if configured else Path(current_app.instance_path) / "publication"


def _scheduled_publication(factory: sessionmaker[Session]) -> None:
    folder = publication_dir()
    with unit_of_work(factory) as session:
        publication = publish(session, folder)
    log.info(publication.summary_line())


SCHEDULED_JOBS = [ScheduledJob(
    id="open-data-publication",
    description="Publication quotidienne des lieux en données ouvertes (5 h 30)",
    run=_scheduled_publication,
    cron=PUBLICATION_CRON,
)]
