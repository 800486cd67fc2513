"""A small pass world: a sponsor, a distributor, venues in and out of the order's territory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from directory import api as directory_api
from directory.models import Organisation, Role, Venue, VenueStatus
from redemption import api
from redemption.models import Order

ACTOR = directory_api.Actor.system("tests")
PASSWORD = "mot de passe de test"


@dataclass
class World:
    sponsor: Organisation
    distributor: Organisation
    operator: Organisation
    venue: Venue  # qualified, Bordeaux, offers premiers-pas (level 1) and demarches-en-ligne
    other_venue: Venue  # qualified, Mérignac (same département), same operator
    far_venue: Venue  # qualified, Lyon: outside the order's territory
    candidate_venue: Venue  # not qualified
    order: Order
    tokens: dict[str, str] = field(default_factory=dict)

    def booklet(self, index: int = 0):
        return self.order.booklets[index]

    def codes(self, index: int = 0) -> list[str]:
        return [c.code for c in self.booklet(index).cheques]


def make_venue(session: Session, operator: Organisation, name: str, code_insee: str, postcode: str, commune: str,
               services: list[str], qualified: bool = True) -> Venue:
    venue = directory_api.create_venue(session, ACTOR, {
        "nom": name, "adresse": "1 place de la Mairie", "code_postal": postcode, "commune": commune,
        "code_insee": code_insee, "services": services, "organisation_id": operator.id,
    })
    if qualified:
        directory_api.set_venue_status(session, ACTOR, venue, VenueStatus.QUALIFIED, "qualifié pour le test")
    return venue


def make_order(session: Session, sponsor: Organisation, booklets: int = 3, **options) -> Order:
    options.setdefault("expires_on", date.today() + timedelta(days=365))
    options.setdefault("territories", ["departement:33"])
    order = api.create_order(session, ACTOR, sponsor, booklets=booklets, **options)
    api.confirm_order(session, ACTOR, order)
    api.pay_order(session, ACTOR, order)
    api.issue_order(session, ACTOR, order)
    session.refresh(order)
    return order


def distribute(session: Session, world: World, index: int, ref: str | None = None) -> None:
    api.record_distribution(session, ACTOR, world.distributor, world.booklet(index), ref or f"BEN-{index:04d}")


@pytest.fixture
def world(session: Session) -> World:
    sponsor = api.create_sponsor(session, ACTOR, name="Département de la Gironde", legal_form="collectivite",
                                 siret="22330001300016", code_insee="33063")
    distributor = directory_api.create_organisation(session, ACTOR, name="CCAS de Bordeaux", legal_form="etablissement_public",
                                                    siret="26330040200017", code_insee="33063", is_distributor=True)
    operator = directory_api.create_organisation(session, ACTOR, name="Réseau des médiathèques", legal_form="association",
                                                 rna="W332000999", code_insee="33063", is_venue_operator=True)
    far_operator = directory_api.create_organisation(session, ACTOR, name="EPN de Lyon", legal_form="association",
                                                     rna="W691000999", code_insee="69123", is_venue_operator=True)
    services = ["premiers-pas", "demarches-en-ligne"]
    venue = make_venue(session, operator, "Médiathèque de Bordeaux", "33063", "33000", "Bordeaux", services)
    other = make_venue(session, operator, "Médiathèque de Mérignac", "33281", "33700", "Mérignac", services)
    far = make_venue(session, far_operator, "EPN de Lyon", "69123", "69001", "Lyon", services)
    candidate = make_venue(session, operator, "Tiers-lieu de Talence", "33522", "33400", "Talence", services,
                           qualified=False)
    order = make_order(session, sponsor)
    world = World(sponsor, distributor, operator, venue, other, far, candidate, order)
    for name, v in (("venue", venue), ("other", other), ("far", far), ("candidate", candidate)):
        _, world.tokens[name] = directory_api.create_api_key(session, ACTOR, v.organisation, f"douchette {name}", v)
    session.flush()
    return world


def bearer(world: World, name: str = "venue") -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def venue_user(session: Session, world: World, email: str = "accueil@mediatheque-bordeaux.fr"):
    user = directory_api.create_user(session, ACTOR, email=email, full_name="Agent d'accueil", password=PASSWORD)
    directory_api.add_membership(session, ACTOR, user, world.operator, Role.VENUE_STAFF)
    return user
