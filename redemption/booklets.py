"""Booklets: finding one by its number, listing an order's cheque codes, cancelling a lost or stolen booklet."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from directory.api import Actor, record_audit
from directory.errors import InvalidInput, NotFound
from redemption import codes as cheque_codes
from redemption.models import CHEQUE_MACHINE, Booklet, Cheque, ChequeStatus, Order


def order_codes(session: Session, order: Order) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Booklet.number, Cheque.position, Cheque.code, Cheque.value_cents, Cheque.status, Booklet.distributed_at)
        .join(Booklet, Booklet.id == Cheque.booklet_id)
        .where(Cheque.order_id == order.id)
        .order_by(Booklet.sequence, Cheque.position)
    ).all()
    return [
        {"booklet": number, "position": position, "code": code, "printed": cheque_codes.grouped(code),
         "value_cents": value, "status": status.value, "distributed": distributed_at is not None}
        for number, position, code, value, status, distributed_at in rows
    ]


def get_booklet(session: Session, number: str) -> Booklet:
    booklet = session.scalar(select(Booklet).where(Booklet.number == (number or "").strip()))
    if booklet is None:
        raise NotFound(f"Le carnet n° « {number} » n'existe pas.", field="booklet", code="unknown_booklet")
    return booklet


def cancel_booklet(session: Session, actor: Actor, booklet: Booklet, reason: str) -> int:
    """Cancel the unused cheques of a lost or stolen booklet; returns how many were cancelled."""
    if not (reason or "").strip():
        raise InvalidInput("Indiquez le motif de l'annulation.", field="reason", code="required")
    cancelled = session.execute(
        update(Cheque)
        .where(Cheque.booklet_id == booklet.id,
               Cheque.status.in_(CHEQUE_MACHINE.states_moving_to(ChequeStatus.CANCELLED)))
        .values(status=ChequeStatus.CANCELLED).execution_options(synchronize_session="fetch")
    ).rowcount
    record_audit(session, actor, "booklet.cancelled", "booklet", booklet.id, number=booklet.number,
                 cheques=cancelled, reason=reason.strip())
    return cancelled
