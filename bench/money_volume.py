"""Money at volume: closing a month, a sponsor report, a funder follow-up, before (main) and after (this tree).

    python bench/money_volume.py [--backend postgis|spatialite] [--scale 1.0] [--before /work/main]

At scale 1 (the PostGIS default): 1,000,000 redemptions in January 2026 across 20,000 venues, an order of
33,500 cheques redeemed from February on, and a call whose orders hold 3,000,000 cheques. SpatiaLite
defaults to a département (scale 0.05: 50,000 redemptions, 1,000 venues, a 150,000-cheque call; the
sponsor order keeps its 33,500 cheques). The data are written with bulk SQL (COPY on PostgreSQL,
executemany on SQLite). Each measure runs in a child process (its peak RSS is that process's), with
this tree's code or with the code of `--before` on PYTHONPATH; the closes of `--before` are rolled back.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

from support import ROOT, machine_load, prepare_database, throwaway_database

MONTH = date(2026, 1, 1)
JANUARY = datetime(2026, 1, 1, tzinfo=UTC)  # 01:00 in Paris: inside the month
AFTER_ALL = datetime(2027, 6, 1, tzinfo=UTC)
SPONSOR_ORDER_CHEQUES = 33_500
CHEQUES_PER_BOOKLET = 10
SEED = 20260101


# --- bulk loading -------------------------------------------------------------------------------

def _sqlite_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def bulk_load(engine: Engine, table: str, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY on PostgreSQL, executemany on SQLite; explicit ids, the PostgreSQL sequence moved past them."""
    raw = engine.raw_connection()
    count = 0
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        else:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(tuple(_sqlite_value(value) for value in row))
                if len(batch) == 50_000:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch.clear()
            cursor.executemany(sql, batch)
            count += len(batch)
        raw.commit()
    finally:
        raw.close()
    return count


VENUE_JSON = ["courriels", "site_web", "typologie", "itinerance", "standard_services", "publics_specifiquement_adresses",
              "prise_en_charge_specifique", "frais_a_charge", "dispositif_programmes_nationaux", "formations_labels",
              "autres_formations_labels", "modalites_acces", "modalites_accompagnement"]


