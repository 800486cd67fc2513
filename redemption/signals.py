"""Suspicious redemptions, explained: signals stored with their rule, figures, explanation and redemptions.

The rules live in `redemption/signal_rules.py`. A signal's `fingerprint` (rule, subject, period) makes
computing again idempotent. Staff mark a signal "justifié" or "à instruire" with a comment, through
`SIGNAL_MACHINE`, audited. A nightly job computes the last two days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from directory.api import Actor, record_audits
from directory.db import ScheduledJob, unit_of_work, utcnow
from directory.errors import InvalidInput, NotFound
from redemption.models import (
    MAX_ID,
    SIGNAL_KIND_LABELS,
    SIGNAL_MACHINE,
    SIGNAL_STATUS_LABELS,
    ScanRefusal,
    Signal,
    SignalKind,
    SignalStatus,
)
from redemption.signal_rules import NIGHTLY_WINDOW, Found, SignalSettings, find_signals

__all__ = ["Found", "SignalSettings", "find_signals"]


@dataclass(frozen=True)
class ComputeResult:
    found: int
    created: int
    updated: int
    start: datetime
    end: datetime


def compute_signals(session: Session, actor: Actor, start: datetime | None = None, end: datetime | None = None,
                    settings: SignalSettings | None = None) -> ComputeResult:
    """Find and store the signals of a period (by default the last two days); an open signal found again is
    updated, a marked one is left as staff marked it."""
    end = end or utcnow()
    start = start or end - NIGHTLY_WINDOW
    if start >= end:
        raise InvalidInput("Le début de la période doit précéder sa fin.", field="since", code="invalid_period")
    found = find_signals(session, start, end, settings)
    existing: dict[str, Signal] = {}
    prints = [f.fingerprint for f in found]
    for offset in range(0, len(prints), 500):
        existing.update((s.fingerprint, s) for s in session.scalars(
            select(Signal).where(Signal.fingerprint.in_(prints[offset:offset + 500]))))
    created, updated = [], 0
    for item in found:
        signal = existing.get(item.fingerprint)
        if signal is None:
            signal = Signal(fingerprint=item.fingerprint, kind=item.kind, status=SignalStatus.OPEN)
            session.add(signal)
            created.append(signal)
        elif signal.status != SignalStatus.OPEN or (signal.figures == item.figures and signal.redemption_ids == item.redemption_ids):
            continue
        else:
            updated += 1
        signal.venue_id, signal.booklet_id, signal.actor = item.venue_id, item.booklet_id, item.actor
        signal.period_start, signal.period_end = item.start, item.end
        signal.rule, signal.explanation = item.rule, item.explanation
        signal.figures, signal.redemption_ids = item.figures, item.redemption_ids
    session.flush()
    record_audits(session, actor, "signal.created", "signal",
                  [(s.id, {"kind": s.kind.value, "fingerprint": s.fingerprint}) for s in created])
    return ComputeResult(found=len(found), created=len(created), updated=updated, start=start, end=end)


def list_signals(session: Session, status: str | None = SignalStatus.OPEN.value, venue_id: int | None = None,
                 kind: str | None = None, limit: int = 500) -> list[Signal]:
    query = select(Signal).options(joinedload(Signal.venue), joinedload(Signal.booklet))
    if status:
        query = query.where(Signal.status == SIGNAL_MACHINE.parse(status))
    if kind:
        try:
            query = query.where(Signal.kind == SignalKind(kind))
        except ValueError:
            raise InvalidInput(f"Le type de signal « {kind} » n'existe pas.", field="kind", code="invalid_kind") from None
    if venue_id is not None:
        query = query.where(Signal.venue_id == venue_id)
    return list(session.scalars(query.order_by(Signal.period_start.desc(), Signal.id.desc()).limit(limit)))


def get_signal(session: Session, signal_id: int) -> Signal:
    signal = session.get(Signal, signal_id) if 0 < signal_id <= MAX_ID else None
    if signal is None:
        raise NotFound(f"Le signal n° {signal_id} n'existe pas.", field="signal", code="unknown_signal")
    return signal


def mark_signal(session: Session, actor: Actor, signal: Signal, status: str, comment: str | None) -> Signal:
    """Staff's reading of a signal: "justifié" or "à instruire", always with a comment (audited)."""
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput("Indiquez un commentaire : ce qui justifie le signal ou ce qu'il faut instruire.",
                           field="comment", code="required")
    if len(comment) > 2000:
        raise InvalidInput("Le commentaire dépasse 2 000 caractères.", field="comment", code="too_long")
    SIGNAL_MACHINE.move(session, actor, signal, status, comment, venue_id=signal.venue_id)
    signal.comment = comment
    session.flush()
    return signal


def record_refusal(session: Session, venue_id: int, actor: Actor, code: str) -> None:
    """A scan refused for a scanner key: counted for the refusal-burst rule."""
    session.add(ScanRefusal(venue_id=venue_id, actor=actor.label, code=code[:60]))
    session.flush()


def signal_payload(signal: Signal) -> dict[str, Any]:
    return {
        "id": signal.id, "kind": signal.kind.value, "kind_label": SIGNAL_KIND_LABELS[signal.kind],
        "status": signal.status.value, "status_label": SIGNAL_STATUS_LABELS[signal.status],
        "venue_id": signal.venue_id, "venue": signal.venue.nom if signal.venue else None,
        "booklet": signal.booklet.number if signal.booklet else None, "actor": signal.actor,
        "period_start": signal.period_start.isoformat(), "period_end": signal.period_end.isoformat(),
        "rule": signal.rule, "explanation": signal.explanation, "figures": signal.figures,
        "redemption_ids": signal.redemption_ids, "comment": signal.comment,
    }


def venue_signal_counts(session: Session, since: datetime) -> dict[int, int]:
    """Signals per venue since a moment, but those found justified: the control plan's weights."""
    return dict(session.execute(
        select(Signal.venue_id, func.count()).where(Signal.venue_id.is_not(None), Signal.period_end >= since,
                                                    Signal.status != SignalStatus.JUSTIFIED)
        .group_by(Signal.venue_id)
    ).all())


def run_nightly(factory: Any) -> None:
    with unit_of_work(factory) as session:
        compute_signals(session, Actor.system("signals"))


SIGNALS_JOB = ScheduledJob(id="redemption.signals", description="Signaux des encaissements suspects (chaque nuit)",
                           run=run_nightly, cron={"hour": 3, "minute": 15})
