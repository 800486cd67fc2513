"""Import venues of the national standard (or of a hub) for one source: upsert, merge, bulk create, close."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from directory.api import (
    REQUIRED_FIELDS,
    Actor,
    active_services,
    distribution_only_by_default,
    parse_date,
    record_audit,
    record_audits,
    set_venue_status,
    venue_coordinates,
)
from directory.db import PARIS_TZ, allocate_ids, point_wkt, utcnow
from directory.errors import Conflict, InvalidInput
from directory.french import count, number, percent
from directory.models import AuditEvent, Service, Venue, VenueService, VenueSource, VenueStatus
from ingestion import dates, dedup, exports, hubs, standard
from ingestion.import_summary import FileSummary, ImportSummary
from ingestion.models import SourceRecord
from ingestion.places import resolve_places
from ingestion.standard import CleanRow

PLATFORM_SOURCE = "aptic"  # ids of this source are APTIC venue ids (what `export` writes)
WRITE_BATCH = 1_000
SOURCE_MAX = 100  # venue_source.source
logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    """A valid row to write: its file, the cleaned row, its fingerprint and the venue it already feeds."""

    file: FileSummary
    row: CleanRow
    fingerprint: str
    existing: tuple[int | None, int] | None  # (venue_source id or None, venue id)
    first_seen: str | None = None  # the exporting platform's first-seen day, when it stood in for date_maj


# --full closes the venues a file no longer lists; beyond this share of the source, only with --force.
MAX_CLOSE_SHARE = 0.10


def import_venues(
    session: Session,
    actor: Actor,
    paths: list[Path],
    *,
    source: str,
    full: bool = False,
    force: bool = False,
    max_close_share: float = MAX_CLOSE_SHARE,
    geocode: bool = True,
    mapping: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import files of the national standard (or of a hub, through its mapping) for one source.

    Every row lands in one bucket; rejected rows and warnings go to `summary.report`. Writes are
    flushed, never committed: the caller owns the unit of work (and rolls back for a dry run).
    """
    source = (source or "").strip()
    if not source:
        raise InvalidInput("Indiquez le nom de la source (--source).", field="source", code="required")
    if len(source) > SOURCE_MAX:
        raise InvalidInput(f"Le nom de la source dépasse {SOURCE_MAX} caractères.", field="source", code="too_long")
    summary = ImportSummary(source=source)
    existing = _existing_keys(session, source)
    seen_ids: set[str] = set()
    pending: list[_Pending] = []
    for path in paths:
        chosen = _mapping(path, mapping)
        if chosen is not None:
            rows, version, kind = chosen.read(path), standard.V1, f"correspondance {chosen.name}"
        else:
            rows = standard.read_rows(path)
            version = standard.detect_version(rows)
            kind = f"standard v{version}"
        file_summary = FileSummary(path=str(path), kind=kind, rows=len(rows))
        summary.files.append(file_summary)
        cleaner = standard.RowCleaner(version)
        estimated = dates.estimated_dates(path)
        first_line = 2 if path.suffix.lower() == ".csv" else 1
        for index, raw in enumerate(rows):
            row = cleaner.clean(first_line + index, raw)
            if row.source_id and row.source_id in seen_ids:
                row.record = None
                row.issues.append(standard.Issue(
                    "rejet", "id", row.source_id,
                    f"L'identifiant « {row.source_id} » apparaît déjà plus haut pour la source « {source} » : ligne ignorée.",
                ))
            fingerprint = hashlib.sha256(
                json.dumps([kind, raw], sort_keys=True, ensure_ascii=False, default=str).encode()
            ).hexdigest()
            known = existing.get(row.source_id)
            for issue in row.issues:
                summary.add_issue(file_summary, row, issue)
            if row.record is None:
                file_summary.counts["rejected"] += 1
            elif known is not None and known[2] == fingerprint:
                file_summary.counts["unchanged"] += 1
            else:
                row.record["source"] = row.record["source"] or source
                first_seen = None
                if estimated.get(row.source_id) and estimated[row.source_id] == row.record["date_maj"]:
                    # the exporting platform's first-seen day, not a date of the data: kept unknown
                    first_seen, row.record["date_maj"] = row.record["date_maj"], None
                platform_venue = _platform_venue(session, source, row.source_id) if known is None else None
                pending.append(_Pending(file_summary, row, fingerprint,
                                        known[:2] if known else ((None, platform_venue) if platform_venue else None),
                                        first_seen))
            seen_ids.add(row.source_id)
            if progress:
                progress(1)

    for warning in resolve_places(session, [item.row.record for item in pending], geocode):
        item = pending[warning.index]
        summary.add_issue(item.file, item.row,
                          standard.Issue("avertissement", warning.field, warning.value, warning.message))
    if full:
        _refuse_an_empty_full_import(summary, pending)
    _write(session, actor, summary, pending, source)
    summary.reopened = _reopen_returning(session, actor, source, seen_ids)
    if full:
        summary.closed = _close_missing(session, actor, source, seen_ids, force, max_close_share)
    record_audit(session, actor, "venues.imported", "import", source,
                 files=[f.path for f in summary.files], counts=summary.counts, closed=summary.closed)
    logger.info(summary.summary_line())
    return summary


