"""Time the weekly cartography rebuild at national scale, before (main's code) and after (this tree).

    .venv/bin/python bench/rebuild_national.py [--backend spatialite|postgis] [--venues 100000]
        [--applications 5000] [--before-tree /work/main | --before-tree ''] [--memory]

Builds a throwaway database (SpatiaLite file in a temporary folder, or a PostGIS database
aptic_bench_<hex> dropped at the end) with the shipped territories (34,875 communes), the
referential, synthetic venues and waitlisted applications, plus a few pending dequalifications.
Venues: up to 20,000 from the shared generator, the rest copied from them by set-based SQL (same
operator, status and services, the position moved by up to about 500 m). Then the database is
cloned and one rebuild runs in a child process on each copy, with `PYTHONPATH` on the before tree
and on this tree: each prints the duration of each step and the child's peak resident memory
(VmHWM), and the two reports' decisions (promoted venues, territories over quota, venues
published and unpublished) are compared. With --memory, each step runs under tracemalloc and its
peak Python memory is printed too (tracemalloc slows the run down).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, func, insert, literal, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from support import POSTGRES_ADMIN_URL, machine_load, prepare_database, throwaway_database

from directory import api as directory_api
from directory.db import dialect_name, make_engine, make_sessionmaker, utcnow
from directory.factories import generate_venues
from directory.models import Organisation, Venue, VenueService, VenueStatus
from maps import api as maps_api
from qualification.models import Application, ApplicationStatus, ApplicationVenue, PendingVenueChange, VenueOutcome

ROOT = Path(__file__).resolve().parent.parent
ACTOR = directory_api.Actor.system("bench")
GENERATED = 20_000  # venues from the generator; more are copies moved a little
JITTER_DEGREES = 0.005


def _multiply_venues(session: Session, wanted: int) -> None:
    """Copy the generated venues (ids 1..n) until there are `wanted`, each copy moved by up to JITTER_DEGREES."""
    first, last = session.execute(select(func.min(Venue.id), func.max(Venue.id))).one()
    generated = last - first + 1
    table = Venue.__table__
    copy = 1
    while copy * generated < wanted:
        count = min(generated, wanted - copy * generated)
        offset = copy * generated
        dx = (((table.c.id * 7919 + copy) % 1000) - 500) * (JITTER_DEGREES / 500)
        dy = (((table.c.id * 104729 + copy) % 1000) - 500) * (JITTER_DEGREES / 500)
        columns = [column.name for column in table.columns]
        values = [table.c.id + offset if name == "id"
                  else func.ST_Translate(table.c.location, dx, dy, literal(0.0)) if name == "location"
                  else table.c[name] for name in columns]
        source = table.c.id.between(first, first + count - 1)
        session.execute(insert(table).from_select(columns, select(*values).where(source)))
        session.execute(insert(VenueService).from_select(
            ["venue_id", "service_id"],
            select(VenueService.venue_id + offset, VenueService.service_id).where(VenueService.venue_id.between(first, first + count - 1))))
        copy += 1
    if dialect_name(session) == "postgresql":
        session.execute(text("SELECT setval(pg_get_serial_sequence('venue', 'id'), (SELECT max(id) FROM venue))"))


def _fill(url: str, venues: int, applications: int, dequalifications: int) -> dict[str, float]:
    timings = {}
    started = time.perf_counter()
    engine = prepare_database(url)
    timings["migrations + territories + referential"] = time.perf_counter() - started

    started = time.perf_counter()
    rng = random.Random(6)
    with Session(engine) as session:
        generate_venues(session, min(venues, GENERATED))
        _multiply_venues(session, venues)
        candidates = session.execute(
            select(Venue.id, Venue.organisation_id)
            .where(Venue.status == VenueStatus.CANDIDATE, Venue.location.is_not(None)).order_by(Venue.id)
        ).all()
        # Waitlisted points de présence need more candidates than the generator's 15 %.
        if len(candidates) < applications:
            candidates += session.execute(
                select(Venue.id, Venue.organisation_id).where(Venue.status == VenueStatus.SUSPENDED).order_by(Venue.id)
            ).all()
        chosen = rng.sample(candidates, min(applications, len(candidates)))
        now = utcnow()
        application_ids = session.scalars(
            insert(Application).returning(Application.id, sort_by_parameter_order=True),
            [{"organisation_id": organisation_id, "status": ApplicationStatus.WAITLISTED, "iban": "FR7630006000011234567890189",
              "bic": "AGRIFRPP", "account_holder": "Structure", "created_at": now, "submitted_at": now,
              "status_changed_at": now} for _, organisation_id in chosen],
        ).all()
        session.execute(update(Venue).where(Venue.id.in_([venue_id for venue_id, _ in chosen]))
                        .values(status=VenueStatus.CANDIDATE))
        session.execute(insert(ApplicationVenue), [
            {"application_id": application_id, "venue_id": venue_id, "outcome": VenueOutcome.WAITLISTED,
             "waitlisted_at": now} for application_id, (venue_id, _) in zip(application_ids, chosen, strict=True)
        ])
        qualified = session.scalars(select(Venue.id).where(Venue.status == VenueStatus.QUALIFIED).order_by(Venue.id)).all()
        if dequalifications:
            session.execute(insert(PendingVenueChange), [
                {"venue_id": venue_id, "target_status": VenueStatus.DEQUALIFIED, "reason": "Activité arrêtée.",
                 "actor": ACTOR.label, "requested_at": now} for venue_id in rng.sample(list(qualified), dequalifications)
            ])
        session.commit()
        counts = {
            "communes": session.scalar(text("SELECT count(*) FROM territory WHERE level = 'commune'")),
            "venues": session.scalar(select(func.count()).select_from(Venue)),
            "qualified venues": len(qualified),
            "organisations": session.scalar(select(func.count()).select_from(Organisation)),
            "waitlisted applications": len(application_ids),
            "pending dequalifications": dequalifications,
        }
    timings["synthetic data"] = time.perf_counter() - started
    engine.dispose()
    for name, value in counts.items():
        print(f"{name}: {value}")
    return timings


@contextmanager
def _clone(url: str) -> Iterator[str]:
    """A copy of the database at `url` (a file copy, or CREATE DATABASE … TEMPLATE), removed on exit."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        copy = path.with_name("clone.db")
        shutil.copyfile(path, copy)
        try:
            yield f"sqlite:///{copy}"
        finally:
            copy.unlink()
        return
    source = make_url(url).database
    name = f"{source}_clone"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
        try:
            yield make_url(url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))


