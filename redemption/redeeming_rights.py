"""The right to redeem: staff mark an organisation or a venue "distribution seulement" (or clear it), with a reason.

France Services venues are distribution-only by default at import (directory.venues); a
distribution-only venue, or any venue of a distribution-only organisation, is refused at redemption
with `venue_cannot_redeem`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from directory import api as directory_api
from directory.api import Actor
from directory.errors import InvalidInput
from directory.models import Organisation, Venue

KINDS = ("organisation", "venue")
SEARCH_LIMIT = 50


def _record(session: Session, kind: Any, record_id: Any) -> Organisation | Venue:
    if kind not in KINDS:
        raise InvalidInput("Choisissez une organisation ou un lieu.", field="kind", code="invalid_choice")
    try:
        number = int(record_id)
    except (TypeError, ValueError):
        raise InvalidInput("Indiquez le numéro de l'organisation ou du lieu.", field="id", code="required") from None
    if kind == "venue":
        return directory_api.get_venue(session, number)
    return directory_api.get_organisation(session, number)


def change_redemption_right(session: Session, actor: Actor, kind: Any, record_id: Any, distribution_only: bool,
                            reason: Any) -> tuple[Organisation | Venue, bool]:
    """Set or clear "distribution seulement"; returns the record and whether it changed (audited with the reason)."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise InvalidInput("Indiquez le motif du changement.", field="reason", code="required")
    if len(text) > 500:
        raise InvalidInput("Le motif tient en 500 caractères au plus.", field="reason", code="too_long")
    record = _record(session, kind, record_id)
    changed = directory_api.set_distribution_only(session, actor, record, distribution_only, reason=text)
    return record, changed


def search(session: Session, query: str) -> dict[str, list[Any]]:
    """Organisations and venues whose name contains `query`; without one, those that are distribution-only."""
    words = (query or "").strip()
    if words:
        escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        organisations = select(Organisation).where(Organisation.name.ilike(pattern, escape="\\"))
        venues = select(Venue).where(or_(Venue.nom.ilike(pattern, escape="\\"),
                                         Venue.commune.ilike(pattern, escape="\\")))
    else:
        organisations = select(Organisation).where(Organisation.distribution_only)
        venues = select(Venue).where(Venue.distribution_only)
    return {
        "organisations": list(session.scalars(organisations.order_by(Organisation.name).limit(SEARCH_LIMIT))),
        "venues": list(session.scalars(venues.order_by(Venue.nom, Venue.id).limit(SEARCH_LIMIT))),
    }
