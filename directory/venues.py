"""Venues: creation and update from the declared fields, coordinates, the status machine, look-up."""

from __future__ import annotations

import re
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from directory.audit import Actor, jsonable, record_audit
from directory.db import MAX_ID, point_wkt
from directory.errors import InvalidInput, NotFound
from directory.models import VENUE_STATUS_LABELS, Organisation, Venue, VenueStatus
from directory.organisations import get_organisation
from directory.referential import services_by_slugs
from directory.territories import check_coordinates, commune_at, commune_by_code
from directory.transitions import StateMachine
from directory.venue_fields import VENUE_FIELD, clean_venue_values

# Attributes of a venue besides its declared fields: its operator, its referential services, its point.
VENUE_LINKS = ("organisation_id", "services", "longitude", "latitude")


def clean_venue_fields(session: Session, fields: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Check the attributes of a venue; raise on the first bad field, naming it."""
    unknown = set(fields) - set(VENUE_FIELD) - set(VENUE_LINKS)
    if unknown:
        raise InvalidInput(f"Champ inconnu : {', '.join(sorted(unknown))}.", field=sorted(unknown)[0], code="unknown_field")
    cleaned = clean_venue_values(fields, partial=partial)
    if "organisation_id" in fields:
        cleaned["organisation_id"] = (
            get_organisation(session, fields["organisation_id"]).id if fields["organisation_id"] else None
        )
    if "services" in fields:
        cleaned["services"] = services_by_slugs(session, list(fields["services"] or []))

    has_point = "longitude" in fields or "latitude" in fields
    if has_point and (fields.get("longitude") is not None or fields.get("latitude") is not None):
        lon, lat = fields.get("longitude"), fields.get("latitude")
        check_coordinates(lon, lat)
        located_in = commune_at(session, float(lon), float(lat))
        cleaned["location"] = point_wkt(float(lon), float(lat))
    else:
        located_in = None
        if has_point:
            cleaned["location"] = None
    if cleaned.get("code_insee"):
        cleaned["code_insee"] = commune_by_code(session, cleaned["code_insee"]).code
    elif located_in is not None:
        cleaned["code_insee"] = located_in.code
    return cleaned


def create_venue(session: Session, actor: Actor, fields: dict[str, Any]) -> Venue:
    cleaned = clean_venue_fields(session, fields)
    services = cleaned.pop("services", [])
    venue = Venue(**cleaned, distribution_only=distribution_only_by_default(cleaned))
    venue.services = services
    session.add(venue)
    session.flush()
    record_audit(session, actor, "venue.created", "venue", venue.id, **_venue_snapshot(venue))
    return venue


def update_venue(session: Session, actor: Actor, venue: Venue, fields: dict[str, Any]) -> dict[str, Any]:
    """Apply the changed attributes only, audit them, and return {field: [before, after]}."""
    cleaned = clean_venue_fields(session, fields, partial=True)
    before = _venue_snapshot(venue)
    services = cleaned.pop("services", None)
    for name, value in cleaned.items():
        setattr(venue, name, value)
    if services is not None:
        venue.services = services
    session.flush()
    after = _venue_snapshot(venue)
    changes = {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}
    if changes:
        record_audit(session, actor, "venue.updated", "venue", venue.id, changes=changes)
    return changes


def _venue_snapshot(venue: Venue) -> dict[str, Any]:
    snapshot = {name: getattr(venue, name) for name in VENUE_FIELD}
    snapshot["organisation_id"] = venue.organisation_id
    snapshot["services"] = [s.slug for s in venue.services]
    snapshot["location"] = venue_coordinates(venue)
    return jsonable(snapshot)


def venue_coordinates(venue: Venue) -> list[float] | None:
    """[longitude, latitude] of a venue, or None when it has no point yet."""
    if venue.location is None:
        return None
    if isinstance(venue.location, str):  # just assigned as EWKT, not yet reloaded
        lon, lat = re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", venue.location.split(";")[1])
        return [float(lon), float(lat)]
    point = to_shape(venue.location)
    return [point.x, point.y]


VENUE_TRANSITIONS = {
    VenueStatus.CANDIDATE: frozenset({VenueStatus.QUALIFIED, VenueStatus.CLOSED}),
    VenueStatus.QUALIFIED: frozenset({VenueStatus.SUSPENDED, VenueStatus.DEQUALIFIED, VenueStatus.CLOSED}),
    VenueStatus.SUSPENDED: frozenset({VenueStatus.QUALIFIED, VenueStatus.DEQUALIFIED, VenueStatus.CLOSED}),
    VenueStatus.DEQUALIFIED: frozenset({VenueStatus.CANDIDATE, VenueStatus.CLOSED}),
    # Reopening restores the status a venue had when an import closed it (ingestion checks who closed it).
    VenueStatus.CLOSED: frozenset({VenueStatus.CANDIDATE, VenueStatus.QUALIFIED, VenueStatus.SUSPENDED,
                                   VenueStatus.DEQUALIFIED}),
}
VENUE_STATUS_MACHINE = StateMachine(
    kind="venue",
    states=VenueStatus,
    moves=VENUE_TRANSITIONS,
    labels=VENUE_STATUS_LABELS,
    refusal="Un lieu au statut « {current} » ne peut pas passer au statut « {target} ».",
)


def set_venue_status(session: Session, actor: Actor, venue: Venue, status: VenueStatus | str, reason: str,
                     **audit_data: Any) -> Venue:
    """Move a venue along its APTIC status machine; refused moves raise `invalid_transition`."""
    VENUE_STATUS_MACHINE.move(session, actor, venue, VENUE_STATUS_MACHINE.parse(status), reason, **audit_data)
    return venue


# The scheme's rules: Maisons France Services distribute passes but may not redeem them, while
# Conseillers numériques France Services may (even when they work inside a France Services).
_DISTRIBUTION_ONLY_MARKS = {"france services", "france service", "france_services", "france_service", "mfs", "fs"}
_REDEEMING_MARKS = {"conseillers numériques", "conseiller numérique", "conseillers numeriques", "cnfs"}


def distribution_only_by_default(fields: dict[str, Any]) -> bool:
    """Whether a venue of the national standard is distribution-only, from its programmes and typology."""
    marks = {str(value).strip().casefold()
             for name in ("dispositif_programmes_nationaux", "typologie") for value in fields.get(name) or []}
    return bool(marks & _DISTRIBUTION_ONLY_MARKS) and not marks & _REDEEMING_MARKS


def set_distribution_only(session: Session, actor: Actor, record: Venue | Organisation, distribution_only: bool,
                          reason: str | None = None) -> bool:
    """Staff grant or withdraw the right to redeem of a venue or an organisation; returns whether it changed."""
    if record.distribution_only == distribution_only:
        return False
    record.distribution_only = distribution_only
    session.flush()
    kind = "venue" if isinstance(record, Venue) else "organisation"
    record_audit(session, actor, f"{kind}.redemption_right_changed", kind, record.id,
                 distribution_only=distribution_only, reason=reason)
    return True


def get_venue(session: Session, venue_id: int) -> Venue:
    venue = session.get(Venue, venue_id) if 0 < venue_id <= MAX_ID else None
    if venue is None:
        raise NotFound("Ce lieu n'existe pas.", field="venue", code="unknown_venue")
    return venue
