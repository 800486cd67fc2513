"""The directory's part of `aptic demo`: organisations, synthetic venues, one account per role, a scanner key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory import factories
from directory.accounts import add_membership, create_api_key, create_user
from directory.audit import Actor
from directory.models import Organisation, Role, Venue, VenueStatus
from directory.organisations import create_organisation

DEMO_PASSWORD = "demo-aptic-2026"
DEMO_ACTOR = factories.SYNTHETIC_ACTOR

DEMO_ORGANISATIONS = [
    # key, name, legal form, SIRET (valid Luhn keys), commune, roles
    ("aptic", "APTIC (démonstration)", "cooperative", "82023445800017", "33063", {"is_aptic": True}),
    ("sponsor", "Département de la Gironde (démonstration)", "collectivite", "22330001300016", "33063", {"is_sponsor": True}),
    ("sponsor_caf", "CAF du Nord (démonstration)", "etablissement_public", "77562386100041", "59350", {"is_sponsor": True}),
    ("distributor", "CCAS de Bordeaux (démonstration)", "etablissement_public", "26330040200017", "33063", {"is_distributor": True}),
]
DEMO_USERS = [
    ("aptic", "equipe@aptic.demo", "Camille Martin (APTIC)", Role.APTIC_STAFF),
    ("sponsor", "commanditaire@aptic.demo", "Dominique Bernard (Gironde)", Role.SPONSOR),
    ("distributor", "aiguilleur@aptic.demo", "Sacha Petit (CCAS)", Role.DISTRIBUTOR),
    ("venue", "lieu@aptic.demo", "Alex Durand (lieu)", Role.VENUE_STAFF),
]


@dataclass(frozen=True)
class DirectoryDemo:
    venues: int
    showcase_venue: str
    api_key: str
    sign_ins: list[tuple[Role, str]]


def has_venues(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Venue)))


def seed_directory(session: Session, actor: Actor, venues: int, echo: Any) -> DirectoryDemo:
    """Organisations of every role, `venues` synthetic venues, the demo accounts and a venue's API key."""
    organisations = {}
    for key, name, legal_form, siret, commune, roles in DEMO_ORGANISATIONS:
        organisations[key] = create_organisation(
            session, actor, name=name, legal_form=legal_form, siret=siret, code_insee=commune, **roles
        )
    echo(f"Lieux de démonstration : génération de {venues} lieux répartis selon la population…")
    venue_ids = factories.generate_venues(session, venues)
    showcase = session.scalars(
        select(Venue).where(Venue.id.in_(venue_ids), Venue.status == VenueStatus.QUALIFIED).order_by(Venue.id).limit(1)
    ).one()
    organisations["venue"] = session.get(Organisation, showcase.organisation_id)

    sign_ins = []
    for key, email, full_name, role in DEMO_USERS:
        user = create_user(session, actor, email=email, full_name=full_name, password=DEMO_PASSWORD)
        add_membership(session, actor, user, organisations[key], role)
        sign_ins.append((role, email))
    _, token = create_api_key(session, actor, organisations["venue"], "Douchette de démonstration", showcase)
    return DirectoryDemo(
        venues=len(venue_ids), showcase_venue=f"« {showcase.nom} » (n° {showcase.id})", api_key=token, sign_ins=sign_ins
    )