def build(engine: Engine, scale: float) -> dict[str, Any]:
    """The dataset; returns its sizes and the ids the measures need."""
    rng = random.Random(SEED)
    venues = max(50, round(20_000 * scale))
    redemptions = round(1_000_000 * scale)
    call_cheques = round(3_000_000 * scale)
    with engine.connect() as connection:
        communes = connection.execute(text(
            "SELECT code, name FROM territory WHERE level = 'commune' ORDER BY code LIMIT :n"), {"n": venues}).all()
        services = connection.scalars(text("SELECT id FROM service ORDER BY id")).all()
    # Organisations: 1 the sponsor of the volume and report orders, 2-11 distributors, 12+ the call's sponsors.
    sponsors = max(5, round(100 * scale))
    organisations = [(1, "Département de la Gironde", "collectivite", "33063", True, False)]
    organisations += [(i, f"CCAS {i}", "etablissement_public", communes[i * 7 % len(communes)][0], False, True)
                      for i in range(2, 12)]
    organisations += [(12 + i, f"Commanditaire {i}", "collectivite", communes[i * 13 % len(communes)][0], True, False)
                      for i in range(sponsors)]
    bulk_load(engine, "organisation", ["id", "name", "legal_form", "code_insee", "is_sponsor", "is_distributor",
                                       "is_venue_operator", "is_aptic", "created_at", "rna"],
              ((*o, False, False, JANUARY, f"W33{o[0]:07d}") for o in organisations))
    # One venue in a hundred is no longer qualified: it gets a final statement.
    bulk_load(engine, "venue", ["id", "nom", "adresse", "code_postal", "commune", "code_insee", *VENUE_JSON,
                                "accepts_pass", "aptic_label", "status", "status_changed_at", "created_at", "updated_at"],
              ((i + 1, f"Lieu {i + 1:05d}", "1 place de la Mairie", "33000", name, code, *["[]"] * len(VENUE_JSON),
                True, False, "dequalified" if i % 100 == 99 else "qualified", JANUARY, JANUARY, JANUARY)
               for i, (code, name) in enumerate(communes)))
    order_columns = ["id", "sponsor_id", "status", "booklet_count", "cheques_per_booklet", "cheque_value_cents",
                     "face_value_cents", "fee_rate_bp", "fee_cents", "vintage", "expires_on", "territories",
                     "allowed_levels", "requires_distribution", "created_at", "status_changed_at", "issued_at",
                     "application_id", "funder_share_bp", "funder_share_cents", "sponsor_share_cents"]

    def order(order_id: int, sponsor: int, booklets: int, application: int | None = None) -> tuple[Any, ...]:
        face = booklets * CHEQUES_PER_BOOKLET * 1000
        funder = face // 2 if application else 0
        return (order_id, sponsor, "issued", booklets, CHEQUES_PER_BOOKLET, 1000, face, 400, face * 4 // 100, 2026,
                date(2027, 1, 31), '[{"level": "departement", "code": "33"}]', "[]", True, JANUARY, JANUARY,
                JANUARY, application, 5000 if application else 0, funder, face - funder)

    # The call: one accepted application per sponsor, its orders sharing the call's cheques.
    call_orders = max(10, round(200 * scale))
    call_booklets = call_cheques // CHEQUES_PER_BOOKLET // call_orders
    bulk_load(engine, "cofunding_call", ["id", "name", "funder", "share_bp", "envelope_cents", "committed_cents",
                                         "opens_on", "closes_on", "eligible_kinds", "required_sections", "status",
                                         "created_at", "status_changed_at"],
              [(1, "Appel à projets pass numérique 2026", "État", 5000, 10**12, 10**10, date(2025, 1, 1),
                date(2025, 12, 31), "[]", "[]", "closed", JANUARY, JANUARY)])
    bulk_load(engine, "cofunding_application", [
        "id", "call_id", "lead_id", "status", "priority_publics", "precarity_publics", "how_to_reach", "area",
        "structuring", "european_funds", "partners", "budget_cents", "budget_notes", "granted_cents", "created_at",
        "status_changed_at"],
        ((i + 1, 1, 12 + i, "accepted", 500, 500, "CCAS", "[]", "Réseau", "aucun", "CAF", 10**8, "", 10**7, JANUARY,
          JANUARY) for i in range(sponsors)))
    # Order 1 is redeemed in the month closed, order 2 is the sponsor report's, 3+ the call's.
    volume_booklets = max(1, redemptions // 10)
    report_booklets = SPONSOR_ORDER_CHEQUES // CHEQUES_PER_BOOKLET
    orders = [order(1, 1, volume_booklets), order(2, 1, report_booklets)]
    orders += [order(3 + i, 12 + i % sponsors, call_booklets, 1 + i % sponsors) for i in range(call_orders)]
    bulk_load(engine, "pass_order", order_columns, orders)
    # Booklets and cheques, ids in order: the volume order's booklets (no cheque rows: the close reads none),
    # then the report order's and the call's, 70 % of them handed out over 2026.
    booklet_orders = [(1, volume_booklets), (2, report_booklets)] + [(3 + i, call_booklets) for i in range(call_orders)]
    handed: dict[int, bool] = {}

    def booklets() -> Iterator[tuple[Any, ...]]:
        booklet_id = 0
        for order_id, count in booklet_orders:
            for sequence in range(1, count + 1):
                booklet_id += 1
                handed[booklet_id] = order_id != 1 and rng.random() < 0.7
                if handed[booklet_id]:
                    at = JANUARY + timedelta(days=rng.randrange(330), hours=rng.randrange(24))
                    yield (booklet_id, order_id, sequence, f"B{booklet_id:09d}", 2 + booklet_id % 10,
                           f"ref-{booklet_id}", at)
                else:
                    yield booklet_id, order_id, sequence, f"B{booklet_id:09d}", None, None, None

    bulk_load(engine, "booklet", ["id", "order_id", "sequence", "number", "distributor_id", "beneficiary_ref",
                                  "distributed_at"], booklets())
    report_redemptions: list[tuple[Any, ...]] = []

    def cheques() -> Iterator[tuple[Any, ...]]:
        cheque_id = 0
        booklet_id = volume_booklets
        for order_id, count in booklet_orders[1:]:
            for _ in range(count):
                booklet_id += 1
                for position in range(1, CHEQUES_PER_BOOKLET + 1):
                    cheque_id += 1
                    draw = rng.random()
                    status = ("redeemed" if handed[booklet_id] and draw < 0.8
                              else "cancelled" if draw > 0.97 else "issued")
                    if status == "redeemed" and order_id == 2:
                        report_redemptions.append((booklet_id, order_id))
                    yield cheque_id, f"C{cheque_id:010d}", booklet_id, order_id, position, 1000, status

    bulk_load(engine, "cheque", ["id", "code", "booklet_id", "order_id", "position", "value_cents", "status"], cheques())
    month_seconds = 31 * 86400 - 3600

    def redemption_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(redemptions):
            count = 1 + (i % 5 == 0)
            cancelled = i % 50 == 7
            at = JANUARY + timedelta(seconds=rng.randrange(month_seconds))
            yield (i + 1, 1 + rng.randrange(venues), services[i % len(services)], 1 + i // 10, 1, count, 1000 * count,
                   "cancelled" if cancelled else "redeemed", "bench", at, at + timedelta(minutes=5) if cancelled else None)
        # The report order's cheques, one per delivery, from February on (after the month closed).
        for j, (booklet_id, order_id) in enumerate(report_redemptions):
            at = datetime(2026, 2, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(300 * 86400))
            yield (redemptions + j + 1, 1 + rng.randrange(venues), services[j % len(services)], booklet_id, order_id,
                   1, 1000, "redeemed", "bench", at, None)

    bulk_load(engine, "redemption", ["id", "venue_id", "service_id", "booklet_id", "order_id", "cheque_count",
                                     "amount_cents", "status", "actor", "created_at", "cancelled_at"], redemption_rows())
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return {"venues": venues, "redemptions_in_month": redemptions, "report_order_cheques": SPONSOR_ORDER_CHEQUES,
            "call_cheques": call_booklets * call_orders * CHEQUES_PER_BOOKLET, "call_orders": call_orders}


# --- measures, each in a child process ------------------------------------------------------------

def child(task: str, url: str, commit: bool) -> None:
    """Run one measure with whatever code PYTHONPATH holds; print its figures as JSON."""
    from sqlalchemy.orm import Session

    from directory.api import Actor
    from directory.db import make_engine
    from redemption.cofunding_followup import follow_up
    from redemption.cofunding_models import CofundingCall
    from redemption.models import Order
    from redemption.reports import sponsor_report
    from redemption.statements import close_month

    engine = make_engine(url)
    spent: dict[str, list[float]] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _started(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        connection.info["started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _ended(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        spent.setdefault(" ".join(statement.split())[:60], []).append(time.perf_counter() - connection.info["started"])

    with Session(engine) as session:
        session.connection()
        started = time.perf_counter()
        if task == "close":
            summary = close_month(session, Actor.system("bench"), MONTH, now=AFTER_ALL)
            result = {"created": summary["created"], "already_closed": summary["already_closed"]}
        elif task == "report":
            report = sponsor_report(session, session.get(Order, 2), today=date(2026, 12, 31))
            result = {"issued": report["totals"]["issued"], "redeemed": report["totals"]["redeemed"]}
        else:
            report = follow_up(session, session.get(CofundingCall, 1))
            result = {"issued_cents": report["totals"]["issued_cents"]}
        elapsed = time.perf_counter() - started
        session.commit() if commit else session.rollback()
    engine.dispose()
    # VmHWM, not getrusage: Linux keeps ru_maxrss across execve, so a child would report its parent's peak.
    peak_kib = int(next(line for line in Path("/proc/self/status").read_text().splitlines()
                        if line.startswith("VmHWM:")).split()[1])
    heaviest = sorted(spent.items(), key=lambda item: -sum(item[1]))[:3]
    result["heaviest_sql"] = [f"{sum(times):.2f} s in {len(times)} × {sql}" for sql, times in heaviest]
    print(json.dumps({"seconds": round(elapsed, 3), "peak_rss_mb": round(peak_kib / 1024), **result}))


def measure(task: str, url: str, code_root: Path, commit: bool = False) -> dict[str, Any]:
    environment = {**os.environ, "PYTHONPATH": str(code_root)}
    done = subprocess.run([sys.executable, __file__, "--child", task, url, "commit" if commit else "rollback"],
                          env=environment, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{task} ({code_root}) failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


PLANS = {
    "close: the month's totals per venue": (
        "SELECT venue_id, sum(cheque_count), sum(amount_cents) FROM redemption WHERE status IN ('redeemed') "
        "AND created_at >= :start AND created_at < :end GROUP BY venue_id"),
    "close: the month's redemptions onto their statements (EXPLAIN only, nothing runs)": (
        "UPDATE redemption SET status = 'reimbursed', statement_id = (SELECT statement.id FROM statement "
        "WHERE statement.venue_id = redemption.venue_id AND statement.month = '2026-01-01') "
        "WHERE status IN ('redeemed') AND created_at >= :start AND created_at < :end"),
    "close: pending redemptions before the month": (
        "SELECT min(created_at) FROM redemption WHERE status IN ('redeemed') AND created_at < :start"),
    "report: the order's cheques": (
        "SELECT cheque.status, count(*) FROM cheque JOIN booklet ON booklet.id = cheque.booklet_id "
        "WHERE cheque.order_id = 2 GROUP BY cheque.status, booklet.distributed_at IS NULL"),
    "report: the order's redemptions per venue": (
        "SELECT venue_id, sum(cheque_count) FROM redemption WHERE order_id = 2 AND status != 'cancelled' "
        "GROUP BY venue_id"),
    "follow-up: the call's cheques per order": (
        "SELECT cheque.order_id, sum(cheque.value_cents) FROM cheque JOIN booklet ON booklet.id = cheque.booklet_id "
        "JOIN pass_order ON pass_order.id = cheque.order_id WHERE pass_order.application_id IN "
        "(SELECT id FROM cofunding_application WHERE call_id = 1 AND status = 'accepted') GROUP BY cheque.order_id"),
}


def plans(engine: Engine) -> None:
    """The key lines of the PostgreSQL plans of the queries the measures depend on."""
    from redemption.months import month_bounds

    start, end = month_bounds(MONTH)
    with engine.connect() as connection:
        for label, sql in PLANS.items():
            lines = connection.execute(text(f"EXPLAIN {sql}"), {"start": start, "end": end}).scalars().all()
            print(f"  {label}:")
            for line in lines:
                if any(word in line for word in ("Scan", "Join", "Aggregate", "Cond", "Nested", "Update", "SubPlan")):
                    print(f"    {line.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("postgis", "spatialite"), default="postgis")
    parser.add_argument("--scale", type=float, help="1.0: 1M redemptions, 20,000 venues, 3M cheques in the call")
    parser.add_argument("--before", type=Path, default=Path("/work/main"), help="the tree of the code before")
    parser.add_argument("--no-before", action="store_true", help="measure only this tree's code")
    parser.add_argument("--no-before-close", action="store_true",
                        help="skip the close of the code before (row by row: about 20 minutes at scale 1)")
    args = parser.parse_args()
    scale = args.scale or (1.0 if args.backend == "postgis" else 0.05)
    with throwaway_database(args.backend) as url:
        engine = prepare_database(url)
        started = time.perf_counter()
        sizes = build(engine, scale)
        print(f"{args.backend}, scale {scale}: {sizes} built in {time.perf_counter() - started:.0f} s")
        if args.backend == "postgis":
            plans(engine)
        engine.dispose()
        trees = ([("before", args.before)] if not args.no_before else []) + [("after", ROOT)]
        for name, tree in trees:
            # The code before closes and rolls back; this tree's close commits, then closes again.
            if name == "after" or not args.no_before_close:
                print(f"{name}: close {measure('close', url, tree, commit=name == 'after')}")
            print(f"{name}: sponsor report {measure('report', url, tree)}")
            print(f"{name}: funder follow-up {measure('follow_up', url, tree)}")
        print(f"after: close again (idempotent) {measure('close', url, ROOT, commit=True)}")
        print(f"load average {machine_load()}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4] == "commit")
    else:
        main()
