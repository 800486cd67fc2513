"""The weekly rebuild: atomic switch, run report, single run across processes, scheduler catch-up."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from aptic import scheduler
from directory import api as directory_api
from directory.db import PARIS_TZ, make_engine, make_sessionmaker, unit_of_work
from directory.models import Venue, VenueStatus
from maps import api as maps_api
from maps import scheduling
from maps.models import CartographyRun, RebuildClaim, RunStatus
from qualification import api as qualification_api
from tests.builders import ACTOR, CAHORS, GRAND_CAHORS, complete_application, offset, qualified_venue, site_fields


def _scene(session):
    """A published venue, a newly qualified one, one to close, and a candidate."""
    kept = qualified_venue(session)
    newly = directory_api.create_venue(session, ACTOR, site_fields(offset(*CAHORS, 3_000)))
    directory_api.set_venue_status(session, ACTOR, newly, VenueStatus.QUALIFIED, "Dossier qualifié.")
    closing = qualified_venue(session, offset(*CAHORS, 2_000, bearing=0))
    qualification_api.schedule_venue_change(session, ACTOR, closing, "closed", "Le lieu ferme ses portes.")
    candidate = directory_api.create_venue(session, ACTOR, site_fields(offset(*CAHORS, 5_000, bearing=0)))
    return kept.id, newly.id, closing.id, candidate.id


def _published(session) -> set[int]:
    return set(session.scalars(select(Venue.id).where(Venue.published)))


def test_the_rebuild_publishes_qualified_venues_and_reports(session):
    kept, newly, closing, candidate = _scene(session)
    assert _published(session) == {kept, closing}
    run = maps_api.rebuild_cartography(session, ACTOR)
    assert run.status == RunStatus.SUCCEEDED
    assert _published(session) == {kept, newly}
    assert session.get(Venue, closing).status == VenueStatus.CLOSED
    assert (run.published, run.added, run.removed) == (2, 1, 1)
    assert run.report["added"] == [newly] and run.report["removed"] == [closing]
    assert run.report["changes"]["applied"] == [closing]
    assert [step["name"] for step in run.report["steps"]][:3] == ["pending_changes", "quotas", "publish"]
    assert maps_api.cartography_runs(session)[0].id == run.id


def test_a_failure_mid_rebuild_leaves_the_previous_cartography(session, monkeypatch):
    kept, newly, closing, candidate = _scene(session)

    def broken(context):
        raise RuntimeError("panne simulée")

    monkeypatch.setattr("maps.rebuild.REBUILD_STEPS", [*maps_api.REBUILD_STEPS, ("broken", broken)])
    run = maps_api.rebuild_cartography(session, ACTOR)
    assert run.status == RunStatus.FAILED and "panne simulée" in run.error
    assert _published(session) == {kept, closing}
    assert session.get(Venue, closing).status == VenueStatus.QUALIFIED


FIGEAC = (2.03170, 44.60860)


def test_one_inconsistent_territory_is_reported_and_the_rebuild_goes_on(session, tmp_path):
    kept, newly, closing, candidate = _scene(session)
    qualified_venue(session, offset(*CAHORS, 1_000, bearing=180))
    cahors = complete_application(session, tmp_path, offset(*CAHORS, 4_000, bearing=180))
    qualification_api.decide(session, ACTOR, cahors)
    # What the manual status change did before it went through a decision: qualified, still waitlisted.
    directory_api.set_venue_status(session, ACTOR, cahors.sites[0].venue, VenueStatus.QUALIFIED, "À la main.")
    qualification_api.set_override(session, ACTOR, level="epci", code=GRAND_CAHORS, quota=9, reason="Quota relevé")
    qualified_venue(session, FIGEAC)
    figeac = complete_application(session, tmp_path, offset(*FIGEAC, 1_000))
    figeac_epci = qualification_api.DensityModel(session).territory_key(figeac.sites[0].venue.code_insee)[1]
    qualification_api.set_override(session, ACTOR, level="epci", code=figeac_epci, quota=1, reason="Essai")
    qualification_api.decide(session, ACTOR, figeac)
    qualification_api.set_override(session, ACTOR, level="epci", code=figeac_epci, quota=2, reason="Quota relevé")

    run = maps_api.rebuild_cartography(session, ACTOR)
    assert run.status == RunStatus.SUCCEEDED, run.error
    (inconsistent,) = run.report["inconsistent"]
    assert (inconsistent["code"], inconsistent["name"], inconsistent["venue_id"]) == (
        GRAND_CAHORS, "CA du Grand Cahors", cahors.sites[0].venue_id)
    assert "ne peut pas passer au statut" in inconsistent["message"]
    assert run.report["promoted"] == [figeac.sites[0].venue_id]
    assert figeac.sites[0].venue_id in _published(session) and newly in _published(session)
    assert session.get(Venue, closing).status == VenueStatus.CLOSED


def _committed_scene(url):
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        ids = _scene(session)
    return engine, factory, ids


def test_a_failure_rolls_back_the_whole_committed_switch(committed_database_url, monkeypatch):
    engine, factory, (kept, newly, closing, candidate) = _committed_scene(committed_database_url)

    def broken(context):
        assert _published(context.session) == {kept, newly}  # the switch was made inside the transaction
        raise RuntimeError("panne simulée")

    try:
        monkeypatch.setattr("maps.rebuild.REBUILD_STEPS", [*maps_api.REBUILD_STEPS, ("broken", broken)])
        run = maps_api.rebuild_cartography(factory, ACTOR)
        assert run.status == RunStatus.FAILED
        with unit_of_work(factory) as session:
            assert _published(session) == {kept, closing}
            assert session.get(Venue, closing).status == VenueStatus.QUALIFIED
            assert [r.status for r in maps_api.cartography_runs(session)] == [RunStatus.FAILED]
        monkeypatch.undo()
        assert maps_api.rebuild_cartography(factory, ACTOR).status == RunStatus.SUCCEEDED
        with unit_of_work(factory) as session:
            assert _published(session) == {kept, newly}
    finally:
        engine.dispose()


def test_two_concurrent_rebuilds_run_once_and_readers_see_the_old_cartography(committed_database_url, monkeypatch):
    if not committed_database_url.startswith("postgresql"):
        pytest.skip("several writers at once: PostgreSQL (SQLite serialises writers by itself)")
    engine, factory, (kept, newly, closing, candidate) = _committed_scene(committed_database_url)
    inside, release = threading.Event(), threading.Event()

    def hold(context):
        inside.set()
        assert release.wait(30)

    monkeypatch.setattr("maps.rebuild.REBUILD_STEPS", [*maps_api.REBUILD_STEPS, ("hold", hold)])
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", maps_api.rebuild_cartography(factory, ACTOR)))
    first.start()
    try:
        assert inside.wait(30)
        with unit_of_work(factory) as session:
            assert _published(session) == {kept, closing}  # the public still sees the previous cartography
        second = maps_api.rebuild_cartography(factory, ACTOR)
        assert second.status == RunStatus.SKIPPED and "en cours" in second.error
    finally:
        release.set()
        first.join(30)
    try:
        assert results["first"].status == RunStatus.SUCCEEDED
        with unit_of_work(factory) as session:
            assert _published(session) == {kept, newly}
            statuses = session.scalars(select(CartographyRun.status).order_by(CartographyRun.id)).all()
            assert sorted(statuses) == sorted([RunStatus.SKIPPED, RunStatus.SUCCEEDED])
            assert session.scalar(select(func.count()).select_from(CartographyRun)) == 2
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------- scheduler

MONDAY_0700 = datetime(2026, 11, 23, 7, 0, tzinfo=PARIS_TZ)


def _trigger(last_success):
    return maps_api.CatchUpCronTrigger(lambda: last_success, timezone=PARIS_TZ, **maps_api.REBUILD_CRON)


def test_the_trigger_fires_on_monday_at_seven_paris_time():
    trigger = _trigger(datetime(2026, 11, 23, 7, 0, 4, tzinfo=PARIS_TZ))
    now = datetime(2026, 11, 25, 12, 0, tzinfo=PARIS_TZ)
    assert trigger.get_next_fire_time(None, now) == datetime(2026, 11, 30, 7, 0, tzinfo=PARIS_TZ)
    assert trigger.get_next_fire_time(MONDAY_0700, MONDAY_0700) == datetime(2026, 11, 30, 7, 0, tzinfo=PARIS_TZ)


@pytest.mark.parametrize("last_success", [None, datetime(2026, 11, 16, 7, 0, 3, tzinfo=PARIS_TZ)])
def test_a_run_missed_while_the_server_was_down_runs_at_the_next_start(last_success):
    # The server was down on Monday 23 at 07:00 and starts again on Tuesday at 09:30.
    restart = datetime(2026, 11, 24, 9, 30, tzinfo=PARIS_TZ)
    assert _trigger(last_success).get_next_fire_time(None, restart) == restart
    # Once running, the next fire time is the normal one.
    assert _trigger(last_success).get_next_fire_time(restart, restart) == datetime(2026, 11, 30, 7, 0, tzinfo=PARIS_TZ)


def test_the_scheduler_process_registers_the_rebuild_with_catch_up(app, session):
    with app.app_context():
        built = scheduler.build_scheduler(app, BackgroundScheduler(timezone=PARIS_TZ))
    job = built.get_job("cartography-rebuild")
    assert job is not None and job.coalesce and job.max_instances == 1 and job.misfire_grace_time == 6 * 3600
    restart = datetime(2026, 11, 24, 9, 30, tzinfo=PARIS_TZ)
    assert job.trigger.get_next_fire_time(None, restart) == restart  # never rebuilt yet
    job.func(*job.args)  # what the scheduler runs: a rebuild through the app's session factory
    with app.app_context():
        with app.extensions["aptic.db"].unit_of_work() as check:
            (run,) = maps_api.cartography_runs(check)
            assert (run.status, run.trigger, run.actor) == (RunStatus.SUCCEEDED, "scheduler", "system:scheduler")
    assert job.trigger.get_next_fire_time(None, datetime.now(PARIS_TZ)) > datetime.now(PARIS_TZ)


def test_a_scheduled_rebuild_runs_once_per_due_time_and_a_failure_gives_it_back(committed_database_url, monkeypatch):
    engine, factory, _ids = _committed_scene(committed_database_url)
    try:
        def broken(context):
            raise RuntimeError("panne simulée")

        monkeypatch.setattr("maps.rebuild.REBUILD_STEPS", [*maps_api.REBUILD_STEPS, ("broken", broken)])
        with pytest.raises(RuntimeError, match="panne simulée"):
            scheduling._scheduled_rebuild(factory)
        monkeypatch.undo()
        scheduling._scheduled_rebuild(factory)  # the failed one was given back: it runs again
        scheduling._scheduled_rebuild(factory)  # a second scheduler process, same due time: skipped
        with unit_of_work(factory) as session:
            statuses = session.scalars(select(CartographyRun.status).order_by(CartographyRun.id)).all()
            assert statuses == [RunStatus.FAILED, RunStatus.SUCCEEDED]
            (claim,) = session.scalars(select(RebuildClaim))
            assert claim.due_at == scheduling.due_rebuild(datetime.now(PARIS_TZ))
            assert claim.due_at.astimezone(PARIS_TZ).strftime("%a %H:%M") == "Mon 07:00"
    finally:
        engine.dispose()
