"""Organisations (sponsors, distributors, venue operators, APTIC): legal identifiers, creation, look-up."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.fr import siret as stdnum_siret

from directory.audit import Actor, record_audit
from directory.errors import Conflict, InvalidInput, NotFound
from directory.models import LegalForm, Organisation
from directory.territories import commune_by_code

RNA = re.compile(r"^W[0-9A-Z]\d{8}$")


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


def list_organisations(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name, Organisation.id)))
