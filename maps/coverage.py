"""Territorial coverage: the per-commune table refreshed by the rebuild, areas, and their figures."""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyproj import Geod
from scipy.spatial import cKDTree
from sqlalchemy import and_, case, delete, func, insert, or_, select, true
from sqlalchemy.orm import Session

from directory import french
from directory.api import territory_by_code
from directory.errors import DomainError, InvalidInput, NotFound
from directory.geodesy import unit_vectors
from directory.models import Service, Territory, TerritoryLevel, Venue, VenueService
from maps.fragility import FRAGILITY_INDICATORS
from maps.models import CommuneCoverage, CoverageRefresh, FragilityIndex
from qualification import api as qualification_api

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
DISTANCE_COLUMNS = {
    1: CommuneCoverage.distance_level1_m, 2: CommuneCoverage.distance_level2_m, 3: CommuneCoverage.distance_level3_m,
}
VENUE_COLUMNS = {1: CommuneCoverage.venues_level1, 2: CommuneCoverage.venues_level2, 3: CommuneCoverage.venues_level3}
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
    tree = cKDTree(unit_vectors(venues_lon, venues_lat))
    _, nearest = tree.query(unit_vectors(points_lon, points_lat))
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
        # communes of the régions: the overseas collectivities (no région) are not in the coverage tables
        .where(Territory.level == TerritoryLevel.COMMUNE, Territory.region_code.is_not(None))
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


def coverage_level(value: Any) -> int:
    """The `level` query parameter: a level of the referential, 1 to 3."""
    if str(value).strip() not in {str(n) for n in COVERAGE_LEVELS}:
        raise InvalidInput(
            f"Le paramètre « level » vaut « {value} » : indiquez un niveau du référentiel, 1, 2 ou 3.",
            field="level", code="invalid_service_level", status=400,
        )
    return int(str(value).strip())


def coverage_distance_km(value: Any) -> float:
    """The `distance_km` query parameter: kilometres, 0 < d ≤ 200 (a decimal comma is accepted)."""
    try:
        distance = float(str(value).strip().replace(",", "."))
    except ValueError:
        distance = math.nan
    if not (math.isfinite(distance) and 0 < distance <= MAX_COVERAGE_DISTANCE_KM):
        raise InvalidInput(
            f"Le paramètre « distance_km » vaut « {value} » : indiquez une distance en kilomètres, "
            f"supérieure à 0 et au plus {MAX_COVERAGE_DISTANCE_KM}.",
            field="distance_km", code="invalid_distance", status=400,
        )
    return distance


def sum_or_zero(expression: Any) -> Any:
    """An SQL sum that is 0, not NULL, over no rows."""
    return func.coalesce(func.sum(expression), 0)


def covered_within(level: int, distance_km: float) -> Any:
    """The condition on coverage rows: a venue of `level` within `distance_km` of the commune's centre."""
    return DISTANCE_COLUMNS[level] <= distance_km * 1000


def _per_10000(venues: int, population: int) -> float | None:
    return round(venues * 10_000 / population, 2) if population else None


