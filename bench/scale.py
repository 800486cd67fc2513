"""The national-scale benchmark (issue 19): build a synthetic France, then measure the public entry points.

    .venv/bin/python bench/scale.py [--backend spatialite|postgis|both] [--scale tiny|20k|100k|both]
        [--only nearby,map,close,report,followup,issue,print,rebuild] [--skip-print-10k] [--keep]
    .venv/bin/python bench/scale.py --reuse postgresql+psycopg://root@127.0.0.1:5432/aptic_bench_… [--only …]

`--scale both` is 20k then 100k. The dataset (bench/scale_data.py) is built by bulk SQL in a throwaway
database (SpatiaLite file in a temporary folder, PostGIS database aptic_bench_<hex>), dropped at the
end unless `--keep`, which prints its URL; `--reuse <url>` measures such a kept database without
building (a SpatiaLite kept file is copied out of the temporary folder first). Every measured step
that writes (closing the month, issuing, printing an issued order, the rebuild) runs in a transaction
that is rolled back, so a kept database can be measured again and again.

Each figure is printed as `label: value`; peak memory is taken in a fresh process per step (spawn):
the peak resident set size during the step (VmHWM after resetting it at the step's start) and its
growth over the resident size at the start. A Markdown table closes the output, with the aims of
issue 19.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from nearby_search import LIMIT, RADIUS_KM, raw_search
from scale_data import PRESETS, Built, build, previous_month
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from support import machine_load, percentile, prepare_database, throwaway_database

from directory import api as directory_api
from directory.db import make_engine, make_sessionmaker, utcnow
from directory.factories import sample_communes
from redemption.months import paris_date

FIGURES = ("nearby", "map", "close", "report", "followup", "issue", "print", "rebuild")
ACTOR = directory_api.Actor.system("bench-scale")
MAP_VIEWS = {
    "Lyon (zoom ~11)": "/api/v1/map/venues?bbox=4.70,45.70,5.00,45.83",
    "Paris": "/api/v1/map/venues?bbox=2.22,48.81,2.47,48.91",
    "France entière": "/api/v1/map/venues?bbox=-5.5,41.2,9.8,51.2",
    "bulles départements": "/api/v1/map/counts?level=departement",
}
BASE_URL = "https://aptic.example.org"
MB = 1024 * 1024


# --- measurement helpers -----------------------------------------------------------------------------------


def _status_kb(name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{name} not in /proc/self/status")


class Memory:
    """Peak resident memory of this process from now on (Linux: VmHWM, reset through clear_refs)."""

    def __init__(self) -> None:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        self.start_kb = _status_kb("VmRSS")

    def figures(self) -> dict[str, float]:
        peak = _status_kb("VmHWM")
        return {"peak_mb": peak / 1024, "delta_mb": (peak - self.start_kb) / 1024}


def _in_child(step: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run `step(*args)` in a fresh interpreter (its memory is its own) and return its figures."""
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(step, *args).result()


def _session(url: str) -> tuple[Any, Session]:
    engine = make_engine(url)
    return engine, make_sessionmaker(engine)()


def _locate(session: Session) -> dict[str, Any]:
    """The records the figures are taken on, found in a built (or kept) database."""
    from redemption.cofunding_models import CofundingCall
    from redemption.models import Order, Redemption

    big = session.scalar(select(Order.id).where(Order.booklet_count == 3_350).order_by(Order.id).limit(1))
    if big is None:  # the tiny scale
        big = session.scalar(select(Order.id).order_by(Order.id).limit(1))
    latest = session.scalar(select(func.max(Redemption.created_at)))
    return {
        "big_order_id": big,
        "call_id": session.scalar(select(func.max(CofundingCall.id))),
        "month": paris_date(latest).replace(day=1) if latest is not None else previous_month(utcnow()),
    }


# --- the steps that run in a child process ------------------------------------------------------------------


def step_close(url: str) -> dict[str, Any]:
    from redemption.statements import close_month

    engine, session = _session(url)
    month = _locate(session)["month"]
    session.rollback()
    memory = Memory()
    started = time.perf_counter()
    first = close_month(session, ACTOR, month)
    seconds = time.perf_counter() - started
    figures = memory.figures()
    statements = first["statements"]
    started = time.perf_counter()
    again = close_month(session, ACTOR, month)
    result = {"seconds": seconds, **figures, "created": first["created"], "already": first["already_closed"],
              "gross_cents": sum(s.gross_cents for s in statements), "cheques": sum(s.cheque_count for s in statements),
              "again_created": again["created"], "again_seconds": time.perf_counter() - started}
    session.rollback()
    engine.dispose()
    return result


