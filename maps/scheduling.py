"""The cartography's scheduled jobs: the Monday rebuild, caught up at start when it was missed."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from directory.api import Actor
from directory.db import PARIS_TZ, ScheduledJob, unit_of_work, utcnow
from maps.models import RunStatus
from maps.rebuild import REBUILD_CRON, claim_rebuild, last_successful_rebuild, rebuild_cartography, release_claim

log = logging.getLogger(__name__)

SCHEDULED_JOBS: list[ScheduledJob] = []


class CatchUpCronTrigger(CronTrigger):
    """A cron trigger that, when the scheduler starts, fires at once if the last scheduled time was missed.

    APScheduler keeps its jobs in memory: after downtime it only knows the next time. This trigger
    asks the run history instead (`last_success()`), so a Monday 07:00 missed while the server was
    down runs at the next start.
    """

    def __init__(self, last_success: Callable[[], datetime | None], **fields: Any) -> None:
        super().__init__(**fields)
        self._last_success = last_success

    def previous_fire_time(self, now: datetime) -> datetime | None:
        fire = super().get_next_fire_time(None, now - timedelta(days=31))
        previous = None
        while fire is not None and fire <= now:
            previous = fire
            fire = super().get_next_fire_time(None, fire + timedelta(seconds=1))
        return previous

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        if previous_fire_time is None:
            missed = self.previous_fire_time(now)
            last = self._last_success()
            if missed is not None and (last is None or last < missed):
                return now
        return super().get_next_fire_time(previous_fire_time, now)


@dataclass(frozen=True)
class CatchUpJob(ScheduledJob):
    """A scheduled job whose missed run, told by `last_success`, runs when the scheduler starts."""

    last_success: Callable[[sessionmaker[Session]], datetime | None] | None = None

    def trigger(self) -> Any:
        from flask import current_app, has_app_context

        if self.last_success is None or not has_app_context():
            return super().trigger()
        factory = current_app.extensions["aptic.db"].sessionmaker
        last_success = self.last_success

        def lookup() -> datetime | None:
            with unit_of_work(factory) as session:
                return last_success(session)

        return CatchUpCronTrigger(lookup, timezone=PARIS_TZ, **self.cron)


def due_rebuild(now: datetime) -> datetime | None:
    """The Monday 07:00 (Paris) a rebuild started at `now` serves: the latest one not after `now`."""
    return CatchUpCronTrigger(lambda: None, timezone=PARIS_TZ, **REBUILD_CRON).previous_fire_time(now.astimezone(PARIS_TZ))


def _scheduled_rebuild(factory: sessionmaker[Session]) -> None:
    due_at = due_rebuild(utcnow())
    if due_at is not None and not claim_rebuild(factory, due_at, f"{socket.gethostname()}:{os.getpid()}"):
        log.info("rebuild due at %s already taken by another scheduler process: skipped", due_at.isoformat())
        return
    run = rebuild_cartography(factory, Actor.system("scheduler"), trigger="scheduler")
    if run.status == RunStatus.FAILED:
        if due_at is not None:
            release_claim(factory, due_at)
        raise RuntimeError(f"Reconstruction de la cartographie échouée : {run.error}")


SCHEDULED_JOBS.append(CatchUpJob(
    id="cartography-rebuild",
    description="Reconstruction hebdomadaire de la cartographie publique (lundi 7 h)",
    run=_scheduled_rebuild,
    cron=REBUILD_CRON,
    last_success=last_successful_rebuild,
))