def count_rows(paths: list[Path], mapping: str | None = None) -> int:
    """How many rows the files hold, read as import_venues reads them (for a progress bar)."""
    total = 0
    for path in paths:
        chosen = _mapping(path, mapping)
        total += len(chosen.read(path)) if chosen else len(standard.read_rows(path))
    return total


def _mapping(path: Path, name: str | None) -> hubs.Mapping | None:
    """The hub mapping named, else the one whose columns the file has; None for a standard file."""
    return hubs.mapping_named(name) if name else hubs.mapping_for(path)


def _existing_keys(session: Session, source: str) -> dict[str, tuple[int, int, str | None]]:
    """{source id: (venue_source id, venue id, fingerprint)} for one source."""
    rows = session.execute(
        select(VenueSource.source_id, VenueSource.id, VenueSource.venue_id, SourceRecord.fingerprint)
        .outerjoin(SourceRecord, SourceRecord.venue_source_id == VenueSource.id)
        .where(VenueSource.source == source)
    )
    return {source_id: (link_id, venue_id, fingerprint) for source_id, link_id, venue_id, fingerprint in rows}


def _platform_venue(session: Session, source: str, source_id: str) -> int | None:
    if source != PLATFORM_SOURCE or not source_id.isdigit():
        return None
    return session.scalar(select(Venue.id).where(Venue.id == int(source_id)))


def _venue_columns(record: dict[str, Any]) -> dict[str, Any]:
    columns = {name: record[name] for name in (*standard.RECORD_TEXT_FIELDS, *standard.RECORD_LIST_FIELDS,
                                                 *standard.RECORD_FLAG_FIELDS)}
    columns["date_maj"] = parse_date(record["date_maj"])
    columns["location"] = point_wkt(record["longitude"], record["latitude"]) if record.get("latitude") is not None else None
    columns["geocoding_score"] = record.get("geocoding_score")
    return columns


def _venue_values(venue: Venue) -> dict[str, Any]:
    """The fields of a venue in record form, to compare with merged records."""
    values = {name: getattr(venue, name) for name in (*standard.RECORD_TEXT_FIELDS, *standard.RECORD_LIST_FIELDS,
                                                      *standard.RECORD_FLAG_FIELDS)}
    values["date_maj"] = venue.date_maj.isoformat() if venue.date_maj else None
    point = venue_coordinates(venue)
    values["longitude"], values["latitude"] = point if point else (None, None)
    values["geocoding_score"] = venue.geocoding_score
    return values


