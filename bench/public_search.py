"""The public search through the production server: requests/s and latency with concurrent clients.

    .venv/bin/python bench/public_search.py [--venues 20000] [--clients 16] [--seconds 10]
        [--workers N (default: CPU count)] [--page]

Creates a throwaway PostGIS database with the territories, the referential and synthetic venues
spread over France by population (the qualified ones are published), starts the production
profile (gunicorn with deploy/gunicorn.conf.py, workers = CPU count by default, rate limits in the
local Redis), and wrk (a C load generator, so that the clients do not take the server's CPU) keeps
--clients connections searching 10 km around commune centres drawn by population for --seconds:
`GET /api/v1/venues/nearby` (or the results page `/` with --page). Prints requests/s and
p50/p95/p99 latency, with the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.orm import Session
from support import Call, gunicorn_server, machine_load, prepare_database, run_wrk, throwaway_database

from directory import factories


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count(), help="Processus gunicorn.")
    parser.add_argument("--page", action="store_true", help="La page de résultats au lieu de l'API JSON.")
    args = parser.parse_args()
    with throwaway_database("postgis") as url:
        engine = prepare_database(url)
        with Session(engine) as session:
            factories.generate_venues(session, args.venues)
            session.commit()
            communes = factories.sample_communes(session)
            published = session.scalar(text("SELECT count(*) FROM venue WHERE published"))
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        engine.dispose()
        rng = random.Random(4)
        path = "/" if args.page else "/api/v1/venues/nearby"
        searches = [Call("GET", f"{path}?{urlencode({'lat': c.lat, 'lon': c.lon, 'radius_km': 10, 'limit': 20})}")
                    for c in rng.choices(communes, weights=[c.population for c in communes], k=20_000)]
        print(f"{published} published venues of {args.venues}; before: {machine_load()}")
        with gunicorn_server(url, args.workers) as site:
            run_wrk(site.url(""), searches, args.clients, 2)  # warm the workers
            load = run_wrk(site.url(""), searches, args.clients, args.seconds)
            during = machine_load()
    print(f"gunicorn: {args.workers} workers (deploy/gunicorn.conf.py); wrk, {args.clients} connections, {args.seconds} s; {path}")
    print(f"searches: {sum(load.statuses.values())} = {load.rate():.0f} requests/s (HTTP statuses {load.statuses})")
    print(f"latency: {load.latency_line()}; during: {during}")
    print(f"end: {machine_load()}")


if __name__ == "__main__":
    main()
