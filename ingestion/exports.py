"""The directory written back in the national standard v1.0.1: CSV, JSON array, GeoJSON.

Ids are APTIC venue ids: importing an export with `--source aptic` finds the same venues.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from directory.api import VENUE_FIELDS, venue_coordinates
from directory.csv_files import SafeDictWriter
from directory.db import PARIS_TZ
from directory.models import Venue, VenueStatus
from ingestion import standard

FORMATS = ("csv", "json", "geojson")
PLACEHOLDER_PIVOT = "00000000000000"  # the standard requires a pivot; this is how it says "unknown"


def venue_row(venue: Venue) -> dict[str, Any]:
    """One venue as a row of the v1.0.1 standard, columns in schema order."""
    point = venue_coordinates(venue)
    labels = list(venue.autres_formations_labels or [])
    if venue.aptic_label:
        labels.append(standard.APTIC_LABEL_TEXT)
    if venue.accepts_pass:
        labels.append(standard.PASS_TEXT)
    known = (venue.date_maj or venue.updated_at.astimezone(PARIS_TZ).date()).isoformat()
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


def export_venues(session: Session, path: Path, fmt: str, *, published_only: bool = False) -> int:
    """Write the venues to `path` in one format; returns the number of venues written."""
    rows = [venue_row(venue) for venue in venues_to_export(session, published_only)]
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = SafeDictWriter(handle, fieldnames=standard.field_names(standard.V1))
            writer.writeheader()
            writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    elif fmt == "json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    else:
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]}
                if row["latitude"] is not None else None,
                "properties": row,
            }
            for row in rows
        ]
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                        encoding="utf-8")
    return len(rows)