def share_of(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def coverage_figures(
    session: Session,
    area: CoverageArea,
    *,
    levels: tuple[int, ...] = COVERAGE_LEVELS,
    distances_km: tuple[float, ...] = COVERAGE_DISTANCES_KM,
    zone_level: int = ZONE_BLANCHE_LEVEL,
    zone_distance_km: float = ZONE_BLANCHE_DISTANCE_KM,
) -> dict[str, Any]:
    """The coverage figures of an area, summed from the coverage table of the last rebuild.

    `au_dela` says, for each level and distance, how many communes and people are farther away (their
    commune's centre, or with no known centre); the zones blanches are the communes farther than
    `zone_distance_km` from any venue of `zone_level` (20 km of level 2 unless a selection is made).
    """
    refresh = latest_coverage_refresh(session)
    population = CommuneCoverage.population
    access_columns = [
        column
        for level in levels
        for distance in distances_km
        for column in (sum_or_zero(case((covered_within(level, distance), population), else_=0)),
                       sum_or_zero(case((covered_within(level, distance), 1), else_=0)))
    ]
    row = session.execute(
        select(
            func.count(), sum_or_zero(population), sum_or_zero(case((CommuneCoverage.located, 0), else_=population)),
            sum_or_zero(CommuneCoverage.venues), *(sum_or_zero(VENUE_COLUMNS[level]) for level in COVERAGE_LEVELS),
            *access_columns,
        ).where(area.condition)
    ).one()
    communes, total, unlocated, venues = (int(value) for value in row[:4])
    by_level = [int(value) for value in row[4:7]]
    covered = iter(int(value) for value in row[7:])
    access, beyond = [], []
    for level in levels:
        for distance in distances_km:
            people, places = next(covered), next(covered)
            access.append({"niveau": level, "distance_km": distance, "population": people,
                           "part": share_of(people, total)})
            beyond.append(beyond_figures(level, distance, communes - places, total - people, total))
    return {
        "territoire": {"niveau": area.level, "code": area.code, "nom": area.name},
        "calcule_le": refresh.refreshed_at.isoformat(),
        "communes": communes,
        "population": total,
        "population_sans_centre": unlocated,
        "lieux": {"total": venues, "par_niveau": {str(level): count for level, count in zip(COVERAGE_LEVELS, by_level,
                                                                                            strict=True)}},
        "acces": access,
        "au_dela": beyond,
        "zones_blanches": _zones_blanches(session, area, total, zone_level, zone_distance_km),
        "densite": _density(session, area, venues, total),
        "fragilite_numerique": _fragility(session, area),
    }


def beyond_sentence(level: int, distance_km: float, communes: int, population: int, share: float | None) -> str:
    """ "226 communes, 227 196 habitants (12,3 %) à plus de 10 km d'un lieu de niveau 2" """
    part = "" if share is None else f" ({french.percent(share)})"
    return (f"{french.count(communes, 'commune')}, {french.count(population, 'habitant')}{part} "
            f"à plus de {french.number(distance_km)} km d'un lieu de niveau {level}")


def beyond_figures(level: int, distance_km: float, communes: int, population: int, total: int) -> dict[str, Any]:
    share = share_of(population, total)
    return {"niveau": level, "distance_km": distance_km, "communes": communes, "population": population,
            "part": share, "phrase": beyond_sentence(level, distance_km, communes, population, share)}


def zone_blanche_definition(level: int, distance_km: float) -> str:
    return f"communes à plus de {french.number(distance_km)} km de tout lieu de niveau {level}"


def _zones_blanches(session: Session, area: CoverageArea, total: int, level: int = ZONE_BLANCHE_LEVEL,
                    distance_km: float = ZONE_BLANCHE_DISTANCE_KM) -> dict[str, Any]:
    distance = DISTANCE_COLUMNS[level]
    rows = session.execute(
        select(CommuneCoverage.commune_code, CommuneCoverage.name, CommuneCoverage.population, distance,
               FragilityIndex.total)
        .outerjoin(FragilityIndex, and_(FragilityIndex.level == "commune",
                                        FragilityIndex.code == CommuneCoverage.commune_code))
        .where(area.condition, CommuneCoverage.located,
               or_(distance.is_(None), distance > distance_km * 1000))
        .order_by(CommuneCoverage.population.desc(), CommuneCoverage.commune_code)
    ).all()
    population = sum(row[2] for row in rows)
    return {
        "definition": zone_blanche_definition(level, distance_km),
        "niveau": level,
        "distance_km": distance_km,
        "communes": len(rows),
        "population": population,
        "part": share_of(population, total),
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
        .order_by(sum_or_zero(CommuneCoverage.population).desc())
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
        select(sum_or_zero(CommuneCoverage.population * CommuneCoverage.accessibility),
               sum_or_zero(case((CommuneCoverage.accessibility.is_not(None), CommuneCoverage.population), else_=0)))
        .where(condition)
    ).one()
    return round(float(weighted) / float(weights), 3) if weights else None


def _density_of(session: Session, level: str, code: str, name: str, condition: Any) -> dict[str, Any]:
    venues, population = session.execute(
        select(sum_or_zero(CommuneCoverage.venues), sum_or_zero(CommuneCoverage.population)).where(condition)
    ).one()
    return {"niveau": level, "code": code, "nom": name, "lieux": int(venues), "population": int(population),
            "lieux_pour_10000": _per_10000(int(venues), int(population)),
            "accessibilite_e2sfca": _accessibility(session, condition)}


def _fragility(session: Session, area: CoverageArea) -> dict[str, Any] | None:
    """The population-weighted mean of the communes' fragility scores (1 low to 10 high), if loaded."""
    weight = CommuneCoverage.population
    columns = {"total": FragilityIndex.total} | {name: getattr(FragilityIndex, name) for name in FRAGILITY_INDICATORS}
    row = session.execute(
        select(
            func.count(),
            *(item for column in columns.values()
              for item in (sum_or_zero(weight * column), sum_or_zero(case((column.is_not(None), weight), else_=0)))),
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
