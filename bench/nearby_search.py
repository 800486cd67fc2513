"""Nearby search speed on both backends, next to the same search in raw SQL, and page weights.

    .venv/bin/python bench/nearby_search.py [--venues 20000] [--queries 300] [--backend spatialite|postgis]
                                            [--before main]

Builds a throwaway database per backend (SpatiaLite file in a temp dir; PostGIS database
aptic_bench_<hex>, dropped at the end), loads the territories, the referential and synthetic
venues spread over France by population (the qualified ones are published), then searches
10 km around commune centres drawn by population, 20 results at most, and prints p50/p95:
- in process: `directory.api.nearby_venues` (ORM venues with their services, opening hours);
- before: with --before REV, the `directory/nearby.py` of that git revision, on the same database;
- raw SQL: the same rows and total, hand-written: PostGIS reads the spatial index in KNN order
  (`<->`) for the distance holding the 20 nearest, then the exact page within it (geography index);
  SpatiaLite reads R*Tree boxes around growing circles; then the capped count when the page is full
  (PostGIS: the 1 001 nearest from the index), and the venue_service pairs of the results;
- over HTTP: `GET /api/v1/venues/nearby` on a real Werkzeug server (one keep-alive client).
Then the plan of a dense-city search (Paris; PostGIS: EXPLAIN ANALYZE), the weight of the home page
and of typical GeoJSON answers.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import logging
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session
from support import machine_load, prepare_database, throwaway_database
from werkzeug.serving import make_server

from aptic import create_app
from directory import api, factories
from directory.db import ELLIPSOID_OVER_SPHERE_MIN, FIRST_REACH_M, box_around, make_sessionmaker
from directory.nearby import NEARBY_TOTAL_STEP

RADIUS_KM = 10
LIMIT = 20
PARIS = (2.3522, 48.8566)

# The columns a search result shows (nearby_venues defers the others), then the venue_service pairs.
COLUMNS = (
    "id, organisation_id, nom, adresse, complement_adresse, code_postal, commune, code_insee, geocoding_score, "
    "horaires, telephone, courriels, site_web, pivot, presentation_resume, structure_parente, "
    "publics_specifiquement_adresses, prise_en_charge_specifique, frais_a_charge, modalites_acces, "
    "modalites_accompagnement, fiche_acces_libre, prise_rdv, source, date_maj, accepts_pass, aptic_label, status, "
    "status_changed_at, published, created_at, updated_at"
)
POSTGIS_CENTRE = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
POSTGIS_BOX = "location && ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326)"
RAW_SQL = {
    "postgis": (f"""
        WITH nearest AS (
            SELECT ST_Distance(location::geography, {POSTGIS_CENTRE}::geography) AS d
            FROM venue WHERE published AND {POSTGIS_BOX}
            ORDER BY location <-> {POSTGIS_CENTRE} LIMIT :limit
        ), reach AS (SELECT CASE WHEN count(*) < :limit THEN :radius ELSE least(max(d), :radius) END AS m FROM nearest)
        SELECT {COLUMNS}, ST_X(location), ST_Y(location), ST_Distance(location::geography, {POSTGIS_CENTRE}::geography) AS d
        FROM venue, reach
        WHERE published
          AND ST_DWithin(location::geography, {POSTGIS_CENTRE}::geography, reach.m / {ELLIPSOID_OVER_SPHERE_MIN}, false)
          AND ST_Distance(location::geography, {POSTGIS_CENTRE}::geography) <= reach.m
        ORDER BY d, id
        LIMIT :limit
    """, f"""
        SELECT count(*) FROM (
            SELECT 1 FROM venue
            WHERE published
              AND ST_DWithin(location::geography, {POSTGIS_CENTRE}::geography, :radius / {ELLIPSOID_OVER_SPHERE_MIN}, false)
              AND (ST_DWithin(location::geography, {POSTGIS_CENTRE}::geography, :radius * {ELLIPSOID_OVER_SPHERE_MIN}, false)
                   OR ST_Distance(location::geography, {POSTGIS_CENTRE}::geography) <= :radius)
            LIMIT :counted
        ) AS matching
    """),
    "spatialite": tuple(f"""
        SELECT {select} FROM (
            SELECT {COLUMNS}, ST_X(location), ST_Y(location), ST_Distance(location, MakePoint(:lon, :lat, 4326), 1) AS d
            FROM venue
            WHERE published AND id IN (
                SELECT pkid FROM idx_venue_location
                WHERE xmax >= :xmin AND xmin <= :xmax AND ymax >= :ymin AND ymin <= :ymax
            )
        ) WHERE d <= :reach {tail}
    """ for select, tail in (("*", "ORDER BY d, id LIMIT :limit"), ("count(*) FROM (SELECT 1", "LIMIT :counted)"))),
}
SERVICES_SQL = "SELECT venue_id, service_id FROM venue_service WHERE venue_id IN ({})"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000
    return f"p50 {p50:6.2f} ms   p95 {p95:6.2f} ms"


def timed(points: list[tuple[float, float]], run: Callable[[float, float], None]) -> list[float]:
    samples = []
    for lon, lat in points:
        started = time.perf_counter()
        run(lon, lat)
        samples.append(time.perf_counter() - started)
    return samples


def before_module(revision: str) -> Any:
    """`directory/nearby.py` as it was at a git revision, importable next to the current one."""
    source = subprocess.run(
        ["git", "show", f"{revision}:directory/nearby.py"], check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "nearby_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("nearby_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["nearby_before"] = module
    spec.loader.exec_module(module)
    return module


def raw_search(backend: str, engine: Engine) -> Callable[[float, float], None]:
    """The search in hand-written SQL: the page of the nearest, the capped count when it is full, the services."""
    page, count = (text(sql) for sql in RAW_SQL[backend])
    radius = RADIUS_KM * 1000

    def run(lon: float, lat: float) -> None:
        values = {"lon": lon, "lat": lat, "radius": radius, "limit": LIMIT, "counted": NEARBY_TOTAL_STEP + 1}
        with engine.connect() as connection:
            if backend == "postgis":
                rows = connection.execute(page, {**values, **box_around(lon, lat, radius)}).all()
            else:
                reach = min(radius, FIRST_REACH_M)
                while True:
                    rows = connection.execute(page, {**values, **box_around(lon, lat, reach), "reach": reach}).all()
                    if len(rows) == LIMIT or reach == radius:
                        break
                    reach = min(radius, reach * 2)
            if len(rows) == LIMIT:
                connection.execute(count, {**values, **box_around(lon, lat, radius), "reach": radius}).scalar()
            if rows:
                connection.execute(text(SERVICES_SQL.format(", ".join(str(row.id) for row in rows)))).all()

    return run


def explain_dense_search(backend: str, engine: Engine) -> None:
    """The plan of each statement a search around Paris runs (PostGIS: as executed, EXPLAIN ANALYZE)."""
    statements: list[tuple[str, Any]] = []

    def capture(_connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with Session(engine) as session:
            result = api.nearby_venues(session, lon=PARIS[0], lat=PARIS[1], radius_km=RADIUS_KM, limit=LIMIT)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    print(f"plan of the search around Paris ({result.total}{'' if result.total_exact else '+'} venues within "
          f"{RADIUS_KM} km), {len(statements)} statements:")
    explain = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if backend == "postgis" else "EXPLAIN QUERY PLAN "
    with engine.connect() as connection:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            rows = connection.exec_driver_sql(explain + statement, parameters).all()
            lines = [row[0] for row in rows] if backend == "postgis" else [f"{row[1]:>3} {row[3]}" for row in rows]
            print("  --- " + " ".join(statement.split())[:100] + " ...")
            print("\n".join(f"    {line}" for line in lines))


def bench(backend: str, venues: int, queries: int, before: str | None) -> None:
    with throwaway_database(backend) as url:
        started = time.perf_counter()
        engine = prepare_database(url)
        with Session(engine) as session:
            factories.generate_venues(session, venues)
            session.commit()
            rng = random.Random(4)
            communes = factories.sample_communes(session)
            centres = rng.choices(communes, weights=[c.population for c in communes], k=queries)
            points = [(c.lon, c.lat) for c in centres]
            published = session.scalar(text("SELECT count(*) FROM venue WHERE published"))
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        print(f"\n== {backend}: {venues} synthetic venues ({published} published), built in "
              f"{time.perf_counter() - started:.0f} s; {queries} searches, radius {RADIUS_KM} km, limit {LIMIT}; "
              f"{machine_load()}")

        factory = make_sessionmaker(engine)
        found: list[int] = []

        def searching(search: Callable[..., Any]) -> Callable[[float, float], None]:
            def run(lon: float, lat: float) -> None:
                with factory() as session:
                    found.append(len(search(session, lon=lon, lat=lat, radius_km=RADIUS_KM, limit=LIMIT).venues))
            return run

        runs = {"in process (nearby_venues)": searching(api.nearby_venues)}
        if before:
            runs[f"before ({before})"] = searching(before_module(before).nearby_venues)
        runs["raw SQL"] = raw_search(backend, engine)
        for run in runs.values():  # warm caches and the connection pool
            for lon, lat in points[:20]:
                run(lon, lat)
        found.clear()
        samples = {name: timed(points, run) for name, run in runs.items()}
        for name, timings in samples.items():
            print(f"{name:<28}{percentiles(timings)}")
        print(f"mean results {statistics.mean(found):.1f}; ratio in process / raw SQL p50 x"
              f"{statistics.median(samples['in process (nearby_venues)']) / statistics.median(samples['raw SQL']):.2f}")

        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING"})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        client = http.client.HTTPConnection("127.0.0.1", server.server_port)
        sizes: list[int] = []

        def get(path: str) -> bytes:
            client.request("GET", path)
            response = client.getresponse()
            body = response.read()
            assert response.status == 200, (path, response.status, body[:200])
            return body

        def over_http(lon: float, lat: float) -> None:
            query = urlencode({"lat": lat, "lon": lon, "radius_km": RADIUS_KM, "limit": LIMIT})
            sizes.append(len(get(f"/api/v1/venues/nearby?{query}")))

        try:
            for lon, lat in points[:20]:
                over_http(lon, lat)
            sizes.clear()
            http_samples = timed(points, over_http)
            print(f"{'over HTTP (JSON API)':<28}{percentiles(http_samples)}")
            home = get("/")
            search_page = get("/?q=Lyon")
            lyon_view = get("/api/v1/map/venues?bbox=4.70,45.70,5.00,45.83")
            bubbles = get("/api/v1/map/counts?level=departement")
            print(f"home page: {len(home):,} bytes; search results page (Lyon): {len(search_page):,} bytes "
                  "(HTML only, before map tiles and library scripts)")
            print(f"nearby GeoJSON answer: median {statistics.median(sizes):,.0f} bytes, p95 "
                  f"{sorted(sizes)[round(0.95 * len(sizes)) - 1]:,} bytes ({LIMIT} results max)")
            print(f"map GeoJSON, Lyon at zoom ~11: {len(lyon_view):,} bytes; département bubbles: {len(bubbles):,} bytes")
            explain_dense_search(backend, engine)
        finally:
            client.close()
            server.shutdown()
            thread.join()
            app.extensions["aptic.db"].engine.dispose()
            engine.dispose()


def main() -> None:
    # Werkzeug logs every request at INFO: keep the figures readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backend", choices=["spatialite", "postgis"], action="append")
    parser.add_argument("--before", metavar="REVISION", help="also time directory/nearby.py of this git revision")
    args = parser.parse_args()
    for backend in args.backend or ["spatialite", "postgis"]:
        bench(backend, args.venues, args.queries, args.before)


if __name__ == "__main__":
    main()
