"""Distribution: a distributor hands a booklet to a beneficiary it knows by a pseudonym only."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.api import Actor, record_audit
from directory.db import utcnow
from directory.errors import Conflict, Forbidden, InvalidInput, InvalidTransition
from directory.models import Organisation
from redemption.models import Booklet, OrderStatus

BENEFICIARY_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{2,63}$")


def record_distribution(
    session: Session, actor: Actor, distributor: Organisation, booklet: Booklet, beneficiary_ref: str
) -> Booklet:
    """A distributor gave this booklet to a beneficiary it knows by a pseudonymous reference only."""
    if not distributor.is_distributor:
        raise Forbidden(f"L'organisation « {distributor.name} » n'est pas aiguilleur.", field="distributor",
                        code="not_a_distributor")
    reference = (beneficiary_ref or "").strip()
    if not BENEFICIARY_REF.match(reference):
        raise InvalidInput(
            "La référence du bénéficiaire est un pseudonyme de 3 à 64 caractères (lettres, chiffres, . _ / -) : "
            "ni nom, ni courriel, ni téléphone.", field="beneficiary_ref", code="invalid_beneficiary_ref",
        )
    if booklet.order.status != OrderStatus.ISSUED:
        raise InvalidTransition("Seul un carnet d'une commande émise peut être distribué.", field="booklet")
    if booklet.distributed_at is not None:
        raise Conflict(f"Le carnet n° {booklet.number} a déjà été distribué.", field="booklet", code="already_distributed")
    served = session.scalar(
        select(Booklet.number).where(Booklet.order_id == booklet.order_id, Booklet.distributor_id == distributor.id,
                                     Booklet.beneficiary_ref == reference)
    )
    if served:
        raise Conflict(f"Ce bénéficiaire a déjà reçu le carnet n° {served} de cette commande.", field="beneficiary_ref",
                       code="beneficiary_already_served")
    booklet.distributor = distributor
    booklet.beneficiary_ref = reference
    booklet.distributed_at = utcnow()
    session.flush()
    record_audit(session, actor, "booklet.distributed", "booklet", booklet.id, number=booklet.number,
                 distributor_id=distributor.id)
    return booklet
