"""The control plan: each month a sample of qualified venues, weighted by their signals, is proposed for a
control (documents re-checked, a visit); its outcome is recorded, and a failed control may suspend the venue
through the directory's audited status path.

The sample is a weighted draw without replacement (Efraimidis–Spirakis keys u^(1/w)), seeded by the month:
proposing the same month again gives the same venues. A venue's weight is 1 plus its signals of the three
months before (those found justified do not count).
"""

from __future__ import annotations

import os
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from directory import api as directory_api
from directory.api import Actor, record_audits
from directory.db import PARIS_TZ, utcnow
from directory.errors import InvalidInput, NotFound
from directory.models import Venue, VenueStatus
from redemption.models import CONTROL_MACHINE, CONTROL_STATUS_LABELS, MAX_ID, Control, ControlStatus
from redemption.signals import venue_signal_counts

DEFAULT_SAMPLE_SIZE = 5
SIGNAL_LOOKBACK = timedelta(days=92)


def sample_size() -> int:
    return int(os.environ.get("APTIC_CONTROL_SAMPLE_SIZE") or DEFAULT_SAMPLE_SIZE)


def _month_start(month: date) -> datetime:
    return datetime.combine(month.replace(day=1), time(), PARIS_TZ).astimezone(UTC)


def month_controls(session: Session, month: date) -> list[Control]:
    return list(session.scalars(
        select(Control).options(joinedload(Control.venue)).where(Control.month == month.replace(day=1))
        .order_by(Control.weight.desc(), Control.id)
    ))


def propose_controls(session: Session, actor: Actor, month: date, size: int | None = None) -> list[Control]:
    """The month's sample of qualified venues (kept if already proposed), heaviest signals most likely."""
    month = month.replace(day=1)
    existing = month_controls(session, month)
    if existing:
        return existing
    size = sample_size() if size is None else size
    if size < 1:
        raise InvalidInput("La taille de l'échantillon doit être d'au moins 1 lieu.", field="size", code="invalid_size")
    venues = list(session.scalars(select(Venue.id).where(Venue.status == VenueStatus.QUALIFIED).order_by(Venue.id)))
    counts = venue_signal_counts(session, _month_start(month) - SIGNAL_LOOKBACK)
    rng = random.Random(f"aptic-controls-{month:%Y-%m}")
    keyed = sorted(venues, key=lambda venue_id: rng.random() ** (1 / (1 + counts.get(venue_id, 0))), reverse=True)
    controls = [Control(venue_id=venue_id, month=month, weight=1 + counts.get(venue_id, 0),
                        signal_count=counts.get(venue_id, 0)) for venue_id in keyed[:size]]
    session.add_all(controls)
    session.flush()
    record_audits(session, actor, "control.proposed", "control", [
        (c.id, {"venue_id": c.venue_id, "month": month, "weight": c.weight}) for c in controls])
    return month_controls(session, month)


def get_control(session: Session, control_id: int) -> Control:
    control = session.get(Control, control_id) if 0 < control_id <= MAX_ID else None
    if control is None:
        raise NotFound(f"Le contrôle n° {control_id} n'existe pas.", field="control", code="unknown_control")
    return control


def record_outcome(session: Session, actor: Actor, control: Control, result: str, *, documents_checked: bool,
                   visited: bool, comment: str | None, suspend: bool = False) -> Control:
    """What the control found: conforme, non conforme (then, if asked, the venue is suspended) or abandonné."""
    comment = (comment or "").strip()
    target = CONTROL_MACHINE.check(control, result)
    if not comment:
        raise InvalidInput("Indiquez le compte rendu du contrôle.", field="comment", code="required")
    if target != ControlStatus.WAIVED and not (documents_checked or visited):
        raise InvalidInput("Un contrôle revoit les pièces du dossier ou visite le lieu : cochez ce qui a été fait.",
                           field="documents_checked", code="required")
    if suspend and target != ControlStatus.FAILED:
        raise InvalidInput("Seul un contrôle non conforme peut conduire à suspendre le lieu.", field="suspend",
                           code="suspension_needs_failure")
    control.documents_checked, control.visited, control.comment = documents_checked, visited, comment[:2000]
    control.outcome_at = utcnow()
    CONTROL_MACHINE.move(session, actor, control, target, comment, venue_id=control.venue_id,
                         documents_checked=documents_checked, visited=visited, suspend=suspend)
    if suspend:
        directory_api.set_venue_status(session, actor, control.venue, VenueStatus.SUSPENDED,
                                       f"Contrôle n° {control.id} non conforme : {comment}", control_id=control.id)
        control.venue_suspended = True
        session.flush()
    return control


def venue_controls(session: Session, venue_id: int) -> list[Control]:
    return list(session.scalars(select(Control).where(Control.venue_id == venue_id).order_by(Control.month.desc())))


def control_payload(control: Control) -> dict[str, Any]:
    return {
        "id": control.id, "venue_id": control.venue_id, "venue": control.venue.nom, "month": control.month.isoformat(),
        "weight": control.weight, "signals": control.signal_count, "status": control.status.value,
        "status_label": CONTROL_STATUS_LABELS[control.status], "documents_checked": control.documents_checked,
        "visited": control.visited, "comment": control.comment, "venue_suspended": control.venue_suspended,
    }
