"""Places people search from, and the nearby search of the public pages and API around them.

A typed place is a commune first (offline, typos forgiven: `directory.commune_search`), an address
otherwise (the configured geocoder). When the geocoder cannot be reached, or does not know the address,
the search falls back to the commune part of the query ("… 69002 Lyon", "…, Lyon") with a plain French
notice; the geocoder's own address and error never reach a message.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from directory import api
from directory.errors import InvalidInput, NotFound
from ingestion import api as ingestion_api  # maps may read every package (DESIGN.md)

log = logging.getLogger(__name__)

# Words that make a query an address rather than a commune name (normalised, see `api.normalize_name`).
ADDRESS_WORDS = frozenset(
    "rue avenue av bd boulevard place pl chemin che allee impasse imp route rte quai cours square passage voie "
    "lieu dit residence hameau faubourg fbg rond point esplanade promenade parvis sentier cite lotissement "
    "mail montee traverse ruelle villa".split()
)
HOUSE_NUMBER = re.compile(r"^\d{1,4}(?:bis|ter|quater|[a-z])?$")
TRAILING_COMMUNE_WORDS = 5
GEOCODER_DOWN = "La recherche par adresse ne répond pas pour le moment"


def looks_like_address(text: str) -> bool:
    """ "12 rue de la Paix Paris", "place Bellecour" — not "Lyon", "Marseille 13001" or "Paris 15e"."""
    words = api.normalize_name(text).split()
    if any(word in ADDRESS_WORDS for word in words):
        return True
    return bool(words) and HOUSE_NUMBER.match(words[0]) is not None and len(words) > 1


def commune_part(session: Session, text: str) -> api.Place | None:
    """The commune an address names: after its postcode, after its last comma, or its last words."""
    words = api.normalize_name(text).split()
    for position, word in enumerate(words):
        if re.fullmatch(r"\d{5}", word) and position > 0:
            try:
                return api.resolve_place(session, " ".join(words[position:]))
            except NotFound:
                break
    if "," in text:
        try:
            return api.resolve_place(session, text.rsplit(",", 1)[1])
        except (NotFound, InvalidInput):
            pass
    for size in range(min(TRAILING_COMMUNE_WORDS, len(words) - 1), 0, -1):
        tail = " ".join(words[-size:])
        exact = [c for c in api.suggest_communes(session, tail, limit=3) if c.key == tail]
        if exact:
            return api.resolve_place(session, tail)  # homonyms: AmbiguousPlace, the page offers them
    return None


def search_place(session: Session, query: str, before_geocoding: Callable[[], None] | None = None) -> api.Place:
    """A commune name or postcode, offline; otherwise an address through the geocoder (after
    `before_geocoding`, where the web counts the anonymous visitor's geocoding allowance).
    The place's `notice` says when the search fell back to the commune part of the query."""
    text = (query or "").strip()
    key = api.normalize_name(text)
    if looks_like_address(text) and any(c.key == key for c in api.suggest_communes(session, text, limit=3)):
        return api.resolve_place(session, text)  # a commune whose name has a street word: "Saint-Jean-de-la-Place"
    if not looks_like_address(text):
        try:
            return api.resolve_place(session, text)
        except api.AmbiguousPlace:
            raise
        except NotFound:
            if api.POSTCODE.match(text):
                raise
    if before_geocoding is not None:
        before_geocoding()
    try:
        found = ingestion_api.geocode_one(session, text)
    except ingestion_api.GeocoderUnavailable as error:
        log.warning("geocoder unavailable for a public search: %s", error.message)
        fallback = commune_part(session, text)
        if fallback is None:
            raise NotFound(
                f"Aucune commune ne correspond à « {text} », et {GEOCODER_DOWN[0].lower()}{GEOCODER_DOWN[1:]} : "
                "indiquez une commune ou un code postal.",
                field="q", code="unknown_place",
            ) from None
        return dataclasses.replace(fallback, notice=f"{GEOCODER_DOWN} : les lieux sont cherchés autour de "
                                                    f"{fallback.label}, la commune de votre recherche.")
    if found is None:
        fallback = commune_part(session, text)
        if fallback is None:
            raise NotFound(
                f"Aucune commune, aucun code postal ni aucune adresse ne correspond à « {text} ».",
                field="q", code="unknown_place",
            ) from None
        return dataclasses.replace(fallback, notice=f"L'adresse « {text} » est introuvable : les lieux sont "
                                                    f"cherchés autour de {fallback.label}.")
    return api.Place(label=found.label, lon=found.lon, lat=found.lat, commune_code=found.citycode)


def nearby_search(
    session: Session,
    *,
    q: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    commune: str | None = None,
    radius_km: float | None = None,
    limit: int | None = None,
    offset: int | None = None,
    before_geocoding: Callable[[], None] | None = None,
    **filters: Any,
) -> api.NearbyResult:
    """Published venues around `lat`/`lon` (both, `q` then only labels the point), or the commune of
    INSEE code `commune` (a homonym chosen), or else the place `q`, with `directory.api.nearby_venues`'s filters.

    Every refusal is about a search parameter, so it is a bad request (400) even when a place is not found.
    """
    try:
        if lat is not None or lon is not None:
            if lat is None or lon is None:
                missing = "lat" if lat is None else "lon"
                raise InvalidInput(f"Indiquez « lat » et « lon » ensemble (« {missing} » manque).",
                                   field=missing, code="invalid_parameter")
            api.check_coordinates(lon, lat)
            label = (q or "").strip()[:120] or f"{lat:.5f}, {lon:.5f}"
            centre: dict[str, Any] = {"place": api.Place(label=label, lon=lon, lat=lat)}
        elif commune:
            centre = {"place": api.commune_place(session, commune)}
        elif q:
            centre = {"place": search_place(session, q, before_geocoding)}
        else:
            raise InvalidInput("Indiquez une commune, un code postal, une adresse, ou « lat » et « lon ».",
                               field="q", code="required")
        bounds = {name: value for name, value in (("radius_km", radius_km), ("limit", limit), ("offset", offset))
                  if value is not None}
        return api.nearby_venues(session, **centre, **bounds, **filters)
    except (InvalidInput, NotFound) as error:
        error.status = 400
        raise