def _rebuild(url: str, memory: bool) -> None:
    """Runs in a child process (its peak memory is the rebuild's alone): prints the steps, then a JSON summary."""
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    peaks: dict[str, float] = {}
    rss: dict[str, float] = {}

    @contextmanager
    def observe(name: str) -> Iterator[None]:
        if memory:
            tracemalloc.start()
        try:
            yield
        finally:
            if memory:
                peaks[name] = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            rss[name] = _peak_rss_mb()

    started = time.perf_counter()
    run = maps_api.rebuild_cartography(factory, ACTOR, trigger="bench", observe=observe)
    total = time.perf_counter() - started
    engine.dispose()
    print(f"rebuild: {run.status.value}" + (f" ({run.error})" if run.error else ""))
    for step in run.report.get("steps", []):
        line = f"  step {step['name']:<16} {step['seconds']:7.2f} s   peak RSS so far {rss[step['name']]:6.0f} MB"
        if memory:
            line += f"   peak Python memory in step {peaks[step['name']] / 1e6:6.0f} MB"
        print(line)
    print(f"  total {total:.2f} s, peak RSS {_peak_rss_mb():.0f} MB: {run.published} published, {run.added} added, "
          f"{run.removed} removed, {run.promoted} promoted from the waitlist, {run.flagged} territories over quota")
    report = run.report
    print(json.dumps({key: report.get(key) for key in ("promoted", "flagged", "added", "removed", "published",
                                                        "inconsistent", "changes")}))


def _run_child(tree: str, url: str, memory: bool) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", url] + (["--memory"] if memory else []), cwd=tree,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": tree})
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        raise SystemExit(done.returncode)
    *lines, summary = done.stdout.strip().splitlines()
    print("\n".join(lines), flush=True)
    return json.loads(summary)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("spatialite", "postgis"), default="spatialite")
    parser.add_argument("--venues", type=int, default=100_000)
    parser.add_argument("--applications", type=int, default=5_000)
    parser.add_argument("--dequalifications", type=int, default=200)
    parser.add_argument("--before-tree", default="/work/main", help="'' to time this tree only")
    parser.add_argument("--memory", action="store_true", help="Peak Python memory per step (tracemalloc, slower).")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _rebuild(args.child, args.memory)
        return
    print(f"backend: {args.backend}; {machine_load()}")
    with throwaway_database(args.backend) as url:
        for step, seconds in _fill(url, args.venues, args.applications, args.dequalifications).items():
            print(f"setup, {step}: {seconds:.2f} s")
        if not args.before_tree:
            print(f"after ({ROOT}):")
            _run_child(str(ROOT), url, args.memory)
            return
        with _clone(url) as before_url:
            print(f"before ({args.before_tree}):")
            before = _run_child(str(Path(args.before_tree).resolve()), before_url, args.memory)
        print(f"after ({ROOT}):")
        after = _run_child(str(ROOT), url, args.memory)
        different = [key for key in before if before[key] != after[key]]
        print("decisions identical before and after" if not different else f"decisions DIFFER on: {', '.join(different)}")


if __name__ == "__main__":
    main()
