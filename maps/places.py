"""Places people search from, and the nearby search of the public pages and API around them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from directory import api
from directory.errors import InvalidInput, NotFound
from ingestion import api as ingestion_api  # maps may read every package (DESIGN.md)


def search_place(session: Session, query: str, before_geocoding: Callable[[], None] | None = None) -> api.Place:
    """A commune name or postcode, offline; otherwise an address through the geocoder (after
    `before_geocoding`, where the web counts the anonymous visitor's geocoding allowance)."""
    try:
        return api.resolve_place(session, query)
    except NotFound:
        if api.POSTCODE.match(query.strip()):
            raise
        if before_geocoding is not None:
            before_geocoding()
        found = ingestion_api.geocode_one(session, query)
        if found is None:
            raise NotFound(
                f"Aucune commune, aucun code postal ni aucune adresse ne correspond à « {query.strip()} ».",
                field="q", code="unknown_place",
            ) from None
        return api.Place(label=found.label, lon=found.lon, lat=found.lat, commune_code=found.citycode)


def nearby_search(
    session: Session,
    *,
    q: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    radius_km: float | None = None,
    limit: int | None = None,
    before_geocoding: Callable[[], None] | None = None,
    **filters: Any,
) -> api.NearbyResult:
    """Published venues around `lat`/`lon` (both) or else the place `q`, with `directory.api.nearby_venues`'s filters.

    Every refusal is about a search parameter, so it is a bad request (400) even when a place is not found.
    """
    try:
        if lat is not None or lon is not None:
            if lat is None or lon is None:
                missing = "lat" if lat is None else "lon"
                raise InvalidInput(f"Indiquez « lat » et « lon » ensemble (« {missing} » manque).",
                                   field=missing, code="invalid_parameter")
            centre: dict[str, Any] = {"lat": lat, "lon": lon}
        elif q:
            centre = {"place": search_place(session, q, before_geocoding)}
        else:
            raise InvalidInput("Indiquez une commune, un code postal, une adresse, ou « lat » et « lon ».",
                               field="q", code="required")
        bounds = {name: value for name, value in (("radius_km", radius_km), ("limit", limit)) if value is not None}
        return api.nearby_venues(session, **centre, **bounds, **filters)
    except (InvalidInput, NotFound) as error:
        error.status = 400
        raise
