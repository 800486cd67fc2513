"""From open data to qualification: a structure claims an imported venue, or APTIC invites one to.

An imported venue is a candidate that no application holds yet. Claiming it (or being invited)
attaches the venue record itself to a draft application of the structure: its name, address,
position, hours and services are the application's point de présence as imported. The
application then follows the usual checklist, quota and decision path.
"""

from __future__ import annotations

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, selectinload

from directory.api import Actor, record_audit, update_venue
from directory.errors import InvalidTransition
from directory.models import VENUE_STATUS_LABELS, Organisation, Role, User, Venue, VenueStatus
from qualification.applications import create_application
from qualification.models import Application, ApplicationStatus, ApplicationVenue

# The memberships that may claim a venue for their structure.
CLAIM_ROLES = (Role.VENUE_STAFF, Role.SPONSOR)
MAX_LISTED = 50


def _unclaimed() -> object:
    return ~exists().where(ApplicationVenue.venue_id == Venue.id)


def claimable_venues(session: Session, query: str = "", limit: int = MAX_LISTED) -> list[Venue]:
    """Candidate venues that no application holds, by name, commune or postcode."""
    statement = select(Venue).where(Venue.status == VenueStatus.CANDIDATE, _unclaimed())
    for word in query.split()[:5]:
        pattern = f"%{word}%"
        statement = statement.where(or_(Venue.nom.ilike(pattern), Venue.commune.ilike(pattern),
                                        Venue.code_postal.ilike(pattern)))
    return list(session.scalars(statement.options(selectinload(Venue.services))
                                .order_by(Venue.commune, Venue.nom, Venue.id).limit(limit)))


def claiming_organisations(user: User) -> list[Organisation]:
    """The structures for which this user may claim a venue."""
    return sorted({m.organisation for m in user.memberships if m.role in CLAIM_ROLES}, key=lambda o: (o.name, o.id))


def claim_venue(session: Session, actor: Actor, venue: Venue, organisation: Organisation, *,
                invited: bool = False) -> Application:
    """Attach an imported venue to a draft application of `organisation` (its latest draft, or a new one)."""
    if venue.status != VenueStatus.CANDIDATE:
        raise InvalidTransition(
            f"Le lieu « {venue.nom} » est « {VENUE_STATUS_LABELS[venue.status]} » : seul un lieu candidat entre dans "
            "un dossier de qualification.", field="venue", code="venue_not_claimable")
    held = session.scalar(select(ApplicationVenue.application_id).where(ApplicationVenue.venue_id == venue.id))
    if held is not None:
        raise InvalidTransition(f"Le lieu « {venue.nom} » est déjà dans le dossier de qualification n° {held}.",
                                field="venue", code="venue_already_claimed", status=409)
    if venue.organisation_id not in (None, organisation.id):
        raise InvalidTransition(
            f"Le lieu « {venue.nom} » est rattaché à une autre structure : demandez à l'équipe APTIC de vérifier "
            "qui le gère.", field="organisation_id", code="venue_of_another_organisation", status=409)
    if venue.organisation_id is None:
        update_venue(session, actor, venue, {"organisation_id": organisation.id})
    application = session.scalar(
        select(Application).where(Application.organisation_id == organisation.id,
                                  Application.status == ApplicationStatus.DRAFT)
        .order_by(Application.id.desc()).limit(1)
    ) or create_application(session, actor, organisation)
    application.sites.append(ApplicationVenue(venue=venue))
    session.flush()
    record_audit(session, actor, "application.venue_invited" if invited else "application.venue_claimed",
                 "application", application.id, venue_id=venue.id, organisation_id=organisation.id)
    return application
