"""Quota policy: the national rule (territory level, inhabitants per venue) and per-territory overrides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api import Actor, record_audit
from directory.db import utcnow
from directory.errors import InvalidInput, NotFound
from directory.models import Territory, TerritoryLevel
from qualification.models import QuotaOverride, QuotaPolicy


DEFAULT_LEVEL = TerritoryLevel.EPCI.value
DEFAULT_RATIO = 15_000
QUOTA_LEVELS = ("region", "departement", "epci", "commune")


@dataclass(frozen=True)
class Policy:
    level: str
    ratio: int
    reason: str | None = None
    set_at: datetime | None = None


def compute_quota(population: int, ratio: int) -> int:
    """At least one qualified venue per territory, one more per `ratio` inhabitants."""
    return max(1, population // ratio)


def current_policy(session: Session) -> Policy:
    row = session.scalar(select(QuotaPolicy).order_by(QuotaPolicy.id.desc()).limit(1))
    if row is None:
        return Policy(DEFAULT_LEVEL, DEFAULT_RATIO)
    return Policy(row.level, row.ratio, row.reason, row.created_at)


def clean_level(level: str) -> str:
    if level not in QUOTA_LEVELS:
        raise InvalidInput(
            f"Le niveau « {level} » n'existe pas (valeurs possibles : {', '.join(QUOTA_LEVELS)}).",
            field="level", code="invalid_territory_level",
        )
    return level


def _clean_positive(value: Any, field_name: str, label: str, minimum: int = 1) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum or str(value).strip() != str(number):
        raise InvalidInput(f"{label} doit être un nombre entier supérieur ou égal à {minimum}.", field=field_name,
                           code="invalid_number")
    return number


def clean_reason(reason: str) -> str:
    if not (reason or "").strip():
        raise InvalidInput("Indiquez le motif de la modification.", field="reason", code="required")
    return reason.strip()


def set_policy(session: Session, actor: Actor, *, level: str, ratio: Any, reason: str) -> Policy:
    row = QuotaPolicy(level=clean_level(level), ratio=_clean_positive(ratio, "ratio", "Le ratio"),
                      reason=clean_reason(reason), actor=actor.label)
    session.add(row)
    session.flush()
    record_audit(session, actor, "quota.policy_set", "quota_policy", row.id, level=row.level, ratio=row.ratio,
                 reason=row.reason)
    return current_policy(session)


def set_override(session: Session, actor: Actor, *, level: str, code: str, reason: str, ratio: Any = None,
                 quota: Any = None) -> QuotaOverride:
    """Set by hand the ratio or the quota of one territory (a quota wins over a ratio)."""
    level = clean_level(level)
    territory = find_territory(session, level, code)
    ratio = _clean_positive(ratio, "ratio", "Le ratio") if ratio not in (None, "") else None
    quota = _clean_positive(quota, "quota", "Le quota") if quota not in (None, "") else None
    if ratio is None and quota is None:
        raise InvalidInput("Indiquez un ratio ou un quota.", field="quota", code="required")
    reason = clean_reason(reason)
    row = session.scalar(select(QuotaOverride).where(QuotaOverride.level == level, QuotaOverride.code == territory.code))
    if row is None:
        row = QuotaOverride(level=level, code=territory.code)
        session.add(row)
    row.ratio, row.quota, row.reason, row.actor, row.updated_at = ratio, quota, reason, actor.label, utcnow()
    session.flush()
    record_audit(session, actor, "quota.override_set", "territory", f"{level}:{territory.code}",
                 ratio=ratio, quota=quota, reason=row.reason)
    return row


def clear_override(session: Session, actor: Actor, *, level: str, code: str, reason: str) -> None:
    reason = clean_reason(reason)
    row = session.scalar(select(QuotaOverride).where(QuotaOverride.level == level, QuotaOverride.code == code))
    if row is None:
        raise NotFound("Ce territoire n'a pas de quota fixé à la main.", field="code", code="no_override")
    session.delete(row)
    session.flush()
    record_audit(session, actor, "quota.override_cleared", "territory", f"{level}:{code}", reason=reason)


def find_territory(session: Session, level: str, code: str) -> Territory:
    territory = session.scalar(select(Territory).where(Territory.level == level, Territory.code == (code or "").strip().upper()))
    if territory is None:
        raise NotFound(f"Aucun territoire de niveau « {level} » n'a le code « {code} ».", field="code",
                       code="unknown_territory")
    return territory


@dataclass(frozen=True)
class OverrideRow:
    level: str
    code: str
    name: str
    ratio: int | None
    quota: int | None
    reason: str
    actor: str
    updated_at: datetime | None


def list_overrides(session: Session) -> list[OverrideRow]:
    """Every territory whose quota or ratio was set by hand, with its name, by level then code."""
    rows = session.execute(
        select(QuotaOverride, Territory.name)
        .join(Territory, (Territory.level == QuotaOverride.level) & (Territory.code == QuotaOverride.code), isouter=True)
        .order_by(QuotaOverride.level, QuotaOverride.code)
    ).all()
    return [OverrideRow(o.level, o.code, name or o.code, o.ratio, o.quota, o.reason, o.actor, o.updated_at)
            for o, name in rows]
