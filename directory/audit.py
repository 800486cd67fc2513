"""The append-only audit log: who did what to which record, one event or many at once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from directory.db import utcnow
from directory.models import AuditEvent, User

BULK_BATCH = 5_000


@dataclass(frozen=True)
class Actor:
    """Who does something: a signed-in user, an API key, a command or the scheduler."""

    label: str
    user_id: int | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(label=f"system:{name}")

    @classmethod
    def of_user(cls, user: User) -> Actor:
        return cls(label=f"user:{user.email}", user_id=user.id)


def record_audit(
    session: Session, actor: Actor, action: str, target_type: str, target_id: Any, **data: Any
) -> AuditEvent:
    event = AuditEvent(
        actor=actor.label,
        actor_user_id=actor.user_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        data=jsonable(data),
    )
    session.add(event)
    session.flush()
    return event


def record_audits(
    session: Session, actor: Actor, action: str, target_type: str,
    events: Iterable[tuple[Any, dict[str, Any]] | tuple[Any, dict[str, Any], datetime]], *, at: datetime | None = None,
) -> int:
    """The same action on many records at once (imports, issues, statements).

    `events` holds (target id, data) pairs, or (target id, data, moment) for back-dated records
    (demo data); `at` is the moment of them all, now by default. One multi-row INSERT per batch
    instead of an ORM object per event; returns how many were written.
    """
    default_at = at or utcnow()
    rows = [
        {"at": event[2] if len(event) > 2 else default_at, "actor": actor.label, "actor_user_id": actor.user_id,
         "action": action, "target_type": target_type, "target_id": str(event[0]), "data": jsonable(event[1])}
        for event in events
    ]
    for start in range(0, len(rows), BULK_BATCH):
        # The table, not the mapped class: a plain multi-row insert, without the ORM's bulk steps.
        session.execute(insert(AuditEvent.__table__), rows[start : start + BULK_BATCH])
    return len(rows)


def audit_trail(session: Session, target_type: str, target_id: Any) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_type == target_type, AuditEvent.target_id == str(target_id))
            .order_by(AuditEvent.id)
        )
    )


def jsonable(value: Any) -> Any:
    """A value the JSON column can hold: enums by value, dates in ISO 8601."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return value.value
    return value
