"""Suspicious-redemption signals on one million synthetic redemptions (PostGIS by default).

    python bench/signals.py [--redemptions 1000000] [--venues 1000] [--backend postgis]

A throwaway database gets `--venues` qualified venues (Mo-Sa 09:00-18:00, in clusters around French cities),
booklets handed out by 20 distributors, and `--redemptions` redemptions over 90 days, all within opening
hours and each booklet within its cluster: clean data. A few anomalies are planted (a busy hour, a night
redemption, a booklet in two far cities, a burst of refused scans). Rows go in with COPY (PostgreSQL) or
executemany (SQLite). The script prints the load time, each rule's time, the whole computation
(`compute_signals` over the 90 days) and the signals found. Aim: under 30 s on PostGIS.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from support import machine_load, prepare_database, throwaway_database  # noqa: E402

from directory import api as directory_api  # noqa: E402
from directory.api import Actor  # noqa: E402
from directory.db import PARIS_TZ, dialect_name  # noqa: E402
from directory.models import Service, VenueStatus  # noqa: E402
from redemption import api as redemption_api  # noqa: E402
from redemption import signal_rules, signals  # noqa: E402
from redemption.models import Booklet, Redemption, ScanRefusal, Signal  # noqa: E402

ACTOR = Actor.system("bench")
CITIES = [(-0.58, 44.84), (2.35, 48.86), (4.84, 45.76), (5.37, 43.30), (1.44, 43.60), (-1.55, 47.22),
          (7.75, 48.58), (3.06, 50.63), (-1.68, 48.11), (3.88, 43.61)]
DAYS = 90
PER_BOOKLET = 3


def _venues(session: Session, count: int, rng: random.Random) -> list[tuple[int, int]]:
    """(venue id, city) of `count` qualified venues cloned from one template venue."""
    operator = directory_api.create_organisation(session, ACTOR, name="Réseau bench", legal_form="association",
                                                 rna="W339999999", code_insee="33063", is_venue_operator=True)
    template = directory_api.create_venue(session, ACTOR, {
        "nom": "Lieu 0", "adresse": "1 place de la Mairie", "code_postal": "33000", "commune": "Bordeaux",
        "code_insee": "33063", "services": ["premiers-pas", "demarches-en-ligne"], "organisation_id": operator.id,
        "horaires": "Mo-Sa 09:00-18:00", "latitude": 44.84, "longitude": -0.58})
    directory_api.set_venue_status(session, ACTOR, template, VenueStatus.QUALIFIED, "bench")
    session.flush()
    columns = [name for (name,) in session.execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'venue' AND column_name <> 'id' "
        "ORDER BY ordinal_position"))]
    made = [(template.id, 0)]
    for index in range(1, count):
        city = index % len(CITIES)
        lon, lat = CITIES[city]
        lon, lat = lon + rng.uniform(-0.15, 0.15), lat + rng.uniform(-0.1, 0.1)
        values = ", ".join(
            f"'Lieu {index}'" if name == "nom" else
            f"ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)" if name == "location" else name for name in columns)
        new_id = session.execute(text(f"INSERT INTO venue ({', '.join(columns)}) SELECT {values} FROM venue "
                                      f"WHERE id = {template.id} RETURNING id")).scalar_one()
        made.append((new_id, city))
    return made


def _copy(session: Session, table: str, columns: list[str], rows: list[tuple]) -> None:
    if dialect_name(session) == "postgresql":
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in columns)
    session.connection().connection.driver_connection.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        [tuple(v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds") if isinstance(v, datetime)
               else v for v in row) for row in rows])


def load(session: Session, redemptions: int, venue_count: int) -> datetime:
    rng = random.Random(20)
    venues = _venues(session, venue_count, rng)
    by_city: dict[int, list[int]] = {}
    for venue_id, city in venues:
        by_city.setdefault(city, []).append(venue_id)
    sponsor = redemption_api.create_sponsor(session, ACTOR, name="Commanditaire bench", legal_form="collectivite",
                                            siret=None, rna="W339999998", code_insee="33063")
    distributors = [directory_api.create_organisation(session, ACTOR, name=f"CCAS {i}", legal_form="association",
                                                      rna=f"W3390000{i:02d}", code_insee="33063", is_distributor=True).id
                    for i in range(20)]
    end = datetime(2026, 11, 30, tzinfo=UTC)
    order = redemption_api.create_order(session, ACTOR, sponsor, booklets=1, vintage=2026,
                                        territories=[{"level": "region", "code": "75"}],
                                        minimum_exception="bench", today=end.date() - timedelta(days=120))
    services = list(session.scalars(select(Service.id).where(Service.slug.in_(["premiers-pas", "demarches-en-ligne"]))))
    booklet_count = redemptions // PER_BOOKLET + 1
    start_id = 1_000_000
    booklet_rows, redemption_rows = [], []
    start = end - timedelta(days=DAYS)
    for index in range(booklet_count):
        city = index % len(CITIES)
        day = rng.randrange(DAYS - 5)
        handed = start + timedelta(days=day, hours=rng.uniform(8, 16))
        booklet_rows.append((start_id + index, order.id, index + 10, f"BENCH{index:09d}",
                             distributors[index % 20], f"B{index}", handed))
        for _ in range(PER_BOOKLET):
            if len(redemption_rows) >= redemptions:
                break
            on = (handed + timedelta(days=rng.randint(1, 5))).astimezone(PARIS_TZ).date()
            if on.weekday() == 6:
                on += timedelta(days=1)
            local = datetime(on.year, on.month, on.day, rng.randint(9, 17), rng.randint(0, 59), tzinfo=PARIS_TZ)
            redemption_rows.append((rng.choice(by_city[city]), rng.choice(services), start_id + index, order.id, 1,
                                    1000, "redeemed", "bench", local.astimezone(UTC)))
    # planted: a busy hour, a night redemption, a booklet in Bordeaux then in Lyon the same day
    busy = datetime(2026, 11, 20, 14, tzinfo=UTC)
    template = venues[0][0]
    redemption_rows += [(template, services[0], start_id + i, order.id, 1, 1000, "redeemed", "bench",
                         busy + timedelta(minutes=4 * i)) for i in range(12)]
    redemption_rows.append((template, services[0], start_id + 50, order.id, 1, 1000, "redeemed", "bench",
                            datetime(2026, 11, 21, 22, 30, tzinfo=UTC)))
    redemption_rows.append((by_city[2][0], services[1], start_id + 50, order.id, 1, 1000, "redeemed", "bench",
                            datetime(2026, 11, 21, 15, 0, tzinfo=UTC)))
    _copy(session, "booklet", ["id", "order_id", "sequence", "number", "distributor_id", "beneficiary_ref",
                               "distributed_at"], booklet_rows)
    _copy(session, "redemption", ["venue_id", "service_id", "booklet_id", "order_id", "cheque_count", "amount_cents",
                                  "status", "actor", "created_at"], redemption_rows)
    session.execute(insert(ScanRefusal), [{"venue_id": template, "actor": "api_key:bench", "code": "unknown_code",
                                           "created_at": busy + timedelta(minutes=i)} for i in range(30)])
    if dialect_name(session) == "postgresql":
        session.execute(text("ANALYZE redemption"))
        session.execute(text("ANALYZE booklet"))
    return end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redemptions", type=int, default=1_000_000)
    parser.add_argument("--venues", type=int, default=1000)
    parser.add_argument("--backend", default="postgis", choices=("postgis", "spatialite"))
    args = parser.parse_args()
    with throwaway_database(args.backend) as url:
        engine = prepare_database(url)
        with Session(engine) as session:
            started = time.perf_counter()
            end = load(session, args.redemptions, args.venues)
            session.commit()
            loaded = time.perf_counter() - started
            count = session.scalar(select(func.count()).select_from(Redemption))
            booklets = session.scalar(select(func.count()).select_from(Booklet))
            print(f"{args.backend}: {count:,} redemptions, {booklets:,} booklets, {args.venues:,} venues loaded in "
                  f"{loaded:.1f} s ({machine_load()})")
            start = end - timedelta(days=DAYS)
            settings = signals.SignalSettings(max_per_hour=8)
            rules = [("hourly_volume", lambda: signal_rules._hourly_volume(session, start, end, settings)),
                     ("unusual_volume", lambda: signal_rules._unusual_volume(session, start, end, settings)),
                     ("outside_hours", lambda: signal_rules._outside_hours(session, start, end, settings)),
                     ("far_apart", lambda: signal_rules._far_apart(session, start, end, settings)),
                     ("refusal_burst", lambda: signal_rules._refusal_bursts(session, start, end, settings)),
                     ("venue_profiles", lambda: signal_rules._venue_profiles(session, end, settings))]
            print(f"{'rule':<18} {'seconds':>8} {'found':>6}")
            for name, rule in rules:
                began = time.perf_counter()
                found = rule()
                print(f"{name:<18} {time.perf_counter() - began:>8.2f} {len(found):>6}")
            began = time.perf_counter()
            result = signals.compute_signals(session, ACTOR, start, end, settings)
            session.commit()
            total = time.perf_counter() - began
            print(f"compute_signals over {DAYS} days: {total:.2f} s, {result.created} signals stored "
                  f"({'within' if total < 30 else 'OVER'} the 30 s aim)")
            kinds = session.execute(select(Signal.kind, func.count()).group_by(Signal.kind)).all()
            print("signals by kind: " + ", ".join(f"{kind.value} {n}" for kind, n in kinds))
        engine.dispose()


if __name__ == "__main__":
    main()