def step_report(url: str) -> dict[str, Any]:
    from redemption.orders import get_order
    from redemption.reports import sponsor_report

    engine, session = _session(url)
    order = get_order(session, _locate(session)["big_order_id"])
    _ = order.sponsor.name
    memory = Memory()
    started = time.perf_counter()
    report = sponsor_report(session, order)
    result = {"seconds": time.perf_counter() - started, **memory.figures(), "issued": report["totals"]["issued"],
              "redeemed": report["totals"]["redeemed"]}
    session.rollback()
    engine.dispose()
    return result


def step_followup(url: str) -> dict[str, Any]:
    from redemption.calls import get_call
    from redemption.cofunding_followup import follow_up

    engine, session = _session(url)
    call = get_call(session, _locate(session)["call_id"])
    memory = Memory()
    started = time.perf_counter()
    report = follow_up(session, call)
    result = {"seconds": time.perf_counter() - started, **memory.figures(),
              "issued_cheques": report["totals"]["issued_cents"] // 1_000,
              "redeemed_ratio": report["totals"]["redeemed_ratio"]}
    session.rollback()
    engine.dispose()
    return result


def _fresh_order(session: Session, booklets: int) -> Any:
    """A confirmed, paid order of the big order's sponsor on its territory, ready to issue."""
    from redemption import orders

    model = orders.get_order(session, _locate(session)["big_order_id"])
    order = orders.create_order(session, ACTOR, model.sponsor, booklets=booklets, territories=model.territories,
                                minimum_exception="banc d'essai")
    orders.confirm_order(session, ACTOR, order)
    orders.pay_order(session, ACTOR, order)
    session.flush()
    return order


def step_issue(url: str, booklets: int) -> dict[str, Any]:
    from redemption.orders import issue_order

    engine, session = _session(url)
    order = _fresh_order(session, booklets)
    memory = Memory()
    started = time.perf_counter()
    issue_order(session, ACTOR, order)
    session.flush()
    result = {"seconds": time.perf_counter() - started, **memory.figures()}
    session.rollback()
    engine.dispose()
    return result


def step_print(url: str, booklets: int | None) -> dict[str, Any]:
    """Print the big order (booklets None) or a fresh order of `booklets`, issued first (not timed)."""
    from redemption.orders import get_order, issue_order
    from redemption.printing import print_order

    engine, session = _session(url)
    if booklets is None:
        order = get_order(session, _locate(session)["big_order_id"])
    else:
        order = _fresh_order(session, booklets)
        issue_order(session, ACTOR, order)
        session.flush()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "order.pdf"
        memory = Memory()
        started = time.perf_counter()
        pages = print_order(session, order, out, BASE_URL)
        result = {"seconds": time.perf_counter() - started, **memory.figures(), "pages": pages,
                  "booklets": order.booklet_count, "pdf_mb": out.stat().st_size / MB}
    session.rollback()
    engine.dispose()
    return result


def step_rebuild(url: str) -> dict[str, Any]:
    from maps.rebuild import rebuild_cartography

    engine, session = _session(url)
    memory = Memory()
    started = time.perf_counter()
    run = rebuild_cartography(session, ACTOR, trigger="bench")
    result = {"seconds": time.perf_counter() - started, **memory.figures(), "status": str(run.status)}
    session.rollback()
    engine.dispose()
    return result


# --- the figures ----------------------------------------------------------------------------------------------


