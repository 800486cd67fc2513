"""Recommendations at national scale, through `qualification.recommendations.recommend` on a real database.

    .venv/bin/python bench/recommend.py [--backend postgis|spatialite] [--candidates 20000] [--count 1000]

Creates a throwaway database with the shipped territories (34,875 communes of the COG with their
population), adds `--candidates` candidate venues (imported, not qualified, offering a level-2 service)
at communes drawn by population with a few kilometres of jitter, and qualified level-2 venues at the
100 largest communes. Prints, in one run:
- the national greedy selection (p = --count, 20 km): time, and peak memory in a second run under
  tracemalloc (which sees numpy's buffers) — aim under 5 s and 300 MB;
- on one département (Gironde, its candidates, p = 20, 10 km): greedy and exact objectives, the gap
  between them, the exact solver's status, time and bound — aims: greedy within 1 % of the exact
  optimum, exact under 10 s.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from geoalchemy2.elements import WKTElement
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from support import machine_load, prepare_database, throwaway_database

from directory.models import Service, Territory, TerritoryLevel, Venue, VenueService, VenueStatus
from qualification.recommendations import recommend

LEVEL_2_SERVICE = "messagerie"


def populate(session: Session, candidates: int, seed: int = 2026) -> None:
    communes = session.execute(
        select(Territory.code, Territory.name, Territory.population, func.ST_X(Territory.centre),
               func.ST_Y(Territory.centre))
        .where(Territory.level == TerritoryLevel.COMMUNE, Territory.centre.is_not(None), Territory.population > 0)
    ).all()
    generator = np.random.default_rng(seed)
    population = np.array([row[2] for row in communes], dtype=float)
    drawn = generator.choice(len(communes), size=candidates, p=population / population.sum())
    jitter = generator.normal(0, 0.02, size=(candidates, 2))
    largest = np.argsort(-population)[:100]
    service = session.scalar(select(Service.id).where(Service.slug == LEVEL_2_SERVICE))

    def venue(index: int, number: int, status: VenueStatus, dx: float = 0.0, dy: float = 0.0) -> dict:
        code, name, _, lon, lat = communes[index]
        return {"nom": f"Lieu {number}", "adresse": "1 place de la Mairie", "code_postal": "00000", "commune": name,
                "code_insee": code, "status": status, "location": WKTElement(f"POINT({lon + dx} {lat + dy})", srid=4326)}

    rows = [venue(int(i), n, VenueStatus.CANDIDATE, *jitter[n]) for n, i in enumerate(drawn)]
    rows += [venue(int(i), candidates + n, VenueStatus.QUALIFIED) for n, i in enumerate(largest)]
    ids = []
    for start in range(0, len(rows), 5_000):
        ids += list(session.scalars(insert(Venue).returning(Venue.id), rows[start:start + 5_000]))
    session.execute(insert(VenueService), [{"venue_id": venue_id, "service_id": service} for venue_id in ids])
    session.commit()


def measured(action):
    """(result, seconds, peak MB): timed on its own, then run again under tracemalloc (which slows
    Python several-fold) for the memory."""
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    action()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["postgis", "spatialite"], default="postgis")
    parser.add_argument("--candidates", type=int, default=20_000)
    parser.add_argument("--count", type=int, default=1_000)
    args = parser.parse_args()
    print(f"before: {machine_load()}")
    with throwaway_database(args.backend) as url:
        engine = prepare_database(url)
        with Session(engine) as session:
            started = time.perf_counter()
            populate(session, args.candidates)
            print(f"{args.backend}: {args.candidates} candidates and 100 qualified venues inserted in "
                  f"{time.perf_counter() - started:.1f} s")
            national, seconds, peak = measured(lambda: recommend(
                session, level=2, distance_km=20, count=args.count, candidates=["imported"]))
            print(f"national greedy, p={args.count}, 20 km, {national.candidates} candidates, "
                  f"{len(national.picks)} picks: {seconds:.2f} s, peak {peak:.0f} MB (aims 5 s, 300 MB); "
                  f"covered {national.covered_before / national.population:.1%} -> "
                  f"{national.covered_after / national.population:.1%} of {national.population:,} people")
            for kinds in (["imported"], ["communes"]):
                query = {"level": 2, "distance_km": 10, "count": 20, "territory": "departement:33", "candidates": kinds}
                plain = recommend(session, **query, swaps=False).result
                local, seconds, peak = measured(lambda query=query: recommend(session, **query, exact_solution=True))
                result = local.result

                def below(objective: int, result=result) -> str:
                    return f"{(result.objective - objective) / result.objective:.2%}" if result.objective else "0 %"

                print(f"Gironde, {'+'.join(kinds)} ({local.candidates} candidates), p=20, 10 km: exact "
                      f"{result.objective:,} people ({result.status}, bound {result.bound}, solver gap {result.gap}, "
                      f"{result.seconds:.2f} s, aim 10 s); greedy {plain.objective:,} ({below(plain.objective)} below, "
                      f"{plain.seconds:.3f} s); greedy+interchange {local.greedy_objective:,} "
                      f"({below(local.greedy_objective)} below, aim 1 %); whole call {seconds:.2f} s, peak {peak:.0f} MB")
        engine.dispose()
    print(f"end: {machine_load()}")


if __name__ == "__main__":
    main()
