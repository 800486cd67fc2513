"""The public cartography's reads: published venues per territory, map bubbles and boxes, venue pages, error reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from directory.api import COMMUNE_CODE_OF_LEVEL, EMAIL, territory_by_code
from directory.db import geodesic_distance_m, point_wkt
from directory.errors import InvalidInput, NotFound
from directory.models import Organisation, ServiceLevel, Territory, TerritoryLevel, Venue
from maps.models import ReportTopic, VenueReport

REPORT_MESSAGE_MAX = 2_000
TERRITORY_CHILD_LEVEL = {
    TerritoryLevel.REGION: TerritoryLevel.DEPARTEMENT,
    TerritoryLevel.DEPARTEMENT: TerritoryLevel.COMMUNE,
    TerritoryLevel.EPCI: TerritoryLevel.COMMUNE,
}


@dataclass(frozen=True)
class TerritoryOverview:
    territory: Territory
    venue_count: int
    # Sub-territories with their number of published venues, most venues first (none for a commune).
    children: list[tuple[Territory, int]]
    parents: list[Territory]


def published_venue_counts(session: Session, level: TerritoryLevel | str, within: Territory | None = None) -> dict[str, int]:
    """Number of published venues per territory code of `level` (territories without any are absent)."""
    level = TerritoryLevel(level)
    key = COMMUNE_CODE_OF_LEVEL[level]
    statement = (
        select(key, func.count(Venue.id))
        .select_from(Venue)
        .join(Territory, (Territory.code == Venue.code_insee) & (Territory.level == TerritoryLevel.COMMUNE))
        .where(Venue.published)
        .group_by(key)
    )
    if within is not None:
        statement = statement.where(COMMUNE_CODE_OF_LEVEL[within.level] == within.code)
    return {code: count for code, count in session.execute(statement) if code}


def territory_overview(session: Session, territory: Territory) -> TerritoryOverview:
    parents = []
    for level, code in ((TerritoryLevel.REGION, territory.region_code), (TerritoryLevel.DEPARTEMENT, territory.departement_code)):
        if code and level != territory.level:
            parent = session.scalar(select(Territory).where(Territory.level == level, Territory.code == code))
            if parent is not None:
                parents.append(parent)
    total = published_venue_counts(session, territory.level, within=territory).get(territory.code, 0)
    children: list[tuple[Territory, int]] = []
    child_level = TERRITORY_CHILD_LEVEL.get(territory.level)
    if child_level is not None:
        counts = published_venue_counts(session, child_level, within=territory)
        if counts:
            rows = session.scalars(
                select(Territory).where(Territory.level == child_level, Territory.code.in_(list(counts)))
            )
            children = sorted(((t, counts[t.code]) for t in rows), key=lambda item: (-item[1], item[0].name))
    return TerritoryOverview(territory, total, children, parents)


def published_venues_in(session: Session, territory: Territory, limit: int = 500,
                        accepting_pass: bool = False) -> list[Venue]:
    """The published venues of a territory, by commune then name; with `accepting_pass`, only those where the
    pass's cheques are taken (accepting it, and not distribution-only themselves or by their organisation)."""
    statement = (
        select(Venue)
        .options(selectinload(Venue.services))
        .join(Territory, (Territory.code == Venue.code_insee) & (Territory.level == TerritoryLevel.COMMUNE))
        .where(Venue.published, COMMUNE_CODE_OF_LEVEL[territory.level] == territory.code)
        .order_by(Venue.commune, Venue.nom, Venue.id)
        .limit(limit)
    )
    return list(session.scalars(accepting_pass_only(statement) if accepting_pass else statement))


def accepting_pass_only(statement: Select) -> Select:
    """Only the venues where the pass's cheques are taken: accepting it, and not distribution-only
    themselves or by their organisation."""
    return (statement.outerjoin(Organisation, Organisation.id == Venue.organisation_id)
            .where(Venue.accepts_pass, ~Venue.distribution_only, Organisation.distribution_only.is_not(True)))


def regions_with_counts(session: Session) -> list[tuple[Territory, int]]:
    """Every région by name, with its number of published venues."""
    counts = published_venue_counts(session, TerritoryLevel.REGION)
    regions = session.scalars(
        select(Territory).where(Territory.level == TerritoryLevel.REGION).order_by(Territory.name)
    )
    return [(region, counts.get(region.code, 0)) for region in regions]


def requested_territory(session: Session, level: str, code: str) -> Territory:
    """The territory named by an API path: an unknown level is a bad request (400), an unknown code is not found."""
    try:
        return territory_by_code(session, level, code)
    except InvalidInput as error:
        error.status = 400
        raise


def embed_territory(session: Session, code: str | None, level: str | None) -> Territory | None:
    """The territory of an embedded map, from its `territoire` INSEE code and optional `niveau`.

    Without a level, 5 characters name a commune, 9 an EPCI and 2–3 a département.
    """
    code = (code or "").strip().upper()
    if not code:
        return None
    level = (level or "").strip()
    if not level:
        level = {5: TerritoryLevel.COMMUNE, 9: TerritoryLevel.EPCI}.get(len(code), TerritoryLevel.DEPARTEMENT)
    try:
        return territory_by_code(session, level, code)
    except InvalidInput as error:
        error.field = "niveau" if error.field == "level" else "territoire"
        error.status = 400
        raise
    except NotFound as error:
        error.field = "territoire"
        raise


