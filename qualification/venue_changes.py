"""Venue changes after qualification: dequalifications and closures scheduled for the weekly rebuild."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from directory.api import VENUE_STATUS_MACHINE, Actor, record_audit, set_venue_status
from directory.db import utcnow
from directory.errors import DomainError, InvalidInput
from directory.models import Venue, VenueStatus
from qualification.decisions import qualify_by_hand
from qualification.models import PendingVenueChange
from qualification.quotas import clean_reason

# A qualified venue leaves the public map only with the weekly rebuild; a suspension or its end is immediate.
SCHEDULED_STATUSES = (VenueStatus.DEQUALIFIED, VenueStatus.CLOSED)


def change_venue_status(session: Session, actor: Actor, venue: Venue, target: VenueStatus | str,
                        reason: str, *, override: bool = False) -> PendingVenueChange | None:
    """Suspend or restore a venue now, or schedule its dequalification or closure for the next rebuild.

    Qualifying a venue that is not suspended goes through a decision with its quota check
    (`qualify_by_hand`; `override` records a staff override beyond the quota).
    Returns the pending change when the change waits for the rebuild, None when it is applied now.
    """
    target = VENUE_STATUS_MACHINE.parse(target)
    if target in SCHEDULED_STATUSES:
        return schedule_venue_change(session, actor, venue, target, reason)
    if target == VenueStatus.QUALIFIED and venue.status != VenueStatus.SUSPENDED:
        qualify_by_hand(session, actor, venue, reason, override=override)
        return None
    set_venue_status(session, actor, venue, target, reason)
    return None


def schedule_venue_change(session: Session, actor: Actor, venue: Venue, target: VenueStatus | str, reason: str) -> PendingVenueChange:
    """Record a dequalification or a closure, applied by the next weekly rebuild."""
    target = VENUE_STATUS_MACHINE.parse(target)
    if target not in SCHEDULED_STATUSES:
        raise InvalidInput("Seules une déqualification ou une fermeture attendent la reconstruction hebdomadaire.",
                           field="status", code="invalid_status")
    VENUE_STATUS_MACHINE.check(venue, target)
    pending = session.scalar(select(PendingVenueChange).where(
        PendingVenueChange.venue_id == venue.id, PendingVenueChange.applied_at.is_(None)))
    if pending is None:
        pending = PendingVenueChange(venue_id=venue.id)
        session.add(pending)
    pending.target_status, pending.reason, pending.actor, pending.requested_at = target, clean_reason(reason), actor.label, utcnow()
    session.flush()
    record_audit(session, actor, "venue.change_scheduled", "venue", venue.id, target=target.value, reason=pending.reason)
    return pending


def apply_pending_changes(session: Session, actor: Actor) -> dict[str, list[int]]:
    """Apply the dequalifications and closures waiting for this rebuild."""
    applied, ignored = [], []
    now = utcnow()
    pending = session.scalars(
        select(PendingVenueChange).options(selectinload(PendingVenueChange.venue))
        .where(PendingVenueChange.applied_at.is_(None)).order_by(PendingVenueChange.id)
    ).all()
    for change in pending:
        try:
            set_venue_status(session, actor, change.venue, change.target_status, change.reason)
            applied.append(change.venue_id)
        except DomainError:
            ignored.append(change.venue_id)  # the venue moved on since (closed meanwhile…)
        change.applied_at = now
    session.flush()
    return {"applied": applied, "ignored": ignored}
