"""Where one more venue helps most: the p candidate sites that bring the most people within a distance
of a venue of a level, given the venues qualified today (maximal covering, `qualification.covering`).

Candidates are waitlisted points de présence, venues imported from open data and not yet qualified,
and the communes themselves ("open something here"). With `respect_quotas`, no territory of the
quota policy's level gets more picks than its room under its quota.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, selectinload

from directory import french
from directory.api import COMMUNE_CODE_OF_LEVEL
from directory.csv_files import SafeDictWriter
from directory.errors import InvalidInput
from directory.geodesy import unit_vectors
from directory.models import Service, Territory, TerritoryLevel, Venue, VenueService, VenueStatus
from qualification.consolidation import DEFAULT_MIN_CHEQUES_PER_VENUE, ConsolidationModel
from qualification.covering import EXACT_TIME_LIMIT_S, CoveringProblem, CoveringResult, exact, greedy, improve
from qualification.density import DensityModel
from qualification.models import ApplicationVenue, VenueOutcome
from qualification.quotas import find_territory

CANDIDATE_KINDS = ("waitlisted", "imported", "communes")
KIND_LABELS = {"waitlisted": "Liste d'attente", "imported": "Lieu ouvert non qualifié", "communes": "Commune"}
MAX_COUNT = 2_000
MAX_DISTANCE_KM = 100.0
EXACT_MAX_CANDIDATES = 5_000  # beyond a département, the exact model outgrows its time limit
_OF_TERRITORY = {"france": "de la France", "region": "de la région", "departement": "du département",
                 "epci": "de l'intercommunalité", "commune": "de la commune"}


@dataclass(frozen=True)
class Candidate:
    kind: str
    name: str
    commune: str
    code_insee: str
    lon: float
    lat: float
    venue_id: int | None = None


@dataclass(frozen=True)
class Pick:
    rank: int
    candidate: Candidate
    people_added: int
    people_covered: int
    share_covered: float
    sentence: str
    volume: str | None = None  # the consolidation warning, when picks thin a territory's pass volume

    def as_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {"rank": self.rank, "kind": c.kind, "name": c.name, "commune": c.commune, "code_insee": c.code_insee,
                "venue_id": c.venue_id, "lon": round(c.lon, 5), "lat": round(c.lat, 5),
                "people_added": self.people_added, "people_covered": self.people_covered,
                "share_covered": round(self.share_covered, 4), "sentence": self.sentence, "volume": self.volume}


@dataclass
class Recommendation:
    level: int
    distance_km: float
    territory_level: str
    territory_code: str
    territory_name: str
    population: int
    covered_before: int
    candidates: int
    result: CoveringResult
    picks: list[Pick] = field(default_factory=list)
    greedy_objective: int | None = None

    @property
    def covered_after(self) -> int:
        return self.covered_before + self.result.objective

    def summary(self) -> str:
        share_before = self.covered_before / self.population if self.population else 0.0
        share_after = self.covered_after / self.population if self.population else 0.0
        return (f"{french.count(len(self.picks), 'site')} sur {french.count(self.candidates, 'candidat')} : "
                f"{french.percent(share_before)} puis {french.percent(share_after)} de la population "
                f"{_OF_TERRITORY[self.territory_level]} à moins de {french.number(self.distance_km)} km "
                f"d'un lieu de niveau {self.level}.")

    def solver_sentence(self) -> str:
        result = self.result
        if result.solver == "greedy":
            return f"Sélection gloutonne ({_duration(result.seconds)}) : approchée, sans preuve d'optimalité."
        if result.solver == "greedy+interchange":
            return (f"Sélection gloutonne améliorée par échanges et redémarrages ({_duration(result.seconds)}) : "
                    "approchée, sans preuve d'optimalité.")
        gap = "écart à la borne inconnu" if result.gap is None else f"écart à la borne {french.percent(result.gap, 2)}"
        if result.status == "optimal":
            return f"Solution exacte optimale (HiGHS, {_duration(result.seconds)}, {gap})."
        kept = "la sélection gloutonne, meilleure, est gardée" if result.greedy_fallback else "meilleure solution trouvée"
        return (f"Recherche exacte arrêtée par sa limite de temps ({_duration(result.seconds)}) : {kept}, "
                f"non prouvée optimale ({gap}).")

    def as_dict(self) -> dict[str, Any]:
        result = self.result
        return {
            "level": self.level, "distance_km": self.distance_km,
            "territory": {"level": self.territory_level, "code": self.territory_code, "name": self.territory_name},
            "population": self.population, "covered_before": self.covered_before, "covered_after": self.covered_after,
            "candidates": self.candidates,
            "solver": {"method": result.solver, "status": result.status, "seconds": round(result.seconds, 3),
                       "objective": result.objective, "bound": result.bound,
                       "gap": None if result.gap is None else round(result.gap, 6),
                       "greedy_objective": self.greedy_objective, "greedy_kept": result.greedy_fallback},
            "summary": self.summary(), "solver_sentence": self.solver_sentence(),
            "picks": [pick.as_dict() for pick in self.picks],
        }


def _duration(seconds: float) -> str:
    return "moins de 0,1\u00a0s" if seconds < 0.05 else french.seconds(seconds)


def parse_territory(value: str | None) -> tuple[str, str]:
    """`departement:33`, `region:75`, `epci:…`, `commune:…` or `france` (the default)."""
    text = (value or "france").strip().lower()
    if text in ("france", "fr"):
        return "france", "FR"
    level, separator, code = text.partition(":")
    if not separator or level not in {item.value for item in TerritoryLevel} or not code.strip():
        raise InvalidInput("Le territoire s'écrit niveau:code (ex. departement:33) ou france.", field="territory",
                           code="invalid_territory", status=400)
    return level, code.strip().upper()


def clean_query(level: Any, distance_km: Any, count: Any, kinds: Any) -> tuple[int, float, int, tuple[str, ...]]:
    if level not in (1, 2, 3):
        raise InvalidInput("Le niveau du référentiel vaut 1, 2 ou 3.", field="level", code="invalid_level", status=400)
    if isinstance(distance_km, bool) or not isinstance(distance_km, int | float) or not 0 < distance_km <= MAX_DISTANCE_KM:
        raise InvalidInput(f"La distance est un nombre de kilomètres, au-dessus de 0 et {french.number(MAX_DISTANCE_KM)} "
                           "au plus.", field="distance_km", code="invalid_distance", status=400)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"Le nombre de sites est un entier de 1 à {french.number(MAX_COUNT)}.", field="count",
                           code="invalid_count", status=400)
    kinds = tuple(kinds or CANDIDATE_KINDS)
    unknown = [kind for kind in kinds if kind not in CANDIDATE_KINDS]
    if unknown or not kinds:
        raise InvalidInput(f"Candidats possibles : {', '.join(CANDIDATE_KINDS)}.", field="candidates",
                           code="invalid_candidates", status=400)
    return level, float(distance_km), count, kinds


def recommend(session: Session, *, level: Any, distance_km: Any, count: Any, territory: str | None = None,
              candidates: Any = None, respect_quotas: bool = False, exact_solution: bool = False,
              time_limit_s: float = EXACT_TIME_LIMIT_S,
              min_cheques_per_venue: float = DEFAULT_MIN_CHEQUES_PER_VENUE, swaps: bool = True) -> Recommendation:
    """The `count` candidate sites of the territory that together bring the most people within `distance_km`
    of a qualified venue offering a service of `level`; with `exact_solution`, the greedy order is kept
    for comparison (`greedy_objective`). Up to EXACT_MAX_CANDIDATES candidates, the greedy selection is
    then improved by swaps (`swaps=False` keeps the plain greedy one, for comparison)."""
    level, distance_km, count, kinds = clean_query(level, distance_km, count, candidates)
    territory_level, territory_code = parse_territory(territory)
    if territory_level == "france":
        area, name = None, "France"
    else:
        found = find_territory(session, territory_level, territory_code)
        area, name = COMMUNE_CODE_OF_LEVEL[TerritoryLevel(territory_level)] == found.code, found.name
    communes = session.execute(
        select(Territory.code, Territory.name, Territory.departement_code, Territory.population,
               func.ST_X(Territory.centre), func.ST_Y(Territory.centre))
        .where(Territory.level == TerritoryLevel.COMMUNE, *([area] if area is not None else []))
        .order_by(Territory.code)
    ).all()
    population = int(sum(row[3] or 0 for row in communes))
    located = [row for row in communes if row[4] is not None]
    demand_lon = np.array([row[4] for row in located], dtype=float)
    demand_lat = np.array([row[5] for row in located], dtype=float)
    demand_xyz = unit_vectors(demand_lon, demand_lat) if located else np.zeros((0, 3))
    weights = np.array([row[3] or 0 for row in located], dtype=float)
    served = _served(session, level, demand_xyz, distance_km * 1000)
    covered_before = int(weights[served].sum())

    commune_names = {row[0]: f"{row[1]} ({row[2]})" if row[2] else row[1] for row in communes}
    sites = _candidates(session, kinds, level, area, located, commune_names)
    problem = CoveringProblem(demand_xyz, weights, served,
                              unit_vectors(np.array([s.lon for s in sites]), np.array([s.lat for s in sites]))
                              if sites else np.zeros((0, 3)), distance_km * 1000)
    model = DensityModel(session)
    if respect_quotas:
        _add_quota_capacity(problem, sites, model)
    matrix = problem.coverage()
    greedy_result = greedy(problem, count, matrix)
    if swaps and len(sites) <= EXACT_MAX_CANDIDATES:  # small enough for swaps to pay off
        greedy_result = improve(problem, greedy_result, matrix)
    result, greedy_objective = greedy_result, None
    if exact_solution:
        if len(sites) > EXACT_MAX_CANDIDATES:
            raise InvalidInput(
                f"La recherche exacte se limite à {french.number(EXACT_MAX_CANDIDATES)} candidats "
                f"({french.number(len(sites))} ici) : choisissez un département ou la sélection gloutonne.",
                field="exact", code="too_many_candidates_for_exact")
        result, greedy_objective = exact(problem, count, time_limit_s, matrix), greedy_result.objective
    recommendation = Recommendation(level, distance_km, territory_level, territory_code, name, population,
                                    covered_before, len(sites), result, greedy_objective=greedy_objective)
    volumes = ConsolidationModel(session, model, min_cheques_per_venue=min_cheques_per_venue)
    picked_in: dict[tuple[str, str], int] = defaultdict(int)
    cumulative = covered_before
    for rank, (index, gain) in enumerate(zip(result.picks, result.gains, strict=True), start=1):
        cumulative += gain
        share = cumulative / population if population else 0.0
        key = model.territory_key(sites[index].code_insee) or ("commune", sites[index].code_insee)
        picked_in[key] += 1
        recommendation.picks.append(Pick(rank, sites[index], gain, cumulative, share,
                                         pick_sentence(sites[index], gain, share, recommendation),
                                         volumes.warning(key, picked_in[key])))
    return recommendation


def pick_sentence(candidate: Candidate, gain: int, share: float, recommendation: Recommendation) -> str:
    where = (f"Ouvrir un lieu à {candidate.commune}" if candidate.kind == "communes"
             else f"Qualifier « {candidate.name} » ({candidate.commune})")
    return (f"{where} ajouterait {french.count(gain, 'habitant')} à moins de "
            f"{french.number(recommendation.distance_km)} km d'un lieu de niveau {recommendation.level} ; "
            f"cumul {french.percent(share)} de la population {_OF_TERRITORY[recommendation.territory_level]}.")


def _served(session: Session, level: int, demand_xyz: np.ndarray, radius_m: float) -> np.ndarray:
    """Communes within the distance of a qualified venue offering a service of the level."""
    rows = session.execute(
        select(func.ST_X(Venue.location), func.ST_Y(Venue.location))
        .where(Venue.status == VenueStatus.QUALIFIED, Venue.location.is_not(None), _offers_level(level))
    ).all()
    if not rows or not len(demand_xyz):
        return np.zeros(len(demand_xyz), dtype=bool)
    venues = CoveringProblem(demand_xyz, np.zeros(len(demand_xyz)), np.zeros(len(demand_xyz), dtype=bool),
                             unit_vectors(np.array([r[0] for r in rows]), np.array([r[1] for r in rows])), radius_m)
    return np.asarray(venues.coverage().sum(axis=0)).ravel() > 0


def _offers_level(level: int) -> Any:
    return exists().where(VenueService.venue_id == Venue.id, VenueService.service_id == Service.id,
                          Service.level_number == level)


def _candidates(session: Session, kinds: tuple[str, ...], level: int, area: Any, located: list[Any],
                commune_names: dict[str, str]) -> list[Candidate]:
    in_area = [Venue.code_insee.in_(list(commune_names))] if area is not None else []
    sites: list[Candidate] = []
    waitlisted = select(ApplicationVenue.venue_id).where(ApplicationVenue.outcome == VenueOutcome.WAITLISTED)
    venue_columns = (Venue.id, Venue.nom, Venue.code_insee, func.ST_X(Venue.location), func.ST_Y(Venue.location))
    if "waitlisted" in kinds:
        rows = session.execute(select(*venue_columns).where(
            Venue.id.in_(waitlisted), Venue.location.is_not(None), _offers_level(level), *in_area).order_by(Venue.id))
        sites += [_venue_candidate("waitlisted", row, commune_names) for row in rows]
    if "imported" in kinds:
        rows = session.execute(select(*venue_columns).where(
            Venue.status == VenueStatus.CANDIDATE, Venue.id.not_in(waitlisted), Venue.location.is_not(None),
            _offers_level(level), *in_area).order_by(Venue.id))
        sites += [_venue_candidate("imported", row, commune_names) for row in rows]
    if "communes" in kinds:
        sites += [Candidate("communes", commune_names[row[0]], commune_names[row[0]], row[0], row[4], row[5])
                  for row in located if row[3]]
    return sites


def _venue_candidate(kind: str, row: Any, commune_names: dict[str, str]) -> Candidate:
    venue_id, nom, code_insee, lon, lat = row
    return Candidate(kind, nom, commune_names.get(code_insee or "", code_insee or "commune inconnue"),
                     code_insee or "", lon, lat, venue_id)


def _add_quota_capacity(problem: CoveringProblem, sites: list[Candidate], model: DensityModel) -> None:
    """Each candidate's group is its territory at the quota policy's level; its capacity, the room left."""
    keys: dict[tuple[str, str], int] = {}
    groups = []
    for site in sites:
        key = model.territory_key(site.code_insee) or ("commune", site.code_insee)
        groups.append(keys.setdefault(key, len(keys)))
    problem.candidate_group = np.array(groups, dtype=int)
    problem.group_capacity = {group: max(0, model.quota_of(key)[0] - model.quota_holders.get(key, 0))
                              for key, group in keys.items()}


def waitlisted_sites(session: Session) -> list[ApplicationVenue]:
    """Waitlisted points de présence in the order they joined the waitlist."""
    return list(session.scalars(
        select(ApplicationVenue).options(selectinload(ApplicationVenue.venue))
        .where(ApplicationVenue.outcome == VenueOutcome.WAITLISTED)
        .order_by(ApplicationVenue.waitlisted_at, ApplicationVenue.venue_id)
    ))


CSV_COLUMNS = ("rank", "kind", "name", "commune", "code_insee", "venue_id", "lon", "lat", "people_added",
               "people_covered", "share_covered", "sentence", "volume")


def recommendation_csv(recommendation: Recommendation) -> str:
    buffer = io.StringIO()
    writer = SafeDictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for pick in recommendation.picks:
        writer.writerow(pick.as_dict())
    return buffer.getvalue()
