"""The public search through the production server: requests/s and latency with concurrent clients.

    .venv/bin/python bench/public_search.py [--venues 20000] [--clients 16] [--per-client 100]
        [--workers N (default: CPU count)] [--page]

Creates a throwaway PostGIS database with the territories, the referential and synthetic venues
spread over France by population (the qualified ones are published), starts the production
profile (gunicorn with deploy/gunicorn.conf.py, workers = CPU count by default, rate limits in the
local Redis), and lets each client process search 10 km around commune centres drawn by
population: `GET /api/v1/venues/nearby` (or the results page `/` with --page). Prints requests/s
and p50/p95 latency, with the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
from urllib.parse import urlencode

from sqlalchemy import text
from sqlalchemy.orm import Session
from support import Call, gunicorn_server, machine_load, percentile, prepare_database, run_clients, throwaway_database

from directory import factories


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venues", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=100)
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
        work = [
            [Call("GET", f"{path}?{urlencode({'lat': c.lat, 'lon': c.lon, 'radius_km': 10, 'limit': 20})}")
             for c in rng.choices(communes, weights=[c.population for c in communes], k=args.per_client)]
            for _ in range(args.clients)
        ]
        print(f"{published} published venues of {args.venues}; before: {machine_load()}")
        with gunicorn_server(url, args.workers) as site:
            run_clients(site.url(""), [calls[:5] for calls in work])  # warm the workers
            elapsed, statuses, latencies = run_clients(site.url(""), work)
    total = sum(statuses.values())
    print(f"gunicorn: {args.workers} sync workers; {args.clients} concurrent clients (one process each); {path}")
    print(f"searches: {total} in {elapsed:.2f} s = {total / elapsed:.0f} requests/s (HTTP statuses {statuses})")
    print(f"latency: p50 {statistics.median(latencies) * 1000:.1f} ms, p95 {percentile(latencies, 0.95) * 1000:.1f} ms")
    print(f"end: {machine_load()}")


if __name__ == "__main__":
    main()