def _differences(venue: Venue, merged: dict[str, Any]) -> dict[str, list[Any]]:
    current = _venue_values(venue)
    changes = {}
    for name, value in merged.items():
        before = current.get(name)
        same = (
            math.isclose(before, value, abs_tol=1e-7)
            if isinstance(before, float) and isinstance(value, float)
            else before == value
        )
        if not same:
            changes[name] = [before, value]
    return changes


class _Services:
    """Referential services per set of standard services, computed once per import."""

    def __init__(self, session: Session) -> None:
        self.active = [(service.id, set(service.standard_services)) for service in active_services(session)]

    def ids(self, standard_services: list[str]) -> list[int]:
        wanted = set(standard_services)
        return [service_id for service_id, mapped in self.active if wanted & mapped]


def _write(session: Session, actor: Actor, summary: ImportSummary, pending: list[_Pending], source: str) -> None:
    services = _Services(session)
    candidates = _candidates(session, source, {item.row.record["code_insee"] for item in pending if item.existing is None})
    creates: list[_Pending] = []
    for item in pending:
        record = item.row.record
        if item.existing is not None:
            link_id, venue_id = item.existing
            if source == PLATFORM_SOURCE:
                _forget_export_date(session, session.get(Venue, venue_id), record)
            link = session.get(VenueSource, link_id) if link_id else _link(session, venue_id, source, item.row.source_id)
            _store_record(session, link, item)
            changes = _refresh_venue(session, actor, venue_id, services)
            item.file.counts["updated" if changes else "unchanged"] += 1
            continue
        match = dedup.best_duplicate(record, candidates.get(record["code_insee"], [])) if record["code_insee"] else None
        if match is None:
            creates.append(item)
            continue
        venue_id, score = match
        link = _link(session, venue_id, source, item.row.source_id)
        _store_record(session, link, item)
        changes = _refresh_venue(session, actor, venue_id, services, action="venue.merged",
                                 extra={"source": source, "source_id": item.row.source_id, "score": score.total,
                                        "name": score.name, "address": score.address, "distance_m": score.distance_m})
        item.file.counts["merged"] += 1
        message = f"Fusionné avec le lieu n° {venue_id} : {score.describe()}."
        summary.merges.append({"source_id": item.row.source_id, "venue_id": venue_id, "score": score.total,
                               "name": score.name, "address": score.address, "distance_m": score.distance_m,
                               "changes": sorted(changes)})
        summary.add_issue(item.file, item.row, standard.Issue("fusion", "id", item.row.source_id, message))
    for start in range(0, len(creates), WRITE_BATCH):
        _create_batch(session, actor, creates[start : start + WRITE_BATCH], source, services)


def _forget_export_date(session: Session, venue: Venue, record: dict[str, Any]) -> None:
    """The export writes the first-seen day when no source dated a venue (the standard requires a
    date; older exports wrote the last update); reading our own export back, even without its
    sidecar, must not turn that into the venue's date_maj."""
    if venue.date_maj is not None or record["date_maj"] is None:
        return
    stand_ins = {exports.first_seen(venue, exports.carried_first_seen(session, venue.id)).isoformat(),
                 venue.updated_at.astimezone(PARIS_TZ).date().isoformat()}
    if record["date_maj"] in stand_ins:
        record["date_maj"] = None


