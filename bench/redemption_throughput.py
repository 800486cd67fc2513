"""Redemptions per second on PostGIS with concurrent scanners, next to pgbench on the same machine.

    .venv/bin/python bench/redemption_throughput.py [--clients 16] [--per-client 300] [--seconds 20]
        [--admin-url postgresql+psycopg://root@127.0.0.1:5432/postgres]

Creates a throwaway database (aptic_bench_<hex>), migrates it, loads territories and the
referential, issues one order and gives each client its own venue, API key and cheques. Every
client is a separate process (no shared interpreter lock) posting single-cheque deliveries to
POST /api/v1/redemptions through the full Flask stack (authentication, rate limiter, checks,
row lock, audit, commit). Then runs `pgbench -N` (simple-update) with the same client count on
another throwaway database, and prints both figures. Both databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import subprocess
import time
from datetime import date, timedelta

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from support import POSTGRES_ADMIN_URL, prepare_database, throwaway_database

from aptic import create_app
from directory import api as directory_api
from directory.models import VenueStatus
from redemption import api

ACTOR = directory_api.Actor.system("bench")


def prepare(url: str, clients: int, per_client: int) -> list[tuple[str, list[str]]]:
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
                "code_insee": "33063", "services": ["premiers-pas"], "organisation_id": operator.id})
            directory_api.set_venue_status(session, ACTOR, venue, VenueStatus.QUALIFIED, "banc d'essai")
            tokens.append(directory_api.create_api_key(session, ACTOR, operator, f"douchette {index}", venue)[1])
        cheques_per_booklet = 10
        order = api.create_order(session, ACTOR, sponsor, booklets=-(-clients * per_client // cheques_per_booklet),
                                 expires_on=date.today() + timedelta(days=365), territories=["departement:33"],
                                 requires_distribution=False, minimum_exception="banc d'essai")
        for step in (api.confirm_order, api.pay_order, api.issue_order):
            step(session, ACTOR, order)
        codes = [row["code"] for row in api.order_codes(session, order)]
        session.commit()
    engine.dispose()
    return [(token, codes[index * per_client : (index + 1) * per_client]) for index, token in enumerate(tokens)]


def scanner(url: str, token: str, codes: list[str], barrier, results) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "SERVER_NAME": "aptic.test", "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    client.get("/healthz")
    barrier.wait()
    statuses: dict[int, int] = {}
    for code in codes:
        status = client.post("/api/v1/redemptions", json={"codes": [code], "service": "premiers-pas"}, headers=headers).status_code
        statuses[status] = statuses.get(status, 0) + 1
    results.put(statuses)


def run_redemptions(url: str, work: list[tuple[str, list[str]]]) -> tuple[float, dict[int, int]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(work) + 1)
    results = context.Queue()
    processes = [context.Process(target=scanner, args=(url, token, codes, barrier, results)) for token, codes in work]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    totals: dict[int, int] = {}
    for _ in processes:
        for status, count in results.get().items():
            totals[status] = totals.get(status, 0) + count
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    return elapsed, totals


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
    parser.add_argument("--admin-url", default=POSTGRES_ADMIN_URL)
    args = parser.parse_args()
    with throwaway_database("postgis", args.admin_url) as url:
        work = prepare(url, args.clients, args.per_client)
        elapsed, statuses = run_redemptions(url, work)
    tps = run_pgbench(args.admin_url, args.clients, args.seconds)
    redeemed = statuses.get(201, 0)
    rate = redeemed / elapsed
    print(f"machine: {multiprocessing.cpu_count()} CPU; {args.clients} concurrent clients")
    print(f"redemptions: {redeemed} in {elapsed:.2f} s = {rate:.0f} redemptions/s (HTTP statuses {statuses})")
    print(f"pgbench -N (simple-update), {args.clients} clients, {args.seconds} s: {tps:.0f} tps")
    print(f"ratio redemptions/s ÷ pgbench tps: {rate / tps:.2f}")


if __name__ == "__main__":
    main()
