"""Calls for projects of a co-funder (the State by default): created and closed by APTIC staff."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory import french
from directory.api import Actor, record_audit
from directory.db import utcnow
from directory.errors import InvalidInput, NotFound
from redemption.cofunding_models import (
    CALL_MACHINE,
    CALL_STATUS_LABELS,
    DEFAULT_ELIGIBLE_KINDS,
    DEFAULT_FUNDER,
    DEFAULT_SECTIONS,
    DEFAULT_SHARE_BP,
    AuthorityKind,
    CallStatus,
    CofundingCall,
    FileSection,
)
from redemption.models import MAX_ID
from redemption.months import paris_date

MAX_ENVELOPE_CENTS = 10**12  # ten billion euros: anything above is a typing mistake


def _choices(values: Any, allowed: type, field: str, label: str, default: list[str]) -> list[str]:
    if values is None:
        return list(default)
    if isinstance(values, str):
        values = [part for part in values.split(",") if part.strip()]
    chosen: list[str] = []
    for value in values or []:
        try:
            item = allowed(str(value).strip()).value
        except ValueError:
            known = ", ".join(member.value for member in allowed)
            raise InvalidInput(f"{label} « {value} » n'existe pas (valeurs possibles : {known}).", field=field,
                               code="invalid_choice") from None
        if item not in chosen:
            chosen.append(item)
    if not chosen:
        raise InvalidInput(f"Indiquez au moins une valeur pour « {field} ».", field=field, code="required")
    return chosen


def create_call(session: Session, actor: Actor, *, name: str, envelope_cents: int, opens_on: date, closes_on: date,
                funder: str | None = None, share_bp: int = DEFAULT_SHARE_BP, eligible_kinds: Any = None,
                required_sections: Any = None) -> CofundingCall:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("Le nom de l'appel à projets est obligatoire (200 caractères au plus).", field="name",
                           code="required")
    funder = (funder or "").strip() or DEFAULT_FUNDER
    if isinstance(share_bp, bool) or not isinstance(share_bp, int) or not 1 <= share_bp <= 10_000:
        raise InvalidInput("La part du financeur est en points de base, entre 1 et 10 000 (50 % = 5 000).",
                           field="share_bp", code="invalid_share")
    if isinstance(envelope_cents, bool) or not isinstance(envelope_cents, int) or not 0 < envelope_cents <= MAX_ENVELOPE_CENTS:
        raise InvalidInput("L'enveloppe est un montant positif en centimes (15 M€ = 1 500 000 000).",
                           field="envelope_cents", code="invalid_envelope")
    if not isinstance(opens_on, date) or not isinstance(closes_on, date) or closes_on < opens_on:
        raise InvalidInput("La date de clôture doit suivre la date d'ouverture.", field="closes_on",
                           code="invalid_period")
    call = CofundingCall(
        name=name, funder=funder[:200], share_bp=share_bp, envelope_cents=envelope_cents, committed_cents=0,
        opens_on=opens_on, closes_on=closes_on,
        eligible_kinds=_choices(eligible_kinds, AuthorityKind, "eligible_kinds", "Le type de candidat",
                                DEFAULT_ELIGIBLE_KINDS),
        required_sections=_choices(required_sections, FileSection, "required_sections", "La rubrique",
                                   DEFAULT_SECTIONS),
    )
    session.add(call)
    session.flush()
    record_audit(session, actor, "cofunding_call.created", "cofunding_call", call.id, **call_summary(call))
    return call


def close_call(session: Session, actor: Actor, call: CofundingCall) -> CofundingCall:
    """No application may be submitted any more; those already submitted are still decided."""
    CALL_MACHINE.move(session, actor, call, CallStatus.CLOSED)
    return call


def get_call(session: Session, call_id: int) -> CofundingCall:
    call = session.get(CofundingCall, call_id) if isinstance(call_id, int) and 0 < call_id <= MAX_ID else None
    if call is None:
        raise NotFound(f"L'appel à projets n° {call_id} n'existe pas.", field="call", code="unknown_call")
    return call


def list_calls(session: Session) -> list[CofundingCall]:
    return list(session.scalars(select(CofundingCall).order_by(CofundingCall.opens_on.desc(), CofundingCall.id.desc())))


def accepts_applications(call: CofundingCall, today: date | None = None) -> bool:
    today = today or paris_date(utcnow())
    return call.status == CallStatus.OPEN and call.opens_on <= today <= call.closes_on


def call_summary(call: CofundingCall) -> dict[str, Any]:
    return {
        "id": call.id, "name": call.name, "funder": call.funder, "share_bp": call.share_bp,
        "envelope_cents": call.envelope_cents, "committed_cents": call.committed_cents,
        "remaining_cents": call.remaining_cents, "opens_on": call.opens_on.isoformat(),
        "closes_on": call.closes_on.isoformat(), "eligible_kinds": list(call.eligible_kinds),
        "required_sections": list(call.required_sections), "status": call.status.value,
    }


def call_sentence(call: CofundingCall) -> str:
    """« État : 50 % des chèques commandés, enveloppe de 15 000 000,00 €, du … au … (ouvert) »."""
    return (f"{call.funder} : {french.percent(call.share_bp / 10_000, 0 if call.share_bp % 100 == 0 else 2)} des chèques commandés, enveloppe de "
            f"{french.euros(call.envelope_cents)}, du {call.opens_on:%d/%m/%Y} au {call.closes_on:%d/%m/%Y} "
            f"({CALL_STATUS_LABELS[call.status]})")
