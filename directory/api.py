"""Business functions of the directory: territories, referential, organisations, venues, accounts, audit.

They take a session, flush, raise domain errors, and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import opening_hours
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from geoalchemy2.shape import to_shape
from sqlalchemy import Float, Integer, String, bindparam, func, select
from sqlalchemy.orm import Session, defer, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from stdnum.fr import siret as stdnum_siret

from directory.db import (
    PARIS_TZ,
    bbox_filter,
    dialect_name,
    geodesic_distance_m,
    json_array_contains,
    point_wkt,
    utcnow,
)
from directory.audit import Actor, audit_trail, jsonable, record_audit, record_audits  # noqa: F401 - re-exported
from directory.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from directory.models import (
    ApiKey,
    LegalForm,
    Membership,
    Organisation,
    ReferentialVersion,
    Role,
    Service,
    ServiceLevel,
    Territory,
    TerritoryAlias,
    TerritoryLevel,
    TerritoryPostcode,
    User,
    Venue,
    VenueService,
    VenueStatus,
)

REFERENTIAL_FILE = Path(__file__).parent / "data" / "referential.toml"
INSEE_CODE = re.compile(r"^([013-9]\d|2[AB1-9])\d{3}$")
POSTCODE = re.compile(r"^\d{5}$")
RNA = re.compile(r"^W[0-9A-Z]\d{8}$")
PHONE = re.compile(r"^(\+33|\+590|\+594|\+262|\+596|\+269|\+687|\+689|\+508|\+681)(\d){6,9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)
# A point farther than this from every commune polygon is not in France (metro + DROM).
OUTSIDE_FRANCE_TOLERANCE_M = 2_000


# --------------------------------------------------------------------------------- territories


def normalize_name(value: str) -> str:
    """Accent-, case- and punctuation-insensitive form of a place name, for look-ups."""
    decomposed = unicodedata.normalize("NFKD", value.replace("œ", "oe").replace("Œ", "Oe"))
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = re.sub(r"[^a-z0-9]+", " ", ascii_only.lower()).split()
    words = ["saint" if w == "st" else "sainte" if w == "ste" else w for w in words]
    return " ".join(words)


def name_with_preposition(territory: Territory) -> str:
    """'de Lyon', 'du Mans', 'de La Rochelle', 'des Abymes', "d'Ambérieu-en-Bugey" (from the TNCC)."""
    name = territory.name
    if territory.tncc == 1:
        return f"d'{name}"
    if territory.tncc == 2 and name.startswith("Le "):
        return f"du {name[3:]}"
    if territory.tncc == 4 and name.startswith("Les "):
        return f"des {name[4:]}"
    if territory.tncc == 6 and name.startswith("Aux "):
        return f"des {name[4:]}"
    return f"de {name}"


def territory_by_code(session: Session, level: TerritoryLevel | str, code: str) -> Territory:
    level = _territory_level(level)
    if level == TerritoryLevel.COMMUNE:
        return commune_by_code(session, code)
    territory = session.scalar(
        select(Territory).where(Territory.level == level, Territory.code == code.strip().upper())
    )
    if territory is None:
        raise NotFound(
            f"Aucun territoire de niveau « {level.value} » n'a le code « {code} ».",
            field="code",
            code="unknown_territory",
        )
    return territory


def _territory_level(level: TerritoryLevel | str) -> TerritoryLevel:
    try:
        return TerritoryLevel(level)
    except ValueError:
        allowed = ", ".join(member.value for member in TerritoryLevel)
        raise InvalidInput(
            f"Le niveau de territoire « {level} » n'existe pas (valeurs possibles : {allowed}).",
            field="level",
            code="invalid_territory_level",
        ) from None


def commune_by_code(session: Session, code: str, field: str = "code_insee") -> Territory:
    """The current commune for an INSEE code; arrondissements and former codes resolve to it."""
    code = (code or "").strip().upper()
    if not INSEE_CODE.match(code):
        raise InvalidInput(
            f"Le code INSEE « {code} » n'est pas valide : il faut 5 caractères (ex. 69123, 2A004).",
            field=field,
            code="invalid_insee_code",
        )
    commune = _commune(session, code)
    if commune is None:
        alias = session.get(TerritoryAlias, code)
        commune = _commune(session, alias.commune_code) if alias else None
    if commune is None:
        raise NotFound(
            f"Le code INSEE « {code} » ne correspond à aucune commune.",
            field=field,
            code="unknown_insee_code",
        )
    return commune


def _commune(session: Session, code: str) -> Territory | None:
    return session.scalar(
        select(Territory).where(Territory.level == TerritoryLevel.COMMUNE, Territory.code == code)
    )


def communes_by_postcode(session: Session, postcode: str) -> list[Territory]:
    postcode = (postcode or "").strip()
    if not POSTCODE.match(postcode):
        raise InvalidInput(
            f"Le code postal « {postcode} » n'est pas valide : il faut 5 chiffres.",
            field="code_postal",
            code="invalid_postcode",
        )
    return list(
        session.scalars(
            select(Territory)
            .join(TerritoryPostcode, TerritoryPostcode.commune_id == Territory.id)
            .where(TerritoryPostcode.postcode == postcode)
            .order_by(Territory.population.desc(), Territory.code)
        )
    )


def search_communes(session: Session, name: str, limit: int = 10) -> list[Territory]:
    """Communes by name, whatever the accents and case: exact names first, then prefixes."""
    key = normalize_name(name or "")
    if not key:
        return []
    exact = select(Territory).where(
        Territory.level == TerritoryLevel.COMMUNE, Territory.search_name == key
    )
    found = list(session.scalars(exact.order_by(Territory.population.desc()).limit(limit)))
    if len(found) < limit:
        prefix = select(Territory).where(
            Territory.level == TerritoryLevel.COMMUNE,
            Territory.search_name.startswith(key, autoescape=True),
            Territory.search_name != key,
        )
        found += session.scalars(
            prefix.order_by(Territory.population.desc()).limit(limit - len(found))
        )
    return found


def commune_at(session: Session, lon: float, lat: float) -> Territory:
    """The commune that contains a point (or, on a simplified coastline, the nearest one)."""
    _check_coordinates(lon, lat)
    point = func.ST_GeomFromEWKT(point_wkt(lon, lat))
    communes = select(Territory).where(Territory.level == TerritoryLevel.COMMUNE)
    containing = session.scalar(
        communes.where(
            bbox_filter(session, Territory, "geom", lon, lat, lon, lat),
            func.ST_Contains(Territory.geom, point),
        ).limit(1)
    )
    if containing is not None:
        return containing
    margin = 0.03  # degrees; wider than OUTSIDE_FRANCE_TOLERANCE_M at every French latitude
    distance = geodesic_distance_m(session, Territory.geom, point)
    nearest = session.execute(
        communes.add_columns(distance)
        .where(bbox_filter(session, Territory, "geom", lon - margin, lat - margin, lon + margin, lat + margin))
        .order_by(distance)
        .limit(1)
    ).first()
    if nearest is None or nearest[1] > OUTSIDE_FRANCE_TOLERANCE_M:
        raise InvalidInput(
            f"Le point (longitude {lon}, latitude {lat}) est hors de France "
            "(métropole et départements d'outre-mer).",
            field="coordonnees",
            code="outside_france",
        )
    return nearest[0]


def _check_coordinates(lon: Any, lat: Any) -> None:
    for value, name, bound in ((lat, "latitude", 90), (lon, "longitude", 180)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not -bound <= value <= bound:
            raise InvalidInput(
                f"La {name} « {value} » n'est pas valide : un nombre entre -{bound} et {bound} est attendu.",
                field=name,
                code=f"invalid_{name}",
            )


# -------------------------------------------------------------------------------- referential


def load_referential(session: Session, path: Path = REFERENTIAL_FILE) -> dict[str, Any]:
    """Load the service referential file into the tables; idempotent for a given version."""
    raw = path.read_bytes()
    checksum = hashlib.sha256(raw).hexdigest()
    data = tomllib.loads(raw.decode("utf-8"))
    version = str(data["version"])
    existing = session.scalar(select(ReferentialVersion).where(ReferentialVersion.version == version))
    if existing is not None:
        if existing.checksum != checksum:
            raise Conflict(
                f"La version {version} du référentiel est déjà chargée avec un autre contenu : "
                "changez le numéro de version du fichier.",
                field="version",
                code="referential_version_reused",
            )
        return {"version": version, "changed": False}

    for level in data["levels"]:
        row = session.get(ServiceLevel, level["number"]) or ServiceLevel(number=level["number"])
        row.label = level["label"]
        session.add(row)
    session.flush()
    by_slug = {service.slug: service for service in session.scalars(select(Service))}
    seen = set()
    for position, item in enumerate(data["services"]):
        service = by_slug.get(item["slug"]) or Service(slug=item["slug"])
        service.level_number = item["level"]
        service.label = item["label"]
        service.standard_services = list(item["standard_services"])
        service.position = position
        service.active = True
        session.add(service)
        seen.add(item["slug"])
    for slug, service in by_slug.items():
        if slug not in seen:
            service.active = False
    session.add(ReferentialVersion(version=version, checksum=checksum))
    session.flush()
    return {"version": version, "changed": True, "services": len(seen)}


def active_services(session: Session) -> list[Service]:
    return list(
        session.scalars(
            select(Service)
            .options(selectinload(Service.level))
            .where(Service.active)
            .order_by(Service.position)
        )
    )


def services_by_slugs(session: Session, slugs: list[str], field: str = "services") -> list[Service]:
    wanted = list(dict.fromkeys(slug.strip() for slug in slugs if slug.strip()))
    found = {
        service.slug: service
        for service in session.scalars(select(Service).where(Service.slug.in_(wanted), Service.active))
    }
    unknown = [slug for slug in wanted if slug not in found]
    if unknown:
        raise InvalidInput(
            f"Service inconnu du référentiel : {', '.join(unknown)}.",
            field=field,
            code="unknown_service",
        )
    return [found[slug] for slug in wanted]


def services_for_standard(session: Session, standard_services: list[str]) -> list[Service]:
    """The referential services that correspond to services of the national venue standard."""
    wanted = set(standard_services)
    return [s for s in active_services(session) if wanted & set(s.standard_services)]


# ------------------------------------------------------------------------------ organisations


def clean_siret(value: str, field: str = "siret") -> str:
    compact = stdnum_siret.compact(value or "")
    if not re.fullmatch(r"\d{14}", compact):
        raise InvalidInput(
            f"Le SIRET « {value} » n'est pas valide : il faut 14 chiffres.",
            field=field,
            code="invalid_siret",
        )
    if not stdnum_siret.is_valid(compact):
        raise InvalidInput(
            f"Le SIRET « {value} » n'est pas valide : sa clé de contrôle (Luhn) est fausse.",
            field=field,
            code="invalid_siret",
        )
    return compact


def clean_rna(value: str, field: str = "rna") -> str:
    compact = re.sub(r"\s", "", value or "").upper()
    if not RNA.match(compact):
        raise InvalidInput(
            f"Le numéro RNA « {value} » n'est pas valide : il commence par W suivi de 9 caractères.",
            field=field,
            code="invalid_rna",
        )
    return compact


ORGANISATION_ROLES = ("is_sponsor", "is_distributor", "is_venue_operator", "is_aptic")


def create_organisation(
    session: Session,
    actor: Actor,
    *,
    name: str,
    legal_form: str,
    siret: str | None = None,
    rna: str | None = None,
    address: str | None = None,
    code_insee: str | None = None,
    **roles: bool,
) -> Organisation:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Le nom de l'organisation est obligatoire.", field="name", code="required")
    try:
        form = LegalForm(legal_form)
    except ValueError:
        raise InvalidInput(
            f"La forme juridique « {legal_form} » n'existe pas.", field="legal_form", code="invalid_legal_form"
        ) from None
    unknown_roles = set(roles) - set(ORGANISATION_ROLES)
    if unknown_roles:
        raise InvalidInput(
            f"Rôle inconnu : {', '.join(sorted(unknown_roles))}.", field="roles", code="invalid_role"
        )
    if not any(roles.values()):
        raise InvalidInput(
            "Choisissez au moins un rôle : commanditaire, aiguilleur ou lieu.",
            field="roles",
            code="role_required",
        )
    siret = clean_siret(siret) if siret else None
    rna = clean_rna(rna) if rna else None
    if siret is None and rna is None:
        raise InvalidInput(
            "Indiquez un SIRET ou, pour une association sans SIRET, un numéro RNA.",
            field="siret",
            code="legal_identifier_required",
        )
    for column, value, label in ((Organisation.siret, siret, "SIRET"), (Organisation.rna, rna, "RNA")):
        if value and session.scalar(select(Organisation.id).where(column == value)):
            raise Conflict(
                f"Une organisation avec le {label} {value} existe déjà.",
                field=column.key,
                code="organisation_exists",
            )
    commune = commune_by_code(session, code_insee) if code_insee else None
    organisation = Organisation(
        name=name,
        legal_form=form,
        siret=siret,
        rna=rna,
        address=(address or "").strip() or None,
        code_insee=commune.code if commune else None,
        **{role: bool(roles.get(role)) for role in ORGANISATION_ROLES},
    )
    session.add(organisation)
    session.flush()
    record_audit(
        session, actor, "organisation.created", "organisation", organisation.id,
        name=name, siret=siret, rna=rna, roles=organisation.roles,
    )
    return organisation


def get_organisation(session: Session, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("Cette organisation n'existe pas.", field="organisation", code="unknown_organisation")
    return organisation


# ------------------------------------------------------------------------------------- venues

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


def validate_opening_hours(value: str, field: str = "horaires") -> str:
    try:
        opening_hours.OpeningHours(value)
    except Exception:
        raise InvalidInput(
            f"Les horaires « {value} » ne suivent pas la syntaxe OpenStreetMap "
            "(ex. « Mo-Fr 09:00-12:00,14:00-18:00; Sa 09:00-12:00 »).",
            field=field,
            code="invalid_opening_hours",
        ) from None
    return value


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


# ----------------------------------------------------------------------------------- accounts

_password_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
API_KEY_SCHEME = "aptic"
API_KEY_USE_PRECISION = timedelta(minutes=1)


def create_user(
    session: Session, actor: Actor, *, email: str, full_name: str, password: str
) -> User:
    email = (email or "").strip().lower()
    if not EMAIL.match(email):
        raise InvalidInput(f"Le courriel « {email} » n'est pas valide.", field="email", code="invalid_email")
    if not (full_name or "").strip():
        raise InvalidInput("Le nom est obligatoire.", field="full_name", code="required")
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.",
            field="password", code="weak_password",
        )
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"Un compte existe déjà pour {email}.", field="email", code="user_exists")
    user = User(email=email, full_name=full_name.strip(), password_hash=_password_hasher.hash(password))
    session.add(user)
    session.flush()
    record_audit(session, actor, "user.created", "user", user.id, email=email)
    return user


def add_membership(session: Session, actor: Actor, user: User, organisation: Organisation, role: Role | str) -> Membership:
    role = Role(role)
    required_flag = {
        Role.APTIC_STAFF: organisation.is_aptic,
        Role.SPONSOR: organisation.is_sponsor,
        Role.DISTRIBUTOR: organisation.is_distributor,
        Role.VENUE_STAFF: organisation.is_venue_operator,
    }[role]
    if not required_flag:
        raise InvalidInput(
            f"L'organisation « {organisation.name} » n'a pas le rôle requis pour « {role.value} ».",
            field="role", code="role_not_held",
        )
    existing = session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organisation_id == organisation.id, Membership.role == role
        )
    )
    if existing is not None:
        return existing
    membership = Membership(user=user, organisation=organisation, role=role)
    session.add(membership)
    session.flush()
    record_audit(
        session, actor, "membership.added", "user", user.id, organisation_id=organisation.id, role=role.value
    )
    return membership


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None; rehashes when argon2 parameters changed."""
    user = session.scalar(select(User).where(User.email == (email or "").strip().lower()))
    if user is None or not user.is_active:
        _password_hasher.hash(password or "")  # same cost whether the account exists or not
        return None
    try:
        _password_hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if _password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _password_hasher.hash(password)
    user.last_login_at = utcnow()
    session.flush()
    return user


