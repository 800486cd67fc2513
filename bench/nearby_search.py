"""Nearby search speed on both backends, next to the same query in raw SQL, and page weights.

    .venv/bin/python bench/nearby_search.py [--venues 20000] [--queries 300] [--backend spatialite|postgis]

Builds a throwaway database per backend (SpatiaLite file in a temp dir; PostGIS database
aptic_bench_<hex>, dropped at the end), loads the territories, the referential and synthetic
venues spread over France by population (the qualified ones are published), then searches
10 km around commune centres drawn by population, 20 results at most, and prints p50/p95:
- in process: `directory.api.nearby_venues` (ORM venues with their services, opening hours);
- raw SQL: the same rows and columns, PostGIS KNN `<->` with a geography distance check /
  SpatiaLite R*Tree + ellipsoid distance, then the venue_service pairs of the results;
- over HTTP: `GET /api/v1/venues/nearby` on a real Werkzeug server (one keep-alive client).
Then the weight of the home page and of typical GeoJSON answers.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import math
import random
import statistics
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.orm import Session
from support import prepare_database, throwaway_database
from werkzeug.serving import make_server

from aptic import create_app
from directory import api, factories
from directory.db import make_sessionmaker

RADIUS_KM = 10
LIMIT = 20

# The columns a search result shows (nearby_venues defers the others), then the venue_service pairs.
COLUMNS = (
    "id, organisation_id, nom, adresse, complement_adresse, code_postal, commune, code_insee, geocoding_score, "
    "horaires, telephone, courriels, site_web, pivot, presentation_resume, structure_parente, "
    "publics_specifiquement_adresses, prise_en_charge_specifique, frais_a_charge, modalites_acces, "
    "modalites_accompagnement, fiche_acces_libre, prise_rdv, source, date_maj, accepts_pass, aptic_label, status, "
    "status_changed_at, published, created_at, updated_at"
)
RAW_SQL = {
    "postgis": f"""
        SELECT {COLUMNS}, ST_X(location), ST_Y(location),
               ST_Distance(location::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS d
        FROM venue
        WHERE published
          AND location && ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 4326)
          AND ST_DWithin(location::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius)
        ORDER BY location <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
        LIMIT :limit
    """,
    "spatialite": f"""
        SELECT * FROM (
            SELECT {COLUMNS}, ST_X(location), ST_Y(location),
                   ST_Distance(location, MakePoint(:lon, :lat, 4326), 1) AS d
            FROM venue
            WHERE published AND id IN (
                SELECT pkid FROM idx_venue_location
                WHERE xmax >= :xmin AND xmin <= :xmax AND ymax >= :ymin AND ymin <= :ymax
            )
        ) WHERE d <= :radius ORDER BY d LIMIT :limit
    """,
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


def bench(backend: str, venues: int, queries: int) -> None:
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
              f"{time.perf_counter() - started:.0f} s; {queries} searches, radius {RADIUS_KM} km, limit {LIMIT}")

        factory = make_sessionmaker(engine)
        found: list[int] = []

        def in_process(lon: float, lat: float) -> None:
            with factory() as session:
                result = api.nearby_venues(session, lon=lon, lat=lat, radius_km=RADIUS_KM, limit=LIMIT)
                found.append(len(result.venues))

        raw = text(RAW_SQL[backend])
        dlat = RADIUS_KM * 1000 / 110_574

        def raw_sql(lon: float, lat: float) -> None:
            dlon = dlat / max(0.05, math.cos(math.radians(abs(lat) + dlat)))
            with engine.connect() as connection:
                rows = connection.execute(raw, {
                    "lon": lon, "lat": lat, "radius": RADIUS_KM * 1000, "limit": LIMIT,
                    "xmin": lon - dlon, "xmax": lon + dlon, "ymin": lat - dlat, "ymax": lat + dlat,
                }).all()
                if rows:
                    ids = ", ".join(str(row.id) for row in rows)
                    connection.execute(text(SERVICES_SQL.format(ids))).all()

        for run in (in_process, raw_sql):  # warm caches and the connection pool
            for lon, lat in points[:20]:
                run(lon, lat)
        found.clear()
        process = timed(points, in_process)
        sql = timed(points, raw_sql)
        print(f"in process (nearby_venues)  {percentiles(process)}   mean {statistics.mean(found):.1f} results")
        print(f"raw SQL                     {percentiles(sql)}")
        print(f"ratio in process / raw SQL  p50 x{statistics.median(process) / statistics.median(sql):.2f}")

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
            print(f"over HTTP (JSON API)        {percentiles(http_samples)}")
            home = get("/")
            search_page = get("/?q=Lyon")
            lyon_view = get("/api/v1/map/venues?bbox=4.70,45.70,5.00,45.83")
            bubbles = get("/api/v1/map/counts?level=departement")
            print(f"home page: {len(home):,} bytes; search results page (Lyon): {len(search_page):,} bytes "
                  "(HTML only, before map tiles and library scripts)")
            print(f"nearby GeoJSON answer: median {statistics.median(sizes):,.0f} bytes, p95 "
                  f"{sorted(sizes)[round(0.95 * len(sizes)) - 1]:,} bytes ({LIMIT} results max)")
            print(f"map GeoJSON, Lyon at zoom ~11: {len(lyon_view):,} bytes; département bubbles: {len(bubbles):,} bytes")
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
    args = parser.parse_args()
    for backend in args.backend or ["spatialite", "postgis"]:
        bench(backend, args.venues, args.queries)


if __name__ == "__main__":
    main()
