"""Redemptions per second through the production server, next to pgbench on the same machine.

    .venv/bin/python bench/redemption_throughput.py [--clients 1,4,16] [--seconds 10] [--booklets 2400]
        [--workers N (default: CPU count)] [--admin-url postgresql+psycopg://root@127.0.0.1:5432/postgres]

Creates a throwaway database (aptic_bench_<hex>), migrates it, loads territories and the
referential, issues one order and gives 16 venues their API keys. Starts the production profile:
gunicorn with deploy/gunicorn.conf.py (workers = CPU count by default) and rate limits in the local
Redis. For each client count, wrk (a C load generator, like pgbench: Python clients would take the
server's CPU on a small machine) keeps that many connections posting single-cheque deliveries to
POST /api/v1/redemptions (authentication, rate limiter, checks, row lock, audit, commit), each a
different cheque, for --seconds; concurrent deliveries go to different booklets, as at real venues.
Then `pgbench -N` (simple-update) runs with the same client count and duration on another
throwaway database, and the row gives redemptions/s, p50/p95/p99 latency, pgbench tps and the
ratio. Both databases are dropped at the end. The load average is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import subprocess
from datetime import date, timedelta

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from support import POSTGRES_ADMIN_URL, Call, gunicorn_server, machine_load, run_wrk, throwaway_database, prepare_database

from directory import api as directory_api
from directory.models import VenueStatus
from redemption import api

ACTOR = directory_api.Actor.system("bench")
# A booklet pays two cheques at most for one service: cheques 1-2 go to the first service, 3-4 to the second…
SERVICES = ["decouverte-numerique", "acces-equipement", "premiers-pas", "fichiers-et-dossiers", "messagerie"]
CHEQUES_PER_BOOKLET = 10


VENUES = 16


def service_of(index_in_booklet: int) -> str:
    return SERVICES[index_in_booklet // 2]


def prepare(url: str, booklets: int) -> list[Call]:
    """Every cheque of the order as one delivery, ordered so that consecutive deliveries come from
    different booklets (one per booklet, then the second cheque of each…), each at one of the venues."""
    engine = prepare_database(url)
    with Session(engine) as session:
        sponsor = api.create_sponsor(session, ACTOR, name="Commanditaire du banc d'essai", legal_form="collectivite",
                                     siret="22330001300016")
        operator = directory_api.create_organisation(session, ACTOR, name="Réseau de lieux", legal_form="association",
                                                     rna="W332000123", is_venue_operator=True)
        tokens = []
        for index in range(VENUES):
            venue = directory_api.create_venue(session, ACTOR, {
                "nom": f"Lieu {index}", "adresse": "1 place de la Mairie", "code_postal": "33000", "commune": "Bordeaux",
                "code_insee": "33063", "services": SERVICES, "organisation_id": operator.id})
            directory_api.set_venue_status(session, ACTOR, venue, VenueStatus.QUALIFIED, "banc d'essai")
            tokens.append(directory_api.create_api_key(session, ACTOR, operator, f"douchette {index}", venue)[1])
        order = api.create_order(session, ACTOR, sponsor, booklets=booklets,
                                 expires_on=date.today() + timedelta(days=365), territories=["departement:33"],
                                 requires_distribution=False, minimum_exception="banc d'essai")
        for step in (api.confirm_order, api.pay_order, api.issue_order):
            step(session, ACTOR, order)
        rows = sorted(api.order_codes(session, order), key=lambda row: (row["position"], row["booklet"]))
        session.commit()
    engine.dispose()
    return [Call("POST", "/api/v1/redemptions", {"codes": [row["code"]], "service": service_of(row["position"] - 1)},
                 {"Authorization": f"Bearer {tokens[index % VENUES]}"}) for index, row in enumerate(rows)]


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
    parser.add_argument("--clients", default="1,4,16", help="Nombres de clients simultanés, séparés par des virgules.")
    parser.add_argument("--seconds", type=int, default=10, help="Durée de chaque mesure (wrk puis pgbench).")
    parser.add_argument("--booklets", type=int, default=2400, help="Carnets émis (10 chèques chacun).")
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count(), help="Processus gunicorn.")
    parser.add_argument("--admin-url", default=POSTGRES_ADMIN_URL)
    args = parser.parse_args()
    client_counts = [int(count) for count in args.clients.split(",")]
    print(f"before: {machine_load()}")
    with throwaway_database("postgis", args.admin_url) as url:
        deliveries = prepare(url, args.booklets)
        # Each measure gets its own cheques (a cheque sent twice would be a retry), the warm-up too.
        share = len(deliveries) // (len(client_counts) + 1)
        parts = [deliveries[index * share:(index + 1) * share] for index in range(len(client_counts) + 1)]
        with gunicorn_server(url, args.workers) as site:
            run_wrk(site.url(""), parts[0], max(client_counts), 2)
            rows = [(clients, run_wrk(site.url(""), part, clients, args.seconds), machine_load())
                    for clients, part in zip(client_counts, parts[1:], strict=True)]
    print(f"gunicorn: {args.workers} workers (deploy/gunicorn.conf.py); wrk; {args.seconds} s and at most {share} "
          "cheques per measure")
    print("clients  redemptions/s  p50 ms  p95 ms  p99 ms  pgbench -N tps  ratio  statuses  load")
    for clients, load, during in rows:
        tps = run_pgbench(args.admin_url, clients, args.seconds)
        print(f"{clients:>7}  {load.rate(201):>13.0f}  {load.latency[50] * 1000:>6.1f}  {load.latency[95] * 1000:>6.1f}  "
              f"{load.latency[99] * 1000:>6.1f}  {tps:>14.0f}  {load.rate(201) / tps:>5.3f}  {load.statuses}  {during}")
        if set(load.statuses) != {201}:
            print("  (other statuses than 201: more --booklets are needed, or deliveries were refused)")
    print(f"end: {machine_load()}")


if __name__ == "__main__":
    main()
