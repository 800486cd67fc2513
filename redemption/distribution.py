"""Distribution: an allowed distributor hands a booklet to a person known by a keyed pseudonym only.

One booklet per person per vintage, across all orders and distributors: `beneficiary_claim` holds
(vintage, pseudonym) under a unique constraint, so two distributors serving the same person at the
same moment cannot both succeed. A distributor may undo its own distribution within 24 hours while no
cheque of the booklet is used; the undo frees the pseudonym.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from directory import french
from directory.api import Actor, record_audit
from directory.db import utcnow
from directory.errors import Conflict, Forbidden, InvalidTransition
from directory.models import Organisation
from redemption.allowances import check_allowed
from redemption.beneficiaries import Beneficiary
from redemption.errors import BeneficiaryAlreadyServed
from redemption.models import MAX_ID, BeneficiaryClaim, Booklet, Cheque, ChequeStatus, Order, OrderStatus
from redemption.months import paris_date

UNDO_WINDOW = timedelta(hours=24)
HISTORY_LIMIT = 200


def _already_served(claim: BeneficiaryClaim, vintage: int) -> BeneficiaryAlreadyServed:
    return BeneficiaryAlreadyServed(
        f"Cette personne a déjà reçu un carnet du millésime {vintage} : il lui a été remis par "
        f"« {claim.distributor.name} » le {french.short_date(paris_date(claim.created_at))}. "
        "Une personne ne reçoit qu'un carnet par millésime.", field="nom")


def _claim_of(session: Session, vintage: int, pseudonym: str) -> BeneficiaryClaim | None:
    return session.scalar(select(BeneficiaryClaim).options(joinedload(BeneficiaryClaim.distributor))
                          .where(BeneficiaryClaim.vintage == vintage, BeneficiaryClaim.pseudonym == pseudonym))


def record_distribution(
    session: Session, actor: Actor, distributor: Organisation, booklet: Booklet, beneficiary: Beneficiary,
    key: bytes, now: datetime | None = None,
) -> Booklet:
    """An allowed distributor gave this booklet to this person (whose identity is not kept)."""
    now = now or utcnow()
    if not distributor.is_distributor:
        raise Forbidden(f"L'organisation « {distributor.name} » n'est pas aiguilleur.", field="distributor",
                        code="not_a_distributor")
    order = booklet.order
    if order.status != OrderStatus.ISSUED:
        raise InvalidTransition("Seul un carnet d'une commande émise peut être distribué.", field="booklet")
    check_allowed(session, distributor, booklet)
    if booklet.distributed_at is not None:
        raise Conflict(f"Le carnet n° {booklet.number} a déjà été distribué.", field="booklet", code="already_distributed")
    pseudonym = beneficiary.pseudonym(key)
    served = _claim_of(session, order.vintage, pseudonym)
    if served is not None:
        raise _already_served(served, order.vintage)
    # Take the booklet (a row lock on PostgreSQL until commit), then the person's place in the vintage.
    taken = session.execute(
        update(Booklet).where(Booklet.id == booklet.id, Booklet.distributed_at.is_(None))
        .values(distributor_id=distributor.id, beneficiary_ref=pseudonym, distributed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        raise Conflict(f"Le carnet n° {booklet.number} vient d'être distribué.", field="booklet",
                       code="already_distributed")
    try:
        with session.begin_nested():
            session.add(BeneficiaryClaim(booklet_id=booklet.id, vintage=order.vintage, pseudonym=pseudonym,
                                         distributor_id=distributor.id, created_at=now))
    except IntegrityError:
        served = _claim_of(session, order.vintage, pseudonym)  # the other distribution, committed first
        if served is None:
            raise Conflict(f"Le carnet n° {booklet.number} vient d'être distribué.", field="booklet",
                           code="already_distributed") from None
        raise _already_served(served, order.vintage) from None
    session.refresh(booklet)
    record_audit(session, actor, "booklet.distributed", "booklet", booklet.id, number=booklet.number,
                 distributor_id=distributor.id, order_id=order.id)
    return booklet


def undo_refusal(booklet: Booklet, distributor: Organisation, used: bool, now: datetime) -> Conflict | Forbidden | None:
    """Why this distributor may not undo this distribution now, or None when it may."""
    if booklet.distributed_at is None:
        return Conflict(f"Le carnet n° {booklet.number} n'a pas été distribué.", field="booklet",
                        code="booklet_not_distributed")
    if booklet.distributor_id != distributor.id:
        return Forbidden(f"Le carnet n° {booklet.number} a été remis par une autre organisation : seule celle-ci "
                         "peut annuler sa remise.", field="booklet", code="not_your_distribution")
    if now - booklet.distributed_at > UNDO_WINDOW:
        return Conflict(f"La remise du carnet n° {booklet.number} date de plus de 24 heures : elle ne peut plus être "
                        "annulée. Si le carnet est perdu, demandez son annulation à l'équipe APTIC.",
                        field="booklet", code="undo_window_closed")
    if used:
        return Conflict(f"Un chèque du carnet n° {booklet.number} a déjà été utilisé : la remise ne peut plus être "
                        "annulée.", field="booklet", code="booklet_in_use")
    return None


def _used(session: Session, booklet_id: int) -> bool:
    return bool(session.scalar(select(exists().where(Cheque.booklet_id == booklet_id,
                                                     Cheque.status == ChequeStatus.REDEEMED))))


def undo_distribution(session: Session, actor: Actor, distributor: Organisation, booklet: Booklet, reason: str = "",
                      now: datetime | None = None) -> Booklet:
    """The distributor takes back a booklet it handed out by mistake; the person may be served again."""
    now = now or utcnow()
    # Under the booklet's lock, as a redemption reads it (see redemptions._locked_cheques).
    session.execute(select(Booklet.id).where(Booklet.id == booklet.id).with_for_update())
    session.refresh(booklet)
    refusal = undo_refusal(booklet, distributor, _used(session, booklet.id), now)
    if refusal is not None:
        raise refusal
    distributed_at = booklet.distributed_at
    session.execute(delete(BeneficiaryClaim).where(BeneficiaryClaim.booklet_id == booklet.id))
    booklet.distributor_id, booklet.beneficiary_ref, booklet.distributed_at = None, None, None
    session.flush()
    record_audit(session, actor, "booklet.distribution_undone", "booklet", booklet.id, number=booklet.number,
                 distributor_id=distributor.id, distributed_at=distributed_at, reason=(reason or "").strip() or None)
    return booklet


def handed_out(session: Session, distributors: list[Organisation], now: datetime | None = None,
               limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """What these distributors handed out, newest first, with whether each may still be undone."""
    now = now or utcnow()
    ids = [d.id for d in distributors]
    if not ids:
        return []
    used = exists().where(Cheque.booklet_id == Booklet.id, Cheque.status == ChequeStatus.REDEEMED)
    rows = session.execute(
        select(Booklet, Order.vintage, used.label("used")).join(Order, Order.id == Booklet.order_id)
        .options(joinedload(Booklet.distributor))
        .where(Booklet.distributor_id.in_(ids)).order_by(Booklet.distributed_at.desc(), Booklet.id.desc()).limit(limit)
    ).all()
    return [
        {"booklet": booklet, "vintage": vintage, "used": bool(is_used),
         "refusal": undo_refusal(booklet, booklet.distributor, bool(is_used), now)}
        for booklet, vintage, is_used in rows
    ]


def booklet_by_id(session: Session, booklet_id: int) -> Booklet | None:
    return session.get(Booklet, booklet_id) if 0 < booklet_id <= MAX_ID else None
