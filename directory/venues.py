"""Venues: their attributes in the national standard, creation, update, status machine, look-up."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from directory.audit import Actor, jsonable, record_audit
from directory.db import point_wkt, utcnow
from directory.errors import InvalidInput, InvalidTransition, NotFound
from directory.hours import validate_opening_hours
from directory.models import Venue, VenueStatus
from directory.organisations import get_organisation
from directory.referential import services_by_slugs
from directory.territories import POSTCODE, _check_coordinates, commune_at, commune_by_code

PHONE = re.compile(r"^(\+33|\+590|\+594|\+262|\+596|\+269|\+687|\+689|\+508|\+681)(\d){6,9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)


VENUE_TEXT_FIELDS = (
    "nom", "adresse", "complement_adresse", "code_postal", "commune", "horaires", "telephone",
    "presentation_resume", "presentation_detail", "structure_parente", "fiche_acces_libre",
    "prise_rdv", "source", "pivot",
)
VENUE_LIST_FIELDS = (
    "courriels", "site_web", "typologie", "itinerance", "standard_services",
    "publics_specifiquement_adresses", "prise_en_charge_specifique", "frais_a_charge",
    "dispositif_programmes_nationaux", "formations_labels", "autres_formations_labels",
    "modalites_acces", "modalites_accompagnement",
)
VENUE_FLAG_FIELDS = ("accepts_pass", "aptic_label")
VENUE_REQUIRED = {"nom": "le nom", "adresse": "l'adresse", "code_postal": "le code postal", "commune": "la commune"}


def clean_venue_fields(session: Session, fields: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Check the attributes of a venue; raise on the first bad field, naming it."""
    known = set(VENUE_TEXT_FIELDS) | set(VENUE_LIST_FIELDS) | set(VENUE_FLAG_FIELDS) | {
        "code_insee", "longitude", "latitude", "services", "date_maj", "organisation_id",
    }
    unknown = set(fields) - known
    if unknown:
        raise InvalidInput(f"Champ inconnu : {', '.join(sorted(unknown))}.", field=sorted(unknown)[0], code="unknown_field")
    cleaned: dict[str, Any] = {}
    for name in VENUE_TEXT_FIELDS:
        if name in fields:
            value = fields[name]
            cleaned[name] = value.strip() if isinstance(value, str) and value.strip() else None
    if not partial:
        for name, label in VENUE_REQUIRED.items():
            if not cleaned.get(name):
                raise InvalidInput(f"Indiquez {label} du lieu.", field=name, code="required")
    elif any(name in cleaned and not cleaned[name] for name in VENUE_REQUIRED):
        name = next(n for n in VENUE_REQUIRED if n in cleaned and not cleaned[n])
        raise InvalidInput(f"Indiquez {VENUE_REQUIRED[name]} du lieu.", field=name, code="required")
    if cleaned.get("code_postal") and not POSTCODE.match(cleaned["code_postal"]):
        raise InvalidInput(
            f"Le code postal « {cleaned['code_postal']} » n'est pas valide : il faut 5 chiffres.",
            field="code_postal", code="invalid_postcode",
        )
    if cleaned.get("telephone"):
        phone = re.sub(r"[\s.\-()]", "", cleaned["telephone"])
        if re.fullmatch(r"0\d{9}", phone):
            phone = "+33" + phone[1:]
        if not PHONE.match(phone):
            raise InvalidInput(
                f"Le numéro de téléphone « {cleaned['telephone']} » n'est pas valide (ex. +33123456789).",
                field="telephone", code="invalid_phone",
            )
        cleaned["telephone"] = phone
    if cleaned.get("horaires"):
        validate_opening_hours(cleaned["horaires"])
    for name in ("fiche_acces_libre", "prise_rdv"):
        if cleaned.get(name) and not URL.match(cleaned[name]):
            raise InvalidInput(f"L'adresse web « {cleaned[name]} » n'est pas valide.", field=name, code="invalid_url")
    for name in VENUE_LIST_FIELDS:
        if name in fields:
            values = fields[name] or []
            if isinstance(values, str):
                values = [values]
            cleaned[name] = [str(v).strip() for v in values if str(v).strip()]
    for email in cleaned.get("courriels", []):
        if not EMAIL.match(email):
            raise InvalidInput(f"Le courriel « {email} » n'est pas valide.", field="courriels", code="invalid_email")
    for url in cleaned.get("site_web", []):
        if not URL.match(url):
            raise InvalidInput(f"L'adresse web « {url} » n'est pas valide.", field="site_web", code="invalid_url")
    for name in VENUE_FLAG_FIELDS:
        if name in fields:
            cleaned[name] = bool(fields[name])
    if "date_maj" in fields:
        cleaned["date_maj"] = _clean_date(fields["date_maj"], "date_maj")
    if "organisation_id" in fields:
        cleaned["organisation_id"] = (
            get_organisation(session, fields["organisation_id"]).id if fields["organisation_id"] else None
        )
    if "services" in fields:
        cleaned["services"] = services_by_slugs(session, list(fields["services"] or []))

    has_point = "longitude" in fields or "latitude" in fields
    if has_point and (fields.get("longitude") is not None or fields.get("latitude") is not None):
        lon, lat = fields.get("longitude"), fields.get("latitude")
        _check_coordinates(lon, lat)
        located_in = commune_at(session, float(lon), float(lat))
        cleaned["location"] = point_wkt(float(lon), float(lat))
    else:
        located_in = None
        if has_point:
            cleaned["location"] = None
    if fields.get("code_insee"):
        cleaned["code_insee"] = commune_by_code(session, fields["code_insee"]).code
    elif located_in is not None:
        cleaned["code_insee"] = located_in.code
    elif "code_insee" in fields:
        cleaned["code_insee"] = None
    return cleaned


