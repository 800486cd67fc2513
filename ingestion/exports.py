"""The directory written back in the national standard v1.0.1: CSV, JSON array, GeoJSON.

Ids are APTIC venue ids: importing an export with `--source aptic` finds the same venues.
The standard requires a date_maj: a venue no source dated gets the day the platform first saw
it (stable from one export to the next), listed in the sidecar `<file>.meta.json` so that an
import elsewhere keeps its date unknown (see ingestion.dates).
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from directory.api import VENUE_FIELDS, venue_coordinates
from directory.csv_files import safe_cell
from directory.db import PARIS_TZ
from directory.models import Venue, VenueSource, VenueStatus
from ingestion import dates, standard
from ingestion.models import SourceRecord

FORMATS = ("csv", "json", "geojson")
PHONE_CELL = re.compile(r"\+\d{6,15}")
PLACEHOLDER_PIVOT = "00000000000000"  # the standard requires a pivot; this is how it says "unknown"


def first_seen(venue: Venue, carried: dict[int, date] | None = None) -> date:
    """The day the platform first saw a venue: its creation here, or earlier as another platform's export said."""
    created = venue.created_at.astimezone(PARIS_TZ).date()
    earlier = (carried or {}).get(venue.id)
    return min(created, earlier) if earlier else created


def carried_first_seen(session: Session, venue_id: int | None = None) -> dict[int, date]:
    """{venue id: earliest first-seen day carried by its records} (imports of other platforms' exports)."""
    query = (
        select(VenueSource.venue_id, func.min(SourceRecord.first_seen))
        .join(SourceRecord, SourceRecord.venue_source_id == VenueSource.id)
        .where(SourceRecord.first_seen.is_not(None))
        .group_by(VenueSource.venue_id)
    )
    rows = session.execute(query if venue_id is None else query.where(VenueSource.venue_id == venue_id))
    return {venue_id: seen for venue_id, seen in rows if seen is not None}


def venue_row(venue: Venue, carried: dict[int, date] | None = None) -> dict[str, Any]:
    """One venue as a row of the v1.0.1 standard, columns in schema order."""
    point = venue_coordinates(venue)
    labels = list(venue.autres_formations_labels or [])
    if venue.aptic_label:
        labels.append(standard.APTIC_LABEL_TEXT)
    if venue.accepts_pass:
        labels.append(standard.PASS_TEXT)
    known = (venue.date_maj or first_seen(venue, carried)).isoformat()
    values: dict[str, Any] = {spec.standard_name: getattr(venue, spec.name) for spec in VENUE_FIELDS if spec.standard_name}
    values.update({
        "id": str(venue.id),
        "pivot": venue.pivot or PLACEHOLDER_PIVOT,
        "latitude": point[1] if point else None,
        "longitude": point[0] if point else None,
        "autres_formations_labels": labels,
        "date_maj": known,
    })
    row = {}
    for name in standard.field_names(standard.V1):
        value = values.get(name)
        if isinstance(value, list):
            value = "|".join(value) or None
        row[name] = value
    return row


def venues_to_export(session: Session, published_only: bool = False) -> Iterator[Venue]:
    query = (
        select(Venue)
        .where(Venue.status != VenueStatus.CLOSED)
        .order_by(Venue.id)
        .options(selectinload(Venue.services))
        .execution_options(yield_per=1_000)
    )
    if published_only:
        query = query.where(Venue.published)
    yield from session.scalars(query)


def write_atomically(path: Path, write: Any, *, binary: bool = False) -> None:
    """Write through a temporary file of the same folder, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as stream:
            write(stream)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def export_rows(session: Session, published_only: bool = False,
                venues: Iterator[Venue] | None = None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The rows of the standard and {id: date} of the rows whose date_maj is the first-seen day."""
    carried = carried_first_seen(session)
    rows, estimated = [], {}
    for venue in venues if venues is not None else venues_to_export(session, published_only):
        row = venue_row(venue, carried)
        rows.append(row)
        if venue.date_maj is None:
            estimated[row["id"]] = row["date_maj"]
    return rows, estimated


def write_rows(path: Path, fmt: str, rows: list[dict[str, Any]]) -> None:
    """Rows of the standard as CSV, JSON array or GeoJSON, written atomically."""
    if fmt == "csv":
        def write(handle: Any) -> None:
            writer = csv.DictWriter(handle, fieldnames=standard.field_names(standard.V1))
            writer.writeheader()
            writer.writerows({k: _csv_cell(k, v) for k, v in row.items()} for row in rows)
        write_atomically(path, write)
    elif fmt == "json":
        write_atomically(path, lambda handle: json.dump(rows, handle, ensure_ascii=False, indent=1))
    else:
        write_atomically(path, lambda handle: json.dump(geojson(rows), handle, ensure_ascii=False))


def _csv_cell(name: str, value: Any) -> Any:
    """Cells that a spreadsheet would run as a formula are neutralised (directory.csv_files), except a
    phone number in the standard's international form (« +33… », only digits: no formula can hide in
    it), which the v1.0.1 pattern requires as is."""
    if value is None:
        return ""
    if name == "telephone" and isinstance(value, str) and PHONE_CELL.fullmatch(value):
        return value
    return safe_cell(value)


def geojson(rows: list[dict[str, Any]]) -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]}
            if row["latitude"] is not None else None,
            "properties": row,
        }
        for row in rows
    ]
    return {"type": "FeatureCollection", "features": features}


def export_venues(session: Session, path: Path, fmt: str, *, published_only: bool = False) -> int:
    """Write the venues to `path` in one format, and its sidecar; returns the number of venues written."""
    rows, estimated = export_rows(session, published_only)
    write_rows(path, fmt, rows)
    sidecar = path.with_name(path.name + dates.SIDECAR_SUFFIX)
    meta = {"schema": f"lieux de médiation numérique v{standard.OUTPUT_VERSION}", "lignes": len(rows),
            dates.ESTIMATED_KEY: estimated}
    write_atomically(sidecar, lambda handle: json.dump(meta, handle, ensure_ascii=False, indent=1))
    return len(rows)
