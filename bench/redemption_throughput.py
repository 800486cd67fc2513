"""Redemptions per second through the production server, next to pgbench on the same machine.

    .venv/bin/python bench/redemption_throughput.py [--clients 16] [--per-client 300] [--seconds 20]
        [--workers N (default: CPU count)] [--admin-url postgresql+psycopg://root@127.0.0.1:5432/postgres]

Creates a throwaway database (aptic_bench_<hex>), migrates it, loads territories and the
referential, issues one order and gives each client its own venue, API key and cheques. Starts
the production profile: gunicorn with deploy/gunicorn.conf.py (workers = CPU count by default)
and rate limits in the local Redis. Every client is a separate process posting single-cheque
deliveries to POST /api/v1/redemptions over HTTP (authentication, rate limiter, checks, row lock,
audit, commit). Prints redemptions/s and p50/p95 latency, then runs `pgbench -N` (simple-update)
with the same client count on another throwaway database in the same run, and the ratio. Both
databases are dropped at the end. The load average is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import statistics
import subprocess
from datetime import date, timedelta

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from support import (
    POSTGRES_ADMIN_URL,
    Call,
    gunicorn_server,
    machine_load,
    percentile,
    prepare_database,
    run_clients,
    throwaway_database,
)

from directory import api as directory_api
from directory.models import VenueStatus
from redemption import api

ACTOR = directory_api.Actor.system("bench")
# A booklet pays two cheques at most for one service: cheques 1-2 go to the first service, 3-4 to the second…
SERVICES = ["decouverte-numerique", "acces-equipement", "premiers-pas", "fichiers-et-dossiers", "messagerie"]
CHEQUES_PER_BOOKLET = 10


def service_of(index_in_booklet: int) -> str:
    return SERVICES[index_in_booklet // 2]


def prepare(url: str, clients: int, per_client: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each client's API key and its deliveries (cheque code, service)."""
    engine = prepare_database(url)
    with Session(engine) as session:
        sponsor = api.create_sponsor(session, ACTOR, name="Commanditaire du banc d'essai", legal_form="collectivite",
                                     siret="22330001300016")
        operator = directory_api.create_organisation(session, ACTOR, name="Réseau de lieux", legal_form="association",
                                                     rna="W332000123", is_venue_operator=True)
        tokens = []
        for index in range(clients):
            venue = directory_api.create_venue(session, ACTOR, {
                "nom": f"Lieu {index}", "adresse": "1 place de la Mairie", "code_postal": "33000", "commune": "Bordeaux",
                "code_insee": "33063", "services": SERVICES, "organisation_id": operator.id})
            directory_api.set_venue_status(session, ACTOR, venue, VenueStatus.QUALIFIED, "banc d'essai")
            tokens.append(directory_api.create_api_key(session, ACTOR, operator, f"douchette {index}", venue)[1])
        order = api.create_order(session, ACTOR, sponsor, booklets=-(-clients * per_client // CHEQUES_PER_BOOKLET),
                                 expires_on=date.today() + timedelta(days=365), territories=["departement:33"],
                                 requires_distribution=False, minimum_exception="banc d'essai")
        for step in (api.confirm_order, api.pay_order, api.issue_order):
            step(session, ACTOR, order)
        codes = [(row["code"], service_of(row["position"] - 1)) for row in api.order_codes(session, order)]
        session.commit()
    engine.dispose()
    return [(token, codes[index * per_client : (index + 1) * per_client]) for index, token in enumerate(tokens)]


def run_pgbench(admin_url: str, clients: int, seconds: int) -> float:
    # pgbench gets its own throwaway database (the postgis extension there is unused and harmless).
    with throwaway_database("postgis", admin_url) as database_url:
        url = make_url(database_url)
        connect = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
        subprocess.run(["pgbench", *connect, "-i", "-q", "-s", "10", url.database], check=True, capture_output=True)
        output = subprocess.run(
            ["pgbench", *connect, "-N", "-c", str(clients), "-j", str(min(clients, 4)), "-T", str(seconds), url.database],
            check=True, capture_output=True, text=True,
        ).stdout
    return float(re.search(r"tps = ([\d.]+)", output).group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--per-client", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=20, help="Durée de pgbench.")
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count(), help="Processus gunicorn.")
    parser.add_argument("--admin-url", default=POSTGRES_ADMIN_URL)
    args = parser.parse_args()
    print(f"before: {machine_load()}")
    with throwaway_database("postgis", args.admin_url) as url:
        work = [
            [Call("POST", "/api/v1/redemptions", {"codes": [code], "service": service},
                  {"Authorization": f"Bearer {token}"}) for code, service in deliveries]
            for token, deliveries in prepare(url, args.clients, args.per_client)
        ]
        with gunicorn_server(url, args.workers) as site:
            elapsed, statuses, latencies = run_clients(site.url(""), work)
    print(f"after the redemptions: {machine_load()}")
    tps = run_pgbench(args.admin_url, args.clients, args.seconds)
    redeemed = statuses.get(201, 0)
    rate = redeemed / elapsed
    print(f"gunicorn: {args.workers} sync workers; {args.clients} concurrent clients (one process each)")
    print(f"redemptions: {redeemed} in {elapsed:.2f} s = {rate:.0f} redemptions/s (HTTP statuses {statuses})")
    print(f"latency: p50 {statistics.median(latencies) * 1000:.1f} ms, p95 {percentile(latencies, 0.95) * 1000:.1f} ms")
    print(f"pgbench -N (simple-update), {args.clients} clients, {args.seconds} s: {tps:.0f} tps")
    print(f"ratio redemptions/s ÷ pgbench tps: {rate / tps:.3f}")
    print(f"end: {machine_load()}")


if __name__ == "__main__":
    main()
