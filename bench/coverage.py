"""Time the territorial coverage at national scale on both backends.

    .venv/bin/python bench/coverage.py [--venues 20000] [--backend spatialite|postgis|both]
                                       [--postgres-url postgresql+psycopg://root@127.0.0.1:5432/postgres]

For each backend, in a throwaway database: territories, referential and synthetic venues, then the
weekly refresh of the coverage table, then the figures of one département (Gironde), one région
(Nouvelle-Aquitaine) and France, read from that table, and the map units of the page. Prints one
line per figure; the median of several runs is shown for reads.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from support import POSTGRES_ADMIN_URL, prepare_database, throwaway_database

from directory import factories
from maps import api as maps_api

AREAS = [("departement", "33", "département Gironde"), ("region", "75", "région Nouvelle-Aquitaine"),
         ("france", "FR", "France")]
READ_RUNS = 5


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def median_time(action: Callable[[], Any]) -> float:
    return statistics.median(timed(action)[0] for _ in range(READ_RUNS))


def run(backend: str, url: str, venues: int) -> None:
    engine = prepare_database(url)
    with Session(engine) as session:
        seconds, _ = timed(lambda: factories.generate_venues(session, venues, seed=2026))
        session.commit()
    print(f"[{backend}] setup: {venues} synthetic venues generated in {seconds:.1f} s")

    with Session(engine) as session:
        seconds, summary = timed(lambda: maps_api.refresh_coverage(session))
        session.commit()
    print(f"[{backend}] refresh_coverage: {seconds:.2f} s, of which E2SFCA scores (qualification) "
          f"{summary['accessibility_seconds']:.2f} s ({summary['communes']} communes, {summary['venues']} published venues)")

    with Session(engine) as session:
        for level, code, label in AREAS:
            area = maps_api.coverage_area(session, level, code)
            figures = maps_api.coverage_figures(session, area)
            read = median_time(lambda area=area: maps_api.coverage_figures(session, area))
            units = median_time(lambda area=area: maps_api.coverage_units(session, area, 2, 10))
            covered = next(a for a in figures["acces"] if a["niveau"] == 2 and a["distance_km"] == 10)
            print(f"[{backend}] figures {label}: {read * 1000:.0f} ms (median of {READ_RUNS}); "
                  f"map units: {units * 1000:.0f} ms; {figures['communes']} communes, "
                  f"{figures['lieux']['total']} venues, level 2 within 10 km: {covered['part'] * 100:.1f} %, "
                  f"zones blanches: {figures['zones_blanches']['communes']}")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", type=int, default=20_000)
    parser.add_argument("--backend", choices=["spatialite", "postgis", "both"], default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL)
    args = parser.parse_args()
    if args.backend in ("spatialite", "both"):
        with throwaway_database("spatialite") as url:
            run("spatialite", url, args.venues)
    if args.backend in ("postgis", "both"):
        with throwaway_database("postgis", args.postgres_url) as url:
            run("postgis", url, args.venues)


if __name__ == "__main__":
    main()
