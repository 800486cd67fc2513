"""Density figures per territory (population, qualified venues, quota, accessibility) and `DensityModel`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from geoalchemy2.shape import to_shape
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry
from sqlalchemy import case, distinct, func, or_, select
from sqlalchemy.orm import Session

from directory.geodesy import chord_length, unit_vectors
from directory.models import Service, Territory, TerritoryLevel, Venue, VenueService, VenueStatus
from qualification.accessibility import ACCESS_RADIUS_M, DECAY_ZONES, supply_ratios
from qualification.models import QuotaOverride, VenueOutcome
from qualification.quotas import clean_level, compute_quota, current_policy, find_territory

OUTLINE_TOLERANCE_DEGREES = 0.005  # about 500 m: enough for a national map, light to send
SERVICE_LEVELS = (1, 2, 3)
_LEVELS_OF_BITS = {bits: frozenset(level for level in SERVICE_LEVELS if bits & (1 << (level - 1))) for bits in range(8)}


@dataclass
class TerritoryDensity:
    level: str
    code: str
    name: str
    population: int
    qualified: int
    quota: int
    ratio: int
    quota_rule: str
    accessibility: float
    communes: int
    # The consolidation ratio (qualification.consolidation), when the table was asked with the volumes.
    circulating_per_venue: float | None = None
    redemptions_per_venue: float | None = None

    @property
    def venues_per_10k(self) -> float:
        return 10_000 * self.qualified / self.population if self.population else 0.0

    @property
    def population_per_venue(self) -> int | None:
        return round(self.population / self.qualified) if self.qualified else None

    @property
    def over_quota(self) -> bool:
        return self.qualified > self.quota

    @property
    def room(self) -> int:
        return max(0, self.quota - self.qualified)

    @property
    def quota_use(self) -> float:
        return self.qualified / self.quota if self.quota else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level, "code": self.code, "name": self.name, "population": self.population,
            "qualified": self.qualified, "quota": self.quota, "ratio": self.ratio, "quota_rule": self.quota_rule,
            "venues_per_10k": round(self.venues_per_10k, 3), "population_per_venue": self.population_per_venue,
            "accessibility": round(self.accessibility, 3), "over_quota": self.over_quota, "quota_use": round(self.quota_use, 3),
            "circulating_per_venue": None if self.circulating_per_venue is None else round(self.circulating_per_venue, 1),
            "redemptions_per_venue": None if self.redemptions_per_venue is None else round(self.redemptions_per_venue, 1),
        }


@dataclass
class Proposal:
    """What the rules say about one point de présence, with the figures that explain it."""

    venue_id: int
    territory: TerritoryDensity
    outcome: VenueOutcome
    rule: str
    accessibility_after: float
    population_gain: int
    sentence: str
    # Set by the decisions when one more venue would thin the territory's pass volume (qualification.consolidation).
    volume: str | None = None


class DensityModel:
    """The national picture a decision needs, loaded once: communes, qualified venues, quotas, E2SFCA scores.

    Venues that hold a quota place are the qualified and the suspended ones (a suspension can be
    lifted without a new decision); the accessibility counts qualified venues with a position.
    """

    def __init__(self, session: Session, level: str | None = None) -> None:
        self.session = session
        self.policy = current_policy(session)
        self.level = clean_level(level) if level else self.policy.level
        self.overrides = {(o.level, o.code): o for o in session.scalars(select(QuotaOverride))}
        rows = session.execute(
            select(Territory.code, Territory.population, Territory.epci_code, Territory.departement_code,
                   Territory.region_code, func.ST_X(Territory.centre), func.ST_Y(Territory.centre))
            # communes of the régions: the overseas collectivities (no région) have no quotas
            .where(Territory.level == TerritoryLevel.COMMUNE, Territory.region_code.is_not(None))
            .order_by(Territory.code)
        ).all()
        self.commune_codes = [row[0] for row in rows]
        self.commune_index = {code: i for i, code in enumerate(self.commune_codes)}
        self.population = np.array([row[1] for row in rows], dtype=float)
        self.commune_key = [self._key_of(row[0], row[2], row[3], row[4]) for row in rows]
        located = [i for i, row in enumerate(rows) if row[5] is not None]
        self.located = np.array(located, dtype=int)
        self._located_position = {commune: position for position, commune in enumerate(located)}
        self.commune_xyz = unit_vectors(np.array([rows[i][5] for i in located]), np.array([rows[i][6] for i in located]))
        self.commune_tree = cKDTree(self.commune_xyz)
        self.located_population = self.population[self.located]
        self.key_population: dict[tuple[str, str], float] = defaultdict(float)
        self.key_communes: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, key in enumerate(self.commune_key):
            self.key_population[key] += self.population[i]
            self.key_communes[key].append(i)
        # Names of the policy level's territories, and of the island communes that are their own territory.
        own_territory_communes = [code for level, code in self.commune_key if level != self.level]
        self.names = {(self.level, code): name for code, name in session.execute(
            select(Territory.code, Territory.name).where(Territory.level == self.level))}
        self.names.update({("commune", code): name for code, name in session.execute(
            select(Territory.code, Territory.name).where(
                Territory.level == TerritoryLevel.COMMUNE, Territory.code.in_(own_territory_communes)))})
        self._load_venues()

    def _key_of(self, code: str, epci: str | None, departement: str | None, region: str | None) -> tuple[str, str]:
        parent = {"epci": epci, "departement": departement, "region": region, "commune": code}[self.level]
        # A few island communes belong to no EPCI: each is then its own territory.
        return (self.level, parent) if parent else ("commune", code)

    def _load_venues(self) -> None:
        session = self.session
        # Set-based: quota places counted per commune in SQL, the supply read as bare columns, its levels
        # one row per venue.
        self.quota_holders: dict[tuple[str, str], int] = defaultdict(int)
        for code_insee, count in session.execute(
            select(Venue.code_insee, func.count()).where(Venue.status.in_([VenueStatus.QUALIFIED, VenueStatus.SUSPENDED]))
            .group_by(Venue.code_insee)
        ):
            key = self.territory_key(code_insee)
            if key is not None:
                self.quota_holders[key] += count
        levels = service_levels(session, Venue.status == VenueStatus.QUALIFIED)
        supply = session.execute(
            select(Venue.id, func.ST_X(Venue.location), func.ST_Y(Venue.location))
            .where(Venue.status == VenueStatus.QUALIFIED, Venue.location.is_not(None)).order_by(Venue.id)
        ).all()
        self.supply_ids = [row[0] for row in supply]
        self.supply_lonlat = np.array([(row[1], row[2]) for row in supply], dtype=float).reshape(-1, 2)
        self.supply_levels = [levels.get(row[0], frozenset()) for row in supply]
        supply_xyz = unit_vectors(self.supply_lonlat[:, 0], self.supply_lonlat[:, 1]) if supply else np.zeros((0, 3))
        ratios, s_idx, d_idx, weights = supply_ratios(supply_xyz, self.commune_tree, self.located_population, DECAY_ZONES)
        self.scores = 10_000 * np.bincount(d_idx, weights=weights * ratios[s_idx], minlength=len(self.located)).astype(float)
        self._lacking: dict[int, np.ndarray] | None = None

    # --- territories

    def territory_key(self, code_insee: str | None) -> tuple[str, str] | None:
        index = self.commune_index.get(code_insee or "")
        return None if index is None else self.commune_key[index]

    def quota_of(self, key: tuple[str, str]) -> tuple[int, int, str]:
        """(quota, ratio, French rule) of a territory."""
        population = int(self.key_population.get(key, 0))
        override = self.overrides.get(key)
        if override is not None and override.quota is not None:
            return override.quota, override.ratio or self.policy.ratio, f"quota fixé par APTIC ({override.reason})"
        if override is not None and override.ratio is not None:
            return compute_quota(population, override.ratio), override.ratio, f"ratio fixé par APTIC ({override.reason})"
        return compute_quota(population, self.policy.ratio), self.policy.ratio, "règle nationale"

    def accessibility_of(self, key: tuple[str, str], scores: np.ndarray | None = None) -> float:
        scores = self.scores if scores is None else scores
        members = self._located_members(key)
        weights = self.located_population[members]
        return float((weights * scores[members]).sum() / weights.sum()) if weights.sum() else 0.0

    def _located_members(self, key: tuple[str, str]) -> np.ndarray:
        return np.array([self._located_position[i] for i in self.key_communes.get(key, []) if i in self._located_position],
                        dtype=int)

    def figures(self, key: tuple[str, str]) -> TerritoryDensity:
        quota, ratio, rule = self.quota_of(key)
        return TerritoryDensity(
            level=key[0], code=key[1], name=self.names.get(key, key[1]), population=int(self.key_population.get(key, 0)),
            qualified=self.quota_holders.get(key, 0), quota=quota, ratio=ratio, quota_rule=rule,
            accessibility=self.accessibility_of(key), communes=len(self.key_communes.get(key, [])),
        )

    def table(self) -> list[TerritoryDensity]:
        population = self.located_population
        weighted = np.zeros(len(self.commune_codes))
        weighted[self.located] = population * self.scores
        located_pop = np.zeros(len(self.commune_codes))
        located_pop[self.located] = population
        sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for i, key in enumerate(self.commune_key):
            sums[key][0] += weighted[i]
            sums[key][1] += located_pop[i]
        result = []
        for key in sorted(self.key_population):
            quota, ratio, rule = self.quota_of(key)
            numerator, denominator = sums[key]
            result.append(TerritoryDensity(
                level=key[0], code=key[1], name=self.names.get(key, key[1]), population=int(self.key_population[key]),
                qualified=self.quota_holders.get(key, 0), quota=quota, ratio=ratio, quota_rule=rule,
                accessibility=float(numerator / denominator) if denominator else 0.0, communes=len(self.key_communes[key]),
            ))
        return result

    # --- what one more venue would change

    def _contribution(self, lon: float, lat: float) -> tuple[np.ndarray, np.ndarray]:
        """(located commune positions, score added) by one more qualified venue at (lon, lat).

        In the E2SFCA a new venue leaves the other venues' ratios unchanged: it only adds its own
        ratio, decayed, to the communes within its catchment.
        """
        xyz = unit_vectors(np.array([lon]), np.array([lat]))
        ratios, _, d_idx, weights = supply_ratios(xyz, self.commune_tree, self.located_population, DECAY_ZONES)
        return d_idx, 10_000 * weights * ratios[0]

    def accessibility_after(self, key: tuple[str, str], lon: float | None, lat: float | None) -> float:
        if lon is None:
            return self.accessibility_of(key)
        positions, added = self._contribution(lon, lat)
        scores = self.scores.copy()
        np.add.at(scores, positions, added)
        return self.accessibility_of(key, scores)

    def _lacking_levels(self) -> dict[int, np.ndarray]:
        """Per service level, whether each located commune has no qualified venue of that level within 10 km.

        Computed once for all communes (one tree query per level), then kept up to date by `add_venue`,
        so that the gain of each waitlisted venue is a look-up, not a tree query.
        """
        if self._lacking is None:
            self._lacking = {}
            for level in SERVICE_LEVELS:
                chosen = [i for i, levels in enumerate(self.supply_levels) if level in levels]
                if not chosen:
                    self._lacking[level] = np.ones(len(self.located), dtype=bool)
                    continue
                points = self.supply_lonlat[chosen]
                distances, _ = cKDTree(unit_vectors(points[:, 0], points[:, 1])).query(
                    self.commune_xyz, distance_upper_bound=chord_length(ACCESS_RADIUS_M))
                self._lacking[level] = np.isinf(distances)
        return self._lacking

    def _near(self, lon: float, lat: float) -> np.ndarray:
        """Located commune positions within 10 km of (lon, lat)."""
        xyz = unit_vectors(np.array([lon]), np.array([lat]))[0]
        return np.array(self.commune_tree.query_ball_point(xyz, chord_length(ACCESS_RADIUS_M)), dtype=int)

    def population_gain(self, lon: float | None, lat: float | None, levels: set[int]) -> int:
        """Inhabitants within 10 km of the venue with no qualified venue of one of its levels within 10 km today."""
        if lon is None or not levels:
            return 0
        near = self._near(lon, lat)
        if len(near) == 0:
            return 0
        lacking_levels = self._lacking_levels()
        lacking = np.zeros(len(near), dtype=bool)
        for level in levels:
            lacking |= lacking_levels[level][near]
        return int(self.located_population[near[lacking]].sum())

    def add_venue(self, venue_id: int, code_insee: str | None, lon: float | None, lat: float | None, levels: set[int]) -> None:
        key = self.territory_key(code_insee)
        if key is not None:
            self.quota_holders[key] += 1
        if lon is not None:
            positions, added = self._contribution(lon, lat)
            np.add.at(self.scores, positions, added)
            self.supply_ids.append(venue_id)
            self.supply_lonlat = np.vstack([self.supply_lonlat, [[lon, lat]]])
            self.supply_levels.append(frozenset(levels))
            if self._lacking is not None:
                near = self._near(lon, lat)
                for level in levels:
                    self._lacking[level][near] = False

    # --- proposals

    def proposal(self, venue: Venue, lonlat: tuple[float | None, float | None] | None = None) -> Proposal:
        lon, lat = lonlat or venue_lonlat(self.session, venue)
        levels = set(venue.levels)
        key = self.territory_key(venue.code_insee) or ("commune", venue.code_insee or "")
        figures = self.figures(key)
        after = self.accessibility_after(key, lon, lat)
        gain = self.population_gain(lon, lat, levels)
        from qualification import sentences  # sentences reads TerritoryDensity from this module

        if figures.qualified < figures.quota:
            outcome, rule = VenueOutcome.QUALIFIED, "under_quota"
            sentence = sentences.qualified(figures, after, gain)
        else:
            outcome, rule = VenueOutcome.WAITLISTED, "quota_reached"
            sentence = sentences.waitlisted(figures, after, gain)
        return Proposal(venue.id, figures, outcome, rule, after, gain, sentence)


def service_levels(session: Session, condition: Any) -> dict[int, frozenset[int]]:
    """The service levels of each venue matching `condition` (venues without a service are left out).

    One row per venue: the levels are summed in SQL as distinct bits (1, 2, 4).
    """
    bit = case({1: 1, 2: 2, 3: 4}, value=Service.level_number, else_=0)
    rows = session.execute(
        select(VenueService.venue_id, func.sum(distinct(bit))).join(Service, Service.id == VenueService.service_id)
        .join(Venue, Venue.id == VenueService.venue_id).where(condition).group_by(VenueService.venue_id)
    )
    return {venue_id: _LEVELS_OF_BITS[int(bits)] for venue_id, bits in rows}


def venue_lonlat(session: Session, venue: Venue) -> tuple[float | None, float | None]:
    """(longitude, latitude) of a venue, (None, None) when it has no position."""
    if venue.location is None:
        return None, None
    row = session.execute(select(func.ST_X(Venue.location), func.ST_Y(Venue.location)).where(Venue.id == venue.id)).one()
    return row[0], row[1]


def density_table(session: Session, level: str | None = None) -> list[TerritoryDensity]:
    """Figures of every territory of a level (the policy's level by default)."""
    return DensityModel(session, level).table()


def territory_density(session: Session, level: str, code: str) -> TerritoryDensity:
    """Figures of one territory: population, qualified venues, quota, density and accessibility."""
    model = DensityModel(session, level)
    territory = find_territory(session, level, code)
    return model.figures((level, territory.code))


def commune_accessibility(session: Session) -> dict[str, float]:
    """E2SFCA score of every located commune, in qualified venues per 10,000 inhabitants within reach."""
    model = DensityModel(session)
    return {model.commune_codes[int(i)]: float(score) for i, score in zip(model.located, model.scores, strict=True)}


def density_outlines(session: Session, rows: list[TerritoryDensity],
                     tolerance_degrees: float = OUTLINE_TOLERANCE_DEGREES) -> list[tuple[TerritoryDensity, BaseGeometry]]:
    """The outline of each territory of a density table, simplified for a national map.

    Island communes that are their own territory are drawn among the territories of the policy's level.
    """
    by_key = {(row.level, row.code): row for row in rows}
    levels = {row.level for row in rows}
    wanted = or_(*(
        Territory.level == level if level != "commune" or levels == {"commune"}
        else Territory.code.in_([row.code for row in rows if row.level == "commune"]) & (Territory.level == level)
        for level in levels
    ))
    outlines = []
    for level, code, geom in session.execute(
        select(Territory.level, Territory.code, Territory.geom).where(wanted, Territory.geom.is_not(None))
    ):
        row = by_key.get((str(level), code))
        if row is not None:
            outlines.append((row, to_shape(geom).simplify(tolerance_degrees, preserve_topology=True)))
    return outlines
