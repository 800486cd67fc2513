"""The weekly rebuild of the public cartography: its steps, its lock and its run records."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, not_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from directory.api import Actor
from directory.db import try_transaction_lock, unit_of_work, utcnow
from directory.models import Venue, VenueStatus
from maps.coverage import refresh_coverage
from maps.models import CartographyRun, RebuildClaim, RunStatus
from qualification import api as qualification_api

rebuild_log = logging.getLogger("maps.rebuild")
REBUILD_LOCK = "aptic:cartography-rebuild"
REBUILD_CRON = {"day_of_week": "mon", "hour": 7, "minute": 0}


@dataclass
class RebuildContext:
    """What each step of a rebuild gets: the one session of the switch, the actor, the report to fill."""

    session: Session
    actor: Actor
    report: dict[str, Any]


def _step_pending_changes(context: RebuildContext) -> None:
    context.report["changes"] = qualification_api.apply_pending_changes(context.session, context.actor)


def _step_quotas(context: RebuildContext) -> None:
    result = qualification_api.enforce_quotas(context.session, context.actor)
    context.report["promoted"] = result["promoted"]
    context.report["flagged"] = [
        {key: item[key] for key in ("level", "code", "name", "population", "qualified", "quota")}
        for item in result["flagged"]
    ]
    context.report["inconsistent"] = result["inconsistent"]


def publishable() -> Any:
    """The venues the public cartography shows: qualified and located (closed ones are never qualified)."""
    return and_(Venue.status == VenueStatus.QUALIFIED, Venue.location.is_not(None))


def _step_publish(context: RebuildContext) -> None:
    session = context.session
    added = list(session.scalars(select(Venue.id).where(publishable(), not_(Venue.published)).order_by(Venue.id)))
    removed = list(session.scalars(select(Venue.id).where(Venue.published, not_(publishable())).order_by(Venue.id)))
    # updated_at stays: publishing is not an edit of the venue.
    session.execute(update(Venue).where(publishable(), not_(Venue.published))
                    .values(published=True, updated_at=Venue.updated_at), execution_options={"synchronize_session": False})
    session.execute(update(Venue).where(Venue.published, not_(publishable()))
                    .values(published=False, updated_at=Venue.updated_at), execution_options={"synchronize_session": False})
    session.expire_all()
    context.report["added"], context.report["removed"] = added, removed
    context.report["published"] = session.scalar(select(func.count()).select_from(Venue).where(Venue.published))


# The steps of a rebuild, in order, all in the transaction that switches the cartography.
REBUILD_STEPS: list[tuple[str, Callable[[RebuildContext], None]]] = [
    ("pending_changes", _step_pending_changes),
    ("quotas", _step_quotas),
    ("publish", _step_publish),
    ("coverage", lambda context: context.report.update(coverage=refresh_coverage(context.session))),
]


def rebuild_cartography(
    target: sessionmaker[Session] | Session,
    actor: Actor | None = None,
    trigger: str = "cli",
    observe: Callable[[str], Any] | None = None,
) -> CartographyRun:
    """Rebuild the public cartography and switch to it at once, with its run report.

    With a session factory, the rebuild owns its unit of work: the steps and the run report commit
    together, so readers see the old cartography or the new one; on failure everything rolls back and
    a failed run is recorded apart. With a session (tests, callers owning the unit of work), the steps
    run in a savepoint. One rebuild at a time across processes: a database lock; a rebuild that had
    to wait for another one that finished after it was asked is skipped, the work being done.
    `observe(step_name)` may return a context manager wrapped around each step (benchmarks).
    """
    actor = actor or Actor.system("cartography-rebuild")
    asked_at = utcnow()
    if isinstance(target, Session):
        return _rebuild_in(target, actor, trigger, asked_at, observe, nested=True)
    try:
        with unit_of_work(target) as session:
            return _rebuild_in(session, actor, trigger, asked_at, observe, nested=False)
    except _Skipped as skipped:
        with unit_of_work(target) as session:
            return _record_run(session, actor, trigger, asked_at, RunStatus.SKIPPED, {}, error=str(skipped))
    except Exception as error:
        rebuild_log.exception("cartography rebuild failed; the previous cartography stays published")
        with unit_of_work(target) as session:
            return _record_run(session, actor, trigger, asked_at, RunStatus.FAILED, {}, error=_describe(error))


class _Skipped(Exception):
    pass


def _describe(error: BaseException) -> str:
    return "".join(traceback.format_exception_only(error)).strip()[:2_000]


def _rebuild_in(session: Session, actor: Actor, trigger: str, asked_at: datetime,
                observe: Callable[[str], Any] | None, nested: bool) -> CartographyRun:
    if not try_transaction_lock(session, REBUILD_LOCK):
        if nested:
            return _record_run(session, actor, trigger, asked_at, RunStatus.SKIPPED, {},
                               error="Une autre reconstruction est en cours.")
        raise _Skipped("Une autre reconstruction est en cours.")
    done_meanwhile = session.scalar(
        select(CartographyRun.id).where(CartographyRun.status == RunStatus.SUCCEEDED, CartographyRun.finished_at >= asked_at)
    )
    if done_meanwhile is not None:
        message = f"La reconstruction n° {done_meanwhile}, terminée pendant l'attente, a déjà fait le travail."
        if nested:
            return _record_run(session, actor, trigger, asked_at, RunStatus.SKIPPED, {}, error=message)
        raise _Skipped(message)
    report: dict[str, Any] = {"steps": []}
    context = RebuildContext(session, actor, report)
    if nested:
        try:
            with session.begin_nested():
                _run_steps(context, observe)
        except Exception as error:
            rebuild_log.exception("cartography rebuild failed; the previous cartography stays published")
            return _record_run(session, actor, trigger, asked_at, RunStatus.FAILED, {}, error=_describe(error))
    else:
        _run_steps(context, observe)
    return _record_run(session, actor, trigger, asked_at, RunStatus.SUCCEEDED, report)


def _run_steps(context: RebuildContext, observe: Callable[[str], Any] | None) -> None:
    for name, step in REBUILD_STEPS:
        started = time.perf_counter()
        if observe is not None:
            with observe(name):
                step(context)
        else:
            step(context)
        seconds = time.perf_counter() - started
        context.report["steps"].append({"name": name, "seconds": round(seconds, 3)})
        rebuild_log.info("cartography rebuild: step %s done in %.2f s", name, seconds)


def _record_run(session: Session, actor: Actor, trigger: str, started_at: datetime, status: RunStatus,
                report: dict[str, Any], error: str | None = None) -> CartographyRun:
    finished_at = utcnow()
    run = CartographyRun(
        status=status, trigger=trigger, actor=actor.label, started_at=started_at, finished_at=finished_at,
        seconds=(finished_at - started_at).total_seconds(), published=report.get("published", 0),
        added=len(report.get("added", [])), removed=len(report.get("removed", [])),
        promoted=len(report.get("promoted", [])), flagged=len(report.get("flagged", [])),
        report=report, error=error,
    )
    session.add(run)
    session.flush()
    rebuild_log.info(
        "cartography rebuild %s: %s published, +%s, -%s, %s promoted, %s territories over quota, %.1f s",
        status.value, run.published, run.added, run.removed, run.promoted, run.flagged, run.seconds,
    )
    return run


def cartography_runs(session: Session, limit: int = 50) -> list[CartographyRun]:
    return list(session.scalars(select(CartographyRun).order_by(CartographyRun.id.desc()).limit(limit)))


def last_successful_rebuild(session: Session) -> datetime | None:
    return session.scalar(select(func.max(CartographyRun.started_at)).where(CartographyRun.status == RunStatus.SUCCEEDED))


def claim_rebuild(factory: sessionmaker[Session], due_at: datetime, claimed_by: str) -> bool:
    """Take the scheduled rebuild due at `due_at`; False when another scheduler process already has.

    The claim commits before the rebuild starts, so a second scheduler (started by mistake) sees it
    at once and skips instead of rebuilding again after the first one finished.
    """
    try:
        with unit_of_work(factory) as session:
            session.add(RebuildClaim(due_at=due_at, claimed_by=claimed_by[:200]))
    except IntegrityError:
        return False
    return True


def release_claim(factory: sessionmaker[Session], due_at: datetime) -> None:
    """Give a failed scheduled rebuild back, so that the next scheduler start catches it up."""
    with unit_of_work(factory) as session:
        session.execute(delete(RebuildClaim).where(RebuildClaim.due_at == due_at))
