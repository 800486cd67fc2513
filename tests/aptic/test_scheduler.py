"""The scheduler process runs the jobs packages declare, in Europe/Paris time."""

from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

from aptic import create_app, scheduler
from directory.db import ScheduledJob

PARIS = ZoneInfo("Europe/Paris")


def test_a_cron_job_fires_at_paris_wall_clock_time_across_daylight_saving():
    job = ScheduledJob("weekly", "Chaque lundi", run=lambda factory: None,
                       cron={"day_of_week": "mon", "hour": 7, "minute": 0})
    trigger = job.trigger()
    # Sunday 29 March 2026 is the switch to summer time: 07:00 Paris is 05:00 UTC the next day.
    fire = trigger.get_next_fire_time(None, datetime(2026, 3, 28, 12, 0, tzinfo=PARIS))
    assert fire == datetime(2026, 3, 30, 7, 0, tzinfo=PARIS)
    assert fire.utcoffset().total_seconds() == 2 * 3600
    winter = trigger.get_next_fire_time(None, datetime(2026, 11, 23, 7, 0, 1, tzinfo=PARIS))
    assert winter == datetime(2026, 11, 30, 7, 0, tzinfo=PARIS)


def test_declared_jobs_are_registered_once_with_misfire_handling(monkeypatch, tmp_path):
    ran = []
    job = ScheduledJob("probe", "Sonde", run=lambda factory: ran.append(factory), cron={"minute": "*/5"},
                       misfire_grace_seconds=3600)
    monkeypatch.setattr(scheduler, "collect_jobs", lambda: [job])
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "TESTING": True})
    built = scheduler.build_scheduler(app, BackgroundScheduler(timezone=PARIS))
    (registered,) = built.get_jobs()
    assert (registered.id, registered.name) == ("probe", "Sonde")
    assert registered.misfire_grace_time == 3600 and registered.coalesce and registered.max_instances == 1
    registered.func(*registered.args)
    assert ran == [app.extensions["aptic.db"].sessionmaker]
