"""Time the weekly cartography rebuild at national scale.

    .venv/bin/python bench/rebuild_national.py [--backend spatialite|postgis] [--venues 20000]
        [--applications 1000] [--memory]

Builds a throwaway database (SpatiaLite file in a temporary folder, or a PostGIS database
aptic_bench_<hex> dropped at the end) with the shipped territories (34,875 communes), the
referential, synthetic venues and waitlisted applications, plus a few pending dequalifications,
then runs one rebuild and prints the duration of each step. With --memory, each step runs under
tracemalloc and its peak Python memory is printed too (tracemalloc slows the run down).
"""

from __future__ import annotations

import argparse
import random
import resource
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session
from support import prepare_database, throwaway_database

from directory import api as directory_api
from directory.db import make_engine, make_sessionmaker, utcnow
from directory.factories import generate_venues
from directory.models import Organisation, Venue, VenueStatus
from maps import api as maps_api
from qualification.models import Application, ApplicationStatus, ApplicationVenue, PendingVenueChange, VenueOutcome

ACTOR = directory_api.Actor.system("bench")


def _fill(url: str, venues: int, applications: int, dequalifications: int) -> dict[str, float]:
    timings = {}
    started = time.perf_counter()
    engine = prepare_database(url)
    timings["migrations + territories + referential"] = time.perf_counter() - started

    started = time.perf_counter()
    rng = random.Random(6)
    with Session(engine) as session:
        venue_ids = generate_venues(session, venues)
        candidates = session.execute(
            select(Venue.id, Venue.organisation_id)
            .where(Venue.id.in_(venue_ids), Venue.status == VenueStatus.CANDIDATE, Venue.location.is_not(None))
        ).all()
        # Waitlisted points de présence need more candidates than the generator's 15 %.
        if len(candidates) < applications:
            extra = session.execute(
                select(Venue.id, Venue.organisation_id).where(Venue.id.in_(venue_ids), Venue.status == VenueStatus.SUSPENDED)
            ).all()
            candidates += extra
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
            "organisations": session.scalar(select(func.count()).select_from(Organisation)),
            "waitlisted applications": len(application_ids),
            "pending dequalifications": dequalifications,
        }
    timings["synthetic data"] = time.perf_counter() - started
    engine.dispose()
    for name, value in counts.items():
        print(f"{name}: {value}")
    return timings


def _rebuild(url: str, memory: bool) -> None:
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
            rss[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    started = time.perf_counter()
    run = maps_api.rebuild_cartography(factory, ACTOR, trigger="bench", observe=observe)
    total = time.perf_counter() - started
    engine.dispose()
    print(f"rebuild: {run.status.value}" + (f" ({run.error})" if run.error else ""))
    for step in run.report.get("steps", []):
        line = f"  step {step['name']:<16} {step['seconds']:7.2f} s   process peak RSS so far {rss[step['name']]:6.0f} MB"
        if memory:
            line += f"   peak Python memory in step {peaks[step['name']] / 1e6:6.0f} MB"
        print(line)
    print(f"  total {total:.2f} s: {run.published} published, {run.added} added, {run.removed} removed, "
          f"{run.promoted} promoted from the waitlist, {run.flagged} territories over quota")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=("spatialite", "postgis"), default="spatialite")
    parser.add_argument("--venues", type=int, default=20_000)
    parser.add_argument("--applications", type=int, default=1_000)
    parser.add_argument("--dequalifications", type=int, default=200)
    parser.add_argument("--memory", action="store_true", help="Peak Python memory per step (tracemalloc, slower).")
    args = parser.parse_args()
    print(f"backend: {args.backend}")
    with throwaway_database(args.backend) as url:
        for step, seconds in _fill(url, args.venues, args.applications, args.dequalifications).items():
            print(f"setup, {step}: {seconds:.2f} s")
        _rebuild(url, args.memory)


if __name__ == "__main__":
    main()
