"""Distribution under the sponsor's authority: which distributor organisations may hand out an order's booklets.

A sponsor allows a distributor per order, for all the order's booklets or for one range of them
(sequence numbers, both ends included; ranges of two distributors of an order never overlap).
A booklet may be handed out only by an allowed distributor whose range covers it.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api import Actor, record_audit
from directory.errors import Conflict, InvalidInput, NotFound
from directory.models import Organisation
from redemption.errors import DistributorNotAllowed
from redemption.models import Booklet, DistributionAllowance, Order, OrderStatus

_BOOKLET_NUMBER = re.compile(r"^(\d{1,9})-(\d{1,9})$")


def parse_sequence(order: Order, value: Any, field: str) -> int | None:
    """A booklet of the order named by its rank (12) or its number (00003-00012); None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    match = _BOOKLET_NUMBER.match(text)
    if match and int(match.group(1)) != order.id:
        raise InvalidInput(f"Le carnet n° {text} n'appartient pas à la commande n° {order.id}.", field=field,
                           code="invalid_range")
    try:
        sequence = int(match.group(2)) if match else int(text)
    except ValueError:
        raise InvalidInput("Indiquez un carnet par son rang (12) ou son numéro (00003-00012).", field=field,
                           code="invalid_range") from None
    if not 1 <= sequence <= order.booklet_count:
        raise InvalidInput(f"La commande n° {order.id} compte des carnets de rang 1 à {order.booklet_count}.",
                           field=field, code="invalid_range")
    return sequence


def order_allowances(session: Session, order: Order) -> list[DistributionAllowance]:
    return list(session.scalars(
        select(DistributionAllowance).where(DistributionAllowance.order_id == order.id)
        .order_by(DistributionAllowance.first_sequence.is_not(None), DistributionAllowance.first_sequence,
                  DistributionAllowance.id)
    ))


def allow_distributor(session: Session, actor: Actor, order: Order, distributor: Organisation,
                      first: Any = None, last: Any = None) -> DistributionAllowance:
    """Allow (or re-allow with a new range) a distributor on an order; the range is optional."""
    if not distributor.is_distributor:
        raise InvalidInput(f"L'organisation « {distributor.name} » n'est pas aiguilleur.", field="distributor_id",
                           code="not_a_distributor")
    if order.status == OrderStatus.CLOSED:
        raise Conflict(f"La commande n° {order.id} est clôturée.", field="order", code="order_closed")
    first_sequence, last_sequence = parse_sequence(order, first, "first"), parse_sequence(order, last, "last")
    if (first_sequence is None) != (last_sequence is None):
        raise InvalidInput("Indiquez le premier et le dernier carnet de la plage, ou aucun des deux pour toute la "
                           "commande.", field="last" if last_sequence is None else "first", code="invalid_range")
    if first_sequence is not None and last_sequence is not None and last_sequence < first_sequence:
        raise InvalidInput("Le dernier carnet de la plage vient avant le premier.", field="last", code="invalid_range")
    low, high = first_sequence or 1, last_sequence or order.booklet_count
    for other in order_allowances(session, order):
        if other.distributor_id == distributor.id or other.first_sequence is None or first_sequence is None:
            continue
        if low <= (other.last_sequence or 0) and other.first_sequence <= high:
            raise Conflict(f"Les carnets {other.first_sequence} à {other.last_sequence} sont déjà confiés à "
                           f"« {other.distributor.name} » : les plages ne peuvent pas se chevaucher.", field="first",
                           code="range_overlaps")
    allowance = session.scalar(select(DistributionAllowance).where(
        DistributionAllowance.order_id == order.id, DistributionAllowance.distributor_id == distributor.id))
    if allowance is None:
        allowance = DistributionAllowance(order_id=order.id, distributor_id=distributor.id)
        session.add(allowance)
    allowance.first_sequence, allowance.last_sequence = first_sequence, last_sequence
    session.flush()
    record_audit(session, actor, "order.distributor_allowed", "order", order.id, distributor_id=distributor.id,
                 first_sequence=first_sequence, last_sequence=last_sequence)
    return allowance


def revoke_distributor(session: Session, actor: Actor, order: Order, distributor: Organisation) -> None:
    """Withdraw an allowance; booklets already handed out stay handed out."""
    allowance = session.scalar(select(DistributionAllowance).where(
        DistributionAllowance.order_id == order.id, DistributionAllowance.distributor_id == distributor.id))
    if allowance is None:
        raise NotFound(f"« {distributor.name} » n'est pas autorisé sur la commande n° {order.id}.",
                       field="distributor_id", code="unknown_allowance")
    session.delete(allowance)
    session.flush()
    record_audit(session, actor, "order.distributor_revoked", "order", order.id, distributor_id=distributor.id)


def check_allowed(session: Session, distributor: Organisation, booklet: Booklet) -> None:
    """Refuse with `distributor_not_allowed` unless the sponsor allowed this distributor for this booklet."""
    allowance = session.scalar(select(DistributionAllowance).where(
        DistributionAllowance.order_id == booklet.order_id, DistributionAllowance.distributor_id == distributor.id))
    if allowance is None:
        raise DistributorNotAllowed(
            f"Le commanditaire de la commande n° {booklet.order_id} n'a pas autorisé « {distributor.name} » à remettre "
            "ses carnets.", field="booklet")
    if not allowance.covers(booklet.sequence):
        raise DistributorNotAllowed(
            f"Le carnet n° {booklet.number} n'est pas dans la plage confiée à « {distributor.name} » "
            f"(carnets {allowance.first_sequence} à {allowance.last_sequence}).", field="booklet")


def distributor_choices(session: Session) -> list[Organisation]:
    """Every distributor organisation a sponsor may allow, by name."""
    return list(session.scalars(select(Organisation).where(Organisation.is_distributor).order_by(Organisation.name)))
