"""The venue fields, declared once: name in the national standard, kind, length limit, vocabulary, cleaner.

The directory (venue forms and API), the importer of the national standard and the exports all read
this table. A cleaner turns one value into its normal form or raises `InvalidInput` naming the field;
the directory refuses such a value, the importer leaves it out and says so in its report.
The vocabularies are those of the standard v1.0.1 (LaMednum/standard-mediation-num).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from stdnum.fr import siret as stdnum_siret

from directory.errors import InvalidInput
from directory.hours import validate_opening_hours
from directory.territories import POSTCODE

PHONE = re.compile(r"^(\+33|\+590|\+594|\+262|\+596|\+269|\+687|\+689|\+508|\+681)(\d){6,9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)
PIVOT = re.compile(r"^[a-zA-Z0-9]{9,14}$")
URL_MAX = 500


class FieldKind(enum.StrEnum):
    TEXT = "text"
    LIST = "list"
    FLAG = "flag"
    DATE = "date"


# ------------------------------------------------------------------------------------- cleaners


def normalize_phone(value: str, field: str = "telephone") -> str:
    """A French phone number in international form: spaces, dots, dashes, brackets and slashes dropped."""
    compact = re.sub(r"[\s.\-()/]", "", value)
    if re.fullmatch(r"0\d{9}", compact):
        compact = "+33" + compact[1:]
    if not PHONE.fullmatch(compact):
        raise InvalidInput(
            f"Le numéro de téléphone « {value} » n'est pas valide (ex. +33123456789).", field=field, code="invalid_phone"
        )
    return compact


def parse_date(value: Any, field: str = "date_maj") -> date | None:
    """A date from a `date` or an ISO 8601 text (a time after the day is ignored); None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise InvalidInput(
            f"La date « {value} » n'est pas valide : format attendu AAAA-MM-JJ.", field=field, code="invalid_date"
        ) from None


def clean_postcode(value: str, field: str = "code_postal") -> str:
    if not POSTCODE.match(value):
        raise InvalidInput(
            f"Le code postal « {value} » n'est pas valide : il faut 5 chiffres.", field=field, code="invalid_postcode"
        )
    return value


def clean_email(value: str, field: str = "courriels") -> str:
    if not EMAIL.fullmatch(value):
        raise InvalidInput(f"Le courriel « {value} » n'est pas valide.", field=field, code="invalid_email")
    return value


def clean_web_page(value: str, field: str) -> str:
    """An address starting with http(s):// (a form to book, the accessibility sheet)."""
    if not URL.fullmatch(value) or len(value) > URL_MAX:
        raise InvalidInput(f"L'adresse web « {value[:100]} » n'est pas valide.", field=field, code="invalid_url")
    return value


def clean_website(value: str, field: str = "site_web") -> str:
    """A website; "www.exemple.fr" is read as "https://www.exemple.fr"."""
    candidate = value if re.match(r"(?i)https?://", value) else f"https://{value}"
    if not URL.fullmatch(candidate) or "." not in candidate:
        raise InvalidInput(f"L'adresse web « {value[:100]} » n'est pas valide.", field=field, code="invalid_url")
    return candidate


def clean_pivot(value: str, field: str = "pivot") -> str:
    """The legal identifier of the venue's structure: a SIRET (checked with its Luhn key), a SIREN or an RNA."""
    if not PIVOT.fullmatch(value):
        raise InvalidInput(
            f"Le pivot « {value} » n'est ni un SIRET (14 chiffres) ni un RNA.", field=field, code="invalid_pivot"
        )
    if value.isdigit() and len(value) == 14 and not stdnum_siret.is_valid(value):
        raise InvalidInput(f"Le SIRET « {value} » a une clé de contrôle fausse.", field=field, code="invalid_siret")
    return value


# ------------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class VenueField:
    """One attribute of a venue. `name` is the `Venue` attribute; `standard_name` its column in the
    national standard v1 (None for APTIC's own facts, written in free labels on output)."""

    name: str
    kind: FieldKind
    standard_name: str | None
    max_length: int | None = None
    vocabulary: tuple[str, ...] = ()
    normalise: Callable[[str, str], str] | None = None
    required: str | None = None  # how a message names the missing value: "le nom"

    def clean(self, value: str) -> str:
        """One stripped, non-empty value in its normal form; `InvalidInput` naming the field otherwise."""
        if self.normalise is not None:
            value = self.normalise(value, self.name)
        if self.vocabulary and value not in self.vocabulary:
            raise InvalidInput(
                f"La valeur « {value} » n'est pas admise pour « {self.standard_name} ».",
                field=self.name, code="invalid_value",
            )
        if self.max_length is not None and len(value) > self.max_length:
            raise InvalidInput(
                f"Le champ « {self.name} » dépasse {self.max_length} caractères.", field=self.name, code="too_long"
            )
        return value


def _text(name: str, **options: Any) -> VenueField:
    return VenueField(name, FieldKind.TEXT, name, **options)


def _list(name: str, *vocabulary: str, standard_name: str | None = None, **options: Any) -> VenueField:
    return VenueField(name, FieldKind.LIST, standard_name or name, vocabulary=vocabulary, **options)