class Figures:
    """Prints each figure as `label: value` and keeps the table rows (figure, value, aim, met)."""

    def __init__(self, backend: str, scale: str) -> None:
        self.backend, self.scale = backend, scale
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, label: str, value: str, aim: str = "", met: bool | None = None) -> None:
        print(f"{label}: {value}" + (f"   (aim {aim}: {'met' if met else 'MISSED'})" if aim else ""), flush=True)
        self.rows.append((label, value, aim, "" if met is None else ("oui" if met else "**non**")))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def nearby(url: str, backend: str, figures: Figures, queries: int) -> None:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with factory() as session:
        communes = sample_communes(session)
    rng = random.Random(4)
    points = [(c.lon, c.lat) for c in rng.choices(communes, weights=[c.population for c in communes], k=queries)]
    found: list[int] = []

    def in_process(lon: float, lat: float) -> None:
        with factory() as session:
            found.append(len(directory_api.nearby_venues(session, lon=lon, lat=lat, radius_km=RADIUS_KM,
                                                         limit=LIMIT).venues))

    raw_sql = raw_search(backend, engine)

    aim = 0.010 if backend == "postgis" else 0.015
    for name, run in (("nearby_venues", in_process), ("raw SQL", raw_sql)):
        for lon, lat in points[:20]:  # warm the caches and the pool
            run(lon, lat)
        found.clear()
        samples = []
        for lon, lat in points:
            started = time.perf_counter()
            run(lon, lat)
            samples.append(time.perf_counter() - started)
        p95 = percentile(samples, 0.95)
        figures.add(f"nearby {name} p50", _ms(statistics.median(samples)))
        figures.add(f"nearby {name} p95", _ms(p95), f"< {aim * 1000:.0f} ms" if name == "nearby_venues" else "",
                    p95 < aim if name == "nearby_venues" else None)
        if found:
            figures.add("nearby mean results", f"{statistics.mean(found):.1f}")
    engine.dispose()


def map_sizes(url: str, figures: Figures) -> None:
    from aptic import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    sizes = {}
    for name, path in MAP_VIEWS.items():
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.get_data()[:200]!r}")
        sizes[name] = len(response.get_data())
        figures.add(f"map answer {name}", f"{sizes[name]:,} bytes in {_ms(elapsed)}", "< 100 KB",
                    sizes[name] < 100 * 1024)
    largest = max(sizes, key=sizes.get)
    figures.add("map answer largest", f"{largest}, {sizes[largest]:,} bytes", "< 100 KB", sizes[largest] < 100 * 1024)
    app.extensions["aptic.db"].engine.dispose()


def _memory(result: dict[str, Any]) -> str:
    return f"peak {result['peak_mb']:.0f} MB, +{result['delta_mb']:.0f} MB"


def measure(url: str, backend: str, scale: str, only: set[str], skip_print_10k: bool, queries: int) -> Figures:
    figures = Figures(backend, scale)
    print(f"\n== figures: {backend}, scale {scale} — {machine_load()}", flush=True)
    if "nearby" in only:
        nearby(url, backend, figures, queries)
    if "map" in only:
        map_sizes(url, figures)
    if "close" in only:
        close = _in_child(step_close, url)
        figures.add("close month", f"{close['seconds']:.1f} s, {_memory(close)}", "< 60 s, < 500 MB",
                    close["seconds"] < 60 and close["peak_mb"] < 500)
        figures.add("close month statements", f"{close['created']:,} ({close['cheques']:,} cheques, "
                    f"{close['gross_cents'] / 100:,.2f} €)")
        figures.add("close month again", f"{close['again_seconds']:.1f} s, {close['again_created']} created",
                    "creates nothing", close["again_created"] == 0)
    if "report" in only:
        report = _in_child(step_report, url)
        figures.add("sponsor report", f"{report['seconds']:.2f} s, {_memory(report)} "
                    f"({report['issued']:,} cheques, {report['redeemed']:,} redeemed)", "< 0.5 s",
                    report["seconds"] < 0.5)
    if "followup" in only:
        followup = _in_child(step_followup, url)
        figures.add("funder follow-up", f"{followup['seconds']:.2f} s, {_memory(followup)} "
                    f"({followup['issued_cheques']:,} cheques)", "< 5 s", followup["seconds"] < 5)
    if "issue" in only:
        issue = _in_child(step_issue, url, 10_000)
        figures.add("issue 10,000 booklets", f"{issue['seconds']:.1f} s, {_memory(issue)}", "< 20 s",
                    issue["seconds"] < 20)
    if "print" in only:
        for booklets in (None,) if skip_print_10k else (None, 10_000):
            printed = _in_child(step_print, url, booklets)
            figures.add(f"print {printed['booklets']:,} booklets",
                        f"{printed['seconds']:.1f} s, {_memory(printed)}, PDF {printed['pdf_mb']:.0f} MB, "
                        f"{printed['pages']:,} pages", "< 300 MB peak", printed["peak_mb"] < 300)
    if "rebuild" in only:
        rebuild = _in_child(step_rebuild, url)
        figures.add("cartography rebuild", f"{rebuild['seconds']:.1f} s, {_memory(rebuild)} ({rebuild['status']})",
                    "< 30 s", rebuild["seconds"] < 30)
    return figures