def _candidates(session: Session, source: str, codes: set[str | None]) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Venues of other sources in the given communes, with the fields the match score reads."""
    codes = {code for code in codes if code}
    found: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    code_list = sorted(codes)
    for start in range(0, len(code_list), 500):
        rows = session.execute(
            select(Venue.id, Venue.code_insee, Venue.nom, Venue.adresse,
                   func.ST_X(Venue.location), func.ST_Y(Venue.location))
            .where(Venue.code_insee.in_(code_list[start : start + 500]), Venue.status != VenueStatus.CLOSED)
            .where(~Venue.id.in_(select(VenueSource.venue_id).where(VenueSource.source == source)))
        )
        for venue_id, code, nom, adresse, lon, lat in rows:
            found.setdefault(code, []).append(
                (venue_id, {"nom": nom, "adresse": adresse, "longitude": lon, "latitude": lat})
            )
    return found


def _link(session: Session, venue_id: int, source: str, source_id: str) -> VenueSource:
    link = VenueSource(venue_id=venue_id, source=source, source_id=source_id)
    session.add(link)
    session.flush()
    return link


def _store_record(session: Session, link: VenueSource, item: _Pending) -> None:
    record = item.row.record
    stored = session.get(SourceRecord, link.id) or SourceRecord(venue_source_id=link.id)
    stored.fingerprint = item.fingerprint
    stored.fields = _known(record)
    stored.date_maj = parse_date(record["date_maj"])
    stored.first_seen = parse_date(item.first_seen) if item.first_seen else stored.first_seen
    stored.updated_at = utcnow()
    link.imported_at = utcnow()
    session.add(stored)
    session.flush()


def _refresh_venue(
    session: Session, actor: Actor, venue_id: int, services: _Services,
    action: str = "venue.updated", extra: dict[str, Any] | None = None,
) -> dict[str, list[Any]]:
    """Recompute a venue from all its source records; apply and audit what changed."""
    venue = session.get(Venue, venue_id)
    records = session.execute(
        select(VenueSource.id, SourceRecord.fields)
        .join(SourceRecord, SourceRecord.venue_source_id == VenueSource.id)
        .where(VenueSource.venue_id == venue_id)
    ).all()
    merged = dedup.merged_fields([(link_id, fields) for link_id, fields in records])
    changes = _differences(venue, merged)
    if changes:
        for name, value in _venue_columns(merged).items():
            setattr(venue, name, value)
        if "standard_services" in changes:
            venue.services = list(session.scalars(select(Service).where(Service.id.in_(services.ids(merged["standard_services"])))))
        session.flush()
    if changes or extra:
        record_audit(session, actor, action, "venue", venue_id, changes=changes, **(extra or {}))
    return changes


def _create_batch(session: Session, actor: Actor, items: list[_Pending], source: str, services: _Services) -> None:
    """Bulk path: venues, source links, records, services and audit events in a few statements."""
    now = utcnow()
    connection = session.connection()  # Core inserts: the ORM bulk path costs more than the database here
    venue_rows = [{**_venue_columns(item.row.record), "status": VenueStatus.CANDIDATE, "published": False,
                   "distribution_only": distribution_only_by_default(item.row.record),
                   "status_changed_at": now, "created_at": now, "updated_at": now} for item in items]
    venue_ids = allocate_ids(session, Venue, len(items))
    connection.execute(insert(Venue.__table__), [{**row, "id": venue_id} for venue_id, row in zip(venue_ids, venue_rows, strict=True)])
    link_ids = allocate_ids(session, VenueSource, len(items))
    connection.execute(insert(VenueSource.__table__), [
        {"id": link_id, "venue_id": venue_id, "source": source, "source_id": item.row.source_id, "imported_at": now}
        for link_id, venue_id, item in zip(link_ids, venue_ids, items, strict=True)
    ])
    connection.execute(insert(SourceRecord.__table__), [
        {"venue_source_id": link_id, "fingerprint": item.fingerprint, "fields": _known(item.row.record),
         "date_maj": parse_date(item.row.record["date_maj"]),
         "first_seen": parse_date(item.first_seen) if item.first_seen else None,
         "updated_at": now}
        for link_id, item in zip(link_ids, items, strict=True)
    ])
    service_rows = [
        {"venue_id": venue_id, "service_id": service_id}
        for venue_id, item in zip(venue_ids, items, strict=True)
        for service_id in services.ids(item.row.record["standard_services"])
    ]
    if service_rows:
        connection.execute(insert(VenueService.__table__), service_rows)
    record_audits(session, actor, "venue.created", "venue", [
        (venue_id, {"source": source, "source_id": item.row.source_id, **_known(item.row.record)})
        for venue_id, item in zip(venue_ids, items, strict=True)
    ])
    for item in items:
        item.file.counts["created"] += 1


def _known(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its empty fields (what is stored and audited: an absent field is unknown)."""
    return {name: value for name, value in record.items() if value is not None and value != [] and value is not False}


