"""Nearby search: the centre of a search (place resolution), filters, the cached SQL statement."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String, bindparam, func, select
from sqlalchemy.orm import Session, aliased, defer
from sqlalchemy.orm.attributes import set_committed_value

from directory.commune_search import commune_entry, find_commune
from directory.db import (
    box_around,
    capped_count,
    geodesic_distance_m,
    json_array_contains,
    nearest_reach,
    nearest_rows,
    point_wkt,
    statement_cache_key,
    utcnow,
    within_distance,
)
from directory.errors import InvalidInput, NotFound
from directory.hours import is_open_at
from directory.models import Service, Venue, VenueService
from directory.referential import services_by_slugs
from directory.territories import check_coordinates
from directory.venue_fields import VENUE_FIELD

NEARBY_DEFAULT_RADIUS_KM = 10.0
NEARBY_MAX_RADIUS_KM = 100.0
NEARBY_DEFAULT_LIMIT = 20
NEARBY_MAX_LIMIT = 200
NEARBY_MAX_OFFSET = 10_000
# Fields of the national venue standard the search can filter on, by search parameter, with their values.
NEARBY_LIST_FILTERS = {
    parameter: (name, VENUE_FIELD[name].vocabulary)
    for parameter, name in (
        ("fees", "frais_a_charge"),
        ("support", "modalites_accompagnement"),
        ("public", "publics_specifiquement_adresses"),
        ("care", "prise_en_charge_specifique"),
    )
}
# Totals are counted exactly up to the next multiple of this past the page, then shown as "more than".
NEARBY_TOTAL_STEP = 200
# The open-hours filter reads the nearest venues by slices of at least this many, growing fourfold.
_OPEN_FIRST_SLICE = 100


@dataclass(frozen=True)
class Place:
    """The centre of a search: a commune, a postcode, an address or raw coordinates."""

    label: str
    lon: float
    lat: float
    commune_code: str | None = None
    # How the search was understood when it differs from what was typed (a fallback), for the person.
    notice: str | None = None


@dataclass(frozen=True)
class NearbyVenue:
    venue: Venue
    distance_m: float
    lon: float
    lat: float
    # True/False from the opening hours at the time of the search, None when they are unknown.
    open_now: bool | None


@dataclass(frozen=True)
class NearbyResult:
    place: Place
    radius_m: float
    venues: list[NearbyVenue]
    # Venues matching the search in all (the page shows `venues`, from the `offset`-th on); when
    # `total_exact` is False, more than `total` match (dense places are not counted to the last venue).
    total: int = 0
    offset: int = 0
    total_exact: bool = True

    @property
    def next_offset(self) -> int | None:
        following = self.offset + len(self.venues)
        return following if self.venues and following < self.total else None


def resolve_place(session: Session, query: str, field: str = "q") -> Place:
    """A commune name (typos forgiven), a postcode, "Marseille 13001" or "Paris 15e", resolved offline
    (`directory.commune_search`); homonyms raise `AmbiguousPlace` with the candidates."""
    text = (query or "").strip()
    if not text:
        raise InvalidInput("Indiquez une commune ou un code postal.", field=field, code="required")
    match = find_commune(session, text, field=field)
    return Place(label=match.label, lon=match.commune.lon, lat=match.commune.lat, commune_code=match.commune.code)


def commune_place(session: Session, code: str, field: str = "commune") -> Place:
    """The centre of a commune chosen by its INSEE code (a homonym picked from the candidates)."""
    entry = commune_entry(session, code)
    if entry is None or entry.lon is None or entry.lat is None:
        raise NotFound(f"Le code INSEE « {code} » ne correspond à aucune commune.", field=field, code="unknown_place")
    return Place(label=entry.name, lon=entry.lon, lat=entry.lat, commune_code=entry.code)


def nearby_venues(
    session: Session,
    *,
    place: Place | None = None,
    lon: float | None = None,
    lat: float | None = None,
    q: str | None = None,
    radius_km: float = NEARBY_DEFAULT_RADIUS_KM,
    limit: int = NEARBY_DEFAULT_LIMIT,
    offset: int = 0,
    service: list[str] | tuple[str, ...] = (),
    level: int | None = None,
    fees: list[str] | tuple[str, ...] = (),
    support: list[str] | tuple[str, ...] = (),
    public: list[str] | tuple[str, ...] = (),
    care: list[str] | tuple[str, ...] = (),
    open_now: bool = False,
    open_at: datetime | None = None,
    accepts_pass: bool = False,
    now: datetime | None = None,
) -> NearbyResult:
    """Published venues around a place, nearest first, within `radius_km` (metres on the ellipsoid).

    The centre is `place`, or `lon`/`lat`, or `q` (a commune name or postcode). Every filter
    narrows: all the services asked, a service of `level`, each listed value of the national
    standard's fields, open at `open_at` (or now with `open_now`), accepting the pass. The result
    holds the page of `limit` venues from the `offset`-th, and how many match in all.
    """
    if place is None:
        if lon is not None or lat is not None:
            check_coordinates(lon, lat)
            place = Place(label=f"{lat:.5f}, {lon:.5f}", lon=float(lon), lat=float(lat))
        else:
            place = resolve_place(session, q or "")
    if isinstance(radius_km, bool) or not isinstance(radius_km, int | float):
        radius_km = math.nan
    if not 0 < radius_km <= NEARBY_MAX_RADIUS_KM:
        raise InvalidInput(
            f"Le rayon « {radius_km:g} » n'est pas valide : un nombre de kilomètres entre 0 et {NEARBY_MAX_RADIUS_KM:g} est attendu.",
            field="radius_km", code="invalid_radius",
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= NEARBY_MAX_LIMIT:
        raise InvalidInput(
            f"La limite « {limit} » n'est pas valide : un nombre entier entre 1 et {NEARBY_MAX_LIMIT} est attendu.",
            field="limit", code="invalid_limit",
        )
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= NEARBY_MAX_OFFSET:
        raise InvalidInput(
            f"Le décalage « {offset} » n'est pas valide : un nombre entier entre 0 et {NEARBY_MAX_OFFSET} est attendu.",
            field="offset", code="invalid_offset",
        )
    if level is not None and (isinstance(level, bool) or level not in (1, 2, 3)):
        raise InvalidInput(
            f"Le niveau « {level} » n'existe pas : 1, 2 ou 3 est attendu.", field="level", code="invalid_level"
        )
    wanted_services = services_by_slugs(session, list(service), field="service") if service else []
    list_filters = {"fees": fees, "support": support, "public": public, "care": care}
    for name, values in list_filters.items():
        allowed = NEARBY_LIST_FILTERS[name][1]
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise InvalidInput(
                f"La valeur « {unknown[0]} » n'est pas possible pour « {name} » (valeurs possibles : {', '.join(allowed)}).",
                field=name, code="invalid_filter_value",
            )
    if open_at is not None and open_at.tzinfo is None:
        raise InvalidInput(
            "L'heure d'ouverture demandée doit préciser son fuseau horaire.", field="open_at", code="invalid_open_at"
        )
    now = now or utcnow()
    moment = open_at or (now if open_now else None)

    radius_m = float(radius_km) * 1000
    # Above the cap the count stops: "more than cap" venues; the cap lies past the page, so it has a next one.
    cap = NEARBY_TOTAL_STEP * (1 + (offset + limit) // NEARBY_TOTAL_STEP)
    parameters: dict[str, Any] = {
        "centre": point_wkt(place.lon, place.lat), "radius": radius_m, **box_around(place.lon, place.lat, radius_m),
        "level": level, "counted": cap + 1,
    }
    parameters.update({f"service_{i}": service.id for i, service in enumerate(wanted_services)})
    for name, values in list_filters.items():
        parameters.update({f"{name}_{i}": value for i, value in enumerate(values)})
    shape = _NearbyShape(
        statement_cache_key(session), len(wanted_services), level is not None,
        tuple(len(list_filters[name]) for name in NEARBY_LIST_FILTERS), accepts_pass,
    )
    statement, counting = _nearby_statement(session, shape)

    def nearest(start: int, count: int) -> list[Any]:
        """The `count` nearest venues from the `start`-th."""
        slice_parameters = {**parameters, "offset": start, "limit": count, "nearest": start + count}
        return nearest_rows(session, statement, slice_parameters, place.lon, place.lat, radius_m, count)

    found: list[NearbyVenue] = []
    if moment is None:
        for venue, distance_m, x, y in nearest(offset, limit):
            found.append(NearbyVenue(venue, float(distance_m), float(x), float(y), is_open_at(venue, now)))
        partial = len(found) < limit and (found or offset == 0)
        total = offset + len(found) if partial else session.scalar(counting, parameters) or 0
    else:
        # Opening hours are read in Python, on growing slices of the nearest venues, until the count passes the cap.
        total, read, size = 0, 0, max(_OPEN_FIRST_SLICE, 2 * (offset + limit))
        while total <= cap:
            rows = nearest(read, size - read)
            for venue, distance_m, x, y in rows:
                if is_open_at(venue, moment) is not True:
                    continue
                if offset <= total < offset + limit:
                    found.append(NearbyVenue(venue, float(distance_m), float(x), float(y), is_open_at(venue, now)))
                total += 1
                if total > cap:
                    break
            if len(rows) < size - read:
                break
            read, size = size, size * 4
    _load_services(session, [item.venue for item in found])
    return NearbyResult(
        place=place, radius_m=radius_m, venues=found, total=min(total, cap), offset=offset, total_exact=total <= cap
    )


@dataclass(frozen=True)
class _NearbyShape:
    """What makes two nearby searches need a different SQL statement (values are parameters)."""

    backend: str
    services: int
    level: bool
    list_values: tuple[int, ...]
    accepts_pass: bool


# Building the statement costs more than running it: one statement per shape, built once.
_NEARBY_STATEMENTS: dict[_NearbyShape, Any] = {}
_SERVICES_OF_VENUES = (
    select(VenueService.venue_id, Service)
    .join(Service, Service.id == VenueService.service_id)
    .options(defer(Service.standard_services))
    .where(VenueService.venue_id.in_(bindparam("venue_ids", expanding=True)))
    .order_by(Service.position)
)
# Attributes a search result never shows: loaded only if someone reads them.
_NEARBY_DEFERRED = (
    "location", "typologie", "itinerance", "standard_services", "dispositif_programmes_nationaux",
    "formations_labels", "autres_formations_labels", "presentation_detail",
)


def _nearby_statement(session: Session, shape: _NearbyShape) -> tuple[Any, Any]:
    """A page of the nearest venues (`limit` from the `offset`-th, of the `nearest` first) and their count
    (up to `counted`)."""
    statements = _NEARBY_STATEMENTS.get(shape)
    if statements is not None:
        return statements
    centre = func.ST_GeomFromEWKT(bindparam("centre", type_=String))
    radius = bindparam("radius", type_=Float)
    box = (bindparam("xmin", type_=Float), bindparam("ymin", type_=Float), bindparam("xmax", type_=Float), bindparam("ymax", type_=Float))
    other = aliased(Venue)
    nearest = bindparam("nearest", type_=Integer)
    reach = nearest_reach(session, other, "location", centre, _filters(session, shape, other), radius, nearest, box)
    distance = geodesic_distance_m(session, Venue.location, centre).label("distance_m")
    statement = (
        select(Venue, distance, func.ST_X(Venue.location), func.ST_Y(Venue.location))
        .options(*(defer(getattr(Venue, name)) for name in _NEARBY_DEFERRED))
        .where(*_filters(session, shape, Venue), *within_distance(session, Venue, "location", centre, reach, box))
        .order_by(distance, Venue.id)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    counting = capped_count(
        session, Venue, "location", centre, _filters(session, shape, Venue), radius, bindparam("counted", type_=Integer), box
    )
    _NEARBY_STATEMENTS[shape] = (statement, counting)
    return statement, counting


def _filters(session: Session, shape: _NearbyShape, venue: Any) -> list[Any]:
    """What a venue (`Venue` or an alias) must be to match the search, besides its distance."""
    conditions = [venue.published]
    for index in range(shape.services):
        conditions.append(
            select(VenueService.venue_id)
            .where(VenueService.venue_id == venue.id, VenueService.service_id == bindparam(f"service_{index}"))
            .exists()
        )
    if shape.level:
        conditions.append(
            select(VenueService.venue_id)
            .join(Service, Service.id == VenueService.service_id)
            .where(VenueService.venue_id == venue.id, Service.level_number == bindparam("level"))
            .exists()
        )
    for name, count in zip(NEARBY_LIST_FILTERS, shape.list_values, strict=True):
        column_name = NEARBY_LIST_FILTERS[name][0]
        for index in range(count):
            value = bindparam(f"{name}_{index}", type_=String)
            conditions.append(json_array_contains(session, getattr(venue, column_name), value))
    if shape.accepts_pass:
        conditions.append(venue.accepts_pass)
    return conditions


def _load_services(session: Session, venues: list[Venue]) -> None:
    """Fill `services` of the found venues with one query (a selectin load costs a statement build)."""
    if not venues:
        return
    by_venue: dict[int, list[Service]] = {venue.id: [] for venue in venues}
    for venue_id, service in session.execute(_SERVICES_OF_VENUES, {"venue_ids": list(by_venue)}):
        by_venue[venue_id].append(service)
    for venue in venues:
        set_committed_value(venue, "services", by_venue[venue.id])