# --- the runs ---------------------------------------------------------------------------------------------------


def build_database(url: str, backend: str, scale: str) -> Built:
    print(f"\n== build: {backend}, scale {scale} — {machine_load()}", flush=True)
    started = time.perf_counter()
    prepare_database(url).dispose()
    print(f"build migrations + territories + referential: {time.perf_counter() - started:.1f} s", flush=True)
    engine = make_engine(url)
    if backend == "spatialite":  # a throwaway file: no need to survive a power cut while it fills
        event.listen(engine, "connect", lambda connection, _: connection.execute(
            "PRAGMA synchronous = OFF").close() or connection.execute("PRAGMA journal_mode = MEMORY").close())
    with Session(engine) as session:
        built = build(session, PRESETS[scale], report=lambda label, seconds: print(f"build {label}: {seconds:.1f} s",
                                                                                   flush=True))
        committing = time.perf_counter()
        session.commit()
        print(f"build commit: {time.perf_counter() - committing:.1f} s")
        counts = {name: session.scalar(text(f"SELECT count(*) FROM {name}")) for name in (
            "venue", "organisation", "pass_order", "booklet", "cheque", "redemption", "redemption_cheque",
            "qualification_application")}
    engine.dispose()
    print(f"build total: {time.perf_counter() - started:.1f} s", flush=True)
    print("build rows: " + ", ".join(f"{name} {count:,}" for name, count in counts.items()), flush=True)
    return built


def table(all_figures: list[Figures]) -> None:
    print("\n| Figure | Backend | Scale | Value | Aim | Met |\n|---|---|---|---|---|---|")
    for figures in all_figures:
        for label, value, aim, met in figures.rows:
            print(f"| {label} | {figures.backend} | {figures.scale} | {value} | {aim} | {met} |")


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["spatialite", "postgis", "both"], default="both")
    parser.add_argument("--scale", choices=[*PRESETS, "both"], default="20k")
    parser.add_argument("--only", help="comma-separated figures among " + ",".join(FIGURES))
    parser.add_argument("--keep", action="store_true", help="keep the database and print its URL")
    parser.add_argument("--reuse", metavar="URL", help="measure a kept database without building")
    parser.add_argument("--skip-print-10k", action="store_true")
    parser.add_argument("--build-only", action="store_true")
    # The p95 of 300 searches is their 15th slowest: one noisy second on a shared machine moves it by 20 %.
    parser.add_argument("--queries", type=int, default=3000, help="searches measured (and as many in raw SQL)")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else set(FIGURES)
    if unknown := only - set(FIGURES):
        parser.error(f"unknown figures {sorted(unknown)}; known: {','.join(FIGURES)}")
    print(f"machine: {machine_load()}")
    results: list[Figures] = []
    if args.reuse:
        backend = "postgis" if make_url(args.reuse).get_backend_name() == "postgresql" else "spatialite"
        engine = make_engine(args.reuse)
        with engine.connect() as connection:
            venues = connection.scalar(text("SELECT count(*) FROM venue"))
        engine.dispose()
        label = next((name for name, scale in PRESETS.items() if scale.venues == venues), f"{venues:,} venues")
        results.append(measure(args.reuse, backend, label, only, args.skip_print_10k, args.queries))
        table(results)
        return
    backends = ["spatialite", "postgis"] if args.backend == "both" else [args.backend]
    scales = ["20k", "100k"] if args.scale == "both" else [args.scale]
    for scale in scales:
        for backend in backends:
            with ExitStack() as stack:
                if args.keep and backend == "postgis":
                    url = _kept_postgis_url()
                else:
                    url = stack.enter_context(throwaway_database(backend))
                build_database(url, backend, scale)
                if not args.build_only:
                    results.append(measure(url, backend, scale, only, args.skip_print_10k, args.queries))
                if args.keep and backend == "spatialite":
                    kept = Path(tempfile.gettempdir()) / f"aptic_bench_scale_{scale}.db"
                    shutil.copyfile(make_url(url).database, kept)
                    url = f"sqlite:///{kept}"
                if args.keep:
                    print(f"kept database: {url}")
    table(results)


def _kept_postgis_url() -> str:
    """A PostGIS database that outlives the run (throwaway_database drops its own at the end)."""
    from support import POSTGRES_ADMIN_URL
    from sqlalchemy import create_engine

    name = f"aptic_bench_scale_{os.getpid()}_{int(time.time())}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    return url


if __name__ == "__main__":
    sys.exit(main())
