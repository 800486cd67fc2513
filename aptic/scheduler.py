"""`aptic scheduler`: the one process that runs the platform's periodic jobs.

Domain packages declare their jobs in their `api.py` as `SCHEDULED_JOBS`, a list of
`ScheduledJob`; this module collects them and runs them with APScheduler in Europe/Paris time.
Run exactly one scheduler process per database.
"""

from __future__ import annotations

import logging

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import with_appcontext

from aptic import optional_module
from aptic.schema import DOMAIN_PACKAGES
from directory.db import PARIS_TZ, ScheduledJob

log = logging.getLogger(__name__)


def collect_jobs() -> list[ScheduledJob]:
    jobs: list[ScheduledJob] = []
    for package in DOMAIN_PACKAGES:
        jobs += getattr(optional_module(f"{package}.api"), "SCHEDULED_JOBS", [])
    return jobs


def build_scheduler(app: Flask, scheduler: BlockingScheduler | None = None) -> BlockingScheduler:
    scheduler = scheduler or BlockingScheduler(timezone=PARIS_TZ)
    for job in collect_jobs():
        scheduler.add_job(
            _run_in_app, trigger=job.trigger(), args=(app, job), id=job.id, name=job.description,
            misfire_grace_time=job.misfire_grace_seconds, coalesce=True, max_instances=1, replace_existing=True,
        )
    return scheduler


def _run_in_app(app: Flask, job: ScheduledJob) -> None:
    with app.app_context():
        log.info("job %s started", job.id)
        job.run(app.extensions["aptic.db"].sessionmaker)
        log.info("job %s finished", job.id)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Lance le planificateur (reconstruction hebdomadaire, relevés mensuels…)."""
    scheduler = build_scheduler(current_app._get_current_object())
    jobs = scheduler.get_jobs()
    if not jobs:
        click.echo("Aucune tâche planifiée déclarée.")
    for job in jobs:
        click.echo(f"Tâche « {job.name} » ({job.id}) : {job.trigger}")
    scheduler.start()


commands = [scheduler_command]