VENUE_FIELDS: tuple[VenueField, ...] = (
    _text("nom", max_length=300, required="le nom"),
    _text("adresse", max_length=300, required="l'adresse"),
    _text("complement_adresse", max_length=300),
    _text("code_postal", normalise=clean_postcode, required="le code postal"),
    _text("commune", max_length=200, required="la commune"),
    _text("code_insee"),  # resolved against the territories (arrondissements, former codes)
    _text("horaires", normalise=validate_opening_hours),
    _text("telephone", normalise=normalize_phone),
    _text("pivot", normalise=clean_pivot),
    _text("presentation_resume", max_length=280),
    _text("presentation_detail"),
    _text("structure_parente", max_length=300),
    _text("fiche_acces_libre", normalise=clean_web_page),
    _text("prise_rdv", normalise=clean_web_page),
    _text("source", max_length=200),
    VenueField("date_maj", FieldKind.DATE, "date_maj"),
    _list("courriels", normalise=clean_email),
    _list("site_web", normalise=clean_website),
    _list("typologie"),
    _list("itinerance", "Itinérant", "Fixe"),
    _list(
        "standard_services",
        "Aide aux démarches administratives", "Maîtrise des outils numériques du quotidien",
        "Insertion professionnelle via le numérique", "Utilisation sécurisée du numérique",
        "Parentalité et éducation avec le numérique", "Loisirs et créations numériques",
        "Compréhension du monde numérique", "Accès internet et matériel informatique",
        "Acquisition de matériel informatique à prix solidaire",
        standard_name="services",
    ),
    _list("publics_specifiquement_adresses", "Jeunes", "Étudiants", "Familles et/ou enfants", "Seniors", "Femmes"),
    _list(
        "prise_en_charge_specifique",
        "Surdité", "Handicaps moteurs", "Handicaps mentaux", "Illettrisme", "Langues étrangères (anglais)",
        "Langues étrangères (autres)", "Déficience visuelle",
    ),
    _list("frais_a_charge", "Gratuit", "Gratuit sous condition", "Payant"),
    _list(
        "dispositif_programmes_nationaux",
        "Aidants Connect", "Bibliothèques numérique de référence", "Certification PIX", "Conseillers numériques",
        "Emmaüs Connect", "France Services", "Grande école du numérique", "La Croix Rouge",
        "Point d'accès numérique CAF", "Promeneurs du net", "Relais numérique (Emmaüs Connect)",
    ),
    _list(
        "formations_labels",
        "Formé à « Mon Espace Santé »", "Formé à « DUPLEX » (illettrisme)",
        "Arnia/MedNum BFC (Bourgogne-Franche-Comté)", "Collectif ressources et acteurs réemploi (Normandie)",
        "Fabriques de Territoire", "Les Éclaireurs du numérique (Drôme)", "Mes Papiers (Métropole de Lyon)",
        "ORDI 3.0", "SUD LABS (PACA)",
    ),
    _list("autres_formations_labels"),
    _list(
        "modalites_acces",
        "Se présenter", "Téléphoner", "Contacter par mail", "Prendre un RDV en ligne",
        "Ce lieu n'accueille pas de public", "Envoyer un mail avec une fiche de prescription",
    ),
    _list(
        "modalites_accompagnement",
        "En autonomie", "Accompagnement individuel", "Dans un atelier collectif", "À distance",
    ),
    VenueField("accepts_pass", FieldKind.FLAG, None),
    VenueField("aptic_label", FieldKind.FLAG, None),
)
VENUE_FIELD: Mapping[str, VenueField] = {spec.name: spec for spec in VENUE_FIELDS}
REQUIRED_FIELDS = tuple(spec for spec in VENUE_FIELDS if spec.required)


def venue_field_names(*kinds: FieldKind) -> tuple[str, ...]:
    return tuple(spec.name for spec in VENUE_FIELDS if spec.kind in kinds)


def clean_venue_values(fields: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The declared fields present in `fields`, cleaned; raise on the first bad one, naming it.

    Texts are stripped (empty means unknown), lists take one value or several, flags are booleans.
    Unless `partial`, every required field must be given.
    """
    cleaned: dict[str, Any] = {}
    for spec in VENUE_FIELDS:
        if spec.kind is FieldKind.TEXT and spec.name in fields:
            value = fields[spec.name]
            cleaned[spec.name] = value.strip() if isinstance(value, str) and value.strip() else None
    for spec in REQUIRED_FIELDS:
        if (not partial or spec.name in cleaned) and not cleaned.get(spec.name):
            raise InvalidInput(f"Indiquez {spec.required} du lieu.", field=spec.name, code="required")
    for spec in VENUE_FIELDS:
        if spec.name not in fields:
            continue
        value = fields[spec.name]
        if spec.kind is FieldKind.TEXT:
            if cleaned[spec.name]:
                cleaned[spec.name] = spec.clean(cleaned[spec.name])
        elif spec.kind is FieldKind.LIST:
            values = [value] if isinstance(value, str) else value or []
            cleaned[spec.name] = [spec.clean(str(v).strip()) for v in values if str(v).strip()]
        elif spec.kind is FieldKind.FLAG:
            cleaned[spec.name] = bool(value)
        else:
            cleaned[spec.name] = parse_date(value, spec.name)
    return cleaned
