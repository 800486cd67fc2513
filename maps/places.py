"""Places people search from: a commune name or postcode (offline), else an address through the geocoder."""

from __future__ import annotations

from sqlalchemy.orm import Session

from directory import api
from directory.errors import NotFound
from ingestion import api as ingestion_api  # maps may read every package (DESIGN.md)


def search_place(session: Session, query: str) -> api.Place:
    """A commune name or postcode, offline; otherwise an address through the geocoder."""
    try:
        return api.resolve_place(session, query)
    except NotFound:
        if api.POSTCODE.match(query.strip()):
            raise
        found = ingestion_api.geocode_one(session, query)
        if found is None:
            raise NotFound(
                f"Aucune commune, aucun code postal ni aucune adresse ne correspond à « {query.strip()} ».",
                field="q", code="unknown_place",
            ) from None
        return api.Place(label=found.label, lon=found.lon, lat=found.lat, commune_code=found.citycode)