def _refuse_an_empty_full_import(summary: ImportSummary, pending: list[_Pending]) -> None:
    """A full import of nothing would close the whole source: an empty or unreadable file is refused."""
    files = ", ".join(Path(f.path).name for f in summary.files)
    if not sum(f.rows for f in summary.files):
        raise InvalidInput(f"Import complet refusé : {files} ne contient aucune ligne. Il fermerait tous les lieux "
                           f"de la source « {summary.source} » ; rien n'a été enregistré.", field="fichier",
                           code="empty_import")
    if not pending and not summary.counts["unchanged"]:
        required = ", ".join(spec.name for spec in REQUIRED_FIELDS)
        raise InvalidInput(f"Import complet refusé : aucune ligne valable dans {files} (colonnes obligatoires absentes "
                           f"ou vides : {required}). Il fermerait tous les lieux de la source « {summary.source} » ; "
                           "rien n'a été enregistré.", field="fichier", code="no_valid_rows")


def _close_missing(session: Session, actor: Actor, source: str, seen_ids: set[str], force: bool,
                   max_close_share: float) -> int:
    """--full: venues of this source absent from the files are closed (kept, not deleted).

    A venue another source still lists stays open: only its link to this source is reported. Closing
    more than `max_close_share` of the source's open venues needs `force`.
    """
    links = session.execute(
        select(VenueSource.source_id, Venue).join(Venue, Venue.id == VenueSource.venue_id)
        .where(VenueSource.source == source, Venue.status != VenueStatus.CLOSED)
    ).all()
    listed_elsewhere = set(session.scalars(
        select(VenueSource.venue_id).where(VenueSource.source != source, VenueSource.venue_id.in_(
            select(VenueSource.venue_id).where(VenueSource.source == source)))
    ))
    missing = [venue for source_id, venue in links if source_id not in seen_ids and venue.id not in listed_elsewhere]
    if links and not force and len(missing) / len(links) > max_close_share:
        raise Conflict(
            f"Import complet refusé : il fermerait {count(len(missing), 'lieu', 'lieux')} sur {number(len(links))} "
            f"de la source « {source} » ({percent(len(missing) / len(links))}), plus que le maximum de "
            f"{percent(max_close_share)}. Vérifiez le fichier, ou relancez avec --force ; rien n'a été enregistré.",
            field="fichier", code="too_many_closures")
    for venue in missing:
        set_venue_status(session, actor, venue, VenueStatus.CLOSED,
                         f"Absent du dernier import complet de la source « {source} ».", closed_by_import=source)
    return len(missing)


def _reopen_returning(session: Session, actor: Actor, source: str, seen_ids: set[str]) -> int:
    """Venues an import of this source closed, listed again: back to the status they had (audited).

    A venue closed by anyone else (staff, the venue itself) stays closed.
    """
    if not seen_ids:
        return 0
    closed = session.scalars(
        select(Venue).join(VenueSource, VenueSource.venue_id == Venue.id)
        .where(VenueSource.source == source, VenueSource.source_id.in_(seen_ids), Venue.status == VenueStatus.CLOSED)
    ).all()
    reopened = 0
    for venue in closed:
        closing = session.scalar(
            select(AuditEvent).where(AuditEvent.target_type == "venue", AuditEvent.target_id == str(venue.id),
                                     AuditEvent.action == "venue.status_changed")
            .order_by(AuditEvent.id.desc()).limit(1)
        )
        if closing is None or closing.data.get("closed_by_import") != source:
            continue
        set_venue_status(session, actor, venue, closing.data["before"],
                         f"De nouveau dans l'import de la source « {source} ».", reopened_by_import=source)
        reopened += 1
    return reopened