def create_api_key(
    session: Session, actor: Actor, organisation: Organisation, label: str, venue: Venue | None = None
) -> tuple[ApiKey, str]:
    """A new key; the clear token is returned once and never stored."""
    if venue is not None and venue.organisation_id != organisation.id:
        raise InvalidInput("Ce lieu n'appartient pas à cette organisation.", field="venue", code="venue_not_owned")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        prefix=prefix,
        secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
        organisation=organisation,
        venue=venue,
        label=(label or "").strip() or "Clé API",
    )
    session.add(key)
    session.flush()
    record_audit(
        session, actor, "api_key.created", "organisation", organisation.id,
        prefix=prefix, venue_id=venue.id if venue else None, label=key.label,
    )
    return key, f"{API_KEY_SCHEME}_{prefix}_{secret}"


def authenticate_api_key(session: Session, token: str) -> ApiKey | None:
    parts = (token or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_SCHEME:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, hashlib.sha256(parts[2].encode()).hexdigest()):
        return None
    now = utcnow()
    # Scanners call on every cheque: record use at minute precision rather than write on each call.
    if key.last_used_at is None or now - key.last_used_at >= API_KEY_USE_PRECISION:
        key.last_used_at = now
        session.flush()
    return key


def revoke_api_key(session: Session, actor: Actor, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
        record_audit(session, actor, "api_key.revoked", "organisation", key.organisation_id, prefix=key.prefix)


# -------------------------------------------------------------------------------- nearby search

NEARBY_DEFAULT_RADIUS_KM = 10.0
NEARBY_MAX_RADIUS_KM = 100.0
NEARBY_DEFAULT_LIMIT = 20
NEARBY_MAX_LIMIT = 200
# Values of the national venue standard (v1) the search can filter on, by search parameter.
NEARBY_LIST_FILTERS = {
    "fees": ("frais_a_charge", ("Gratuit", "Gratuit sous condition", "Payant")),
    "support": (
        "modalites_accompagnement",
        ("En autonomie", "Accompagnement individuel", "Dans un atelier collectif", "À distance"),
    ),
    "public": (
        "publics_specifiquement_adresses",
        ("Jeunes", "Étudiants", "Familles et/ou enfants", "Seniors", "Femmes"),
    ),
    "care": (
        "prise_en_charge_specifique",
        (
            "Surdité", "Handicaps moteurs", "Handicaps mentaux", "Illettrisme",
            "Langues étrangères (anglais)", "Langues étrangères (autres)", "Déficience visuelle",
        ),
    ),
}
# Opening hours are written in local time: overseas départements are not on Paris time.
DEPARTEMENT_TIMEZONES = {
    "971": ZoneInfo("America/Guadeloupe"),
    "972": ZoneInfo("America/Martinique"),
    "973": ZoneInfo("America/Cayenne"),
    "974": ZoneInfo("Indian/Reunion"),
    "976": ZoneInfo("Indian/Mayotte"),
}
METRES_PER_DEGREE_LAT_MIN = 110_574  # at the equator; a bbox built with it always holds the circle


@dataclass(frozen=True)
class Place:
    """The centre of a search: a commune, a postcode, an address or raw coordinates."""

    label: str
    lon: float
    lat: float
    commune_code: str | None = None


@dataclass(frozen=True)
class NearbyVenue:
    venue: Venue
    distance_m: float
    lon: float
    lat: float
    # True/False from the opening hours at the time of the search, None when they are unknown.
    open_now: bool | None


@dataclass(frozen=True)
class NearbyResult:
    place: Place
    radius_m: float
    venues: list[NearbyVenue]


def venue_timezone(venue: Venue) -> ZoneInfo:
    code = venue.code_insee or ""
    return DEPARTEMENT_TIMEZONES.get(code[:3], PARIS_TZ)


@lru_cache(maxsize=4096)
def _parsed_hours(horaires: str, timezone: ZoneInfo) -> opening_hours.OpeningHours | None:
    try:
        return opening_hours.OpeningHours(horaires, timezone=timezone, country="FR")
    except Exception:  # imported data may carry hours the OSM grammar refuses
        return None


def venue_hours(venue: Venue) -> opening_hours.OpeningHours | None:
    if not venue.horaires:
        return None
    return _parsed_hours(venue.horaires, venue_timezone(venue))


def is_open_at(venue: Venue, moment: datetime) -> bool | None:
    """Whether the venue's OSM opening hours say open at that moment (None: unknown)."""
    hours = venue_hours(venue)
    if hours is None:
        return None
    state, _comment = hours.state(moment.astimezone(venue_timezone(venue)))
    if state == opening_hours.State.UNKNOWN:
        return None
    return state == opening_hours.State.OPEN


def resolve_place(session: Session, query: str, field: str = "q") -> Place:
    """A commune name or a postcode, resolved offline from the territories (most populous first)."""
    text = (query or "").strip()
    if not text:
        raise InvalidInput("Indiquez une commune ou un code postal.", field=field, code="required")
    if POSTCODE.match(text):
        communes = communes_by_postcode(session, text)
        if not communes:
            raise NotFound(f"Le code postal « {text} » ne correspond à aucune commune.", field=field, code="unknown_place")
        commune = communes[0]
        label = f"{text} {commune.name}"
    else:
        communes = [c for c in search_communes(session, text, limit=5) if c.centre is not None]
        if not communes:
            raise NotFound(f"Aucune commune ne s'appelle « {text} ».", field=field, code="unknown_place")
        commune = communes[0]
        label = commune.name
    point = to_shape(commune.centre)
    return Place(label=label, lon=point.x, lat=point.y, commune_code=commune.code)


def nearby_venues(
    session: Session,
    *,
    place: Place | None = None,
    lon: float | None = None,
    lat: float | None = None,
    q: str | None = None,
    radius_km: float = NEARBY_DEFAULT_RADIUS_KM,
    limit: int = NEARBY_DEFAULT_LIMIT,
    service: list[str] | tuple[str, ...] = (),
    level: int | None = None,
    fees: list[str] | tuple[str, ...] = (),
    support: list[str] | tuple[str, ...] = (),
    public: list[str] | tuple[str, ...] = (),
    care: list[str] | tuple[str, ...] = (),
    open_now: bool = False,
    open_at: datetime | None = None,
    accepts_pass: bool = False,
    now: datetime | None = None,
) -> NearbyResult:
    """Published venues around a place, nearest first, within `radius_km` (metres on the ellipsoid).

    The centre is `place`, or `lon`/`lat`, or `q` (a commune name or postcode). Every filter
    narrows: all the services asked, a service of `level`, each listed value of the national
    standard's fields, open at `open_at` (or now with `open_now`), accepting the pass.
    """
    if place is None:
        if lon is not None or lat is not None:
            _check_coordinates(lon, lat)
            place = Place(label=f"{lat:.5f}, {lon:.5f}", lon=float(lon), lat=float(lat))
        else:
            place = resolve_place(session, q or "")
    if isinstance(radius_km, bool) or not isinstance(radius_km, int | float):
        radius_km = math.nan
    if not 0 < radius_km <= NEARBY_MAX_RADIUS_KM:
        raise InvalidInput(
            f"Le rayon « {radius_km:g} » n'est pas valide : un nombre de kilomètres entre 0 et {NEARBY_MAX_RADIUS_KM:g} est attendu.",
            field="radius_km", code="invalid_radius",
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= NEARBY_MAX_LIMIT:
        raise InvalidInput(
            f"La limite « {limit} » n'est pas valide : un nombre entier entre 1 et {NEARBY_MAX_LIMIT} est attendu.",
            field="limit", code="invalid_limit",
        )
    if level is not None and (isinstance(level, bool) or level not in (1, 2, 3)):
        raise InvalidInput(
            f"Le niveau « {level} » n'existe pas : 1, 2 ou 3 est attendu.", field="level", code="invalid_level"
        )
    wanted_services = services_by_slugs(session, list(service), field="service") if service else []
    list_filters = {"fees": fees, "support": support, "public": public, "care": care}
    for name, values in list_filters.items():
        allowed = NEARBY_LIST_FILTERS[name][1]
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise InvalidInput(
                f"La valeur « {unknown[0]} » n'est pas possible pour « {name} » (valeurs possibles : {', '.join(allowed)}).",
                field=name, code="invalid_filter_value",
            )
    if open_at is not None and open_at.tzinfo is None:
        raise InvalidInput(
            "L'heure d'ouverture demandée doit préciser son fuseau horaire.", field="open_at", code="invalid_open_at"
        )
    now = now or utcnow()
    moment = open_at or (now if open_now else None)

    radius_m = float(radius_km) * 1000
    dlat = radius_m / METRES_PER_DEGREE_LAT_MIN
    dlon = min(180.0, dlat / math.cos(math.radians(min(89.0, abs(place.lat) + dlat))))
    parameters: dict[str, Any] = {
        "centre": point_wkt(place.lon, place.lat), "radius": radius_m,
        "xmin": place.lon - dlon, "ymin": place.lat - dlat, "xmax": place.lon + dlon, "ymax": place.lat + dlat,
        "level": level, "limit": limit,
    }
    parameters.update({f"service_{i}": service.id for i, service in enumerate(wanted_services)})
    for name, values in list_filters.items():
        parameters.update({f"{name}_{i}": value for i, value in enumerate(values)})
    shape = _NearbyShape(
        dialect_name(session), len(wanted_services), level is not None,
        tuple(len(list_filters[name]) for name in NEARBY_LIST_FILTERS), accepts_pass, moment is None,
    )

    found: list[NearbyVenue] = []
    for venue, distance_m, x, y in session.execute(_nearby_statement(session, shape), parameters):
        if moment is not None and is_open_at(venue, moment) is not True:
            continue
        found.append(NearbyVenue(venue, float(distance_m), float(x), float(y), is_open_at(venue, now)))
        if len(found) == limit:
            break
    _load_services(session, [item.venue for item in found])
    return NearbyResult(place=place, radius_m=radius_m, venues=found)


@dataclass(frozen=True)
class _NearbyShape:
    """What makes two nearby searches need a different SQL statement (values are parameters)."""

    dialect: str
    services: int
    level: bool
    list_values: tuple[int, ...]
    accepts_pass: bool
    limited: bool


# Building the statement costs more than running it: one statement per shape, built once.
_NEARBY_STATEMENTS: dict[_NearbyShape, Any] = {}
_SERVICES_OF_VENUES = (
    select(VenueService.venue_id, Service)
    .join(Service, Service.id == VenueService.service_id)
    .options(defer(Service.standard_services))
    .where(VenueService.venue_id.in_(bindparam("venue_ids", expanding=True)))
    .order_by(Service.position)
)
# Attributes a search result never shows: loaded only if someone reads them.
_NEARBY_DEFERRED = (
    "location", "typologie", "itinerance", "standard_services", "dispositif_programmes_nationaux",
    "formations_labels", "autres_formations_labels", "presentation_detail",
)


def _nearby_statement(session: Session, shape: _NearbyShape) -> Any:
    statement = _NEARBY_STATEMENTS.get(shape)
    if statement is not None:
        return statement
    centre = func.ST_GeomFromEWKT(bindparam("centre", type_=String))
    distance = geodesic_distance_m(session, Venue.location, centre).label("distance_m")
    box = (bindparam("xmin", type_=Float), bindparam("ymin", type_=Float), bindparam("xmax", type_=Float), bindparam("ymax", type_=Float))
    statement = (
        select(Venue, distance, func.ST_X(Venue.location), func.ST_Y(Venue.location))
        .options(*(defer(getattr(Venue, name)) for name in _NEARBY_DEFERRED))
        .where(Venue.published, bbox_filter(session, Venue, "location", *box), distance <= bindparam("radius", type_=Float))
        .order_by(distance, Venue.id)
    )
    for index in range(shape.services):
        statement = statement.where(
            select(VenueService.venue_id)
            .where(VenueService.venue_id == Venue.id, VenueService.service_id == bindparam(f"service_{index}"))
            .exists()
        )
    if shape.level:
        statement = statement.where(
            select(VenueService.venue_id)
            .join(Service, Service.id == VenueService.service_id)
            .where(VenueService.venue_id == Venue.id, Service.level_number == bindparam("level"))
            .exists()
        )
    for name, count in zip(NEARBY_LIST_FILTERS, shape.list_values, strict=True):
        column_name = NEARBY_LIST_FILTERS[name][0]
        for index in range(count):
            value = bindparam(f"{name}_{index}", type_=String)
            statement = statement.where(json_array_contains(session, getattr(Venue, column_name), value))
    if shape.accepts_pass:
        statement = statement.where(Venue.accepts_pass)
    if shape.limited:
        statement = statement.limit(bindparam("limit", type_=Integer))
    _NEARBY_STATEMENTS[shape] = statement
    return statement


def _load_services(session: Session, venues: list[Venue]) -> None:
    """Fill `services` of the found venues with one query (a selectin load costs a statement build)."""
    if not venues:
        return
    by_venue: dict[int, list[Service]] = {venue.id: [] for venue in venues}
    for venue_id, service in session.execute(_SERVICES_OF_VENUES, {"venue_ids": list(by_venue)}):
        by_venue[venue_id].append(service)
    for venue in venues:
        set_committed_value(venue, "services", by_venue[venue.id])


@dataclass(frozen=True)
class DayHours:
    day: date
    # Opening periods of that day in the venue's local time; an end at midnight reads "24:00".
    periods: list[tuple[str, str]]


def week_hours(venue: Venue, today: date) -> list[DayHours] | None:
    """The opening periods of each day of the week holding `today` (holidays applied), or None."""
    hours = venue_hours(venue)
    if hours is None:
        return None
    tz = venue_timezone(venue)
    monday = today - timedelta(days=today.weekday())
    days = [monday + timedelta(days=offset) for offset in range(7)]
    periods: dict[date, list[tuple[str, str]]] = {day: [] for day in days}
    week_start = datetime.combine(monday, time(0), tz)
    for begin, end, state, _comment in hours.intervals(week_start, week_start + timedelta(days=7)):
        if state != opening_hours.State.OPEN:
            continue
        begin, end = begin.astimezone(tz), end.astimezone(tz)
        while begin < end:
            midnight = datetime.combine(begin.date() + timedelta(days=1), time(0), tz)
            stop = min(end, midnight)
            if begin.date() in periods:
                periods[begin.date()].append((begin.strftime("%H:%M"), "24:00" if stop == midnight else stop.strftime("%H:%M")))
            begin = stop
    return [DayHours(day, periods[day]) for day in days]
