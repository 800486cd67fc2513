"""Who acts for what: the venue of an API key or of venue staff, a distributor's organisations, a sponsor's orders."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory import api as directory_api
from directory.api import Actor
from directory.errors import Forbidden, InvalidInput, NotFound
from directory.models import Organisation, Role, User, Venue
from directory.process_cache import KeyedCache, attach, attach_instance, column_values
from redemption.errors import Unauthenticated
from redemption.models import MAX_ID, Order, Statement
from redemption.orders import get_order


# A scanner authenticates on every cheque: its key and venue are kept per process, by a hash of the
# whole token, for SCANNER_TTL seconds. A revocation or a change of the venue (or of its organisation)
# applies at once in the process that writes it, within SCANNER_TTL in the others; only a token that
# authenticates is kept, and a key's last use is still recorded (to the quarter of an hour) on a miss.
SCANNER_TTL = 10.0
SCANNERS = KeyedCache(ttl=SCANNER_TTL)


def venue_of_api_key(session: Session, token: str) -> tuple[Venue, Actor]:
    """The venue a scanner's API key belongs to, and the key as the actor of what it does."""
    scanner = SCANNERS.get(session, hashlib.sha256(token.encode()).hexdigest(), lambda: _scanner(session, token))
    if scanner is None:
        raise Unauthenticated("Clé d'API inconnue, révoquée ou non rattachée à un lieu.", field="Authorization")
    prefix, venue, organisation = scanner
    organisation = attach(session, Organisation, organisation) if organisation is not None else None
    return attach_instance(session, Venue(**venue), organisation=organisation), Actor(label=f"api_key:{prefix}")


def _scanner(session: Session, token: str) -> tuple[tuple[str, dict, dict | None] | None, list[Any]]:
    """The key's prefix, its venue's and the venue's organisation's columns, and the rows they come from."""
    key = directory_api.authenticate_api_key(session, token)
    if key is None or key.venue is None:
        return None, []
    organisation = key.venue.organisation
    rows = [key, key.venue, *([organisation] if organisation is not None else [])]
    return (key.prefix, column_values(key.venue), column_values(organisation) if organisation else None), rows


def staff_venues(session: Session, user: User) -> list[Venue]:
    """Venues of the organisations where the user is venue staff."""
    organisation_ids = [m.organisation_id for m in user.memberships if m.role == Role.VENUE_STAFF]
    if not organisation_ids:
        return []
    return list(session.scalars(
        select(Venue).where(Venue.organisation_id.in_(organisation_ids)).order_by(Venue.nom)
    ))


def staff_venue(session: Session, user: User, venue_id: Any) -> Venue:
    """The venue where venue staff act: the one they name, or their only venue when they name none."""
    return chosen_venue(staff_venues(session, user), venue_id)


def chosen_venue(venues: list[Venue], venue_id: Any) -> Venue:
    """Among a user's venues (`staff_venues`), the one named by `venue_id`, or the only one."""
    if not venues:
        raise Forbidden("Votre compte n'est rattaché à aucun lieu.", field="venue_id")
    if venue_id in (None, "") and len(venues) == 1:
        return venues[0]
    try:
        wanted = int(venue_id)
    except (TypeError, ValueError):
        raise InvalidInput("Indiquez le lieu (venue_id) où la prestation a été rendue.", field="venue_id",
                           code="required") from None
    for venue in venues:
        if venue.id == wanted:
            return venue
    raise Forbidden("Ce lieu n'est pas l'un des vôtres.", field="venue_id")


def distributor_organisations(session: Session, user: User) -> list[Organisation]:
    """The organisations for which the user hands out booklets."""
    return [directory_api.get_organisation(session, m.organisation_id)
            for m in user.memberships if m.role == Role.DISTRIBUTOR]


def acting_distributor(organisations: list[Organisation], chosen: str | None) -> Organisation:
    """The organisation a distributor acts for: the one chosen, or the first when none is chosen."""
    if chosen is None and organisations:
        return organisations[0]
    for organisation in organisations:
        if str(organisation.id) == chosen:
            return organisation
    raise Forbidden("Vous n'êtes pas aiguilleur pour cette organisation.", field="distributor_id")


def sponsor_scope(user: User) -> list[int] | None:
    """None for APTIC staff (every order); otherwise the organisations where the user is sponsor."""
    if user.has_role(Role.APTIC_STAFF):
        return None
    return [m.organisation_id for m in user.memberships if m.role == Role.SPONSOR]


def sponsor_order(session: Session, user: User, order_id: int) -> Order:
    """An order whose report the user may read: one of their organisations', or any for APTIC staff."""
    order = get_order(session, order_id)
    scope = sponsor_scope(user)
    if scope is not None and order.sponsor_id not in scope:
        raise Forbidden("Vous n'avez pas les droits nécessaires.")
    return order


def statement_venue_scope(session: Session, user: User) -> list[int] | None:
    """None for APTIC staff (every venue's statements); otherwise the venues where the user is venue staff."""
    if user.has_role(Role.APTIC_STAFF):
        return None
    return [venue.id for venue in staff_venues(session, user)]


def visible_statement(session: Session, user: User, statement_id: int) -> Statement:
    """A statement the user may read; another venue's is reported as unknown, not as forbidden."""
    statement = session.get(Statement, statement_id) if 0 < statement_id <= MAX_ID else None
    scope = statement_venue_scope(session, user) if statement is not None else None
    if statement is None or (scope is not None and statement.venue_id not in scope):
        raise NotFound(f"Le relevé n° {statement_id} n'existe pas.", field="statement", code="unknown_statement")
    return statement