def map_bubbles(session: Session, level: TerritoryLevel | str) -> list[dict[str, Any]]:
    """One bubble per région or département: its name, centre and number of published venues."""
    try:
        level = TerritoryLevel(level)
    except ValueError:
        raise InvalidInput(f"Le niveau « {level} » n'existe pas : « region » ou « departement ».",
                           field="level", code="invalid_parameter", status=400) from None
    if level not in (TerritoryLevel.REGION, TerritoryLevel.DEPARTEMENT):
        raise InvalidInput(
            f"Le niveau « {level.value} » n'a pas de bulles : « region » ou « departement » est attendu.",
            field="level", code="invalid_bubble_level", status=400,
        )
    counts = published_venue_counts(session, level)
    rows = session.execute(
        select(Territory.code, Territory.name, func.ST_X(Territory.centre), func.ST_Y(Territory.centre))
        .where(Territory.level == level, Territory.code.in_(list(counts)), Territory.centre.is_not(None))
        .order_by(Territory.code)
    )
    return [
        {"code": code, "nom": name, "lon": round(x, 5), "lat": round(y, 5), "lieux": counts[code]}
        for code, name, x, y in rows
    ]


def parse_bbox(value: str, field: str = "bbox") -> tuple[float, float, float, float]:
    """`xmin,ymin,xmax,ymax` in degrees (longitude, latitude), as Leaflet's toBBoxString gives; a bad one is a 400."""
    try:
        xmin, ymin, xmax, ymax = (float(part) for part in (value or "").split(","))
    except ValueError:
        raise InvalidInput(
            f"Le cadre « {value} » n'est pas valide : quatre nombres « ouest,sud,est,nord » sont attendus.",
            field=field, code="invalid_bbox", status=400,
        ) from None
    if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise InvalidInput(
            f"Le cadre « {value} » n'est pas valide : ouest ≤ est entre -180 et 180, sud ≤ nord entre -90 et 90.",
            field=field, code="invalid_bbox", status=400,
        )
    return xmin, ymin, xmax, ymax


def territory_bounds(territory: Territory) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of a territory's polygon, or None without geometry."""
    if territory.geom is None:
        return None
    return to_shape(territory.geom).bounds


def public_venue(session: Session, venue_id: int) -> Venue:
    """A venue of the public cartography; candidates and unpublished venues do not exist here."""
    venue = session.get(Venue, venue_id)
    if venue is None or not venue.published:
        raise NotFound("Ce lieu n'existe pas ou n'est pas sur la carte publique.", field="venue", code="unknown_venue")
    return venue


def commune_of(session: Session, venue: Venue) -> Territory | None:
    """The commune of a venue's INSEE code, if known."""
    if not venue.code_insee:
        return None
    return session.scalar(
        select(Territory).where(Territory.level == TerritoryLevel.COMMUNE, Territory.code == venue.code_insee)
    )


def distance_to_venue_m(session: Session, venue: Venue, lon: float | None, lat: float | None) -> float | None:
    """Metres on the ellipsoid from a point to a venue; None without both coordinates, off the globe or unlocated."""
    if lat is None or lon is None or venue.location is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    point = func.ST_GeomFromEWKT(point_wkt(lon, lat))
    return session.scalar(select(geodesic_distance_m(session, Venue.location, point)).where(Venue.id == venue.id))


def service_levels(session: Session) -> dict[int, str]:
    return dict(session.execute(select(ServiceLevel.number, ServiceLevel.label).order_by(ServiceLevel.number)).all())


def report_venue_error(
    session: Session, venue: Venue, *, topic: str, message: str, contact_email: str | None = None
) -> VenueReport:
    """Store a report from the public about a venue page, for APTIC staff."""
    try:
        chosen = ReportTopic(topic)
    except ValueError:
        raise InvalidInput("Choisissez ce qui est inexact.", field="topic", code="invalid_topic") from None
    text = (message or "").strip()
    if not text:
        raise InvalidInput("Décrivez l'erreur constatée.", field="message", code="required")
    if len(text) > REPORT_MESSAGE_MAX:
        raise InvalidInput(
            f"Le message est trop long : {REPORT_MESSAGE_MAX} caractères au plus.", field="message", code="too_long"
        )
    email = (contact_email or "").strip().lower() or None
    if email is not None and not EMAIL.match(email):
        raise InvalidInput(f"Le courriel « {email} » n'est pas valide.", field="contact_email", code="invalid_email")
    report = VenueReport(venue=venue, topic=chosen, message=text, contact_email=email)
    session.add(report)
    session.flush()
    return report


def open_reports(session: Session) -> list[VenueReport]:
    return list(
        session.scalars(
            select(VenueReport)
            .options(selectinload(VenueReport.venue))
            .where(VenueReport.handled_at.is_(None))
            .order_by(VenueReport.created_at.desc(), VenueReport.id.desc())
        )
    )
