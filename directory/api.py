"""Business functions of the directory: territories, referential, organisations, venues, accounts, audit.

They take a session, flush, raise domain errors, and never commit: the caller owns the unit of work.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import opening_hours
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from stdnum.fr import siret as stdnum_siret

from directory.db import bbox_filter, geodesic_distance_m, point_wkt, utcnow
from directory.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from directory.models import (
    ApiKey,
    AuditEvent,
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


# --------------------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class Actor:
    """Who does something: a signed-in user, an API key, a command or the scheduler."""

    label: str
    user_id: int | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(label=f"system:{name}")

    @classmethod
    def of_user(cls, user: User) -> Actor:
        return cls(label=f"user:{user.email}", user_id=user.id)


def record_audit(
    session: Session, actor: Actor, action: str, target_type: str, target_id: Any, **data: Any
) -> AuditEvent:
    event = AuditEvent(
        actor=actor.label,
        actor_user_id=actor.user_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        data=_jsonable(data),
    )
    session.add(event)
    session.flush()
    return event


def audit_trail(session: Session, target_type: str, target_id: Any) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_type == target_type, AuditEvent.target_id == str(target_id))
            .order_by(AuditEvent.id)
        )
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, int | float | str | bool):
        return value.value
    return value


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
    return _jsonable(snapshot)


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
    key.last_used_at = utcnow()
    session.flush()
    return key


def revoke_api_key(session: Session, actor: Actor, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
        record_audit(session, actor, "api_key.revoked", "organisation", key.organisation_id, prefix=key.prefix)
