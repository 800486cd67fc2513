"""Business functions of the public cartography: rebuild, coverage figures, map building."""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import math
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import branca.colormap
import folium
import folium.plugins
import numpy as np
import shapely
from apscheduler.triggers.cron import CronTrigger
from geoalchemy2.shape import to_shape
from pyproj import Geod
from scipy.spatial import cKDTree
from sqlalchemy import and_, case, delete, func, insert, not_, or_, select, true, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from directory.api import EMAIL, INSEE_CODE, Actor, territory_by_code
from directory.db import PARIS_TZ, ScheduledJob, bbox_filter, try_transaction_lock, unit_of_work, utcnow
from directory.errors import DomainError, InvalidInput, NotFound
from directory.models import Service, ServiceLevel, Territory, TerritoryLevel, Venue, VenueService, VenueStatus
from maps.models import CartographyRun, CommuneCoverage, CoverageRefresh, FragilityIndex, ReportTopic, RunStatus, VenueReport
from qualification import api as qualification_api

SCHEDULED_JOBS: list[ScheduledJob] = []


# ------------------------------------------------------------- public pages and map

MAP_BBOX_MAX_VENUES = 3_000
REPORT_MESSAGE_MAX = 2_000
TERRITORY_CHILD_LEVEL = {
    TerritoryLevel.REGION: TerritoryLevel.DEPARTEMENT,
    TerritoryLevel.DEPARTEMENT: TerritoryLevel.COMMUNE,
    TerritoryLevel.EPCI: TerritoryLevel.COMMUNE,
}
_TERRITORY_CODE_COLUMN = {
    TerritoryLevel.REGION: Territory.region_code,
    TerritoryLevel.DEPARTEMENT: Territory.departement_code,
    TerritoryLevel.EPCI: Territory.epci_code,
    TerritoryLevel.COMMUNE: Territory.code,
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
    key = _TERRITORY_CODE_COLUMN[level]
    statement = (
        select(key, func.count(Venue.id))
        .select_from(Venue)
        .join(Territory, (Territory.code == Venue.code_insee) & (Territory.level == TerritoryLevel.COMMUNE))
        .where(Venue.published)
        .group_by(key)
    )
    if within is not None:
        statement = statement.where(_TERRITORY_CODE_COLUMN[within.level] == within.code)
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


def published_venues_in(session: Session, territory: Territory, limit: int = 500) -> list[Venue]:
    """The published venues of a territory, by commune then name."""
    statement = (
        select(Venue)
        .options(selectinload(Venue.services))
        .join(Territory, (Territory.code == Venue.code_insee) & (Territory.level == TerritoryLevel.COMMUNE))
        .where(Venue.published, _TERRITORY_CODE_COLUMN[territory.level] == territory.code)
        .order_by(Venue.commune, Venue.nom, Venue.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def map_bubbles(session: Session, level: TerritoryLevel | str) -> list[dict[str, Any]]:
    """One bubble per région or département: its name, centre and number of published venues."""
    level = TerritoryLevel(level)
    if level not in (TerritoryLevel.REGION, TerritoryLevel.DEPARTEMENT):
        raise InvalidInput(
            f"Le niveau « {level.value} » n'a pas de bulles : « region » ou « departement » est attendu.",
            field="level", code="invalid_bubble_level",
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
    """`xmin,ymin,xmax,ymax` in degrees (longitude, latitude), as Leaflet's toBBoxString gives."""
    try:
        xmin, ymin, xmax, ymax = (float(part) for part in (value or "").split(","))
    except ValueError:
        raise InvalidInput(
            f"Le cadre « {value} » n'est pas valide : quatre nombres « ouest,sud,est,nord » sont attendus.",
            field=field, code="invalid_bbox",
        ) from None
    if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
        raise InvalidInput(
            f"Le cadre « {value} » n'est pas valide : ouest ≤ est entre -180 et 180, sud ≤ nord entre -90 et 90.",
            field=field, code="invalid_bbox",
        )
    return xmin, ymin, xmax, ymax


def venues_in_bbox(
    session: Session, bbox: tuple[float, float, float, float], limit: int = MAP_BBOX_MAX_VENUES
) -> tuple[list[dict[str, Any]], bool]:
    """Published venues in a lon/lat box, light enough for map markers; True when cut at `limit`."""
    rows = session.execute(
        select(Venue.id, Venue.nom, Venue.commune, func.ST_X(Venue.location), func.ST_Y(Venue.location))
        .where(Venue.published, bbox_filter(session, Venue, "location", *bbox))
        .order_by(Venue.id)
        .limit(limit + 1)
    ).all()
    venues = [
        {"id": vid, "nom": nom, "commune": commune, "lon": x, "lat": y} for vid, nom, commune, x, y in rows[:limit]
    ]
    return venues, len(rows) > limit


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


# ------------------------------------------------------------------ territorial coverage


coverage_log = logging.getLogger("maps.coverage")

COVERAGE_LEVELS = (1, 2, 3)
COVERAGE_DISTANCES_KM = (5, 10, 20)
ZONE_BLANCHE_LEVEL = 2
ZONE_BLANCHE_DISTANCE_KM = 20
MAX_COVERAGE_DISTANCE_KM = 200
MAX_AREA_PARTS = 100
COVERAGE_AREA_LEVELS = ("france", "region", "departement", "epci", "commune", "zone")
COVERAGE_AREA_LABELS = {
    "france": "France", "region": "Région", "departement": "Département", "epci": "EPCI",
    "commune": "Commune", "zone": "Zone personnalisée",
}
_DISTANCE_COLUMNS = {
    1: CommuneCoverage.distance_level1_m, 2: CommuneCoverage.distance_level2_m, 3: CommuneCoverage.distance_level3_m,
}
_VENUE_COLUMNS = {1: CommuneCoverage.venues_level1, 2: CommuneCoverage.venues_level2, 3: CommuneCoverage.venues_level3}
_AREA_COLUMNS = {
    "region": CommuneCoverage.region_code, "departement": CommuneCoverage.departement_code,
    "epci": CommuneCoverage.epci_code, "commune": CommuneCoverage.commune_code,
}
_WGS84 = Geod(ellps="WGS84")
_INSERT_BATCH = 5_000
# Beyond this many communes a map shows départements: polygons stay light enough for a browser.
MAX_COMMUNE_UNITS = 1_500


def nearest_distances_m(
    points_lon: np.ndarray, points_lat: np.ndarray, venues_lon: np.ndarray, venues_lat: np.ndarray
) -> np.ndarray:
    """Metres on the WGS84 ellipsoid from each point to its nearest venue (NaN when there is none).

    A k-d tree on 3D unit vectors finds the nearest venue (the chord between two unit vectors
    grows with their great-circle distance), so no pairwise distances are computed; the
    geodesic to that venue is then measured on the ellipsoid.
    """
    result = np.full(len(points_lon), np.nan)
    if len(points_lon) == 0 or len(venues_lon) == 0:
        return result
    tree = cKDTree(qualification_api.unit_vectors(venues_lon, venues_lat))
    _, nearest = tree.query(qualification_api.unit_vectors(points_lon, points_lat))
    _, _, distance = _WGS84.inv(points_lon, points_lat, venues_lon[nearest], venues_lat[nearest])
    return np.asarray(distance, dtype=float)


def refresh_coverage(session: Session) -> dict[str, Any]:
    """Recompute the coverage table from the published venues; called by the weekly rebuild.

    Flushes, never commits: inside the rebuild's transaction the public sees the new figures
    together with the new cartography.
    """
    started = time.perf_counter()
    communes = session.execute(
        select(
            Territory.code, Territory.name, Territory.departement_code, Territory.region_code, Territory.epci_code,
            Territory.population, func.ST_X(Territory.centre), func.ST_Y(Territory.centre),
        )
        .where(Territory.level == TerritoryLevel.COMMUNE)
        .order_by(Territory.code)
    ).all()
    venues = session.execute(
        select(Venue.id, Venue.code_insee, func.ST_X(Venue.location), func.ST_Y(Venue.location)).where(Venue.published)
    ).all()
    levels_of: dict[int, set[int]] = defaultdict(set)
    for venue_id, level in session.execute(
        select(VenueService.venue_id, Service.level_number)
        .join(Service, Service.id == VenueService.service_id)
        .join(Venue, Venue.id == VenueService.venue_id)
        .where(Venue.published)
        .distinct()
    ):
        levels_of[venue_id].add(level)

    located = np.array([row[6] is not None for row in communes], dtype=bool)
    lon = np.array([row[6] for row in communes if row[6] is not None], dtype=float)
    lat = np.array([row[7] for row in communes if row[6] is not None], dtype=float)
    distances: dict[int, np.ndarray] = {}
    venue_counts: dict[int | None, Counter[str]] = {None: Counter(v[1] for v in venues if v[1])}
    for level in COVERAGE_LEVELS:
        offering = [v for v in venues if level in levels_of[v[0]]]
        points = np.array([(v[2], v[3]) for v in offering if v[2] is not None], dtype=float).reshape(-1, 2)
        distances[level] = np.full(len(communes), np.nan)
        distances[level][located] = nearest_distances_m(lon, lat, points[:, 0], points[:, 1])
        venue_counts[level] = Counter(v[1] for v in offering if v[1])
    accessibility_started = time.perf_counter()
    accessibility = qualification_api.commune_accessibility(session)
    accessibility_seconds = time.perf_counter() - accessibility_started

    rows = []
    for index, (code, name, departement, region, epci, population, _x, _y) in enumerate(communes):
        row = {
            "commune_code": code, "name": name, "departement_code": departement, "region_code": region,
            "epci_code": epci, "population": population, "located": bool(located[index]),
            "venues": venue_counts[None][code],
            "accessibility": None if code not in accessibility else round(accessibility[code], 4),
        }
        for level in COVERAGE_LEVELS:
            distance = distances[level][index]
            row[f"distance_level{level}_m"] = None if math.isnan(distance) else round(float(distance), 1)
            row[f"venues_level{level}"] = venue_counts[level][code]
        rows.append(row)
    session.execute(delete(CommuneCoverage))
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(insert(CommuneCoverage.__table__), rows[start : start + _INSERT_BATCH])
    seconds = time.perf_counter() - started
    session.add(CoverageRefresh(communes=len(rows), venues=len(venues), seconds=round(seconds, 3)))
    session.flush()
    summary = {
        "communes": len(rows),
        "communes_without_centre": int((~located).sum()),
        "venues": len(venues),
        "venues_by_level": {str(level): sum(venue_counts[level].values()) for level in COVERAGE_LEVELS},
        "seconds": round(seconds, 2),
        "accessibility_seconds": round(accessibility_seconds, 2),
    }
    coverage_log.info("coverage refreshed: %s", summary)
    return summary


def latest_coverage_refresh(session: Session) -> CoverageRefresh:
    refresh = session.scalar(select(CoverageRefresh).order_by(CoverageRefresh.id.desc()).limit(1))
    if refresh is None:
        raise DomainError(
            "Les chiffres de couverture n'ont pas encore été calculés : ils le seront à la prochaine "
            "reconstruction hebdomadaire de la cartographie (ou avec « aptic coverage refresh »).",
            code="coverage_not_computed",
            status=503,
        )
    return refresh


@dataclass(frozen=True)
class CoverageArea:
    """A territory, France, or a custom area (several territories), as a condition on coverage rows."""

    level: str
    code: str
    name: str
    condition: Any


def coverage_area(session: Session, level: str, code: str) -> CoverageArea:
    """The area designated by a level and a code: `france`/`FR`, a territory, or `zone` and a list
    such as `departement:33,commune:17300`."""
    level = (level or "").strip().lower()
    code = (code or "").strip()
    if level == "france":
        if code.upper() not in ("FR", "FRANCE"):
            raise NotFound(f"Le code « {code} » ne désigne pas la France (utilisez FR).", field="code",
                           code="unknown_territory")
        return CoverageArea("france", "FR", "France", true())
    if level == "zone":
        items = [item.strip() for item in code.split(",") if item.strip()]
        if not items or len(items) > MAX_AREA_PARTS:
            raise InvalidInput(
                f"Une zone se compose de 1 à {MAX_AREA_PARTS} territoires, écrits niveau:code et séparés par "
                "des virgules (ex. departement:33,commune:17300).",
                field="code", code="invalid_area", status=400,
            )
        parts = []
        for item in items:
            part_level, separator, part_code = item.partition(":")
            if not separator or part_level.strip().lower() not in _AREA_COLUMNS:
                raise InvalidInput(
                    f"L'élément « {item} » de la zone n'est pas valide : écrivez niveau:code, niveau parmi "
                    "region, departement, epci, commune (ex. departement:33).",
                    field="code", code="invalid_area", status=400,
                )
            parts.append(_territory_area(session, part_level.strip().lower(), part_code))
        unique = list({(part.level, part.code): part for part in parts}.values())
        return CoverageArea(
            "zone",
            ",".join(f"{part.level}:{part.code}" for part in unique),
            "Zone : " + ", ".join(part.name for part in unique),
            or_(*(part.condition for part in unique)),
        )
    if level not in _AREA_COLUMNS:
        raise NotFound(
            f"Le niveau de territoire « {level} » n'existe pas (valeurs possibles : {', '.join(COVERAGE_AREA_LEVELS)}).",
            field="territory_level", code="unknown_territory_level",
        )
    return _territory_area(session, level, code)


def _territory_area(session: Session, level: str, code: str) -> CoverageArea:
    try:
        territory = territory_by_code(session, level, code)
    except InvalidInput as error:  # a malformed code designates no territory either
        raise NotFound(error.message, field="code", code="unknown_territory") from None
    return CoverageArea(level, territory.code, territory.name, _AREA_COLUMNS[level] == territory.code)


def parse_coverage_selection(level: Any, distance_km: Any) -> tuple[int | None, float | None]:
    """The `level` (1 to 3) and `distance_km` (0 < d ≤ 200) query parameters; None when absent."""
    parsed_level = None
    if level not in (None, ""):
        if str(level).strip() not in {str(n) for n in COVERAGE_LEVELS}:
            raise InvalidInput(
                f"Le paramètre « level » vaut « {level} » : indiquez un niveau du référentiel, 1, 2 ou 3.",
                field="level", code="invalid_service_level", status=400,
            )
        parsed_level = int(str(level).strip())
    parsed_distance = None
    if distance_km not in (None, ""):
        try:
            parsed_distance = float(str(distance_km).strip().replace(",", "."))
        except ValueError:
            parsed_distance = math.nan
        if not (math.isfinite(parsed_distance) and 0 < parsed_distance <= MAX_COVERAGE_DISTANCE_KM):
            raise InvalidInput(
                f"Le paramètre « distance_km » vaut « {distance_km} » : indiquez une distance en kilomètres, "
                f"supérieure à 0 et au plus {MAX_COVERAGE_DISTANCE_KM}.",
                field="distance_km", code="invalid_distance", status=400,
            )
    return parsed_level, parsed_distance


def _sum(expression: Any) -> Any:
    return func.coalesce(func.sum(expression), 0)


def _covered(level: int, distance_km: float) -> Any:
    return _DISTANCE_COLUMNS[level] <= distance_km * 1000


def _per_10000(venues: int, population: int) -> float | None:
    return round(venues * 10_000 / population, 2) if population else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def coverage_figures(
    session: Session,
    area: CoverageArea,
    *,
    levels: tuple[int, ...] = COVERAGE_LEVELS,
    distances_km: tuple[float, ...] = COVERAGE_DISTANCES_KM,
) -> dict[str, Any]:
    """The coverage figures of an area, summed from the coverage table of the last rebuild."""
    refresh = latest_coverage_refresh(session)
    population = CommuneCoverage.population
    access_columns = [
        _sum(case((_covered(level, distance), population), else_=0)) for level in levels for distance in distances_km
    ]
    row = session.execute(
        select(
            func.count(), _sum(population), _sum(case((CommuneCoverage.located, 0), else_=population)),
            _sum(CommuneCoverage.venues), *(_sum(_VENUE_COLUMNS[level]) for level in COVERAGE_LEVELS),
            *access_columns,
        ).where(area.condition)
    ).one()
    communes, total, unlocated, venues = (int(value) for value in row[:4])
    by_level = [int(value) for value in row[4:7]]
    covered = iter(int(value) for value in row[7:])
    access = [
        {"niveau": level, "distance_km": distance, "population": (people := next(covered)), "part": _share(people, total)}
        for level in levels
        for distance in distances_km
    ]
    return {
        "territoire": {"niveau": area.level, "code": area.code, "nom": area.name},
        "calcule_le": refresh.refreshed_at.isoformat(),
        "communes": communes,
        "population": total,
        "population_sans_centre": unlocated,
        "lieux": {"total": venues, "par_niveau": {str(level): count for level, count in zip(COVERAGE_LEVELS, by_level,
                                                                                            strict=True)}},
        "acces": access,
        "zones_blanches": _zones_blanches(session, area, total),
        "densite": _density(session, area, venues, total),
        "fragilite_numerique": _fragility(session, area),
    }


def _zones_blanches(session: Session, area: CoverageArea, total: int) -> dict[str, Any]:
    distance = _DISTANCE_COLUMNS[ZONE_BLANCHE_LEVEL]
    rows = session.execute(
        select(CommuneCoverage.commune_code, CommuneCoverage.name, CommuneCoverage.population, distance,
               FragilityIndex.total)
        .outerjoin(FragilityIndex, and_(FragilityIndex.level == "commune",
                                        FragilityIndex.code == CommuneCoverage.commune_code))
        .where(area.condition, CommuneCoverage.located,
               or_(distance.is_(None), distance > ZONE_BLANCHE_DISTANCE_KM * 1000))
        .order_by(CommuneCoverage.population.desc(), CommuneCoverage.commune_code)
    ).all()
    population = sum(row[2] for row in rows)
    return {
        "definition": f"communes à plus de {ZONE_BLANCHE_DISTANCE_KM} km de tout lieu de niveau {ZONE_BLANCHE_LEVEL}",
        "communes": len(rows),
        "population": population,
        "part": _share(population, total),
        "liste": [
            {"code": code, "nom": name, "population": people,
             "distance_km": None if meters is None else round(meters / 1000, 1),
             "indice_fragilite": None if fragility is None else round(fragility, 2)}
            for code, name, people, meters, fragility in rows
        ],
    }


def _density(session: Session, area: CoverageArea, venues: int, total: int) -> dict[str, Any]:
    """Venues per 10,000 inhabitants, beside those of the area's (main) département, its région and France."""
    main = session.execute(
        select(CommuneCoverage.departement_code, CommuneCoverage.region_code)
        .where(area.condition)
        .group_by(CommuneCoverage.departement_code, CommuneCoverage.region_code)
        .order_by(_sum(CommuneCoverage.population).desc())
        .limit(1)
    ).first()
    wanted = []
    if main is not None and area.level not in ("france", "region", "departement"):
        wanted.append(("departement", main[0]))
    if main is not None and area.level not in ("france", "region"):
        wanted.append(("region", main[1]))
    comparisons = []
    for level, code in wanted:
        territory = session.scalar(select(Territory).where(Territory.level == level, Territory.code == code))
        if territory is not None:
            comparisons.append(_density_of(session, level, code, territory.name, _AREA_COLUMNS[level] == code))
    if area.level != "france":
        comparisons.append(_density_of(session, "france", "FR", "France", true()))
    return {"lieux_pour_10000": _per_10000(venues, total), "accessibilite_e2sfca": _accessibility(session, area.condition),
            "comparaisons": comparisons}


def _accessibility(session: Session, condition: Any) -> float | None:
    """The population-weighted mean of the communes' E2SFCA scores (qualification's density figures)."""
    weighted, weights = session.execute(
        select(_sum(CommuneCoverage.population * CommuneCoverage.accessibility),
               _sum(case((CommuneCoverage.accessibility.is_not(None), CommuneCoverage.population), else_=0)))
        .where(condition)
    ).one()
    return round(float(weighted) / float(weights), 3) if weights else None


def _density_of(session: Session, level: str, code: str, name: str, condition: Any) -> dict[str, Any]:
    venues, population = session.execute(
        select(_sum(CommuneCoverage.venues), _sum(CommuneCoverage.population)).where(condition)
    ).one()
    return {"niveau": level, "code": code, "nom": name, "lieux": int(venues), "population": int(population),
            "lieux_pour_10000": _per_10000(int(venues), int(population)),
            "accessibilite_e2sfca": _accessibility(session, condition)}


FRAGILITY_INDICATORS = {
    "no_thd_coverage_rate": "Absence de couverture très haut débit",
    "no_4g_coverage_rate": "Absence de couverture 4G",
    "poverty_rate": "Taux de pauvreté",
    "older_65_rate": "Part des plus de 65 ans",
    "nscol15p_rate": "Part des 15 ans et plus sans diplôme",
}


def _fragility(session: Session, area: CoverageArea) -> dict[str, Any] | None:
    """The population-weighted mean of the communes' fragility scores (1 low to 10 high), if loaded."""
    weight = CommuneCoverage.population
    columns = {"total": FragilityIndex.total} | {name: getattr(FragilityIndex, name) for name in FRAGILITY_INDICATORS}
    row = session.execute(
        select(
            func.count(),
            *(item for column in columns.values()
              for item in (_sum(weight * column), _sum(case((column.is_not(None), weight), else_=0)))),
        )
        .select_from(CommuneCoverage)
        .join(FragilityIndex, and_(FragilityIndex.level == "commune", FragilityIndex.code == CommuneCoverage.commune_code))
        .where(area.condition)
    ).one()
    epci = None
    if area.level == "epci":
        epci = session.get(FragilityIndex, ("epci", area.code))
    if not row[0] and epci is None:
        return None
    scores = {}
    for position, name in enumerate(columns):
        weighted, weights = row[1 + 2 * position], row[2 + 2 * position]
        scores[name] = round(float(weighted) / float(weights), 2) if weights else None
    return {
        "communes_avec_indice": int(row[0]),
        "moyenne_ponderee": scores,
        "epci": None if epci is None else {
            name: None if getattr(epci, name) is None else round(getattr(epci, name), 2) for name in columns
        },
        "libelles": {"total": "Indice de fragilité numérique"} | FRAGILITY_INDICATORS,
    }


def coverage_communes(session: Session, area: CoverageArea, level: int, distance_km: float) -> list[dict[str, Any]]:
    """One row per commune of the area: distances to the nearest venue of each level, coverage flags."""
    rows = session.execute(
        select(CommuneCoverage, FragilityIndex.total)
        .outerjoin(FragilityIndex, and_(FragilityIndex.level == "commune",
                                        FragilityIndex.code == CommuneCoverage.commune_code))
        .where(area.condition)
        .order_by(CommuneCoverage.commune_code)
    ).all()
    result = []
    for coverage, fragility in rows:
        distance = getattr(coverage, f"distance_level{level}_m")
        zone_m = getattr(coverage, f"distance_level{ZONE_BLANCHE_LEVEL}_m")
        item = {
            "code": coverage.commune_code, "name": coverage.name, "departement": coverage.departement_code,
            "population": coverage.population, "located": coverage.located,
        }
        for number in COVERAGE_LEVELS:
            meters = getattr(coverage, f"distance_level{number}_m")
            item[f"distance_level{number}_km"] = None if meters is None else round(meters / 1000, 2)
        item |= {
            "venues": coverage.venues,
            **{f"venues_level{number}": getattr(coverage, f"venues_level{number}") for number in COVERAGE_LEVELS},
            "covered": distance is not None and distance <= distance_km * 1000,
            "zone_blanche": coverage.located and (zone_m is None or zone_m > ZONE_BLANCHE_DISTANCE_KM * 1000),
            "fragility": None if fragility is None else round(fragility, 2),
            "accessibility": coverage.accessibility,
        }
        result.append(item)
    return result


def coverage_unit_level(session: Session, area: CoverageArea) -> str:
    """Map units: communes for a département or smaller, départements for a région, France or a large zone."""
    if area.level in ("france", "region"):
        return "departement"
    if area.level == "zone":
        communes = session.scalar(select(func.count()).select_from(CommuneCoverage).where(area.condition))
        return "departement" if communes > MAX_COMMUNE_UNITS else "commune"
    return "commune"


def coverage_units(session: Session, area: CoverageArea, level: int, distance_km: float) -> list[dict[str, Any]]:
    """The map units of an area with the share of their population covered, and simplified polygons."""
    unit_level = coverage_unit_level(session, area)
    covered = _sum(case((_covered(level, distance_km), CommuneCoverage.population), else_=0))
    key = CommuneCoverage.commune_code if unit_level == "commune" else CommuneCoverage.departement_code
    figures = session.execute(
        select(key, _sum(CommuneCoverage.population), covered, _sum(_VENUE_COLUMNS[level]),
               func.min(_DISTANCE_COLUMNS[level]))
        .where(area.condition)
        .group_by(key)
    ).all()
    by_code = {row[0]: row for row in figures}
    territories = session.execute(
        select(Territory.code, Territory.name, Territory.geom)
        .where(Territory.level == unit_level, Territory.code.in_(select(key).where(area.condition)),
               Territory.geom.is_not(None))
        .order_by(Territory.code)
    ).all()
    tolerance = 0.0005 if unit_level == "commune" else 0.005
    shapes = shapely.simplify(np.array([to_shape(geom) for _, _, geom in territories], dtype=object), tolerance,
                              preserve_topology=True)
    units = []
    for (code, name, _geom), shape in zip(territories, shapes, strict=True):
        _, population, people, venues, nearest = by_code[code]
        units.append({
            "code": code, "nom": name, "population": int(population), "population_couverte": int(people),
            "part": _share(int(people), int(population)), "lieux": int(venues),
            "distance_km": None if nearest is None or unit_level != "commune" else round(nearest / 1000, 1),
            "geometry": shape,
        })
    return units


def coverage_venues(session: Session, area: CoverageArea, level: int) -> list[dict[str, Any]]:
    """The published venues of the area offering a level, with their position."""
    rows = session.execute(
        select(Venue.id, Venue.nom, Venue.commune, func.ST_X(Venue.location), func.ST_Y(Venue.location))
        .where(
            Venue.published,
            Venue.location.is_not(None),
            Venue.code_insee.in_(select(CommuneCoverage.commune_code).where(area.condition)),
            Venue.id.in_(
                select(VenueService.venue_id).join(Service, Service.id == VenueService.service_id)
                .where(Service.level_number == level)
            ),
        )
        .order_by(Venue.id)
    ).all()
    return [{"id": vid, "name": name, "commune": commune, "lon": lon, "lat": lat} for vid, name, commune, lon, lat in rows]


SHARE_COLOURS = ["#b2182b", "#ef8a62", "#fddbc7", "#d1e5f0", "#67a9cf", "#2166ac"]
SHARE_STEPS = [0, 20, 40, 60, 80, 99.5, 100]
# Beyond this many markers, the map clusters venues client-side to stay light.
MAX_PLAIN_MARKERS = 800


def coverage_map(
    units: list[dict[str, Any]], venues: list[dict[str, Any]], level: int, distance_km: float, unit_level: str
) -> folium.Map:
    """A choropleth of the share of population covered, with a legend and the venues on top."""
    fmap = folium.Map(location=[46.6, 2.4], zoom_start=6, tiles="OpenStreetMap", control_scale=True, prefer_canvas=True)
    colours = branca.colormap.StepColormap(
        SHARE_COLOURS, index=SHARE_STEPS, vmin=0, vmax=100,
        caption=f"Part de la population à moins de {distance_km:g} km d'un lieu de niveau {level} (%)",
    )
    features = [
        {"type": "Feature", "geometry": shapely.geometry.mapping(unit["geometry"]),
         "properties": {
             "nom": unit["nom"], "code": unit["code"], "population": unit["population"],
             "part": "—" if unit["part"] is None else f"{unit['part'] * 100:.0f} %",
             "value": None if unit["part"] is None else unit["part"] * 100,
             "lieux": unit["lieux"],
             "distance": "—" if unit["distance_km"] is None else f"{unit['distance_km']:.1f} km",
         }}
        for unit in units
    ]
    fields, aliases = ["nom", "code", "population", "part", "lieux"], ["Territoire", "Code", "Population",
                                                                       "Population couverte", "Lieux"]
    if unit_level == "commune":
        fields.append("distance")
        aliases.append(f"Lieu de niveau {level} le plus proche")
    if features:
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name="Couverture",
            style_function=lambda feature: {
                "fillColor": "#cccccc" if feature["properties"]["value"] is None
                else colours(feature["properties"]["value"]),
                "color": "#555555", "weight": 0.5, "fillOpacity": 0.7,
            },
            tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases),
        )
        layer.add_to(fmap)
        xmin, ymin, xmax, ymax = shapely.total_bounds([unit["geometry"] for unit in units])
        fmap.fit_bounds([[ymin, xmin], [ymax, xmax]])
    colours.add_to(fmap)
    venue_layer = folium.FeatureGroup(name=f"Lieux de niveau {level}")
    if len(venues) > MAX_PLAIN_MARKERS:
        folium.plugins.FastMarkerCluster([[v["lat"], v["lon"]] for v in venues]).add_to(venue_layer)
    else:
        for venue in venues:
            folium.CircleMarker(
                [venue["lat"], venue["lon"]], radius=5, color="#000091", weight=1, fill=True, fill_opacity=0.9,
                tooltip=_tooltip_text(f"{venue['name']} ({venue['commune']})"),
            ).add_to(venue_layer)
    venue_layer.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap


def _tooltip_text(text: str) -> str:
    """Folium writes tooltips into a JavaScript template literal as they are: escape HTML and the
    characters that would end the literal or interpolate in it."""
    return html.escape(text).replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


COVERAGE_CSV_COLUMNS = [
    "code_insee", "commune", "departement", "population", "distance_niveau_1_km", "distance_niveau_2_km",
    "distance_niveau_3_km", "lieux", "lieux_niveau_1", "lieux_niveau_2", "lieux_niveau_3", "couverte",
    "zone_blanche", "indice_fragilite", "accessibilite_e2sfca",
]


def coverage_csv(communes: list[dict[str, Any]]) -> str:
    """The per-commune figures as CSV (`;`-separated, UTF-8 with BOM, as spreadsheets expect in France)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COVERAGE_CSV_COLUMNS)
    for c in communes:
        writer.writerow([
            c["code"], c["name"], c["departement"], c["population"],
            *("" if c[f"distance_level{n}_km"] is None else c[f"distance_level{n}_km"] for n in COVERAGE_LEVELS),
            c["venues"], *(c[f"venues_level{n}"] for n in COVERAGE_LEVELS),
            "oui" if c["covered"] else "non", "oui" if c["zone_blanche"] else "non",
            "" if c["fragility"] is None else c["fragility"],
            "" if c["accessibility"] is None else c["accessibility"],
        ])
    return out.getvalue()


def coverage_geojson(units: list[dict[str, Any]], figures: dict[str, Any], level: int, distance_km: float) -> str:
    """The map units with their figures as a GeoJSON FeatureCollection; the area's figures ride along."""
    features = [
        {"type": "Feature", "geometry": shapely.geometry.mapping(unit["geometry"]),
         "properties": {key: value for key, value in unit.items() if key != "geometry"}}
        for unit in units
    ]
    return json.dumps(
        {"type": "FeatureCollection", "features": features,
         "selection": {"niveau": level, "distance_km": distance_km}, "couverture": figures},
        ensure_ascii=False,
    )


IFN_COLUMNS = ("name", "division", "code", *FRAGILITY_INDICATORS, "total")
IFN_DIVISIONS = {"city": "commune", "epci": "epci"}
IFN_NO_EPCI = "ZZZZZZZZZ"  # INSEE's "sans objet": the communes outside any EPCI, lumped together


def load_fragility_index(session: Session, path: Path) -> dict[str, Any]:
    """Load an IFN file (inclusion-numerique/stack `ifn-*-all-variation.csv`); its rows replace the
    loaded index of the same level (commune or EPCI)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"Le fichier {path.name} est illisible ({error}).", field="path",
                           code="invalid_fragility_file") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in IFN_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            f"Le fichier {path.name} n'est pas un fichier de l'indice de fragilité numérique : "
            f"colonnes manquantes ({', '.join(missing)}).",
            field="path", code="invalid_fragility_file",
        )
    records: dict[tuple[str, str], dict[str, Any]] = {}
    skipped = 0
    for line, record in enumerate(reader, start=2):
        division = (record["division"] or "").strip()
        level = IFN_DIVISIONS.get(division)
        code = (record["code"] or "").strip().upper()
        if code == IFN_NO_EPCI:
            skipped += 1
            continue
        valid_code = bool(INSEE_CODE.match(code)) if level == "commune" else code.isdigit() and len(code) == 9
        if level is None or not valid_code:
            raise InvalidInput(
                f"{path.name}, ligne {line} : « {division} » / « {code} » n'est ni une commune (city, code INSEE) "
                "ni un EPCI (epci, SIREN à 9 chiffres).",
                field="division", code="invalid_fragility_file",
            )
        if not (record["total"] or "").strip():
            skipped += 1
            continue
        scores = {name: _fragility_score(path, line, name, record[name]) for name in (*FRAGILITY_INDICATORS, "total")}
        records[(level, code)] = {"level": level, "code": code, "name": (record["name"] or code).strip()[:200],
                                  "source": path.name, **scores}
    levels = sorted({level for level, _ in records})
    if levels:
        session.execute(delete(FragilityIndex).where(FragilityIndex.level.in_(levels)))
    rows = list(records.values())
    for start in range(0, len(rows), _INSERT_BATCH):
        session.execute(insert(FragilityIndex), rows[start : start + _INSERT_BATCH])
    session.flush()
    known = set(session.scalars(select(Territory.code).where(Territory.level.in_(["commune", "epci"]))))
    return {
        "file": path.name,
        "by_level": {level: sum(1 for lv, _ in records if lv == level) for level in levels},
        "unknown_codes": sum(1 for _, code in records if code not in known),
        "skipped": skipped,
    }


def _fragility_score(path: Path, line: int, column: str, raw: str | None) -> float | None:
    if not (raw or "").strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= 10):
        raise InvalidInput(
            f"{path.name}, ligne {line} : la valeur « {raw} » de la colonne « {column} » n'est pas un score "
            "entre 0 et 10.",
            field=column, code="invalid_fragility_file",
        )
    return value


# ------------------------------------------------------------------- weekly rebuild


rebuild_log = logging.getLogger("maps.rebuild")
REBUILD_LOCK = "aptic:cartography-rebuild"
REBUILD_CRON = {"day_of_week": "mon", "hour": 7, "minute": 0}


@dataclass
class RebuildContext:
    """What each step of a rebuild gets: the one session of the switch, the actor, the report to fill."""

    session: Session
    actor: Actor
    report: dict[str, Any]


def _step_pending_changes(context: RebuildContext) -> None:
    context.report["changes"] = qualification_api.apply_pending_changes(context.session, context.actor)


def _step_quotas(context: RebuildContext) -> None:
    result = qualification_api.enforce_quotas(context.session, context.actor)
    context.report["promoted"] = result["promoted"]
    context.report["flagged"] = [
        {key: item[key] for key in ("level", "code", "name", "population", "qualified", "quota")}
        for item in result["flagged"]
    ]


def publishable() -> Any:
    """The venues the public cartography shows: qualified and located (closed ones are never qualified)."""
    return and_(Venue.status == VenueStatus.QUALIFIED, Venue.location.is_not(None))


def _step_publish(context: RebuildContext) -> None:
    session = context.session
    added = list(session.scalars(select(Venue.id).where(publishable(), not_(Venue.published)).order_by(Venue.id)))
    removed = list(session.scalars(select(Venue.id).where(Venue.published, not_(publishable())).order_by(Venue.id)))
    # updated_at stays: publishing is not an edit of the venue.
    session.execute(update(Venue).where(publishable(), not_(Venue.published))
                    .values(published=True, updated_at=Venue.updated_at), execution_options={"synchronize_session": False})
    session.execute(update(Venue).where(Venue.published, not_(publishable()))
                    .values(published=False, updated_at=Venue.updated_at), execution_options={"synchronize_session": False})
    session.expire_all()
    context.report["added"], context.report["removed"] = added, removed
    context.report["published"] = session.scalar(select(func.count()).select_from(Venue).where(Venue.published))


# The steps of a rebuild, in order, all in the transaction that switches the cartography.
REBUILD_STEPS: list[tuple[str, Callable[[RebuildContext], None]]] = [
    ("pending_changes", _step_pending_changes),
    ("quotas", _step_quotas),
    ("publish", _step_publish),
    ("coverage", lambda context: context.report.update(coverage=refresh_coverage(context.session))),
]


def rebuild_cartography(
    target: sessionmaker[Session] | Session,
    actor: Actor | None = None,
    trigger: str = "cli",
    observe: Callable[[str], Any] | None = None,
) -> CartographyRun:
    """Rebuild the public cartography and switch to it at once, with its run report.

    With a session factory, the rebuild owns its unit of work: the steps and the run report commit
    together, so readers see the old cartography or the new one; on failure everything rolls back and
    a failed run is recorded apart. With a session (tests, callers owning the unit of work), the steps
    run in a savepoint. One rebuild at a time across processes: a database lock; a rebuild that had
    to wait for another one that finished after it was asked is skipped, the work being done.
    `observe(step_name)` may return a context manager wrapped around each step (benchmarks).
    """
    actor = actor or Actor.system("cartography-rebuild")
    asked_at = utcnow()
    if isinstance(target, Session):
        return _rebuild_in(target, actor, trigger, asked_at, observe, nested=True)
    try:
        with unit_of_work(target) as session:
            return _rebuild_in(session, actor, trigger, asked_at, observe, nested=False)
    except _Skipped as skipped:
        with unit_of_work(target) as session:
            return _record_run(session, actor, trigger, asked_at, RunStatus.SKIPPED, {}, error=str(skipped))
    except Exception as error:
        rebuild_log.exception("cartography rebuild failed; the previous cartography stays published")
        with unit_of_work(target) as session:
            return _record_run(session, actor, trigger, asked_at, RunStatus.FAILED, {}, error=_describe(error))


class _Skipped(Exception):
    pass


def _describe(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(error)).strip()[:2_000]


def _rebuild_in(session: Session, actor: Actor, trigger: str, asked_at: datetime,
                observe: Callable[[str], Any] | None, nested: bool) -> CartographyRun:
    if not try_transaction_lock(session, REBUILD_LOCK):
        if nested:
            return _record_run(session, actor, trigger, asked_at, RunStatus.SKIPPED, {},
                               error="Une autre reconstruction est en cours.")
        raise _Skipped("Une autre reconstruction est en cours.")
    done_meanwhile = session.scalar(
        select(CartographyRun.id).where(CartographyRun.status == RunStatus.SUCCEEDED, CartographyRun.finished_at >= asked_at)
    )
    if done_meanwhile is not None:
        message = f"La reconstruction n° {done_meanwhile}, terminée pendant l'attente, a déjà fait le travail."
        if nested:
            return _record_run(session, actor, trigger, asked_at, RunStatus.SKIPPED, {}, error=message)
        raise _Skipped(message)
    report: dict[str, Any] = {"steps": []}
    context = RebuildContext(session, actor, report)
    if nested:
        try:
            with session.begin_nested():
                _run_steps(context, observe)
        except Exception as error:
            rebuild_log.exception("cartography rebuild failed; the previous cartography stays published")
            return _record_run(session, actor, trigger, asked_at, RunStatus.FAILED, {}, error=_describe(error))
    else:
        _run_steps(context, observe)
    return _record_run(session, actor, trigger, asked_at, RunStatus.SUCCEEDED, report)


def _run_steps(context: RebuildContext, observe: Callable[[str], Any] | None) -> None:
    for name, step in REBUILD_STEPS:
        started = time.perf_counter()
        if observe is not None:
            with observe(name):
                step(context)
        else:
            step(context)
        seconds = time.perf_counter() - started
        context.report["steps"].append({"name": name, "seconds": round(seconds, 3)})
        rebuild_log.info("cartography rebuild: step %s done in %.2f s", name, seconds)


def _record_run(session: Session, actor: Actor, trigger: str, started_at: datetime, status: RunStatus,
                report: dict[str, Any], error: str | None = None) -> CartographyRun:
    finished_at = utcnow()
    run = CartographyRun(
        status=status, trigger=trigger, actor=actor.label, started_at=started_at, finished_at=finished_at,
        seconds=(finished_at - started_at).total_seconds(), published=report.get("published", 0),
        added=len(report.get("added", [])), removed=len(report.get("removed", [])),
        promoted=len(report.get("promoted", [])), flagged=len(report.get("flagged", [])),
        report=report, error=error,
    )
    session.add(run)
    session.flush()
    rebuild_log.info(
        "cartography rebuild %s: %s published, +%s, -%s, %s promoted, %s territories over quota, %.1f s",
        status.value, run.published, run.added, run.removed, run.promoted, run.flagged, run.seconds,
    )
    return run


def cartography_runs(session: Session, limit: int = 50) -> list[CartographyRun]:
    return list(session.scalars(select(CartographyRun).order_by(CartographyRun.id.desc()).limit(limit)))


def last_successful_rebuild(session: Session) -> datetime | None:
    return session.scalar(select(func.max(CartographyRun.started_at)).where(CartographyRun.status == RunStatus.SUCCEEDED))


class CatchUpCronTrigger(CronTrigger):
    """A cron trigger that, when the scheduler starts, fires at once if the last scheduled time was missed.

    APScheduler keeps its jobs in memory: after downtime it only knows the next time. This trigger
    asks the run history instead (`last_success()`), so a Monday 07:00 missed while the server was
    down runs at the next start.
    """

    def __init__(self, last_success: Callable[[], datetime | None], **fields: Any) -> None:
        super().__init__(**fields)
        self._last_success = last_success

    def previous_fire_time(self, now: datetime) -> datetime | None:
        fire = super().get_next_fire_time(None, now - timedelta(days=31))
        previous = None
        while fire is not None and fire <= now:
            previous = fire
            fire = super().get_next_fire_time(None, fire + timedelta(seconds=1))
        return previous

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is None:
            missed = self.previous_fire_time(now)
            last = self._last_success()
            if missed is not None and (last is None or last < missed):
                return now
        return super().get_next_fire_time(previous_fire_time, now)


@dataclass(frozen=True)
class CatchUpJob(ScheduledJob):
    """A scheduled job whose missed run, told by `last_success`, runs when the scheduler starts."""

    last_success: Callable[[sessionmaker[Session]], datetime | None] | None = None

    def trigger(self) -> Any:
        from flask import current_app, has_app_context

        if self.last_success is None or not has_app_context():
            return super().trigger()
        factory = current_app.extensions["aptic.db"].sessionmaker
        last_success = self.last_success

        def lookup() -> datetime | None:
            with unit_of_work(factory) as session:
                return last_success(session)

        return CatchUpCronTrigger(lookup, timezone=PARIS_TZ, **self.cron)


def _scheduled_rebuild(factory: sessionmaker[Session]) -> None:
    run = rebuild_cartography(factory, Actor.system("scheduler"), trigger="scheduler")
    if run.status == RunStatus.FAILED:
        raise RuntimeError(f"Reconstruction de la cartographie échouée : {run.error}")


SCHEDULED_JOBS.append(CatchUpJob(
    id="cartography-rebuild",
    description="Reconstruction hebdomadaire de la cartographie publique (lundi 7 h)",
    run=_scheduled_rebuild,
    cron=REBUILD_CRON,
    last_success=last_successful_rebuild,
))


def seed_demo(session: Session, actor: Actor, echo: Any) -> None:
    """Publish the demo's cartography and its coverage figures the way Monday's rebuild does."""
    run = rebuild_cartography(session, actor, trigger="demo")
    echo(f"Cartographie reconstruite : {run.published} lieux publiés ({run.seconds:.1f} s).")