def _clean_date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            f"La date « {value} » n'est pas valide : format attendu AAAA-MM-JJ.", field=field, code="invalid_date"
        ) from None


def create_venue(session: Session, actor: Actor, fields: dict[str, Any]) -> Venue:
    cleaned = clean_venue_fields(session, fields)
    services = cleaned.pop("services", [])
    venue = Venue(**cleaned)
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
    snapshot = {name: getattr(venue, name) for name in (*VENUE_TEXT_FIELDS, *VENUE_LIST_FIELDS, *VENUE_FLAG_FIELDS)}
    snapshot["code_insee"] = venue.code_insee
    snapshot["date_maj"] = venue.date_maj
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
    VenueStatus.CANDIDATE: {VenueStatus.QUALIFIED, VenueStatus.CLOSED},
    VenueStatus.QUALIFIED: {VenueStatus.SUSPENDED, VenueStatus.DEQUALIFIED, VenueStatus.CLOSED},
    VenueStatus.SUSPENDED: {VenueStatus.QUALIFIED, VenueStatus.DEQUALIFIED, VenueStatus.CLOSED},
    VenueStatus.DEQUALIFIED: {VenueStatus.CANDIDATE, VenueStatus.CLOSED},
    VenueStatus.CLOSED: set(),
}


def set_venue_status(session: Session, actor: Actor, venue: Venue, status: VenueStatus | str, reason: str) -> Venue:
    """Move a venue along its APTIC status machine; refused moves raise `invalid_transition`."""
    try:
        target = VenueStatus(status)
    except ValueError:
        raise InvalidInput(f"Le statut « {status} » n'existe pas.", field="status", code="invalid_status") from None
    if not (reason or "").strip():
        raise InvalidInput("Indiquez le motif du changement de statut.", field="reason", code="required")
    if target not in VENUE_TRANSITIONS[venue.status]:
        raise InvalidTransition(
            f"Un lieu au statut « {venue.status.value} » ne peut pas passer au statut « {target.value} ».",
            field="status",
        )
    previous = venue.status
    venue.status = target
    venue.status_changed_at = utcnow()
    session.flush()
    record_audit(
        session, actor, "venue.status_changed", "venue", venue.id,
        before=previous.value, after=target.value, reason=reason.strip(),
    )
    return venue


def get_venue(session: Session, venue_id: int) -> Venue:
    venue = session.get(Venue, venue_id)
    if venue is None:
        raise NotFound("Ce lieu n'existe pas.", field="venue", code="unknown_venue")
    return venue
